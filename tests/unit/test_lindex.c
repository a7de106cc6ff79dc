/*
 * The value index must answer exactly as the tests it stands for: every
 * list against mp_list_match / mp_list_match_ip and every literal against
 * a case-insensitive comparison, for generated values in every match mode.
 */
#include "match/lindex.h"
#include "match/lists.h"
#include "util/file.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const items[][6] = {
	{ "alice@sender.example", "@partner.example", ".trusted.example", NULL },
	{ "sender.example", "Bob@Example.COM", "192.0.2.0/24", "2001:db8::/32", NULL },
	{ ".example", "ceo@bank.example", "198.51.100.7", NULL },
	{ "mail.sender.example.", "@BANK.example", "10.0.0.0/8", "::1", NULL },
	{ "just-a-string", "x@y", ".a.b", NULL },
};
#define N_LISTS (sizeof(items) / sizeof(items[0]))

static const char *const literals[] = { "sender.example", "ALICE@sender.example", "", "Mail.Sender.Example",
					"192.0.2.1", "unknown" };
#define N_LIT (sizeof(literals) / sizeof(literals[0]))

static const char *const values[] = {
	"alice@sender.example", "ALICE@SENDER.EXAMPLE", "bob@example.com", "x@partner.example",
	"x@sub.partner.example", "trusted.example", "a.trusted.example", "sender.example",
	"sender.example.", "mail.sender.example", "mail.sender.example.", "ceo@bank.example",
	"cfo@bank.example", "bank.example", "example", "x.example", "just-a-string",
	"JUST-A-STRING", "x@y", "q.a.b", "a.b", "", "@", "unknown", "192.0.2.1", "192.0.2.255",
	"192.0.3.1", "10.1.2.3", "198.51.100.7", "2001:db8::1", "2001:db9::1", "::1", "x@10.0.0.1",
	"Mail.Sender.Example", "a@b@sender.example", "..", ".",
};
#define N_VAL (sizeof(values) / sizeof(values[0]))

static void test_same_answers(void **state)
{
	struct mp_list *lists[N_LISTS];
	struct mp_lindex *ix = mp_lindex_new();
	const char *why;

	assert_non_null(ix);
	for (size_t l = 0; l < N_LISTS; l++) {
		lists[l] = mp_list_new(NULL);
		for (size_t i = 0; items[l][i] != NULL; i++)
			assert_int_equal(mp_list_add(lists[l], items[l][i], strlen(items[l][i]), &why), 0);
		assert_int_equal(mp_list_finish(lists[l]), 0);
		assert_int_equal(mp_lindex_add_list(ix, lists[l], (uint32_t)l), 0);
	}
	for (size_t k = 0; k < N_LIT; k++)
		assert_int_equal(mp_lindex_add_literal(ix, literals[k], strlen(literals[k]),
						       (uint32_t)(N_LISTS + k)), 0);
	assert_int_equal(mp_lindex_finish(ix), 0);

	static const enum mp_fmatch modes[] = { MP_M_ADDRESS, MP_M_DOMAIN, MP_M_STRING, MP_M_IP };
	size_t hits = 0;
	for (size_t m = 0; m < 4; m++) {
		for (size_t v = 0; v < N_VAL; v++) {
			uint8_t bits[4] = { 0 };
			size_t len = strlen(values[v]);
			mp_lindex_match(ix, modes[m], values[v], len, bits);
			for (size_t l = 0; l < N_LISTS; l++) {
				bool want = mp_list_match(lists[l], modes[m], values[v], len);
				bool got = (bits[l >> 3] >> (l & 7)) & 1;
				hits += want;
				if (want != got)
					fail_msg("list %zu, mode %zu, \"%s\": list says %d, index %d", l,
						 m, values[v], want, got);
			}
			for (size_t k = 0; k < N_LIT; k++) {
				size_t id = N_LISTS + k;
				bool want = mp_ascii_ieqn(values[v], len, literals[k], strlen(literals[k]));
				bool got = (bits[id >> 3] >> (id & 7)) & 1;
				if (want != got)
					fail_msg("literal \"%s\", \"%s\": %d, index %d", literals[k],
						 values[v], want, got);
			}
			/* addresses as client.ip reads them */
			struct mp_ip ip;
			if (modes[m] == MP_M_IP && mp_ip_parse(values[v], len, &ip) == 0) {
				uint8_t ib[4] = { 0 };
				mp_lindex_match_ip(ix, &ip, ib);
				for (size_t l = 0; l < N_LISTS; l++)
					assert_int_equal(mp_list_match_ip(lists[l], &ip),
							 (ib[l >> 3] >> (l & 7)) & 1);
			}
		}
	}
	assert_true(hits >= 20); /* the values do hit the lists */
	for (size_t l = 0; l < N_LISTS; l++)
		mp_list_free(lists[l]);
	mp_lindex_free(ix);
}

/* A name longer than any list item still matches by its parents (both
 * answer through one probe routine, lists.c and lindex.c alike). */
static void test_long_values(void **state)
{
	static char dom[2100], addr[2200];
	struct mp_list *l = mp_list_new(NULL);
	struct mp_lindex *ix = mp_lindex_new();
	const char *why;

	(void)state;
	for (size_t i = 0; i < 2000; i++)
		dom[i] = i % 10 == 9 ? '.' : 'A';
	strcpy(dom + 2000, "trusted.example");
	snprintf(addr, sizeof(addr), "x@%s", dom);
	assert_int_equal(mp_list_add(l, ".trusted.example", 16, &why), 0);
	assert_int_equal(mp_list_finish(l), 0);
	assert_int_equal(mp_lindex_add_list(ix, l, 0), 0);
	assert_int_equal(mp_lindex_finish(ix), 0);
	const struct {
		const char *v;
		enum mp_fmatch m;
		bool want;
	} cases[] = { { dom, MP_M_DOMAIN, true }, { addr, MP_M_ADDRESS, true },
		      { dom, MP_M_STRING, false }, { "AAAA.trusted.example", MP_M_DOMAIN, true } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t bits[1] = { 0 };
		size_t len = strlen(cases[i].v);
		assert_int_equal(mp_list_match(l, cases[i].m, cases[i].v, len), cases[i].want);
		mp_lindex_match(ix, cases[i].m, cases[i].v, len, bits);
		assert_int_equal(bits[0] & 1, cases[i].want);
	}
	mp_list_free(l);
	mp_lindex_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_answers),
		cmocka_unit_test(test_long_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
