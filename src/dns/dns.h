/*
 * dns - the one DNS module every check uses (SPEC §7).
 *
 * Two backends behind one interface: libunbound (the system resolver, or
 * the dns_servers forwarders) with a per-query timeout, and a static zone
 * file for tests and offline replays. A struct mp_dns is reference-counted
 * and safe to query from any number of threads; a reload may replace it
 * while queries hold references to the old one. Answers are owned by the
 * caller (mp_dns_answer_clear).
 */
#ifndef MP_DNS_H
#define MP_DNS_H

#include "util/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_conf;
struct mp_diags;
struct mp_dns;

enum { MP_DNS_A = 1, MP_DNS_PTR = 12, MP_DNS_MX = 15, MP_DNS_TXT = 16, MP_DNS_AAAA = 28 };

enum mp_dns_status {
	MP_DNS_OK,
	MP_DNS_NXDOMAIN,
	MP_DNS_NODATA,
	MP_DNS_TEMPFAIL,   /* SERVFAIL, timeout, no server reachable */
};

struct mp_dns_rr {
	uint16_t type;
	uint16_t pref;      /* MX */
	uint32_t ttl;
	size_t len;         /* bytes of data (A 4, AAAA 16; text: without the NUL) */
	char *data;         /* A/AAAA: address; TXT: its strings joined; MX/PTR: name */
	size_t n_strings;   /* TXT: how many character-strings were joined */
};

struct mp_dns_answer {
	enum mp_dns_status status;
	struct mp_dns_rr *rr;
	size_t n, cap;
};

/* The resolver the configuration asks for: dns_zone_file if set, else
 * libunbound with dns_servers (or /etc/resolv.conf) and dns_timeout. NULL
 * on error (in d). */
struct mp_dns *mp_dns_new(const struct mp_conf *conf, struct mp_diags *d);
/* A static zone file (test --dns-zone). */
struct mp_dns *mp_dns_new_zone(const char *path, struct mp_diags *d);
struct mp_dns *mp_dns_ref(struct mp_dns *dns);
void mp_dns_unref(struct mp_dns *dns);
/* A one-line description ("unbound forwarding to 127.0.0.1@5353, timeout 5000 ms"). */
const char *mp_dns_describe(const struct mp_dns *dns);

/* What every query of the process came to (SPEC §13): latency, and
 * answers by status (indexed by enum mp_dns_status). */
struct mp_dns_stats {
	struct mp_histogram latency;
	mp_counter status[4];
};
const struct mp_dns_stats *mp_dns_stats(void);

/* Looks name up. Returns 0 with *ans filled (any status), or -1 when out
 * of memory. Never waits longer than the timeout. */
int mp_dns_query(struct mp_dns *dns, const char *name, uint16_t type,
		 struct mp_dns_answer *ans);
/* The same, waiting at most max_ms (when shorter than the timeout): for a
 * check with an overall deadline (SPF). */
int mp_dns_query_within(struct mp_dns *dns, const char *name, uint16_t type,
			struct mp_dns_answer *ans, unsigned max_ms);
void mp_dns_answer_clear(struct mp_dns_answer *ans);

/* Parsing helpers shared by the backends and their tests. */
/* TXT rdata (length-prefixed strings) into one joined rr; 0, -1 when
 * malformed, -2 when out of memory. */
int mp_dns_txt_from_wire(const unsigned char *p, size_t len, struct mp_dns_rr *rr);
/* A wire-format name into dotted text (no trailing dot); 0 or -1. */
int mp_dns_name_from_wire(const unsigned char *p, size_t len, char *out, size_t outlen,
			  size_t *used_r);
int mp_dns_answer_add(struct mp_dns_answer *ans, const struct mp_dns_rr *rr);

#endif
