/*
 * spf - SPF checks (RFC 7208) through libspf2 and the project's DNS
 * module. A struct mp_spf is created once and shared by all threads.
 */
#ifndef MP_SPF_H
#define MP_SPF_H

#include "types/types.h"

#include <stddef.h>

struct mp_dns;
struct mp_spf;

/* receiver: our host name, for libspf2's Received-SPF comments. */
struct mp_spf *mp_spf_new(const char *receiver);
void mp_spf_free(struct mp_spf *s);
/* The SPF result for client ip, HELO name and envelope sender from. With
 * from NULL or "" the HELO identity is checked (postmaster@helo), as RFC
 * 7208 §2.3/§2.4 say for the null sender and for spf.helo. received, when
 * not NULL, gets libspf2's Received-SPF value (raw: the caller sanitises).
 * dns is used for this check only; the caller holds a reference. The
 * whole check takes at most deadline_ms (0: 5 s); note (when not NULL)
 * names the limit the check reached ("spf_time", "spf_lookups") and says
 * whether it failed for want of memory. */
enum mp_auth_result mp_spf_check(struct mp_spf *s, struct mp_dns *dns, const char *ip,
			     const char *helo, const char *from, char *received, size_t rlen,
			     unsigned deadline_ms, struct mp_check_note *note);

#endif
