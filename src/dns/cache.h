/*
 * cache - DNS answers kept for their TTL in front of the unbound backend;
 * see cache.c. Safe from any number of threads.
 */
#ifndef MP_DNS_CACHE_H
#define MP_DNS_CACHE_H

#include "dns/dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_dns_cache;

struct mp_dns_cache *mp_dns_cache_new(size_t max);
void mp_dns_cache_free(struct mp_dns_cache *c);
/* On a hit, *ans gets a copy of the answer (the caller clears it). */
bool mp_dns_cache_get(struct mp_dns_cache *c, const char *name, uint16_t type,
		      struct mp_dns_answer *ans);
/* Keeps a copy of ans for ttl seconds (capped); temporary failures and a
 * ttl of 0 are not kept. */
void mp_dns_cache_put(struct mp_dns_cache *c, const char *name, uint16_t type,
		      const struct mp_dns_answer *ans, unsigned ttl);

#endif
