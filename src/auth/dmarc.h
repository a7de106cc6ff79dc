/*
 * dmarc - DMARC (RFC 7489; SPEC §10): the record (dmarc_record.c) and the
 * evaluation of one message over the DNS module (dmarc.c), from the SPF
 * and DKIM results already computed and the From domain. Pure functions
 * of their inputs and the DNS answers: thread-safe, no library state.
 */
#ifndef MP_DMARC_H
#define MP_DMARC_H

#include "auth/dkim.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_dns;

enum mp_dmarc_policy { MP_DMARC_P_NONE, MP_DMARC_P_QUARANTINE, MP_DMARC_P_REJECT };

const char *mp_dmarc_policy_name(enum mp_dmarc_policy p);
/* none, quarantine, reject (ASCII case-insensitive); -1 otherwise. */
int mp_dmarc_policy_parse(const char *s, size_t len);

#define MP_DMARC_MAX_RUA 8
#define MP_DMARC_URI_MAX 256

/* A parsed record; absent tags hold their defaults. */
struct mp_dmarc_record {
	enum mp_dmarc_policy p, sp, np;
	bool has_sp, has_np;
	bool strict_dkim, strict_spf;   /* adkim=s, aspf=s */
	unsigned pct;                   /* 0-100 */
	unsigned ri;                    /* report interval, seconds */
	size_t n_rua;
	char rua[MP_DMARC_MAX_RUA][MP_DMARC_URI_MAX];
	bool p_assumed;                 /* p= (or sp=) invalid, read as none for rua= */
};

/* Whether a TXT string is a DMARC record at all: it starts with the tag
 * v=DMARC1 (the others are not counted at a name). */
bool mp_dmarc_is_record(const char *txt, size_t len);
/* Parses a record (mp_dmarc_is_record true). 0, or -1 when it is invalid
 * and applies no policy (no valid p= and no valid rua=). Unknown tags and
 * bad optional values are ignored (their defaults stand). */
int mp_dmarc_record_parse(const char *txt, size_t len, struct mp_dmarc_record *r);

/* What the evaluation reads. */
struct mp_dmarc_in {
	/* the RFC 5322 From domain; NULL: no From domain (none) */
	const char *from_domain;
	bool from_conflict;             /* From addresses of several domains: permerror */
	enum mp_auth_result spf;
	const char *spf_domain;         /* MAIL FROM domain, the HELO name for the null sender */
	const struct mp_dkim_sig *sigs;
	size_t n_sigs;
	unsigned sample;                /* this message's draw for pct=, 0-99 */
};

struct mp_dmarc_out {
	enum mp_auth_result result;     /* pass, fail, none, temperror, permerror */
	enum mp_dmarc_policy policy;    /* after sp=/np= and pct=; none without a record */
	char domain[256];               /* the domain whose record applied; "" without */
	bool aligned_spf, aligned_dkim;
	bool has_record;
	struct mp_dmarc_record rec;     /* the record that applied (has_record) */
	bool org_record;                /* it came from the organisational domain */
	bool sampled_out;               /* pct= lowered the policy */
};

/* Evaluates. 0, or -1 when out of memory (out then means nothing). */
int mp_dmarc_evaluate(struct mp_dns *dns, const struct mp_dmarc_in *in, struct mp_dmarc_out *out);

/* Whether domain a is aligned with the From domain b (strict: equal;
 * relaxed: same organisational domain). Case-insensitive. */
bool mp_dmarc_aligned(const char *a, const char *b, bool strict);

#endif
