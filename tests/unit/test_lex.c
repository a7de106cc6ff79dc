/* Unit tests: rule language tokens and their positions. */
#include "helpers.h"

#include "rules/lex.h"
#include "util/arena.h"

#include <string.h>

struct lexed {
	struct mp_arena arena;
	struct mp_diags d;
	struct mp_token tok[64];
	int n;
};

static void lex_all(const char *text, size_t len, struct lexed *L)
{
	struct mp_lexer lx;

	mp_arena_init(&L->arena);
	mp_diags_init(&L->d);
	mp_lex_init(&lx, "t.rules", text, len, &L->arena, &L->d);
	L->n = 0;
	do {
		mp_lex_next(&lx, &L->tok[L->n]);
	} while (L->tok[L->n++].t != T_EOF && L->n < 64);
}

static void lex_done(struct lexed *L)
{
	mp_arena_release(&L->arena);
	mp_diags_free(&L->d);
}

static void test_kinds_and_positions(void **state)
{
	struct lexed L;
	const char *src = "rule \"a\\\"b\" {\n  when client.ip in 10.0.0.0/8 and score >= -2.5\n}";

	lex_all(src, strlen(src), &L);
	assert_int_equal(L.d.n, 0);
	assert_int_equal(L.tok[0].t, T_IDENT);
	assert_string_equal(L.tok[0].s, "rule");
	assert_int_equal(L.tok[1].t, T_STRING);
	assert_string_equal(L.tok[1].s, "a\"b");
	assert_int_equal(L.tok[1].col, 6);
	assert_int_equal(L.tok[2].t, T_LBRACE);
	assert_int_equal(L.tok[3].t, T_IDENT);
	assert_int_equal(L.tok[3].line, 2);
	assert_int_equal(L.tok[3].col, 3);
	assert_string_equal(L.tok[4].s, "client.ip");
	assert_int_equal(L.tok[6].t, T_WORD);
	assert_string_equal(L.tok[6].s, "10.0.0.0/8");
	assert_int_equal(L.tok[9].t, T_GE);
	assert_int_equal(L.tok[10].t, T_NUMBER);
	assert_true(L.tok[10].num == -2.5);
	assert_int_equal(L.tok[11].t, T_RBRACE);
	assert_int_equal(L.tok[12].t, T_EOF);
	lex_done(&L);
}

static void test_regex_after_match_op(void **state)
{
	struct lexed L;
	const char *src = "header \"X\" ~ /a\\/b(c)/ix  body !~ /z/ 4";

	lex_all(src, strlen(src), &L);
	assert_int_equal(L.d.n, 0);
	assert_int_equal(L.tok[2].t, T_MATCH);
	assert_int_equal(L.tok[3].t, T_REGEX);
	assert_string_equal(L.tok[3].s, "a\\/b(c)");
	assert_int_equal(L.tok[3].flags, 1 | 8);
	assert_int_equal(L.tok[5].t, T_NMATCH);
	assert_int_equal(L.tok[6].t, T_REGEX);
	assert_int_equal(L.tok[7].t, T_NUMBER);
	lex_done(&L);
	/* a '/' that does not follow ~ is no regex */
	lex_all("4 / 2", 5, &L);
	assert_int_equal(L.d.n, 1);
	assert_string_equal(L.d.v[0].msg, "unexpected character '/'");
	lex_done(&L);
}

static void test_ipv6_and_codes(void **state)
{
	struct lexed L;
	const char *src = "fe80::/10 ::1 2001:db8::1 550 5.7.23 1M example.com";

	lex_all(src, strlen(src), &L);
	assert_int_equal(L.d.n, 0);
	assert_int_equal(L.tok[0].t, T_WORD);
	assert_string_equal(L.tok[0].s, "fe80::/10");
	assert_string_equal(L.tok[1].s, "::1");
	assert_string_equal(L.tok[2].s, "2001:db8::1");
	assert_int_equal(L.tok[3].t, T_NUMBER);
	assert_int_equal(L.tok[4].t, T_WORD);
	assert_string_equal(L.tok[4].s, "5.7.23");
	assert_int_equal(L.tok[5].t, T_WORD);
	assert_int_equal(L.tok[6].t, T_IDENT);
	lex_done(&L);
}

static void test_errors(void **state)
{
	struct lexed L;

	lex_all("\"abc\n", 5, &L);
	assert_int_equal(L.d.n, 1);
	assert_string_equal(L.d.v[0].msg, "unterminated string");
	assert_int_equal(L.d.v[0].col, 1);
	lex_done(&L);

	lex_all("\"a\\n\"", 5, &L);
	assert_int_equal(L.d.n, 1);
	assert_true(strstr(L.d.v[0].msg, "unknown escape") != NULL);
	lex_done(&L);

	lex_all("rule\0 x", 7, &L);
	assert_int_equal(L.d.n, 1);
	assert_string_equal(L.d.v[0].msg, "NUL byte in rule file");
	assert_int_equal(L.d.v[0].col, 5);
	assert_int_equal(L.tok[1].t, T_EOF);
	lex_done(&L);

	lex_all("x ~ /a/q", 8, &L);
	assert_int_equal(L.d.n, 1);
	assert_true(strstr(L.d.v[0].msg, "unknown regex flag 'q'") != NULL);
	assert_int_equal(L.d.v[0].col, 8);
	lex_done(&L);

	lex_all("x = 1", 5, &L);
	assert_true(strstr(L.d.v[0].msg, "use '=='") != NULL);
	lex_done(&L);

	lex_all("x ~ /abc", 8, &L);
	assert_true(strstr(L.d.v[0].msg, "unterminated regex") != NULL);
	lex_done(&L);
}

static void test_comments_and_junk(void **state)
{
	struct lexed L;
	const char *src = "# comment\n\x01\x02\x03 rule # trailing\n";

	lex_all(src, strlen(src), &L);
	assert_int_equal(L.d.n, 1);
	assert_int_equal(L.d.v[0].line, 2);
	assert_true(strstr(L.d.v[0].msg, "unexpected byte 0x01") != NULL);
	assert_int_equal(L.tok[0].t, T_ERROR);
	assert_int_equal(L.tok[1].t, T_IDENT);
	assert_int_equal(L.tok[2].t, T_EOF);
	lex_done(&L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_and_positions),
		cmocka_unit_test(test_regex_after_match_op),
		cmocka_unit_test(test_ipv6_and_codes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_comments_and_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
