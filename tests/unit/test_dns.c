/* Unit tests: the static zone backend and the wire-format helpers. */
#include "helpers.h"

#include "dns/cache.h"
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_zone(const char *text)
{
	char path[] = "/tmp/mp-zone-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return strdup(path);
}

static struct mp_dns *zone(const char *text, struct mp_diags *d)
{
	char *path = write_zone(text);
	struct mp_dns *dns = mp_dns_new_zone(path, d);

	unlink(path);
	free(path);
	return dns;
}

static void test_zone_answers(void **state)
{
	struct mp_diags d;
	struct mp_dns_answer a;

	mp_diags_init(&d);
	struct mp_dns *dns = zone(
		"# comment\n"
		"Sender.Example.  TXT \"v=spf1 \" \"-all\"\n"
		"sender.example   TXT bare text here  \n"
		"sel._domainkey.bank.example TXT \"v=DKIM1; \\\"q\\\" \\065\"\n"
		"mail.example     A    192.0.2.1\n"
		"mail.example     A    192.0.2.2\n"
		"mail.example     AAAA 2001:db8::1\n"
		"example          MX   10 Mail.Example.\n"
		"1.2.0.192.in-addr.arpa PTR mail.example\n"
		"broken.example   TEMPFAIL\n"
		"gone.example     NXDOMAIN\n"
		"x.gone.example   A 192.0.2.9\n", &d);
	mp_diags_print(&d, stderr);
	assert_non_null(dns);
	assert_int_equal(mp_dns_query(dns, "SENDER.example", MP_DNS_TXT, &a), 0);
	assert_int_equal(a.status, MP_DNS_OK);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].data, "v=spf1 -all");
	assert_int_equal(a.rr[0].n_strings, 2);
	assert_string_equal(a.rr[1].data, "bare text here");
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "sel._domainkey.bank.example.", MP_DNS_TXT, &a), 0);
	assert_string_equal(a.rr[0].data, "v=DKIM1; \"q\" A");
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "mail.example", MP_DNS_A, &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.rr[1].len, 4);
	assert_memory_equal(a.rr[1].data, "\xc0\x00\x02\x02", 4);
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "mail.example", MP_DNS_AAAA, &a), 0);
	assert_int_equal(a.rr[0].len, 16);
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "mail.example", MP_DNS_MX, &a), 0);
	assert_int_equal(a.status, MP_DNS_NODATA);
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "example", MP_DNS_MX, &a), 0);
	assert_int_equal(a.rr[0].pref, 10);
	assert_string_equal(a.rr[0].data, "mail.example");
	mp_dns_answer_clear(&a);
	assert_int_equal(mp_dns_query(dns, "1.2.0.192.in-addr.arpa", MP_DNS_PTR, &a), 0);
	assert_string_equal(a.rr[0].data, "mail.example");
	mp_dns_answer_clear(&a);
	/* an empty non-terminal exists, with no data */
	assert_int_equal(mp_dns_query(dns, "_domainkey.bank.example", MP_DNS_TXT, &a), 0);
	assert_int_equal(a.status, MP_DNS_NODATA);
	assert_int_equal(mp_dns_query(dns, "nothere.example", MP_DNS_TXT, &a), 0);
	assert_int_equal(a.status, MP_DNS_NXDOMAIN);
	assert_int_equal(mp_dns_query(dns, "broken.example", MP_DNS_A, &a), 0);
	assert_int_equal(a.status, MP_DNS_TEMPFAIL);
	assert_int_equal(mp_dns_query(dns, "gone.example", MP_DNS_A, &a), 0);
	assert_int_equal(a.status, MP_DNS_NXDOMAIN);
	assert_int_equal(mp_dns_query(dns, "", MP_DNS_A, &a), 0);
	assert_int_equal(a.status, MP_DNS_NXDOMAIN);
	assert_string_equal(mp_dns_describe(dns) + 0, mp_dns_describe(dns));
	mp_dns_unref(dns);
	mp_dns_unref(NULL);
	mp_diags_free(&d);
}

static void test_zone_errors(void **state)
{
	struct mp_diags d;

	mp_diags_init(&d);
	char long_string[400];
	memset(long_string, 'x', sizeof(long_string));
	long_string[sizeof(long_string) - 1] = '\0';
	char text[1000];
	snprintf(text, sizeof(text),
		 "a.example A 300.1.2.3\n"
		 "b.example FOO bar\n"
		 "c.example TXT \"unterminated\n"
		 "d.example MX mail.example\n"
		 "e.example\n"
		 "  f.example TXT \"%s\"\n", long_string);
	assert_null(zone(text, &d));
	assert_int_equal(d.n, 6);
	assert_int_equal(d.v[0].line, 1);
	assert_string_equal(d.v[0].msg, "bad IPv4 address");
	assert_true(strstr(d.v[1].msg, "unknown type") != NULL);
	assert_string_equal(d.v[2].msg, "unterminated string");
	assert_true(strstr(d.v[3].msg, "MX needs a preference") != NULL);
	assert_string_equal(d.v[4].msg, "expected NAME TYPE DATA");
	assert_int_equal(d.v[5].col, 3);
	assert_true(strstr(d.v[5].msg, "longer than 255 bytes") != NULL);
	mp_diags_free(&d);

	mp_diags_init(&d);
	assert_null(mp_dns_new_zone("/nonexistent/zone", &d));
	assert_true(strstr(d.v[0].msg, "cannot read DNS zone file") != NULL);
	mp_diags_free(&d);
}

