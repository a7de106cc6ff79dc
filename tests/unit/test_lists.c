/* Unit tests: CIDR sets and name sets behind `in`. */
#include "helpers.h"

#include "match/lists.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct mp_list *make(const char *const *items)
{
	struct mp_list *l = mp_list_new("t");
	const char *why;

	for (size_t i = 0; items[i]; i++)
		assert_int_equal(mp_list_add(l, items[i], strlen(items[i]), &why), 0);
	mp_list_finish(l);
	return l;
}

static bool ip_in(const struct mp_list *l, const char *ip)
{
	struct mp_ip a;

	assert_int_equal(mp_ip_parse(ip, strlen(ip), &a), 0);
	return mp_list_match_ip(l, &a);
}

static void test_cidr(void **state)
{
	const char *items[] = { "10.0.0.0/8", "192.0.2.7", "198.51.100.0/31", "2001:db8::/32",
				"::1", "0.0.0.0/0", NULL };
	const char *v6only[] = { "2001:db8:1::/48", "fe80::/10", NULL };
	struct mp_list *l = make(items);
	struct mp_list *l6 = make(v6only);

	assert_true(ip_in(l, "10.255.1.2"));
	assert_true(ip_in(l, "192.0.2.7"));
	assert_true(ip_in(l, "198.51.100.1"));
	assert_true(ip_in(l, "2001:db8:ffff::9"));
	assert_true(ip_in(l, "::1"));
	assert_false(ip_in(l, "2001:db9::1"));
	assert_true(ip_in(l, "203.0.113.5")); /* 0.0.0.0/0 */
	assert_true(ip_in(l6, "2001:db8:1:2::3"));
	assert_false(ip_in(l6, "2001:db8:2::1"));
	assert_true(ip_in(l6, "fe80::abcd"));
	assert_true(ip_in(l6, "[IPv6:fe80::1]"));
	assert_false(ip_in(l6, "10.0.0.1"));
	mp_list_free(l);
	mp_list_free(l6);

	const char *v4[] = { "198.51.100.0/24", NULL };
	l = make(v4);
	assert_true(ip_in(l, "::ffff:198.51.100.9")); /* v4-mapped counts as v4 */
	assert_false(ip_in(l, "198.51.101.0"));
	assert_int_equal(mp_list_count(l), 1);
	assert_int_equal(mp_list_count_ip(l), 1);
	mp_list_free(l);
}

static void test_bad_items(void **state)
{
	struct mp_list *l = mp_list_new("t");
	const char *why;

	assert_int_equal(mp_list_add(l, "10.0.0.0/33", 11, &why), -1);
	assert_string_equal(why, "prefix length above 32");
	assert_int_equal(mp_list_add(l, "300.1.1.1", 9, &why), -1);
	assert_int_equal(mp_list_add(l, "2001:db8::/129", 14, &why), -1);
	assert_int_equal(mp_list_add(l, "10.0.0.0/x", 10, &why), -1);
	assert_int_equal(mp_list_add(l, "a@", 2, &why), -1);
	assert_int_equal(mp_list_add(l, "@", 1, &why), -1);
	assert_int_equal(mp_list_add(l, "@a@b", 4, &why), -1);
	assert_int_equal(mp_list_add(l, ".", 1, &why), -1);
	assert_int_equal(mp_list_add(l, "a\tb", 3, &why), -1);
	assert_int_equal(mp_list_add(l, "", 0, &why), -1);
	char big[MP_LIST_ITEM_MAX + 2];
	memset(big, 'a', sizeof(big));
	assert_int_equal(mp_list_add(l, big, sizeof(big), &why), -1);
	assert_int_equal(mp_list_count(l), 0);
	mp_list_free(l);
	mp_list_free(NULL);
}

static bool m(const struct mp_list *l, enum mp_fmatch how, const char *v)
{
	return mp_list_match(l, how, v, strlen(v));
}

static void test_names(void **state)
{
	const char *items[] = { "@partner.example", "CEO@Bank.example", ".bank.example",
				"exact.example", "Some Value", NULL };
	struct mp_list *l = make(items);

	/* address fields */
	assert_true(m(l, MP_M_ADDRESS, "anyone@partner.example"));
	assert_false(m(l, MP_M_ADDRESS, "anyone@sub.partner.example"));
	assert_true(m(l, MP_M_ADDRESS, "ceo@bank.example"));
	assert_false(m(l, MP_M_ADDRESS, "cfo@bank.example"));
	assert_true(m(l, MP_M_ADDRESS, "x@mail.bank.example"));
	assert_true(m(l, MP_M_ADDRESS, "x@a.b.BANK.example"));
	assert_true(m(l, MP_M_ADDRESS, "who@exact.example"));
	assert_false(m(l, MP_M_ADDRESS, "who@sub.exact.example"));
	assert_false(m(l, MP_M_ADDRESS, ""));
	/* domain fields */
	assert_true(m(l, MP_M_DOMAIN, "partner.example"));
	assert_true(m(l, MP_M_DOMAIN, "Exact.Example."));
	assert_true(m(l, MP_M_DOMAIN, "deep.mail.bank.example"));
	assert_false(m(l, MP_M_DOMAIN, "bank.example")); /* .domain: subdomains only */
	assert_false(m(l, MP_M_DOMAIN, "xbank.example"));
	/* other strings: whole-value, case-insensitive */
	assert_true(m(l, MP_M_STRING, "some value"));
	assert_false(m(l, MP_M_STRING, "some"));
	mp_list_free(l);
}

static void test_file_and_big(void **state)
{
	char path[] = "/tmp/mp-list-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct mp_diags d;

	fprintf(f, "# comment\n  10.1.0.0/16  # trailing\n\n@ok.example\r\n300.0.0.1\n");
	for (int i = 0; i < 200000; i++)
		fprintf(f, "host%d.example\n", i);
	for (int i = 0; i < 65536; i++)
		fprintf(f, "10.%d.%d.0/24\n", i / 256, i % 256);
	fclose(f);
	struct mp_list *l = mp_list_new("big");
	mp_diags_init(&d);
	assert_int_equal(mp_list_load_file(l, AT_FDCWD, path, "lists/big.txt", &d), -1);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "lists/big.txt");
	assert_int_equal(d.v[0].line, 5);
	assert_int_equal(d.v[0].col, 1);
	mp_list_finish(l);
	assert_int_equal(mp_list_count(l), 2 + 200000 + 65536);
	assert_true(m(l, MP_M_DOMAIN, "host199999.example"));
	assert_true(m(l, MP_M_ADDRESS, "x@ok.example"));
	assert_true(ip_in(l, "10.1.200.3"));
	assert_true(ip_in(l, "10.255.255.9"));
	assert_false(ip_in(l, "11.0.0.1"));
	mp_list_free(l);
	mp_diags_free(&d);
	unlink(path);

	l = mp_list_new("missing");
	assert_int_equal(mp_list_load_file(l, AT_FDCWD, "/nonexistent/x", "x", &d), -2);
	mp_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_bad_items),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_file_and_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
