/* Unit tests: SPF through libspf2 over a static zone - every result, the
 * bounds on what reaches libspf2, void lookups, threads - and the
 * Authentication-Results helpers. */
#include "helpers.h"

#include "dns/dns.h"
#include "engine/internal.h"
#include "auth/spf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct mp_dns *dns;
static struct mp_spf *spf;

static int setup(void **state)
{
	char path[] = "/tmp/mp-spfzone-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct mp_diags d;

	fputs("pass.example TXT \"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all\"\n"
	      "soft.example TXT \"v=spf1 ~all\"\n"
	      "neutral.example TXT \"v=spf1 ?all\"\n"
	      "none.example TXT \"not an spf record\"\n"
	      "two.example TXT \"v=spf1 -all\"\n"
	      "two.example TXT \"v=spf1 +all\"\n"
	      "syntax.example TXT \"v=spf1 ip4:1.2.3 -all\"\n"
	      "temp.example TEMPFAIL\n"
	      "inctemp.example TXT \"v=spf1 include:temp.example -all\"\n"
	      "inc.example TXT \"v=spf1 include:pass.example -all\"\n"
	      "redir.example TXT \"v=spf1 redirect=pass.example\"\n"
	      "macro.example TXT \"v=spf1 exists:%{ir}.%{l1r-}.ok.macro.example -all\"\n"
	      "7.100.51.198.user.ok.macro.example A 127.0.0.2\n"
	      "bigmacro.example TXT \"v=spf1 exists:%{l999}.x.example -all\"\n"
	      "badesc.example TXT \"v=spf1 exists:%x.example -all\"\n"
	      "badletter.example TXT \"v=spf1 exists:%{z}.example -all\"\n"
	      "nul.example TXT \"v=spf1 \\000-all\"\n"
	      "voids.example TXT \"v=spf1 a:v1.example a:v2.example a:v3.example ip4:198.51.100.7 -all\"\n"
	      "twovoids.example TXT \"v=spf1 a:v1.example a:v2.example ip4:198.51.100.7 -all\"\n"
	      "exp.example TXT \"v=spf1 -all exp=why.exp.example\"\n"
	      "why.exp.example TXT \"no %{l999} for you\"\n"
	      "helo.example TXT \"v=spf1 ip4:198.51.100.7 -all\"\n", f);
	/* more than 64 strings, and more than 4096 bytes */
	fputs("strings.example TXT \"v=spf1\"", f);
	for (int i = 0; i < 70; i++)
		fputs(" \" ?all\"", f);
	fputs("\nlong.example TXT \"v=spf1\"", f);
	for (int i = 0; i < 20; i++)
		fprintf(f, " \"%s\"", " ip4:192.0.2.1 ip4:192.0.2.2 ip4:192.0.2.3 ip4:192.0.2.4 ip4:192.0.2.5 ip4:192.0.2.6 ip4:192.0.2.7 ip4:192.0.2.8 ip4:192.0.2.9 ip4:192.0.2.10 ip4:192.0.2.11 ip4:192.0.2.12 ip4:192.0.2.13 ip4:192.0.2.14 ip4:192.0.2.15 ip4:192.0.2.16 ip4:192.0.2.17 ");
	fputs("\n", f);
	fclose(f);
	mp_diags_init(&d);
	dns = mp_dns_new_zone(path, &d);
	mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	unlink(path);
	spf = mp_spf_new("mx.test.example");
	return dns && spf ? 0 : -1;
}

static int teardown(void **state)
{
	mp_spf_free(spf);
	mp_dns_unref(dns);
	return 0;
}

static enum mp_auth_result check(const char *ip, const char *from)
{
	return mp_spf_check(spf, dns, ip, "helo.example", from, NULL, 0, 0, NULL);
}

static void test_results(void **state)
{
	assert_int_equal(check("198.51.100.7", "a@pass.example"), MP_AR_PASS);
	assert_int_equal(check("203.0.113.1", "a@pass.example"), MP_AR_FAIL);
	assert_int_equal(check("2001:db8::1", "a@pass.example"), MP_AR_PASS);
	assert_int_equal(check("2001:db9::1", "a@pass.example"), MP_AR_FAIL);
	assert_int_equal(check("198.51.100.7", "a@soft.example"), MP_AR_SOFTFAIL);
	assert_int_equal(check("198.51.100.7", "a@neutral.example"), MP_AR_NEUTRAL);
	assert_int_equal(check("198.51.100.7", "a@none.example"), MP_AR_NONE);
	assert_int_equal(check("198.51.100.7", "a@nothere.example"), MP_AR_NONE);
	assert_int_equal(check("198.51.100.7", "a@two.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@syntax.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@temp.example"), MP_AR_TEMPERROR);
	assert_int_equal(check("198.51.100.7", "a@inctemp.example"), MP_AR_TEMPERROR);
	assert_int_equal(check("198.51.100.7", "a@inc.example"), MP_AR_PASS);
	assert_int_equal(check("203.0.113.1", "a@redir.example"), MP_AR_FAIL);
	assert_int_equal(check("198.51.100.7", "user@macro.example"), MP_AR_PASS);
	assert_int_equal(check("198.51.100.8", "user@macro.example"), MP_AR_FAIL);
	/* the null sender and spf.helo: postmaster@helo */
	assert_int_equal(check("198.51.100.7", ""), MP_AR_PASS);
	assert_int_equal(check("198.51.100.8", NULL), MP_AR_FAIL);
	/* a loopback client: libspf2 passes it unchecked; we say none */
	assert_int_equal(check("127.0.0.1", "a@pass.example"), MP_AR_NONE);
	assert_int_equal(check("::1", "a@pass.example"), MP_AR_NONE);
	/* no client address, no domain */
	assert_int_equal(check("", "a@pass.example"), MP_AR_NONE);
	assert_int_equal(mp_spf_check(spf, dns, "198.51.100.7", "", "", NULL, 0, 0, NULL), MP_AR_NONE);
}

