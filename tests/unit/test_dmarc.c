/* Unit tests: DMARC (auth/dmarc_record.c, auth/dmarc.c) - the record's
 * tags and defaults, policy discovery over a zone file (From domain, then
 * the organisational domain; several records; DNS failures), alignment
 * strict and relaxed, sp=/np=, pct= with the draw given. */
#include "helpers.h"

#include "auth/dmarc.h"
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *txt, struct mp_dmarc_record *r)
{
	return mp_dmarc_record_parse(txt, strlen(txt), r);
}

static void test_record(void **state)
{
	struct mp_dmarc_record r;

	(void)state;
	assert_true(mp_dmarc_is_record("v=DMARC1; p=none", 16));
	assert_true(mp_dmarc_is_record("v = DMARC1 ;p=none", 18));
	assert_false(mp_dmarc_is_record("v=dmarc1; p=none", 16));   /* the value is exact */
	assert_false(mp_dmarc_is_record(" v=DMARC1; p=none", 17));  /* v first */
	assert_false(mp_dmarc_is_record("p=none; v=DMARC1", 16));
	assert_false(mp_dmarc_is_record("v=DMARC10; p=none", 17));
	assert_false(mp_dmarc_is_record("v=spf1 -all", 11));

	assert_int_equal(parse("v=DMARC1; p=reject", &r), 0);
	assert_int_equal(r.p, MP_DMARC_P_REJECT);
	assert_int_equal(r.sp, MP_DMARC_P_REJECT);  /* sp defaults to p */
	assert_int_equal(r.np, MP_DMARC_P_REJECT);  /* np to sp */
	assert_int_equal(r.pct, 100);
	assert_false(r.strict_dkim);
	assert_false(r.strict_spf);

	assert_int_equal(parse("v=DMARC1;P=Quarantine;SP=none;np=reject;adkim=s;aspf=S;pct=20;"
			       "rua=mailto:a@x.example!10m, mailto:b@y.example;foo=bar;ri=3600", &r), 0);
	assert_int_equal(r.p, MP_DMARC_P_QUARANTINE);
	assert_int_equal(r.sp, MP_DMARC_P_NONE);
	assert_int_equal(r.np, MP_DMARC_P_REJECT);
	assert_true(r.strict_dkim && r.strict_spf);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua[0], "mailto:a@x.example!10m");
	assert_string_equal(r.rua[1], "mailto:b@y.example");

	/* bad optional values keep their defaults */
	assert_int_equal(parse("v=DMARC1; p=reject; pct=150; adkim=x; aspf=", &r), 0);
	assert_int_equal(r.pct, 100);
	assert_false(r.strict_dkim);
	/* no valid p=: invalid, unless rua= names a URI (then p=none) */
	assert_int_equal(parse("v=DMARC1", &r), -1);
	assert_int_equal(parse("v=DMARC1; p=block", &r), -1);
	assert_int_equal(parse("v=DMARC1; p=block; rua=mailto:d@x.example", &r), 0);
	assert_int_equal(r.p, MP_DMARC_P_NONE);
	assert_true(r.p_assumed);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=bogus; rua=mailto:d@x.example", &r), 0);
	assert_int_equal(r.sp, MP_DMARC_P_NONE);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=bogus", &r), -1);
	assert_int_equal(parse("v=DMARC1; p=reject; rua=nonsense", &r), 0);
	assert_int_equal(r.n_rua, 0);
}

static struct mp_dns *zone(const char *text, char **path_r)
{
	char *path = strdup("/tmp/mp-dmarc-zone-XXXXXX");
	int fd = mkstemp(path);
	struct mp_diags d;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	mp_diags_init(&d);
	struct mp_dns *dns = mp_dns_new_zone(path, &d);
	if (dns == NULL)
		mp_diags_print(&d, stderr);
	assert_non_null(dns);
	mp_diags_free(&d);
	*path_r = path;
	return dns;
}

static const char ZONE[] =
	"_dmarc.bank.example     TXT \"v=DMARC1; p=reject; sp=quarantine; np=reject\"\n"
	"bank.example            A   192.0.2.1\n"
	"mail.bank.example       A   192.0.2.2\n"
	"_dmarc.strict.example   TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
	"_dmarc.two.example      TXT \"v=DMARC1; p=reject\"\n"
	"_dmarc.two.example      TXT \"v=DMARC1; p=none\"\n"
	"_dmarc.dup.bank.example TXT \"v=DMARC1; p=none\"\n"
	"_dmarc.dup.bank.example TXT \"v=DMARC1; p=none; pct=50\"\n"
	"_dmarc.other.example    TXT \"v=spf1 -all\"\n"
	"_dmarc.other.example    TXT \"v=DMARC1; p=quarantine; pct=30\"\n"
	"_dmarc.broken.example   TEMPFAIL\n"
	"_dmarc.bad.example      TXT \"v=DMARC1; p=maybe\"\n";

struct run {
	struct mp_dmarc_in in;
	struct mp_dkim_sig sig;
};

