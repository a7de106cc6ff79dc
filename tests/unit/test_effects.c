/* Unit tests: what a decided transaction asks of the MTA and the log
 * (engine/effects.c): the changes in the order the daemon applies them,
 * and the fields of the log lines. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

static struct mp_ruleset *load(const char *rules, bool trace)
{
	const char *files[] = { "global.rules", rules, NULL };
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;

	free(c->authserv_id);
	c->authserv_id = strdup("mx.test.example");
	c->add_trace_header = trace;
	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, c, &d);
	if (rs == NULL)
		mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	mp_conf_free(c);
	assert_non_null(rs);
	return rs;
}

static void test_edits_in_order(void **state)
{
	struct mp_ruleset *rs = load(
		"rule \"t\" { when helo == \"h.example\" tag subject \"[T] \" "
		"remove header \"X-Old\" add header \"X-New\" \"n\" bcc \"audit@example.com\" }\n",
		true);
	struct th_msg m;
	struct th_run r;
	const struct mp_edit *e;
	size_t n;

	(void)state;
	th_msg_init(&m);
	m.helo = "h.example";
	m.spf = MP_AR_PASS;
	const char *hdrs[] = { "Authentication-Results", " other.example; spf=pass",
			       "Authentication-Results", " mx.test.example; spf=pass",
			       "X-Old", " 1", "Subject", " hello", "X-Old", " 2", NULL };
	memcpy(m.headers, hdrs, sizeof(hdrs));
	th_run(rs, &m, &r);
	assert_int_equal(mp_txn_edits(r.txn, &e, &n), 0);
	const struct {
		enum mp_edit_kind kind;
		const char *name;
		int index;
		const char *value; /* prefix */
	} want[] = {
		{ MP_EDIT_HEADER_DELETE, "Authentication-Results", 2, NULL },
		{ MP_EDIT_HEADER_INSERT, "Authentication-Results", 0, "mx.test.example;" },
		{ MP_EDIT_HEADER_DELETE, "X-Old", 2, NULL },
		{ MP_EDIT_HEADER_DELETE, "X-Old", 1, NULL },
		{ MP_EDIT_HEADER_CHANGE, "Subject", 1, "[T] hello" },
		{ MP_EDIT_HEADER_ADD, "X-New", 0, "n" },
		{ MP_EDIT_HEADER_ADD, "X-Policy-Trace", 0, "rules=t; action=accept; stage=eom" },
		{ MP_EDIT_RCPT_ADD, NULL, 0, "audit@example.com" },
	};
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(e[i].kind, want[i].kind);
		if (want[i].name)
			assert_string_equal(e[i].name, want[i].name);
		assert_int_equal(e[i].index, want[i].index);
		if (want[i].value)
			assert_memory_equal(e[i].value, want[i].value, strlen(want[i].value));
	}
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_no_edits_when_refused(void **state)
{
	struct mp_ruleset *rs = load("rule \"r\" { when helo == \"bad\" reject }\n", true);
	struct th_msg m;
	struct th_run r;
	const struct mp_edit *e;
	size_t n = 99;

	(void)state;
	th_msg_init(&m);
	m.helo = "bad";
	th_run(rs, &m, &r);
	assert_int_equal(mp_txn_edits(r.txn, &e, &n), 0);
	assert_int_equal(n, 0);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static const char *field(const struct mp_logrec *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->fields[i].key, key) == 0)
			return l->fields[i].value;
	return NULL;
}

static void test_log_fields(void **state)
{
	struct mp_ruleset *rs = load(
		"rule \"s\" { when helo == \"h.example\" score 6 }\n"
		"rule \"old\" { when rcpt.to == \"old@example.com\" reject 550 5.1.1 \"Gone\" }\n"
		"threshold 5 { quarantine \"scored\" }\n",
		false);
	struct th_msg m;
	struct th_run r;
	struct mp_logrec l = { 0 };

	(void)state;
	th_msg_init(&m);
	m.helo = "h.example";
	m.rcpts[0] = "<old@example.com>";
	m.rcpts[1] = "<bob@example.com>";
	th_run(rs, &m, &r);
	assert_int_equal(mp_txn_log_summary(r.txn, NULL, MP_STAGE_EOM, &l), 0);
	/* the order of SPEC §6, the fields the daemon prints after id= */
	static const char *const keys[] = { "client", "helo", "from", "rcpt", "policy", "spf",
					    "dkim", "rules", "action", "stage", "rule",
					    "threshold", "quarantine", "score" };
	assert_int_equal(l.n, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < l.n; i++)
		assert_string_equal(l.fields[i].key, keys[i]);
	assert_string_equal(field(&l, "rcpt"), "<bob@example.com>");
	assert_string_equal(field(&l, "action"), "quarantine");
	assert_string_equal(field(&l, "rule"), "-");
	assert_string_equal(field(&l, "threshold"), "5");
	assert_string_equal(field(&l, "score"), "6");
	/* an abort says so, at the stage given, decided by no rule */
	l.n = 0;
	assert_int_equal(mp_txn_log_summary(r.txn, "abort", MP_STAGE_RCPT, &l), 0);
	assert_string_equal(field(&l, "action"), "abort");
	assert_string_equal(field(&l, "stage"), "rcpt");
	assert_null(field(&l, "threshold"));
	/* the refused recipient's line */
	l.n = 0;
	assert_int_equal(mp_txn_log_rcpt(r.txn, "<old@example.com>", &r.rcpt_v[0], &l), 0);
	assert_string_equal(field(&l, "rcpt"), "<old@example.com>");
	assert_string_equal(field(&l, "action"), "reject");
	assert_string_equal(field(&l, "rule"), "old");
	assert_string_equal(field(&l, "reply"), "550 5.1.1 Gone");
	mp_logrec_free(&l);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edits_in_order),
		cmocka_unit_test(test_no_edits_when_refused),
		cmocka_unit_test(test_log_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
