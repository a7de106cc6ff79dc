/*
 * dmarc - one message's DMARC evaluation (RFC 7489 §6.6; SPEC §10 where
 * DMARCbis differs): policy discovery at the From domain, then at its
 * organisational domain; identifier alignment of our SPF and DKIM
 * results; the policy that applies after sp=/np= and pct=.
 *
 * The choices the RFC leaves open, as SPEC §10 fixes them: a DNS failure
 * at either lookup is temperror (no further fallback); two or more DMARC
 * records at a name count as none there, and stop discovery; an invalid
 * record is none (a bad p= with a valid rua= reads as p=none); np= applies
 * when the record came from the organisational domain and the From domain
 * does not exist (NXDOMAIN for its A query).
 */
#include "auth/dmarc.h"

#include "dns/dns.h"
#include "mail/orgdomain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum found { FOUND, ABSENT, MULTIPLE, INVALID, TEMPFAIL };

/* The DMARC record at _dmarc.domain: *f says what was there; -1 when out
 * of memory. */
static int discover(struct mp_dns *dns, const char *domain, struct mp_dmarc_record *rec,
		    enum found *f)
{
	char name[300];
	struct mp_dns_answer ans;
	int n = snprintf(name, sizeof(name), "_dmarc.%s", domain);

	*f = ABSENT;
	if (n < 0 || (size_t)n >= sizeof(name) || n > 253)
		return 0; /* no such name can exist */
	memset(&ans, 0, sizeof(ans));
	if (mp_dns_query(dns, name, MP_DNS_TXT, &ans) < 0)
		return -1;
	if (ans.status == MP_DNS_TEMPFAIL) {
		*f = TEMPFAIL;
	} else if (ans.status == MP_DNS_OK) {
		const struct mp_dns_rr *one = NULL;
		size_t count = 0;
		for (size_t i = 0; i < ans.n; i++) {
			if (ans.rr[i].type == MP_DNS_TXT && mp_dmarc_is_record(ans.rr[i].data, ans.rr[i].len)) {
				one = &ans.rr[i];
				count++;
			}
		}
		if (count > 1)
			*f = MULTIPLE;
		else if (count == 1)
			*f = mp_dmarc_record_parse(one->data, one->len, rec) == 0 ? FOUND : INVALID;
	}
	mp_dns_answer_clear(&ans);
	return 0;
}

bool mp_dmarc_aligned(const char *a, const char *b, bool strict)
{
	char x[256], y[256];
	const char *na, *nb;

	if (a == NULL || b == NULL)
		return false;
	if (strict) {
		na = mp_domain_norm(a, x, sizeof(x));
		nb = mp_domain_norm(b, y, sizeof(y));
	} else {
		na = mp_org_domain(a, x, sizeof(x));
		nb = mp_org_domain(b, y, sizeof(y));
	}
	return na != NULL && nb != NULL && strcmp(na, nb) == 0;
}

/* Whether domain does not exist (NXDOMAIN), for np=. */
static int nonexistent(struct mp_dns *dns, const char *domain, bool *r)
{
	struct mp_dns_answer ans;

	memset(&ans, 0, sizeof(ans));
	if (mp_dns_query(dns, domain, MP_DNS_A, &ans) < 0)
		return -1;
	*r = ans.status == MP_DNS_NXDOMAIN;
	mp_dns_answer_clear(&ans);
	return 0;
}

static enum mp_dmarc_policy lower(enum mp_dmarc_policy p)
{
	return p == MP_DMARC_P_REJECT ? MP_DMARC_P_QUARANTINE : MP_DMARC_P_NONE;
}

int mp_dmarc_evaluate(struct mp_dns *dns, const struct mp_dmarc_in *in, struct mp_dmarc_out *out)
{
	char fbuf[256], obuf[256];
	enum found f;

	memset(out, 0, sizeof(*out));
	out->result = MP_AR_NONE;
	out->policy = MP_DMARC_P_NONE;
	if (in->from_conflict) {
		out->result = MP_AR_PERMERROR;
		return 0;
	}
	const char *from = in->from_domain ? mp_domain_norm(in->from_domain, fbuf, sizeof(fbuf)) : NULL;
	if (from == NULL || dns == NULL)
		return 0;
	const char *at = from;
	if (discover(dns, from, &out->rec, &f) < 0)
		return -1;
	if (f == ABSENT) {
		const char *org = mp_org_domain(from, obuf, sizeof(obuf));
		if (org != NULL && strcmp(org, from) != 0) {
			at = org;
			out->org_record = true;
			if (discover(dns, org, &out->rec, &f) < 0)
				return -1;
		}
	}
	if (f == TEMPFAIL) {
		out->result = MP_AR_TEMPERROR;
		return 0;
	}
	if (f != FOUND)
		return 0; /* none: no record, several, or an invalid one */
	out->has_record = true;
	snprintf(out->domain, sizeof(out->domain), "%s", at);

	for (size_t i = 0; i < in->n_sigs && !out->aligned_dkim; i++)
		out->aligned_dkim = in->sigs[i].result == MP_AR_PASS &&
				    mp_dmarc_aligned(in->sigs[i].domain, from, out->rec.strict_dkim);
	out->aligned_spf = in->spf == MP_AR_PASS &&
			   mp_dmarc_aligned(in->spf_domain, from, out->rec.strict_spf);
	out->result = out->aligned_dkim || out->aligned_spf ? MP_AR_PASS : MP_AR_FAIL;

	enum mp_dmarc_policy pol = out->rec.p;
	if (out->org_record) {
		pol = out->rec.sp;
		bool gone = false;
		if (out->rec.has_np && nonexistent(dns, from, &gone) < 0)
			return -1;
		if (gone)
			pol = out->rec.np;
	}
	/* pct= (§6.6.4): a failing message outside the sample gets the next
	 * lower policy */
	if (out->result == MP_AR_FAIL && pol != MP_DMARC_P_NONE && in->sample >= out->rec.pct) {
		pol = lower(pol);
		out->sampled_out = true;
	}
	out->policy = pol;
	return 0;
}