static void eval(struct mp_dns *dns, const char *from, const char *spf_domain, int spf,
		 const char *dkim_domain, unsigned sample, struct mp_dmarc_out *out)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	r.in.from_domain = from;
	r.in.spf = spf < 0 ? MP_AR_NONE : (enum mp_auth_result)spf;
	r.in.spf_domain = spf_domain;
	if (dkim_domain != NULL) {
		r.sig.result = MP_AR_PASS;
		r.sig.domain = dkim_domain;
		r.in.sigs = &r.sig;
		r.in.n_sigs = 1;
	}
	r.in.sample = sample;
	assert_int_equal(mp_dmarc_evaluate(dns, &r.in, out), 0);
}

static void test_evaluate(void **state)
{
	char *path;
	struct mp_dns *dns = zone(ZONE, &path);
	struct mp_dmarc_out o;

	(void)state;
	/* aligned SPF (relaxed: the MAIL FROM in a subdomain) */
	eval(dns, "bank.example", "bounces.bank.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_PASS);
	assert_true(o.aligned_spf);
	assert_false(o.aligned_dkim);
	assert_int_equal(o.policy, MP_DMARC_P_REJECT);
	assert_string_equal(o.domain, "bank.example");
	/* aligned DKIM; SPF passing for another domain does not count */
	eval(dns, "Bank.Example.", "elsewhere.example", MP_AR_PASS, "mail.bank.example", 0, &o);
	assert_int_equal(o.result, MP_AR_PASS);
	assert_true(o.aligned_dkim);
	assert_false(o.aligned_spf);
	/* nothing aligned: fail, the policy stands */
	eval(dns, "bank.example", "elsewhere.example", MP_AR_PASS, "elsewhere.example", 0, &o);
	assert_int_equal(o.result, MP_AR_FAIL);
	assert_int_equal(o.policy, MP_DMARC_P_REJECT);
	/* SPF aligned but not passing */
	eval(dns, "bank.example", "bank.example", MP_AR_SOFTFAIL, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_FAIL);

	/* a subdomain without a record: the organisational domain's, sp= */
	eval(dns, "mail.bank.example", "x.example", MP_AR_FAIL, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_FAIL);
	assert_int_equal(o.policy, MP_DMARC_P_QUARANTINE);
	assert_string_equal(o.domain, "bank.example");
	assert_true(o.org_record);
	/* a subdomain that does not exist: np= */
	eval(dns, "ghost.bank.example", "x.example", MP_AR_FAIL, NULL, 0, &o);
	assert_int_equal(o.policy, MP_DMARC_P_REJECT);

	/* strict: a subdomain is not aligned */
	eval(dns, "strict.example", "mail.strict.example", MP_AR_PASS, "mail.strict.example", 0, &o);
	assert_int_equal(o.result, MP_AR_FAIL);
	eval(dns, "strict.example", "strict.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_PASS);

	/* two records: none, and no fallback from a subdomain that has two */
	eval(dns, "two.example", "two.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_NONE);
	assert_int_equal(o.policy, MP_DMARC_P_NONE);
	assert_string_equal(o.domain, "");
	eval(dns, "dup.bank.example", "x.example", MP_AR_FAIL, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_NONE);  /* not bank.example's reject */

	/* a TXT that is not DMARC beside one that is; pct=30 */
	eval(dns, "other.example", "x.example", MP_AR_FAIL, NULL, 29, &o);
	assert_int_equal(o.policy, MP_DMARC_P_QUARANTINE);
	eval(dns, "other.example", "x.example", MP_AR_FAIL, NULL, 30, &o);
	assert_int_equal(o.policy, MP_DMARC_P_NONE);  /* outside the sample: one lower */
	eval(dns, "other.example", "other.example", MP_AR_PASS, NULL, 99, &o);
	assert_int_equal(o.policy, MP_DMARC_P_QUARANTINE);  /* a pass keeps the policy */

	/* DNS failure, invalid record, no record, no From */
	eval(dns, "broken.example", "broken.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_TEMPERROR);
	eval(dns, "bad.example", "bad.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_NONE);
	eval(dns, "nothing.example", "nothing.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_NONE);
	eval(dns, NULL, "x.example", MP_AR_PASS, NULL, 0, &o);
	assert_int_equal(o.result, MP_AR_NONE);
	struct mp_dmarc_in conflict = { .from_domain = "bank.example", .from_conflict = true };
	assert_int_equal(mp_dmarc_evaluate(dns, &conflict, &o), 0);
	assert_int_equal(o.result, MP_AR_PERMERROR);

	mp_dns_unref(dns);
	unlink(path);
	free(path);
}

static void test_alignment(void **state)
{
	(void)state;
	assert_true(mp_dmarc_aligned("a.bank.example", "b.bank.example", false));
	assert_false(mp_dmarc_aligned("a.bank.example", "b.bank.example", true));
	assert_true(mp_dmarc_aligned("BANK.example.", "bank.EXAMPLE", true));
	/* public suffixes are not organisational domains of each other */
	assert_false(mp_dmarc_aligned("a.co.uk", "b.co.uk", false));
	assert_true(mp_dmarc_aligned("x.a.co.uk", "a.co.uk", false));
	assert_false(mp_dmarc_aligned(NULL, "a.example", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_alignment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
