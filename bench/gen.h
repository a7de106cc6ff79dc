/*
 * gen - the deterministic corpus and rule sets of bench/engine (gen.c).
 */
#ifndef MP_BENCH_GEN_H
#define MP_BENCH_GEN_H

#include "replay/replay.h"

#include <stdbool.h>

/* One corpus message with the envelope it is sent with. */
struct gen_item {
	struct mp_message msg;
	char from[128], rcpt[128], ip[32], helo[64];
};

/* n messages, parsed (and written to keep/msgNNNN.eml when keep is set);
 * how many are multipart and their total size. Exits on failure. */
struct gen_item *gen_corpus(unsigned n, const char *keep, unsigned *mimes_r, double *bytes_r);
void gen_corpus_free(struct gen_item *items, unsigned n);

/* base/rulesSIZE/global.rules (and a domain file, and the header regexes
 * as header_checks.pcre): size rules, the same for a size on every run.
 * headers_only: every rule a header regex; mta: with the SPF and DKIM
 * rules the MTA benchmark needs; variant "mime": the same rules plus
 * attachment rules, in base/rulesSIZE-mime; "rate": plus rate() rules
 * (SPEC §12) that count at connect, RCPT and end of header but never
 * decide, in base/rulesSIZE-rate; "" for neither. */
void gen_make_rules(const char *base, unsigned size, bool headers_only, bool mta,
		    const char *variant);

#endif
