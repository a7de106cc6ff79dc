/* Unit tests: the grammar's structure and rule-set loading, through the
 * diagnostics an administrator sees. The type and action errors, one a
 * rule, are golden files: tests/diag/type-errors and action-errors. */
#include "helpers.h"

#include "rules/parse.h"
#include "rules/program.h"
#include "rules/stamps.h"
#include "rules/syntax.h"
#include "util/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads a single global.rules that must fail; returns the diagnostics. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
	const char *files[] = { "global.rules", text, NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, NULL, &d);
	if (rs != NULL || d.n == 0 || strstr(d.v[0].msg, needle) == NULL ||
	    d.v[0].line != line || d.v[0].col != col) {
		fprintf(stderr, "rules:\n%s\nwanted %d:%d: ...%s...\ngot:\n", text, line, col, needle);
		mp_diags_print(&d, stderr);
		fail();
	}
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

static void test_structure(void **state)
{
	expect_error("version 2\n", 1, 9, "unsupported rule language version 2");
	expect_error("rule \"a\" { accept }\nversion 1\n", 2, 1, "'version' must come first");
	expect_error("frobnicate\n", 1, 1, "expected 'rule', 'list', 'threshold', 'include' or 'version'");
	expect_error("rule \"a\" { accept }\nrule \"a\" { accept }\n", 2, 1,
		     "duplicate rule name 'a' in policy global");
	expect_error("rule \"a\" { when helo in nolist accept }", 1, 25, "unknown list 'nolist'");
	expect_error("list x { \"a.example\" }\nlist x { \"b.example\" }\n", 2, 6,
		     "list 'x' is already defined");
	expect_error("list x file \"missing.txt\"\n", 1, 13,
		     "cannot read list file missing.txt: No such file or directory");
	expect_error("include \"nope.rules\"\n", 1, 9,
		     "cannot read included file nope.rules: No such file or directory");
	expect_error("rule \"a\" { when (helo == \"x\" accept }", 1, 30, "expected ')'");
	expect_error("rule \"a\" { when helo == \"x\" and accept }", 1, 33, "expected a condition");
}

/* The parser knows the grammar only: a rule wrong in every other way
 * parses into its tree without a word; the checker and the compiler say
 * the rest, each error once, in the order of the text. */
static void test_grammar_only(void **state)
{
	const char *text = "rule \"a b\" { when helo == 5 and nosuch ~ /(/ and "
			   "client.ip == \"x\" and header \"S\" ~ /(/ reject 999 }\n";
	struct mp_arena arena, scratch;
	struct mp_diags d;

	(void)state;
	mp_arena_init(&arena);
	mp_arena_init(&scratch);
	mp_diags_init(&d);
	struct mp_syn_file *sf = mp_parse_file("t.rules", text, strlen(text), &arena, &scratch, &d);
	assert_non_null(sf);
	assert_int_equal(d.n, 0);
	assert_int_equal(sf->n_stmts, 1);
	assert_int_equal(sf->stmts[0].kind, MP_SYN_RULE);
	assert_string_equal(sf->stmts[0].name.s, "a b");
	assert_int_equal(sf->stmts[0].when->kind, MP_SYN_AND);
	assert_int_equal(sf->n_tests, 4);
	assert_string_equal(sf->tests[1]->field.s, "nosuch");
	assert_int_equal(sf->tests[1]->op, MP_OP_MATCH);
	assert_int_equal(sf->tests[1]->val.t, T_REGEX);
	assert_null(sf->tests[1]->e);
	assert_int_equal(sf->stmts[0].n_actions, 1);
	assert_string_equal(sf->stmts[0].actions[0].code.s, "999");
	mp_arena_release(&scratch);
	mp_arena_release(&arena);

	const char *files[] = { "global.rules", text, NULL };
	struct mp_ruleset *rs = th_load(files, NULL, &d);
	assert_null(rs);
	static const struct { int col; const char *msg; } want[] = {
		{ 6, "rule names use letters" },
		{ 27, "expected a quoted string after '==', found '5'" },
		{ 33, "unknown field 'nosuch'" },
		{ 63, "not an IP address" },
		{ 86, "bad regex: missing closing parenthesis" },
		{ 95, "reply code 999 does not match reject" },
	};
	if (d.n != sizeof(want) / sizeof(want[0])) {
		mp_diags_print(&d, stderr);
		fail();
	}
	for (size_t i = 0; i < d.n; i++) {
		if (d.v[i].col != want[i].col || strstr(d.v[i].msg, want[i].msg) == NULL) {
			mp_diags_print(&d, stderr);
			fail_msg("entry %zu: wanted %d: %s", i, want[i].col, want[i].msg);
		}
	}
	mp_diags_free(&d);
}

