/* Unit tests: envelope addresses, From parsing, unfolding, RFC 2047. */
#include "helpers.h"

#include "mail/address.h"
#include "mail/header.h"
#include "util/arena.h"

#include <string.h>

/* The envelope address of arg as a string (into out). */
static const char *env(const char *arg, char *out, size_t *len_r)
{
	size_t len;
	const char *p = mp_addr_envelope(arg, &len);

	memcpy(out, p, len);
	out[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return out;
}

static void test_envelope(void **state)
{
	static char out[8192], big[4096];
	size_t len;

	assert_string_equal(env("<alice@sender.example>", out, &len), "alice@sender.example");
	assert_int_equal(len, 20);
	assert_string_equal(env("<>", out, &len), "");
	assert_int_equal(len, 0);
	assert_string_equal(env("<@relay.example,@b.example:u@d.example>", out, NULL), "u@d.example");
	assert_string_equal(env("  bare@x.example ", out, NULL), "bare@x.example");
	assert_string_equal(env("<a@b.example> SIZE=100", out, NULL), "a@b.example");
	assert_string_equal(env(NULL, out, NULL), "");
	/* never cut: the domain of a long address survives */
	big[0] = '<';
	memset(big + 1, 'l', 2000);
	strcpy(big + 2001, "@fail.example>");
	env(big, out, &len);
	assert_int_equal(len, 2000 + 13);
	assert_string_equal(out + mp_addr_domain_offset(out, len), "fail.example");
	assert_int_equal(mp_addr_domain_offset("a@b", 3), 2);
	assert_int_equal(mp_addr_domain_offset("\"x@y\"@d", 7), 6);
	assert_int_equal(mp_addr_domain_offset("nodomain", 8), 8);
}

static int parse(const char *v, struct mp_arena *a, struct mp_mailbox *mb, size_t max)
{
	return mp_addr_parse_list(v, strlen(v), a, mb, max);
}

static void test_from_list(void **state)
{
	struct mp_arena a;
	struct mp_mailbox mb[8];

	mp_arena_init(&a);
	assert_int_equal(parse("Alice Example <alice@sender.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "alice@sender.example");
	assert_string_equal(mb[0].addr + mb[0].domain, "sender.example");
	assert_int_equal(parse("\"Doe, John\" <j@x.example>, k@y.example (Kay)", &a, mb, 8), 2);
	assert_string_equal(mb[0].addr, "j@x.example");
	assert_string_equal(mb[1].addr, "k@y.example");
	assert_int_equal(parse("(comment (nested)) a@b.example", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "a@b.example");
	assert_int_equal(parse("Team: a@b.example, c@d.example;, e@f.example", &a, mb, 8), 3);
	assert_string_equal(mb[0].addr, "a@b.example");
	assert_string_equal(mb[2].addr, "e@f.example");
	assert_int_equal(parse("undisclosed-recipients:;", &a, mb, 8), 0);
	assert_int_equal(parse("\"quoted local\"@q.example", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "\"quoted local\"@q.example");
	assert_int_equal(parse("=?utf-8?q?J=C3=B6rg?= <jorg@z.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "jorg@z.example");
	assert_int_equal(parse("<@route.example:r@s.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "r@s.example");
	assert_int_equal(parse("Alice alice@bad.example", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "alice@bad.example");
	assert_int_equal(parse("", &a, mb, 8), 0);
	assert_int_equal(parse("just-a-name", &a, mb, 8), 1);
	assert_int_equal(mb[0].domain, mb[0].len);
	/* what a display name or comment says is not the address */
	assert_int_equal(parse("\"ceo@bank.example <x>\" <real@x.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "real@x.example");
	assert_int_equal(parse("=?utf-8?q?ceo=40bank.example?= <real@x.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "real@x.example");
	assert_int_equal(parse("a@b.example (sent for ceo@bank.example)", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "a@b.example");
	assert_int_equal(parse("Alice\n <alice@folded.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr + mb[0].domain, "folded.example");
	assert_int_equal(parse("\"a\\\"b\"@q.example", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr + mb[0].domain, "q.example");
	/* more than fit: counted, not stored */
	assert_int_equal(parse("a@x, b@x, c@x", &a, mb, 2), 3);
	/* encoded words are display text: never address syntax (SPEC §8) */
	assert_int_equal(parse("=?utf-8?q?=22?= <ceo@bank.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr + mb[0].domain, "bank.example");
	assert_int_equal(mb[0].flags, 0);
	assert_int_equal(parse("=?utf-8?q?Doe=2C_John?= <john@example.org>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "john@example.org");
	assert_int_equal(mb[0].flags, 0);
	/* malformed: counted, every address a reader might show is there */
	assert_int_equal(parse("<a@x.example> <ceo@bank.example>", &a, mb, 8), 2);
	assert_string_equal(mb[0].addr, "a@x.example");
	assert_string_equal(mb[1].addr, "ceo@bank.example");
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	assert_true(mb[1].flags & MP_MB_MALFORMED);
	assert_int_equal(parse("\"Bank <ceo@bank.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "ceo@bank.example");
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	assert_int_equal(parse("(Bank <ceo@bank.example>", &a, mb, 8), 1);
	assert_string_equal(mb[0].addr, "ceo@bank.example");
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	assert_int_equal(parse("Bank <ceo@bank.example", &a, mb, 8), 1);
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	assert_int_equal(parse("just-a-name", &a, mb, 8), 1);
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	assert_int_equal(parse("Alice <alice@sender.example>", &a, mb, 8), 1);
	assert_int_equal(mb[0].flags, 0);
	/* longer than kept: marked, never cut silently */
	static char longv[3000];
	memset(longv, 'l', 2000);
	strcpy(longv + 2000, "@bank.example");
	assert_int_equal(parse(longv, &a, mb, 8), 1);
	assert_true(mb[0].flags & MP_MB_TOO_LONG);
	assert_true(mb[0].flags & MP_MB_MALFORMED);
	mp_arena_release(&a);
}

static const char *value(struct mp_arena *a, const char *raw)
{
	const char *out;
	size_t len;

	assert_int_equal(mp_header_value(raw, strlen(raw), a, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_unfold_and_decode(void **state)
{
	struct mp_arena a;

	mp_arena_init(&a);
	const char *plain = "nothing to do";
	assert_ptr_equal(value(&a, plain), plain);
	assert_string_equal(value(&a, "folded\n\tline"), "folded\tline");
	assert_string_equal(value(&a, "folded\r\n line  "), "folded line");
	assert_string_equal(value(&a, "=?UTF-8?B?SsO2cmc=?="), "J\xc3\xb6rg");
	assert_string_equal(value(&a, "=?iso-8859-1?q?J=F6rg_B?="), "J\xc3\xb6rg B");
	assert_string_equal(value(&a, "=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
	assert_string_equal(value(&a, "=?utf-8?q?a?=\n =?utf-8?q?b?= c"), "ab c");
	assert_string_equal(value(&a, "x =?utf-8?q?a?= y"), "x a y");
	assert_string_equal(value(&a, "=?windows-1252?q?=80?="), "\xe2\x82\xac");
	assert_string_equal(value(&a, "=?utf-8*en?q?hi?="), "hi");
	/* not encoded words: left alone */
	assert_string_equal(value(&a, "=?bogus-charset?q?x?="), "=?bogus-charset?q?x?=");
	assert_string_equal(value(&a, "=?utf-8?z?x?="), "=?utf-8?z?x?=");
	assert_string_equal(value(&a, "=?utf-8?q?=ZZ?="), "=?utf-8?q?=ZZ?=");
	assert_string_equal(value(&a, "=?utf-8?b?A=?= tail"), " tail");
	assert_string_equal(value(&a, "price =? 5"), "price =? 5");
	/* a NUL from a decoded word does not cut the value */
	assert_string_equal(value(&a, "=?utf-8?q?a=00b?="), "a b");
	/* a word that fails after another leaves the text as it was, no NUL */
	assert_string_equal(value(&a, "=?utf-8?q?a?= =?utf-8?q?=ZZ?="), "a =?utf-8?q?=ZZ?=");
	assert_string_equal(value(&a, "=?utf-8?q?a?=  =?bogus?q?x?= b"), "a  =?bogus?q?x?= b");
	mp_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_from_list),
		cmocka_unit_test(test_unfold_and_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
