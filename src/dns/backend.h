/*
 * backend - what a DNS backend (unbound.c, zone.c) implements and gets from
 * the common part (dns.c); internal to src/dns. factory.c picks one.
 */
#ifndef MP_DNS_BACKEND_H
#define MP_DNS_BACKEND_H

#include "dns/dns.h"

struct mp_conf;
struct mp_diags;

struct mp_dns_ops {
	/* max_ms: 0, or a bound below the backend's own timeout */
	int (*query)(struct mp_dns *dns, const char *name, uint16_t type, struct mp_dns_answer *ans,
		     unsigned max_ms);
	void (*destroy)(struct mp_dns *dns);
};

struct mp_dns *mp_dns_alloc(const struct mp_dns_ops *ops, void *impl, const char *desc);
void *mp_dns_impl(const struct mp_dns *dns);

/* unbound.c: the system resolver or conf's forwarders. */
struct mp_dns *mp_dns_new_unbound(const struct mp_conf *conf, struct mp_diags *d);

#endif