static void test_nesting(void **state)
{
	char text[4096];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "rule \"deep\" { when ");
	for (int i = 0; i < 150; i++)
		text[n++] = '(';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "tls");
	for (int i = 0; i < 150; i++)
		text[n++] = ')';
	snprintf(text + n, sizeof(text) - n, " accept }\nrule \"after\" { accept }\n");
	expect_error(text, 1, 120, "condition nested more than 100 levels deep");

	/* 90 levels are fine */
	n = (size_t)snprintf(text, sizeof(text), "rule \"ok\" { when ");
	for (int i = 0; i < 45; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "not (");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "tls");
	for (int i = 0; i < 45; i++)
		text[n++] = ')';
	snprintf(text + n, sizeof(text) - n, " accept }\n");
	mp_ruleset_unref(th_global(text));
}

static void test_many_errors_collected(void **state)
{
	const char *files[] = { "global.rules",
		"rule \"a\" { when nosuch == \"x\" accept }\n"
		"rule \"b\" { when helo ~ /(/ reject 450 }\n"
		"garbage here\n"
		"rule \"c\" { when rcpt.count > 2 accept }\n"
		"rule \"d\" { when tls == \"yes\" reject }\n",
		NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	assert_null(th_load(files, NULL, &d));
	assert_int_equal(d.n, 5);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[1].line, 2);
	assert_true(strstr(d.v[1].msg, "bad regex") != NULL);
	assert_int_equal(d.v[2].line, 2);
	assert_true(strstr(d.v[2].msg, "reply code 450") != NULL);
	assert_int_equal(d.v[3].line, 3);
	assert_int_equal(d.v[4].line, 5);
	mp_diags_free(&d);
}

