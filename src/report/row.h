/*
 * row - what one message contributes to DMARC aggregate reports (RFC 7489
 * §7.2, Appendix C): plain data, filled by the engine at the end of a
 * message (mp_txn_dmarc_row), stored by history.c, grouped by aggregate.c.
 */
#ifndef MP_REPORT_ROW_H
#define MP_REPORT_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_ROW_DOMAIN 256
#define MP_ROW_SIGS 8

struct mp_row_sig {
	char domain[MP_ROW_DOMAIN];
	char selector[64];
	char result[16];            /* none, pass, fail, policy, neutral, temperror, permerror */
};

struct mp_dmarc_row {
	int64_t t;                  /* seconds since the epoch, UTC */
	char source_ip[64];
	char header_from[MP_ROW_DOMAIN];
	char envelope_from[MP_ROW_DOMAIN];   /* the MAIL FROM domain; "" for the null sender */
	char policy_domain[MP_ROW_DOMAIN];   /* where the record was found */
	char p[12], sp[12];         /* none, quarantine, reject */
	unsigned pct;
	char adkim, aspf;           /* 'r' or 's' */
	char rua[1024];             /* the record's rua= URIs, comma-separated */
	char policy[12];            /* the policy that applied (after sp=, np=, pct=) */
	char disposition[12];       /* as delivered: none, quarantine, reject */
	bool dkim_aligned, spf_aligned;
	bool sampled_out;           /* pct= lowered the policy */
	char spf_domain[MP_ROW_DOMAIN];
	char spf_scope[8];          /* mfrom or helo */
	char spf_result[16];
	size_t n_sigs;
	struct mp_row_sig sigs[MP_ROW_SIGS];
};

#endif
