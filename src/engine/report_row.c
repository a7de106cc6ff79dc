/*
 * report_row - a finished transaction's DMARC report row (report/row.h):
 * the record that applied, the results, and what became of the message.
 * Nothing is kept: the row is the caller's.
 */
#include "engine/internal.h"

#include "report/row.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "");
}

/* What became of the message, as RFC 7489's disposition says it; NULL for
 * a message that was not decided for good (tempfail: it comes again). */
static const char *disposition(const struct mp_txn *t, const struct mp_result *r)
{
	if (r->dry_run_mode)
		return "none"; /* delivered: nothing is refused in dry-run mode */
	switch (r->v.outcome) {
	case MP_O_REJECT:
	case MP_O_DISCARD: /* not delivered either */
		return "reject";
	case MP_O_TEMPFAIL:
		return NULL;
	case MP_O_QUARANTINE:
		return "quarantine";
	default:
		return "none";
	}
}

/* A host name of letters, digits, '-' and '.': the only policy domains
 * reports are about (a report file is named after it, a report subject
 * carries it; a From domain may hold '/' or worse, and a hostile zone may
 * answer for it). */
static bool hostname(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

bool mp_txn_dmarc_row(struct mp_txn *t, struct mp_dmarc_row *row)
{
	const struct mp_result *r = mp_txn_result(t);
	const struct mp_dmarc_out *d = &t->dmarc;

	if (r == NULL || !t->dmarc_done || !d->has_record || t->dmarc_from == NULL ||
	    !hostname(d->domain))
		return false;
	const char *dis = disposition(t, r);
	if (dis == NULL)
		return false;
	memset(row, 0, sizeof(*row));
	row->t = (int64_t)time(NULL);
	copy(row->source_ip, sizeof(row->source_ip), t->conn->ip);
	copy(row->header_from, sizeof(row->header_from), t->dmarc_from);
	copy(row->envelope_from, sizeof(row->envelope_from),
	     t->from_len > 0 ? t->from + t->from_dom : "");
	copy(row->policy_domain, sizeof(row->policy_domain), d->domain);
	copy(row->p, sizeof(row->p), mp_dmarc_policy_name(d->rec.p));
	copy(row->sp, sizeof(row->sp), mp_dmarc_policy_name(d->rec.sp));
	row->pct = d->rec.pct;
	row->adkim = d->rec.strict_dkim ? 's' : 'r';
	row->aspf = d->rec.strict_spf ? 's' : 'r';
	for (size_t i = 0; i < d->rec.n_rua; i++) {
		size_t l = strlen(row->rua);
		snprintf(row->rua + l, sizeof(row->rua) - l, "%s%s", i ? "," : "", d->rec.rua[i]);
	}
	copy(row->policy, sizeof(row->policy), mp_dmarc_policy_name(d->policy));
	copy(row->disposition, sizeof(row->disposition), dis);
	row->dkim_aligned = d->aligned_dkim;
	row->spf_aligned = d->aligned_spf;
	row->sampled_out = d->sampled_out;
	copy(row->spf_domain, sizeof(row->spf_domain), t->spf_domain);
	copy(row->spf_scope, sizeof(row->spf_scope), t->from_len > 0 ? "mfrom" : "helo");
	copy(row->spf_result, sizeof(row->spf_result),
	     mp_auth_result_name(t->spf.done ? t->spf.r : MP_AR_NONE));
	for (size_t i = 0; i < t->n_sigs && row->n_sigs < MP_ROW_SIGS; i++) {
		struct mp_row_sig *g = &row->sigs[row->n_sigs++];
		copy(g->domain, sizeof(g->domain), t->sigs[i].domain);
		copy(g->selector, sizeof(g->selector), t->sigs[i].selector);
		copy(g->result, sizeof(g->result), mp_auth_result_name(t->sigs[i].result));
	}
	return true;
}
