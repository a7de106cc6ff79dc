/*
 * prefilter - one pass over a header value for all the regexes that test
 * that header, with Vectorscan, before any PCRE2 match runs.
 *
 * Built once per rule set: the regexes of `header "Name" ~ /re/` tests,
 * grouped by header name ("key"), compiled per key into one Vectorscan
 * database in prefilter mode (a superset of the real matches). A scan of a
 * value sets the bits of the regexes that may match; the engine runs PCRE2
 * only for those (and for regexes the prefilter could not take), so results
 * are exactly PCRE2's. Values with bytes outside ASCII are not scanned (the
 * caller treats every regex of that key as possible): byte-mode Vectorscan
 * and PCRE2's UTF mode agree only on ASCII, and patterns with non-ASCII
 * bytes or the x flag are never taken. The object is read-only once built;
 * each thread scans with scratch of its own (mp_pf_scratch).
 */
#ifndef MP_PREFILTER_H
#define MP_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_prefilter;
struct mp_pf_scratch;

struct mp_pf_pattern {
	unsigned key;           /* header key id, < n_keys */
	const char *pattern;    /* PCRE2 source */
	size_t len;
	unsigned flags;         /* MP_RE_* */
	int id;                 /* out: bit index, or -1 when not taken */
};

/* Builds the databases; pats[i].id is set for each pattern taken. NULL
 * when none was taken (or on no memory: then every id is -1). */
struct mp_prefilter *mp_prefilter_build(struct mp_pf_pattern *pats, size_t n, size_t n_keys);
void mp_prefilter_free(struct mp_prefilter *pf);
/* Bits in a scan result (the number of patterns taken). */
size_t mp_prefilter_n_ids(const struct mp_prefilter *pf);
/* Whether key has a database. */
bool mp_prefilter_has_key(const struct mp_prefilter *pf, unsigned key);

struct mp_pf_scratch *mp_pf_scratch_new(const struct mp_prefilter *pf);
void mp_pf_scratch_free(struct mp_pf_scratch *s);
/* Scans one value of key, setting bits (mp_prefilter_n_ids bits). 0, or
 * -1 when the value was not scanned (not ASCII, or an error): every
 * regex of key must then be taken as possible. */
int mp_prefilter_scan(const struct mp_prefilter *pf, struct mp_pf_scratch *s, unsigned key,
		      const char *v, size_t len, uint8_t *bits);

#endif