static void test_includes_and_policies(void **state)
{
	const char *files[] = {
		"global.rules", "rule \"g\" { when tls score 1 }\n",
		"default.rules", "rule \"d\" { reject }\n",
		"example.com.rules", "rule \"e\" { accept }\ninclude \"default.rules\"\n",
		"sub.example.com.rules", "include \"inc/shared.inc\"\n",
		"inc/shared.inc", "list shared { \"x.example\" }\nrule \"s\" { when helo in shared accept }\n",
		NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, NULL, &d);
	mp_diags_print(&d, stderr);
	assert_non_null(rs);
	const struct mp_policy *p = mp_ruleset_lookup(rs, "mail.example.com", 16);
	assert_string_equal(p->name, "example.com");
	assert_int_equal(p->n_rules, 3);
	assert_int_equal(p->n_global, 1);
	assert_string_equal(p->rules[0]->name, "g");
	assert_string_equal(p->rules[1]->name, "e");
	assert_string_equal(p->rules[2]->name, "d");
	p = mp_ruleset_lookup(rs, "a.sub.EXAMPLE.com.", 18);
	assert_string_equal(p->name, "sub.example.com");
	assert_string_equal(p->rules[1]->name, "s");
	p = mp_ruleset_lookup(rs, "other.example", 13);
	assert_string_equal(p->name, "default");
	p = mp_ruleset_lookup(rs, "example.co", 10);
	assert_string_equal(p->name, "default");
	assert_int_equal(mp_ruleset_n_policies(rs), 3);
	assert_int_equal(mp_ruleset_n_lists(rs), 1);
	assert_true(mp_ruleset_changed(rs)); /* th_load has removed the files */
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

static void test_include_cycle(void **state)
{
	const char *files[] = {
		"a.example.rules", "include \"x.inc\"\n",
		"x.inc", "rule \"x\" { accept }\ninclude \"y.inc\"\n",
		"y.inc", "include \"x.inc\"\n",
		NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	assert_null(th_load(files, NULL, &d));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 9);
	assert_true(strstr(d.v[0].msg, "include cycle: x.inc is already being included") != NULL);
	assert_true(strstr(d.v[0].file, "y.inc") != NULL);
	mp_diags_free(&d);

	const char *self[] = { "b.example.rules", "include \"b.example.rules\"\n", NULL };
	mp_diags_init(&d);
	assert_null(th_load(self, NULL, &d));
	assert_true(strstr(d.v[0].msg, "include cycle") != NULL);
	mp_diags_free(&d);

	const char *dup[] = { "global.rules", "include \"c.inc\"\n", "c.example.rules",
			      "include \"c.inc\"\n", "c.inc", "rule \"c\" { accept }\n", NULL };
	mp_diags_init(&d);
	assert_null(th_load(dup, NULL, &d));
	assert_true(strstr(d.v[0].msg, "duplicate rule name 'c' in policy c.example") != NULL);
	mp_diags_free(&d);
}

static void test_list_kinds_checked(void **state)
{
	const char *files[] = {
		"global.rules",
		"list nets { 10.0.0.0/8, 192.0.2.1 }\nlist doms { \"a.example\" }\n"
		"rule \"a\" { when client.ip in doms accept }\n"
		"rule \"b\" { when helo in nets accept }\n",
		NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	assert_null(th_load(files, NULL, &d));
	assert_int_equal(d.n, 2);
	assert_true(strstr(d.v[0].msg, "has items that are not IP addresses") != NULL);
	assert_true(strstr(d.v[1].msg, "holds only IP addresses") != NULL);
	mp_diags_free(&d);
}

static void test_stages(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"c\" { when client.ip in 10.0.0.0/8 accept }\n"
		"rule \"m\" { when spf == fail and header \"X\" == \"y\" reject }\n"
		"rule \"o\" { when mail.from == \"\" or body ~ /x/ reject }\n"
		"rule \"n\" { reject }\n");
	const struct mp_policy *g = mp_ruleset_global(rs);

	assert_int_equal(g->rules[0]->stage, MP_STAGE_CONNECT);
	assert_int_equal(g->rules[1]->stage, MP_STAGE_HEADER);
	assert_int_equal(g->rules[1]->min_stage, MP_STAGE_MAIL);
	assert_true(g->rules[1]->need & MP_NEED_SPF);
	assert_int_equal(g->rules[2]->stage, MP_STAGE_EOM);
	assert_int_equal(g->rules[2]->min_stage, MP_STAGE_MAIL);
	assert_true(g->rules[2]->need & MP_NEED_BODY);
	assert_int_equal(g->rules[3]->stage, MP_STAGE_CONNECT);
	mp_ruleset_unref(rs);
}

static void test_empty_dir_and_missing(void **state)
{
	const char *none[] = { NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(none, NULL, &d);
	assert_non_null(rs);
	assert_int_equal(mp_ruleset_global(rs)->n_rules, 0);
	assert_int_equal(mp_ruleset_lookup(rs, "x.example", 9), mp_ruleset_global(rs));
	mp_ruleset_unref(rs);

	struct mp_conf *c = mp_conf_new();
	mp_conf_set_rules_dir(c, "/nonexistent/rules.d");
	assert_null(mp_ruleset_load(c, &d));
	assert_true(strstr(d.v[0].msg, "cannot read rules directory") != NULL);
	mp_conf_free(c);
	mp_diags_free(&d);
}

static void test_change_detection(void **state)
{
	const char *files[] = { "global.rules", "list l file \"l.txt\"\nrule \"a\" { when helo in l accept }\n",
				"l.txt", "a.example\n", NULL };
	char *dir = th_mkdir(files);
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;

	mp_conf_set_rules_dir(c, dir);
	mp_diags_init(&d);
	struct mp_ruleset *rs = mp_ruleset_load(c, &d);
	assert_non_null(rs);
	assert_false(mp_ruleset_changed(rs));
	th_write_file(dir, "l.txt", "a.example\nb.example\n"); /* a list file */
	assert_true(mp_ruleset_changed(rs));
	mp_ruleset_unref(rs);

	rs = mp_ruleset_load(c, &d);
	assert_false(mp_ruleset_changed(rs));
	th_write_file(dir, "new.example.rules", "rule \"n\" { accept }\n"); /* a new policy */
	assert_true(mp_ruleset_changed(rs));
	mp_ruleset_unref(rs);

	/* a failed load hands back what it read: unchanged until a file changes */
	th_write_file(dir, "new.example.rules", "rule \"n\" { bogus }\n");
	struct mp_stamps *failed = NULL;
	struct mp_load_opts lo = { .failed_r = &failed };
	assert_null(mp_ruleset_load_with(c, &lo, &d));
	assert_non_null(failed);
	assert_false(mp_stamps_changed(failed));
	th_write_file(dir, "new.example.rules", "rule \"n\" { accept }\n\n");
	assert_true(mp_stamps_changed(failed));
	mp_stamps_free(failed);
	mp_stamps_free(NULL);
	mp_diags_free(&d);
	mp_conf_free(c);
	th_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_grammar_only),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_many_errors_collected),
		cmocka_unit_test(test_includes_and_policies),
		cmocka_unit_test(test_include_cycle),
		cmocka_unit_test(test_list_kinds_checked),
		cmocka_unit_test(test_stages),
		cmocka_unit_test(test_empty_dir_and_missing),
		cmocka_unit_test(test_change_detection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