static void test_cache(void **state)
{
	struct mp_dns_cache *c = mp_dns_cache_new(3);
	struct mp_dns_answer ans, got;
	struct mp_dns_rr rr = { .type = MP_DNS_TXT, .len = 11, .data = strdup("v=spf1 -all") };

	assert_non_null(c);
	memset(&ans, 0, sizeof(ans));
	ans.status = MP_DNS_OK;
	assert_int_equal(mp_dns_answer_add(&ans, &rr), 0);
	mp_dns_cache_put(c, "Sender.Example.", MP_DNS_TXT, &ans, 60);
	/* a copy of its own, whatever the case or the trailing dot */
	assert_true(mp_dns_cache_get(c, "sender.example", MP_DNS_TXT, &got));
	assert_int_equal(got.status, MP_DNS_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.rr[0].data, "v=spf1 -all");
	assert_ptr_not_equal(got.rr[0].data, ans.rr[0].data);
	mp_dns_answer_clear(&got);
	/* another type is another name */
	assert_false(mp_dns_cache_get(c, "sender.example", MP_DNS_A, &got));
	/* temporary failures and a TTL of 0 are not kept */
	struct mp_dns_answer temp = { .status = MP_DNS_TEMPFAIL };
	mp_dns_cache_put(c, "broken.example", MP_DNS_TXT, &temp, 60);
	assert_false(mp_dns_cache_get(c, "broken.example", MP_DNS_TXT, &got));
	mp_dns_cache_put(c, "zero.example", MP_DNS_TXT, &ans, 0);
	assert_false(mp_dns_cache_get(c, "zero.example", MP_DNS_TXT, &got));
	/* negative answers are kept too */
	struct mp_dns_answer nx = { .status = MP_DNS_NXDOMAIN };
	mp_dns_cache_put(c, "gone.example", MP_DNS_TXT, &nx, 60);
	assert_true(mp_dns_cache_get(c, "gone.example", MP_DNS_TXT, &got));
	assert_int_equal(got.status, MP_DNS_NXDOMAIN);
	mp_dns_answer_clear(&got);
	/* full (3 names): it starts over */
	mp_dns_cache_put(c, "a.example", MP_DNS_TXT, &ans, 60);
	mp_dns_cache_put(c, "b.example", MP_DNS_TXT, &ans, 60);
	assert_false(mp_dns_cache_get(c, "sender.example", MP_DNS_TXT, &got));
	assert_true(mp_dns_cache_get(c, "b.example", MP_DNS_TXT, &got));
	mp_dns_answer_clear(&got);
	mp_dns_answer_clear(&ans);
	mp_dns_cache_free(c);
}

static void test_wire(void **state)
{
	struct mp_dns_rr rr;
	char name[64];
	size_t used;

	assert_int_equal(mp_dns_txt_from_wire((const unsigned char *)"\x03" "abc\x00\x02" "de", 8, &rr), 0);
	assert_string_equal(rr.data, "abcde");
	assert_int_equal(rr.len, 5);
	assert_int_equal(rr.n_strings, 3);
	free(rr.data);
	assert_int_equal(mp_dns_txt_from_wire((const unsigned char *)"\x09" "abc", 4, &rr), -1);
	assert_int_equal(mp_dns_name_from_wire((const unsigned char *)"\x04mail\x07" "example\x00", 14,
					       name, sizeof(name), &used), 0);
	assert_string_equal(name, "mail.example");
	assert_int_equal(used, 14);
	assert_int_equal(mp_dns_name_from_wire((const unsigned char *)"\x03" "a.b\x00", 5, name,
					       sizeof(name), NULL), 0);
	assert_string_equal(name, "a\\046b");
	assert_int_equal(mp_dns_name_from_wire((const unsigned char *)"\xc0\x0c", 2, name,
					       sizeof(name), NULL), -1);
	assert_int_equal(mp_dns_name_from_wire((const unsigned char *)"\x05" "ab", 3, name,
					       sizeof(name), NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_answers),
		cmocka_unit_test(test_zone_errors),
		cmocka_unit_test(test_wire),
		cmocka_unit_test(test_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
