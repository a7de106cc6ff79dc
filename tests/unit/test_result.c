/* Unit tests: what a transaction's actions add up to (engine/result.c) -
 * Subject tagged once, header additions and removals, bcc, redirect, log
 * lines, discard making the rest moot, dry-run rules and mode kept as
 * "would". */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_actions_and_moot(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"t1\" { when header \"Subject\" ~ /offer/ tag subject \"[SPAM] \" score 2 }\n"
		"rule \"t2\" { when header \"Subject\" ~ /offer/ tag subject \"[SPAM] \" remove header \"X-Old\" }\n"
		"rule \"b\" { when header \"Subject\" ~ /offer/ bcc \"archive@example.net\" redirect \"trap@example.net\" log \"offer from ${mail.from}\" }\n"
		"rule \"d\" { when header \"Subject\" ~ /discard/ discard }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	const char *h[] = { "Subject", "great offer", "X-Old", "1", "X-Old", "2", NULL };
	memcpy(m.headers, h, sizeof(h));
	th_run(rs, &m, &r);
	assert_string_equal(r.res->subject_raw, "[SPAM] great offer");
	assert_false(r.res->subject_added);
	assert_int_equal(r.res->n_remove, 1);
	assert_string_equal(r.res->remove[0], "X-Old");
	assert_int_equal(r.res->n_bcc, 1);
	assert_string_equal(r.res->redirect, "trap@example.net");
	assert_int_equal(r.res->n_logs, 1);
	assert_string_equal(r.res->logs[0], "rule b: offer from alice@sender.example");
	assert_true(r.res->score == 2);
	th_run_free(&r);

	/* already tagged: not again */
	m.headers[1] = "[spam] great offer";
	th_run(rs, &m, &r);
	assert_null(r.res->subject_raw);
	th_run_free(&r);

	/* no Subject at all: one is added */
	const char *h2[] = { "X-Subject", "offer", NULL };
	memset(m.headers, 0, sizeof(m.headers));
	memcpy(m.headers, h2, sizeof(h2));
	mp_ruleset_unref(rs);
	rs = th_global("rule \"t\" { when header \"X-Subject\" == \"offer\" tag subject \"[SPAM] \" }\n");
	th_run(rs, &m, &r);
	assert_true(r.res->subject_added);
	assert_string_equal(r.res->subject_raw, "[SPAM]");
	th_run_free(&r);
	mp_ruleset_unref(rs);

	/* discard makes the other actions moot */
	rs = th_global("rule \"a\" { add header \"X-A\" \"1\" }\nrule \"d\" { when helo == \"x\" or mail.from != \"\" discard }\n");
	th_msg_init(&m);
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_DISCARD);
	assert_int_equal(r.res->n_add, 0);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_dry_run(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"probe\" dry-run { when helo == \"mail.sender.example\" reject 550 5.7.1 \"would go\" }\n"
		"rule \"real\" { when header \"X\" == \"1\" add header \"X-Real\" \"yes\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.headers[0] = "X";
	m.headers[1] = "1";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	assert_int_equal(r.res->n_would, 1);
	assert_string_equal(r.res->would[0].rule, "probe");
	assert_string_equal(r.res->would[0].what, "reject 550 5.7.1 would go");
	assert_int_equal(r.res->would[0].stage, MP_STAGE_HELO);
	assert_int_equal(r.res->n_add, 1);
	assert_int_equal(r.res->n_rules, 1); /* dry-run rules are not "matched" */
	th_run_free(&r);
	mp_ruleset_unref(rs);

	/* mode = dry-run: nothing refused or changed; what would happen is kept */
	struct mp_conf *c = mp_conf_new();
	c->mode = MP_MODE_DRY_RUN;
	const char *files[] = { "global.rules",
				"rule \"r\" { when mail.from.domain == \"sender.example\" reject 550 5.7.1 \"no\" }\n"
				"rule \"h\" { add header \"X-H\" \"1\" }\n",
				"example.com.rules", "rule \"x\" { accept }\n", NULL };
	struct mp_diags d;
	mp_diags_init(&d);
	rs = th_load(files, c, &d);
	mp_conf_free(c);
	assert_non_null(rs);
	m.rcpts[1] = "<other@elsewhere.example>";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	assert_true(r.res->dry_run_mode);
	assert_int_equal(r.res->would_v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->would_v.stage, MP_STAGE_MAIL);
	assert_int_equal(r.res->n_add, 0);
	assert_int_equal(r.rcpt_v[1].outcome, MP_O_NONE); /* no split 452 either */
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions_and_moot),
		cmocka_unit_test(test_dry_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
