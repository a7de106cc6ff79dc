/*
 * orgdomain - organisational domains (RFC 7489 §3.2) from libpsl's
 * packaged Public Suffix List, loaded once per process; thread-safe.
 */
#ifndef MP_ORGDOMAIN_H
#define MP_ORGDOMAIN_H

#include <stddef.h>

/* d lowercased, trailing dots dropped, in buf; NULL when it is empty or
 * does not fit. */
const char *mp_domain_norm(const char *d, char *buf, size_t len);
/* The organisational domain of d, lowercased, trailing dots dropped, in buf
 * (or pointing into it); d itself when the list has none (a public suffix,
 * or no list). NULL when d is empty or does not fit. */
const char *mp_org_domain(const char *d, char *buf, size_t len);

#endif