static void test_received_spf(void **state)
{
	char rs[MP_RECEIVED_SPF_MAX];

	assert_int_equal(mp_spf_check(spf, dns, "198.51.100.7", "helo.example", "a@pass.example",
				      rs, sizeof(rs), 0, NULL), MP_AR_PASS);
	assert_true(strncmp(rs, "pass (", 6) == 0);
	assert_true(strstr(rs, "client-ip=198.51.100.7;") != NULL);
	assert_true(strstr(rs, "envelope-from=\"a@pass.example\";") != NULL ||
		    strstr(rs, "envelope-from=a@pass.example;") != NULL);
	/* libspf2 says pass here; our void-lookup limit says permerror, and
	 * the field must say what the result says */
	assert_int_equal(mp_spf_check(spf, dns, "198.51.100.7", "helo.example", "a@voids.example",
				      rs, sizeof(rs), 0, NULL), MP_AR_PERMERROR);
	assert_true(strncmp(rs, "permerror (", 11) == 0);
	assert_true(strstr(rs, "too many DNS lookups") != NULL);
	assert_true(strstr(rs, "client-ip=198.51.100.7;") != NULL);
	assert_int_equal(mp_spf_check(spf, dns, "127.0.0.1", "helo.example", "a@pass.example",
				      rs, sizeof(rs), 0, NULL), MP_AR_NONE);
	assert_true(strncmp(rs, "none (", 6) == 0);
	assert_true(strstr(rs, "loopback client, not checked") != NULL);
}

static void test_bounds(void **state)
{
	/* what breaks a bound never reaches libspf2: a certain permerror */
	assert_int_equal(check("198.51.100.7", "a@bigmacro.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@badesc.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@badletter.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@nul.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@strings.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@long.example"), MP_AR_PERMERROR);
	/* a bad explanation is dropped; the result stands */
	assert_int_equal(check("198.51.100.7", "a@exp.example"), MP_AR_FAIL);
	/* RFC 7208 §4.6.4: more than two void lookups */
	assert_int_equal(check("198.51.100.7", "a@voids.example"), MP_AR_PERMERROR);
	assert_int_equal(check("198.51.100.7", "a@twovoids.example"), MP_AR_PASS);
}

struct worker {
	int errors;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	static const struct {
		const char *ip, *from;
		enum mp_auth_result want;
	} cases[] = {
		{ "198.51.100.7", "a@pass.example", MP_AR_PASS },
		{ "203.0.113.1", "a@inc.example", MP_AR_FAIL },
		{ "198.51.100.7", "user@macro.example", MP_AR_PASS },
		{ "198.51.100.7", "a@temp.example", MP_AR_TEMPERROR },
		{ "198.51.100.7", "a@two.example", MP_AR_PERMERROR },
		{ "198.51.100.7", "a@voids.example", MP_AR_PERMERROR },
		{ "198.51.100.7", "a@soft.example", MP_AR_SOFTFAIL },
	};
	for (int i = 0; i < 300; i++) {
		size_t k = (size_t)i % (sizeof(cases) / sizeof(cases[0]));
		if (check(cases[k].ip, cases[k].from) != cases[k].want)
			w->errors++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[16];
	struct worker w[16];

	for (int i = 0; i < 16; i++) {
		w[i].errors = 0;
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
}


static void test_authres_values(void **state)
{
	struct mp_ruleset *rs = th_global("rule \"r\" { when helo == \"nope\" reject }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.from = "<\"odd local\"@sender.example>";
	m.spf = MP_AR_SOFTFAIL;
	m.dkim = "fail:bank.example";
	th_run(rs, &m, &r);
	/* quoted where RFC 8601's pvalue needs it */
	assert_true(strstr(r.res->auth_results,
			   "spf=softfail smtp.mailfrom=\"\\\"odd local\\\"@sender.example\"") != NULL);
	assert_true(strstr(r.res->auth_results, ";\n\tdkim=fail header.d=bank.example header.s=injected") != NULL);
	th_run_free(&r);
	/* the null sender reports the HELO identity */
	m.from = "<>";
	th_run(rs, &m, &r);
	assert_true(strstr(r.res->auth_results, "spf=softfail smtp.helo=mail.sender.example") != NULL);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_received_spf),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_authres_values),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
