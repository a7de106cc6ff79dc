/* Unit tests: envelope addresses, From parsing, unfolding, RFC 2047. */
#include "helpers.h"

#include "mail/address.h"
#include "mail/header.h"
#include "util/arena.h"

#include <string.h>

static void test_envelope(void **state)
{
	char out[MP_ADDR_MAX];

	assert_int_equal(mp_addr_envelope("<alice@sender.example>", out), 20);
	assert_string_equal(out, "alice@sender.example");
	assert_int_equal(mp_addr_envelope("<>", out), 0);
	assert_string_equal(out, "");
	mp_addr_envelope("<@relay.example,@b.example:u@d.example>", out);
	assert_string_equal(out, "u@d.example");
	mp_addr_envelope("  bare@x.example ", out);
	assert_string_equal(out, "bare@x.example");
	mp_addr_envelope("<a@b.example> SIZE=100", out);
	assert_string_equal(out, "a@b.example");
	mp_addr_envelope(NULL, out);
	assert_string_equal(out, "");
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
