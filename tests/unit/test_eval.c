/* Unit tests: the engine - three-valued evaluation, the stage a decision
 * comes at, recipients, thresholds, laziness, limits. What actions add up
 * to is test_result.c's; text substitution test_text.c's. */
#include "helpers.h"

#include "state/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>

static struct mp_ruleset *load2(const char *global, const char *domain_file,
				const char *domain_text, struct mp_conf *conf)
{
	const char *files[] = { "global.rules", global, domain_file, domain_text, NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, conf, &d);
	if (rs == NULL)
		mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	assert_non_null(rs);
	return rs;
}

static void test_three_valued(void **state)
{
	/* `or` decides at MAIL when the MAIL side is true; `and` at MAIL when
	 * the MAIL side is false; otherwise at the header stage */
	struct mp_ruleset *rs = th_global(
		"rule \"or-early\" { when mail.from == \"a@x.example\" or header \"X\" == \"1\" reject 550 5.7.1 \"or\" }\n"
		"rule \"and-late\" { when mail.from == \"b@x.example\" and header \"X\" == \"1\" reject 550 5.7.2 \"and\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.from = "<A@X.example>";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_MAIL);
	assert_string_equal(r.res->v.reply.xcode, "5.7.1");
	assert_int_equal(r.res->n_rcpts, 0);
	th_run_free(&r);

	m.from = "<b@x.example>";
	m.headers[0] = "X";
	m.headers[1] = "1";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_HEADER);
	assert_string_equal(r.res->v.rule, "or-early");
	th_run_free(&r);

	m.from = "<c@x.example>";
	m.headers[1] = "2";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	assert_false(r.res->decided);
	assert_int_equal(r.res->v.stage, MP_STAGE_EOM);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_decision_is_final(void **state)
{
	/* the header rule comes first in the file but the MAIL rule decides first */
	struct mp_ruleset *rs = th_global(
		"rule \"hdr-accept\" { when header \"X-Ok\" == \"yes\" accept }\n"
		"rule \"mail-reject\" { when mail.from.domain == \"bad.example\" reject }\n"
		"rule \"mail-accept\" { when mail.from.domain == \"good.example\" accept }\n"
		"rule \"late\" { when header \"X-Ok\" == \"no\" reject }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.from = "<x@bad.example>";
	m.headers[0] = "X-Ok";
	m.headers[1] = "yes";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_MAIL);
	assert_string_equal(r.res->v.reply.code, "550");
	assert_string_equal(r.res->v.reply.text, "Rejected by policy");
	th_run_free(&r);

	m.from = "<x@good.example>";
	m.headers[1] = "no";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_ACCEPT);
	assert_int_equal(r.res->v.stage, MP_STAGE_MAIL);
	assert_string_equal(r.res->v.rule, "mail-accept");
	/* accepted at MAIL: the body is not wanted */
	assert_false(mp_txn_wants_body(r.txn));
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_connect_and_helo(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"bad-net\" { when client.ip in { 203.0.113.0/24 } reject 554 5.7.1 \"Go away ${client.ip}\" }\n"
		"rule \"bad-helo\" { when helo ~ /^localhost$/i and not tls tempfail 421 4.7.0 }\n");
	struct th_msg m;
	struct th_run r;
	struct mp_verdict v;

	th_msg_init(&m);
	m.ip = "203.0.113.9";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_CONNECT);
	assert_string_equal(r.res->v.reply.text, "Go away 203.0.113.9");
	th_run_free(&r);

	/* the client address in one form, whatever the MTA wrote */
	struct mp_conn *c0 = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c0, "IPv6:2001:DB8::9", NULL, 25, &v), 0);
	assert_string_equal(mp_conn_client_ip(c0), "2001:db8::9");
	assert_int_equal(mp_conn_connect(c0, "[::ffff:203.0.113.7]", NULL, 25, &v), 0);
	assert_string_equal(mp_conn_client_ip(c0), "203.0.113.7");
	assert_int_equal(v.outcome, MP_O_REJECT);
	mp_conn_free(c0);

	/* the connection itself knows at connect */
	struct mp_conn *c = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c, "203.0.113.1", NULL, 25, &v), 0);
	assert_int_equal(v.outcome, MP_O_REJECT);
	assert_int_equal(v.stage, MP_STAGE_CONNECT);
	mp_conn_free(c);

	c = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c, NULL, NULL, 0, &v), 0);
	assert_int_equal(v.outcome, MP_O_NONE);
	assert_int_equal(mp_conn_helo(c, "LOCALHOST", false, &v), 0);
	assert_int_equal(v.outcome, MP_O_TEMPFAIL);
	assert_int_equal(v.stage, MP_STAGE_HELO);
	assert_string_equal(v.reply.code, "421");
	/* EHLO again after STARTTLS decides afresh */
	assert_int_equal(mp_conn_helo(c, "LOCALHOST", true, &v), 0);
	assert_int_equal(v.outcome, MP_O_NONE);
	mp_conn_free(c);
	mp_ruleset_unref(rs);
}

static void test_per_recipient(void **state)
{
	struct mp_ruleset *rs = load2(
		"rule \"g\" { when spf == fail score 3 }\n",
		"example.com.rules",
		"rule \"closed\" { when rcpt.to == \"old@example.com\" reject 550 5.1.1 \"closed: ${rcpt.to}\" }\n"
		"rule \"spf\" { when spf == fail reject 550 5.7.23 }\n"
		"rule \"pm\" { when rcpt.to.local == \"postmaster\" accept }\n",
		NULL);
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.rcpts[0] = "<old@example.com>";
	m.rcpts[1] = "<bob@example.com>";
	m.rcpts[2] = "<Postmaster@example.com>";
	th_run(rs, &m, &r);
	assert_int_equal(r.rcpt_v[0].outcome, MP_O_REJECT);
	assert_string_equal(r.rcpt_v[0].reply.text, "closed: old@example.com");
	assert_int_equal(r.rcpt_v[1].outcome, MP_O_NONE);
	assert_int_equal(r.rcpt_v[2].outcome, MP_O_NONE);
	assert_int_equal(r.res->n_rcpts, 3);
	assert_int_equal(r.res->rcpts[0].outcome, MP_O_REJECT);
	assert_string_equal(r.res->rcpts[0].rule, "closed");
	assert_int_equal(r.res->rcpts[1].outcome, MP_O_ACCEPT);
	/* after RCPT, rcpt.to is any accepted recipient: postmaster is one */
	assert_int_equal(r.res->v.outcome, MP_O_ACCEPT);
	assert_int_equal(r.res->v.stage, MP_STAGE_RCPT);
	assert_string_equal(r.res->v.rule, "pm");
	th_run_free(&r);

	/* spf fail: each recipient refused except postmaster, which comes after */
	m.spf = 2; /* fail */
	th_run(rs, &m, &r);
	assert_int_equal(r.res->rcpts[1].outcome, MP_O_REJECT);
	assert_string_equal(r.res->rcpts[1].reply.xcode, "5.7.23");
	assert_int_equal(r.res->rcpts[2].outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_RCPT);
	/* all refused: the first refusal stands for the transaction */
	assert_string_equal(r.res->v.reply.code, "550");
	assert_string_equal(r.res->v.reply.xcode, "5.1.1");
	/* matched: the global scoring rule and each refusing rule, once */
	assert_int_equal(r.res->n_rules, 3);
	assert_string_equal(r.res->rules[0], "g");
	assert_string_equal(r.res->rules[1], "closed");
	assert_string_equal(r.res->rules[2], "spf");
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_split_and_strictest(void **state)
{
	const char *g = "rule \"tag\" { when rcpt.to.domain == \"b.example\" add header \"X-B\" \"1\" }\n";
	const char *files[] = { "global.rules", g,
				"a.example.rules", "rule \"ra\" { when header \"X\" == \"q\" quarantine \"qa\" }\n",
				"b.example.rules", "rule \"rb\" { when header \"X\" == \"q\" reject 550 5.7.9 \"b says no\" }\n",
				NULL };
	struct mp_diags d;
	struct th_msg m;
	struct th_run r;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, NULL, &d);
	assert_non_null(rs);
	th_msg_init(&m);
	m.rcpts[0] = "<u@a.example>";
	m.rcpts[1] = "<v@b.example>";
	m.rcpts[2] = "<w@a.example>";
	m.headers[0] = "X";
	m.headers[1] = "q";
	th_run(rs, &m, &r);
	assert_int_equal(r.rcpt_v[1].outcome, MP_O_TEMPFAIL);
	assert_true(r.rcpt_v[1].split);
	assert_string_equal(r.rcpt_v[1].reply.code, "452");
	assert_string_equal(r.rcpt_v[1].reply.xcode, "4.5.3");
	/* no internal policy name reaches the client */
	assert_string_equal(r.rcpt_v[1].reply.text,
			    "Too many recipients for this message; send again in a new transaction");
	assert_int_equal(r.rcpt_v[2].outcome, MP_O_NONE);
	assert_int_equal(r.res->v.outcome, MP_O_QUARANTINE);
	assert_string_equal(r.res->quarantine, "qa");
	assert_string_equal(r.res->policy, "a.example");
	assert_int_equal(r.res->n_add, 0); /* b is not among the accepted */
	th_run_free(&r);
	mp_ruleset_unref(rs);

	struct mp_conf *c = mp_conf_new();
	c->recipient_policy = MP_RCPT_STRICTEST;
	rs = th_load(files, c, &d);
	mp_conf_free(c);
	assert_non_null(rs);
	th_run(rs, &m, &r);
	assert_int_equal(r.rcpt_v[1].outcome, MP_O_NONE);
	/* the most severe outcome wins: reject over quarantine */
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_string_equal(r.res->v.reply.text, "b says no");
	assert_int_equal(r.res->v.stage, MP_STAGE_HEADER);
	th_run_free(&r);

	m.headers[1] = "other";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	/* non-terminal actions merge across the policies */
	assert_int_equal(r.res->n_add, 1);
	assert_string_equal(r.res->add[0].name, "X-B");
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

static void test_multi_valued(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"any\" { when header \"Received\" ~ /evil/ add header \"X-Any\" \"1\" }\n"
		"rule \"ne\" { when header \"Received\" != \"b\" add header \"X-Ne\" \"1\" }\n"
		"rule \"nin\" { when header \"Missing\" not in { \"x\" } add header \"X-Nin\" \"1\" }\n"
		"rule \"cnt\" { when count header \"Received\" == 3 add header \"X-Cnt\" \"3\" }\n"
		"rule \"ex\" { when not exists header \"Missing\" add header \"X-Ex\" \"1\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	const char *h[] = { "Received", "a", "Received", "from evil", "received", "B", NULL };
	memcpy(m.headers, h, sizeof(h));
	th_run(rs, &m, &r);
	assert_int_equal(r.res->n_add, 4);
	assert_string_equal(r.res->add[0].name, "X-Any");
	/* "B" equals "b" (case-insensitive), so != is false for the field */
	assert_string_equal(r.res->add[1].name, "X-Nin");
	assert_string_equal(r.res->add[2].name, "X-Cnt");
	assert_string_equal(r.res->add[3].name, "X-Ex");
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_thresholds(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"s1\" { when header \"X\" == \"a\" score 4 }\n"
		"rule \"s2\" { when header \"Y\" == \"b\" score 3.5 }\n"
		"rule \"rs\" { when score > 7 add header \"X-Running\" \"${score}\" }\n"
		"threshold 5 { add header \"X-Spam-Flag\" \"YES\" }\n"
		"threshold 7 { quarantine \"score ${score}\" }\n"
		"threshold 20 { reject 550 5.7.1 \"way too spammy\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	const char *h[] = { "X", "a", "Y", "b", NULL };
	memcpy(m.headers, h, sizeof(h));
	th_run(rs, &m, &r);
	assert_true(r.res->score == 7.5);
	assert_int_equal(r.res->v.outcome, MP_O_QUARANTINE);
	assert_int_equal(r.res->v.stage, MP_STAGE_EOM);
	assert_null(r.res->v.rule);
	assert_string_equal(r.res->quarantine, "score 7.5");
	assert_int_equal(r.res->n_add, 2);
	assert_string_equal(r.res->add[0].name, "X-Running");
	assert_string_equal(r.res->add[0].value, "7.5");
	assert_string_equal(r.res->add[1].name, "X-Spam-Flag");
	th_run_free(&r);

	m.headers[2] = NULL;
	th_run(rs, &m, &r);
	assert_true(r.res->score == 4);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	assert_int_equal(r.res->n_add, 0);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

struct counting {
	int spf_calls, dkim_begins;
	struct mp_checker *ck;
	struct mp_checks ops;
};

static enum mp_auth_result count_spf(void *arg, const struct mp_envelope *env, char *received,
				 size_t rlen, struct mp_check_note *note)
{
	struct counting *c = arg;

	note->limit = NULL;
	note->failed = false;
	c->spf_calls++;
	assert_string_equal(env->mail_domain, "sender.example");
	snprintf(received, rlen, "fail (counted)");
	return MP_AR_FAIL;
}

static void *count_begin(void *arg, const struct mp_envelope *env)
{
	struct counting *c = arg;
	const struct mp_checks *real = mp_checker_ops(c->ck);

	c->dkim_begins++;
	return real->dkim_begin(real->arg, env);
}

static void test_lazy_checks(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"cheap-first\" { when spf == fail and mail.from.domain == \"other.example\" reject }\n"
		"rule \"needs-spf\" { when mail.from.domain == \"sender.example\" and spf == fail and spf == fail tempfail }\n"
		"rule \"dk\" { when dkim == fail reject }\n");
	struct counting cnt;
	struct mp_verdict v;

	memset(&cnt, 0, sizeof(cnt));
	cnt.ck = mp_checker_new("mx.test.example");
	cnt.ops = *mp_checker_ops(cnt.ck);
	cnt.ops.arg = &cnt;
	cnt.ops.spf_mailfrom = count_spf;
	cnt.ops.dkim_begin = count_begin;
	/* dkim_header etc. get the state from count_begin, which is inj's */
	struct mp_conn *c = mp_conn_new(rs, &cnt.ops);
	mp_conn_connect(c, "198.51.100.7", NULL, 25, &v);
	mp_conn_helo(c, "h.example", false, &v);
	struct mp_txn *t = mp_txn_new(c);
	assert_int_equal(mp_txn_mail(t, "<a@sender.example>", NULL, &v), 0);
	/* the cheap side of the first rule is false: no SPF for it; the second
	 * needs it once, however often it is tested */
	assert_int_equal(cnt.spf_calls, 1);
	assert_int_equal(v.outcome, MP_O_TEMPFAIL);
	assert_int_equal(v.stage, MP_STAGE_MAIL);
	/* decided: DKIM never starts */
	assert_int_equal(mp_txn_rcpt(t, "<b@example.com>", &v), 0);
	assert_int_equal(mp_txn_data(t, &v), 0);
	assert_int_equal(cnt.dkim_begins, 0);
	mp_txn_free(t);

	t = mp_txn_new(c);
	assert_int_equal(mp_txn_mail(t, "<a@third.example>", NULL, &v), 0);
	assert_int_equal(cnt.spf_calls, 1); /* no cheap side holds: no SPF */
	mp_txn_free(t);
	mp_conn_free(c);
	mp_ruleset_unref(rs);
	mp_checker_free(cnt.ck);

	/* nothing needs a check: none runs */
	struct mp_conf *conf = mp_conf_new();
	conf->add_auth_results = false;
	free(conf->authserv_id);
	conf->authserv_id = strdup("mx.test.example");
	const char *files[] = { "global.rules", "rule \"nothing-needs-checks\" { when helo == \"x\" reject }\n", NULL };
	struct mp_diags d;
	mp_diags_init(&d);
	rs = th_load(files, conf, &d);
	assert_non_null(rs);
	struct th_msg m;
	struct th_run r;
	th_msg_init(&m);
	th_run(rs, &m, &r);
	assert_false(r.res->spf_done);
	assert_false(r.res->dkim_done);
	assert_null(r.res->auth_results);
	th_run_free(&r);
	mp_ruleset_unref(rs);

	/* Authentication-Results needs both, for a message that goes on */
	conf->add_auth_results = true;
	rs = th_load(files, conf, &d);
	th_run(rs, &m, &r);
	assert_true(r.res->spf_done);
	assert_true(r.res->dkim_done);
	assert_string_equal(r.res->auth_results,
			    "mx.test.example;\n\tspf=none smtp.mailfrom=alice@sender.example;\n\tdkim=none;\n"
			    "\tdmarc=none");
	th_run_free(&r);
	/* ... but not for one refused */
	m.helo = "x";
	th_run(rs, &m, &r);
	assert_false(r.res->spf_done);
	assert_null(r.res->auth_results);
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_conf_free(conf);
	mp_diags_free(&d);
}

static void test_dkim_and_alignment(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"unsigned-bank\" { when header.from.domain == \"bank.example\" and not dkim.aligned tag subject \"[SUSPECT] \" }\n"
		"rule \"spf-al\" { when spf.aligned add header \"X-Spf-Aligned\" \"yes\" }\n"
		"rule \"doms\" { when dkim.domains in { \"esp.example\" } add header \"X-Esp\" \"yes\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	const char *h[] = { "From", "Bank <alerts@mail.bank.example>", "Subject", "hi", NULL };
	memcpy(m.headers, h, sizeof(h));
	m.headers[1] = "Bank <alerts@bank.example>";
	m.dkim = "pass"; /* aligned: the injected signature is the From domain's */
	th_run(rs, &m, &r);
	assert_null(r.res->subject_raw);
	assert_int_equal(r.res->dkim, MP_AR_PASS);
	th_run_free(&r);

	m.dkim = "pass:mail.bank.example"; /* same organisational domain */
	th_run(rs, &m, &r);
	assert_null(r.res->subject_raw);
	th_run_free(&r);

	m.dkim = "pass:esp.example";
	th_run(rs, &m, &r);
	assert_string_equal(r.res->subject_raw, "[SUSPECT] hi");
	assert_int_equal(r.res->n_add, 1);
	assert_string_equal(r.res->add[0].name, "X-Esp");
	th_run_free(&r);

	m.dkim = "fail";
	th_run(rs, &m, &r);
	assert_string_equal(r.res->subject_raw, "[SUSPECT] hi");
	assert_int_equal(r.res->dkim, MP_AR_FAIL);
	th_run_free(&r);

	/* SPF alignment: MAIL FROM domain vs From domain */
	m.dkim = NULL;
	m.from = "<bounce@bounces.bank.example>";
	m.spf = MP_AR_PASS;
	th_run(rs, &m, &r);
	assert_int_equal(r.res->n_add, 1);
	assert_string_equal(r.res->add[0].name, "X-Spf-Aligned");
	th_run_free(&r);

	/* two From addresses are never aligned */
	m.headers[1] = "a@bank.example, b@bank.example";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->n_add, 0);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_body_and_size(void **state)
{
	struct mp_conf *c = mp_conf_new();
	c->body_scan_limit = 16;
	const char *files[] = { "global.rules",
				"rule \"early\" { when body ~ /needle/ reject 550 5.7.1 \"found\" }\n"
				"rule \"big\" { when message.size > 1k tempfail 452 4.3.1 \"big\" }\n",
				NULL };
	struct mp_diags d;
	struct th_msg m;
	struct th_run r;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, c, &d);
	mp_conf_free(c);
	assert_non_null(rs);
	th_msg_init(&m);
	m.body = "a needle here\r\n";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_int_equal(r.res->v.stage, MP_STAGE_EOM);
	th_run_free(&r);

	/* past body_scan_limit the needle is not seen */
	m.body = "0123456789abcdef needle\r\n";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	th_run_free(&r);

	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m.body = big;
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_TEMPFAIL);
	assert_string_equal(r.res->v.reply.code, "452");
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

static void test_regex_limit(void **state)
{
	struct mp_conf *c = mp_conf_new();
	c->regex_match_limit = 1000;
	const char *files[] = { "global.rules",
				"rule \"catastrophic\" { when header \"Subject\" ~ /^(a+)+$/ reject }\n"
				"rule \"neg\" { when header \"Subject\" !~ /^(a+)+$/ add header \"X-Neg\" \"1\" }\n",
				NULL };
	struct mp_diags d;
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.headers[0] = "Subject";
	m.headers[1] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";
	/* the prefilter sees that no value can match: PCRE2 never runs */
	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, c, &d);
	assert_non_null(rs);
	assert_non_null(mp_ruleset_prefilter(rs));
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_NONE);
	assert_int_equal(r.res->n_add, 1);
	assert_int_equal(r.res->n_logs, 0);
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
	/* without it, the limit is hit: neither rule decides on what was not
	 * examined (not even the negated one), on_limit does (SPEC §8) */
	const struct mp_load_opts no_index = { .no_index = true };
	mp_diags_init(&d);
	rs = th_load_with(files, c, &no_index, &d);
	assert_non_null(rs);
	assert_null(mp_ruleset_prefilter(rs));
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_TEMPFAIL);
	assert_int_equal(r.res->v.stage, MP_STAGE_EOM);
	assert_string_equal(r.res->v.reply.code, "451");
	assert_string_equal(r.res->v.reply.text,
			    "Message exceeds the regex_match limit");
	assert_string_equal(r.res->limit, "regex_match");
	assert_int_equal(r.res->n_add, 0);
	/* the rule after it is not evaluated at all */
	assert_int_equal(r.res->n_logs, 2);
	assert_true(strstr(r.res->logs[0], "limit reached: regex_match") != NULL);
	assert_true(strstr(r.res->logs[1], "regex match limit reached in rule catastrophic") != NULL);
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
	/* on_limit = accept, and a rule that tests limit.* still decides */
	const char *aware[] = { "global.rules",
				"rule \"catastrophic\" { when header \"Subject\" ~ /^(a+)+$/ reject }\n"
				"rule \"seen\" { when limit.exceeded and limit.name == \"regex_match\" "
				"add header \"X-Limit\" \"${limit.name}\" }\n",
				NULL };
	c->on_limit = MP_ONERR_ACCEPT;
	mp_diags_init(&d);
	rs = th_load_with(aware, c, &no_index, &d);
	mp_conf_free(c);
	assert_non_null(rs);
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_ACCEPT);
	assert_int_equal(r.res->n_add, 1);
	assert_string_equal(r.res->add[0].value, "regex_match");
	th_run_free(&r);
	mp_ruleset_unref(rs);
	mp_diags_free(&d);
}

static void test_null_sender_and_fields(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"null\" { when mail.from == \"\" and mail.from.domain == \"\" and spf.domain == \"helo.example\" add header \"X-Null\" \"${mail.from}|${spf.domain}\" }\n"
		"rule \"auth\" { when auth and auth.user == \"alice\" add header \"X-Auth\" \"${auth.user}\" }\n"
		"rule \"port\" { when client.port == 2525 and client.name ~ /sender/ add header \"X-Port\" \"${client.port}\" }\n"
		"rule \"from\" { when header.from.count == 1 and header.from == \"a@b.example\" add header \"X-From\" \"${header.from.domain}\" }\n"
		"rule \"rc\" { when rcpt.count == 2 and rcpt.to.domain in { \"example.com\" } add header \"X-Rc\" \"${rcpt.count}\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.from = "<>";
	m.helo = "helo.example";
	m.auth = "alice";
	m.rcpts[1] = "<c@other.example>";
	m.headers[0] = "From";
	m.headers[1] = "A <a@b.example>";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->n_add, 5);
	assert_string_equal(r.res->add[0].value, "|helo.example");
	assert_string_equal(r.res->add[1].value, "alice");
	assert_string_equal(r.res->add[2].value, "2525");
	assert_string_equal(r.res->add[3].value, "b.example");
	assert_string_equal(r.res->add[4].value, "2");
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

static void test_hostile_input(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"r\" { when header \"Subject\" ~ /x/ reject 550 5.7.1 \"bad ${header.from} %s %n\" }\n"
		"rule \"a\" { add header \"X-Echo\" \"${helo}\" }\n"
		"rule \"rm\" { when exists header \"X-Never\" remove header \"X-Many\" }\n");
	struct th_msg m;
	struct th_run r;

	th_msg_init(&m);
	m.helo = "evil\r\nInjected: yes\x01\x7f\xff";
	m.headers[0] = "From";
	m.headers[1] = "\"\r\nX: y\" <a@b.example>";
	m.headers[2] = "Subject";
	m.headers[3] = "x";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_string_equal(r.res->v.reply.text, "bad a@b.example %s %n");
	th_run_free(&r);

	m.headers[3] = "y";
	th_run(rs, &m, &r);
	assert_string_equal(r.res->add[0].value, "evilInjected: yes?");
	th_run_free(&r);

	/* thousands of headers and a huge one */
	static char huge[1024 * 1024];
	memset(huge, 'h', sizeof(huge) - 1);
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, NULL);
	mp_conn_connect(c, "198.51.100.1", NULL, 25, &v);
	struct mp_txn *t = mp_txn_new(c);
	mp_txn_mail(t, "<a@b.example>", NULL, &v);
	mp_txn_rcpt(t, "<c@d.example>", &v);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(mp_txn_header(t, "X-Many", "v"), 0);
	assert_int_equal(mp_txn_header(t, "Subject", huge), 0);
	/* names the rules test or remove are counted past the storage cap,
	 * case-insensitively; other names are not indexed at all */
	assert_int_equal(mp_txn_header_count(t, "x-MANY"), 20000);
	assert_int_equal(mp_txn_header_count(t, "Subject"), 1);
	assert_int_equal(mp_txn_header_count(t, "Absent"), 0);
	assert_int_equal(mp_txn_eoh(t, &v), 0);
	assert_int_equal(mp_txn_eom(t, &v), 0);
	/* past the header count limit the message is not judged as if the
	 * rest did not exist: on_limit (tempfail) decides */
	const struct mp_result *res = mp_txn_result(t);
	assert_non_null(res);
	assert_string_equal(res->limit, "header_count");
	assert_int_equal(res->v.outcome, MP_O_TEMPFAIL);
	assert_string_equal(res->v.reply.code, "451");
	mp_txn_free(t);
	mp_conn_free(c);
	mp_ruleset_unref(rs);
}

/* Every HELO of a connection used to be kept until it closed: 100,000
 * of 1 KiB grew it by 100 MB. One buffer now. */
static void test_helo_memory(void **state)
{
	struct mp_ruleset *rs = th_global("rule \"h\" { when helo == \"x\" reject }\n");
	struct mp_verdict v;
	static char name[1025];

	memset(name, 'h', sizeof(name) - 1);
	struct mp_conn *c = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c, "198.51.100.1", NULL, 25, &v), 0);
	assert_int_equal(mp_conn_helo(c, name, false, &v), 0);
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < 100000; i++)
		assert_int_equal(mp_conn_helo(c, name, i & 1, &v), 0);
	struct mallinfo2 after = mallinfo2();
	/* (allocators that keep no such count, ASan's, report 0) */
	assert_true(after.uordblks < before.uordblks + 256 * 1024);
	assert_string_equal(mp_conn_helo_name(c), name);
	mp_conn_free(c);
	mp_ruleset_unref(rs);
}

/* Memory the header costs a transaction, in bytes, after n crafted names. */
static size_t header_flood_bytes(struct mp_ruleset *rs, int n)
{
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, NULL);
	struct mp_txn *t = mp_txn_new(c);
	char name[32];

	mp_conn_connect(c, "198.51.100.1", NULL, 25, &v);
	mp_txn_mail(t, "<a@b.example>", NULL, &v);
	mp_txn_rcpt(t, "<c@d.example>", &v);
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "X-%08x", (unsigned)i * 2654435761u);
		assert_int_equal(mp_txn_header(t, name, "v"), 0);
	}
	struct mallinfo2 after = mallinfo2();
	mp_txn_free(t);
	mp_conn_free(c);
	return after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
}

/* 1M crafted header names used to add 130 MB (every name indexed): only
 * names the rules use are, and nothing is stored past the header_count
 * limit, so 1M names cost what 10,000 do. (ASan's allocator reports no
 * counts: the ratio is then 0 / 0.) */
static void test_header_name_flood_memory(void **state)
{
	struct mp_ruleset *rs = th_global("rule \"s\" { when header \"Subject\" ~ /x/ reject }\n");
	size_t small = header_flood_bytes(rs, 10000);
	size_t big = header_flood_bytes(rs, 1000000);
	assert_true(big <= 2 * small + 65536);
	mp_ruleset_unref(rs);
}

/* A connection's cached connect/HELO evaluation used to be reused when the
 * new rule set's global policy sat at the address of the freed old one
 * (malloc hands the freed rule set's memory to the next one of its size). */
static void test_reload_forgets_cached_eval(void **state)
{
	struct mp_verdict v;

	for (int round = 0; round < 20; round++) {
		struct mp_ruleset *old = th_global("rule \"h\" { when helo == \"mail.sender.example\" "
						   "add header \"X-H\" \"1\" }\n");
		struct mp_ruleset *other = th_global("rule \"z\" { when helo == \"z\" accept }\n");
		struct mp_conn *c = mp_conn_new(old, NULL);
		assert_int_equal(mp_conn_connect(c, "198.51.100.1", NULL, 25, &v), 0);
		assert_int_equal(mp_conn_helo(c, "mail.sender.example", false, &v), 0);
		mp_ruleset_unref(old);
		assert_int_equal(mp_conn_set_ruleset(c, other), 0); /* old is freed here */
		mp_ruleset_unref(other);
		/* the same shape, a rule that does not hold for this HELO */
		struct mp_ruleset *rs = th_global("rule \"h\" { when helo == \"nomatch.example\" "
						  "add header \"X-H\" \"1\" }\n");
		assert_int_equal(mp_conn_set_ruleset(c, rs), 0);
		struct mp_txn *t = mp_txn_new(c);
		assert_int_equal(mp_txn_mail(t, "<a@sender.example>", NULL, &v), 0);
		assert_int_equal(mp_txn_rcpt(t, "<b@example.com>", &v), 0);
		assert_int_equal(mp_txn_eom(t, &v), 0);
		const struct mp_result *res = mp_txn_result(t);
		assert_non_null(res);
		assert_int_equal(res->n_add, 0);
		mp_txn_free(t);
		mp_conn_free(c);
		mp_ruleset_unref(rs);
	}
}

/* One connection from ip under rs with store st: its connect verdict. */
static enum mp_outcome connect_once(struct mp_ruleset *rs, struct mp_state *st, const char *ip)
{
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, NULL);

	assert_non_null(c);
	mp_conn_set_state(c, st, false);
	assert_int_equal(mp_conn_connect(c, ip, "mx.example", 25, &v), 0);
	/* HELO again: the connection is not counted again */
	assert_int_equal(mp_conn_helo(c, "mx.example", false, &v), 0);
	assert_int_equal(mp_conn_helo(c, "mx.example", true, &v), 0);
	mp_conn_free(c);
	return v.outcome;
}

/* rate(): an IPv6 client counts per /64 (client.ip/128: per address),
 * IPv4 per address; each connection once; counts shared by the store. */
static void test_rates(void **state)
{
	(void)state;
	struct mp_ruleset *rs = th_global(
		"rule \"net\" { when rate(client.ip, 1m) > 3 tempfail 451 4.7.1 \"net\" }\n"
		"rule \"addr\" { when rate(client.ip/128, 1m) > 2 reject 554 5.7.1 \"addr\" }\n");
	struct mp_state *st = mp_state_memory_new(1000);

	/* three addresses of one /64: the 4th connection of the net refuses */
	assert_int_equal(connect_once(rs, st, "2001:db8:1:2::1"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "2001:db8:1:2::2"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "2001:db8:1:2::3"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "2001:db8:1:2::4"), MP_O_TEMPFAIL);
	/* another /64 is not counted with it */
	assert_int_equal(connect_once(rs, st, "2001:db8:1:3::1"), MP_O_NONE);
	/* per address: the third connection of one address */
	assert_int_equal(connect_once(rs, st, "2001:db8:9::1"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "2001:db8:9::1"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "2001:db8:9::1"), MP_O_REJECT);
	/* IPv4 per address */
	assert_int_equal(connect_once(rs, st, "192.0.2.1"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "192.0.2.2"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "192.0.2.3"), MP_O_NONE);
	assert_int_equal(connect_once(rs, st, "192.0.2.4"), MP_O_NONE);
	uint64_t n;
	char key[128];
	snprintf(key, sizeof(key), "mp:r|rate(client.ip,60s)|2001:db8:1:2::/64");
	assert_int_equal(mp_state_peek(st, key, strlen(key), 60, time(NULL), &n), 0);
	assert_int_equal(n, 4);
	mp_state_free(st);
	mp_ruleset_unref(rs);
}

/* No store (or a failed one): on_state_error, at the rule that reads it. */
static void test_state_failure(void **state)
{
	(void)state;
	struct mp_ruleset *rs = th_global(
		"rule \"first\" { when client.ip in { 192.0.2.0/24 } accept }\n"
		"rule \"net\" { when rate(client.ip, 1m) > 3 reject }\n");
	struct mp_verdict v;

	struct mp_conn *c = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c, "198.51.100.1", "mx.example", 25, &v), 0);
	assert_int_equal(v.outcome, MP_O_TEMPFAIL);
	assert_string_equal(v.rule, "net");
	assert_string_equal(v.reply.code, "451");
	assert_string_equal(v.reply.xcode, "4.3.0");
	assert_string_equal(v.reply.text, "Temporary state failure");
	assert_string_equal(mp_conn_state_error(c), "no state store");
	assert_null(mp_conn_state_error(c)); /* taken */
	assert_int_equal(mp_conn_state_errors(c), 1);
	mp_conn_free(c);
	/* a rule before it still decides */
	c = mp_conn_new(rs, NULL);
	assert_int_equal(mp_conn_connect(c, "192.0.2.1", "mx.example", 25, &v), 0);
	assert_int_equal(v.outcome, MP_O_ACCEPT);
	mp_conn_free(c);
	mp_ruleset_unref(rs);
}

/* What the daemon negotiates from (rules/replies.c): whether a decision
 * can come before MAIL FROM, and a refusal at DATA that no recipient's
 * own evaluation gave. */
static void test_reply_stages(void **state)
{
	(void)state;
	static const struct {
		const char *global, *domain;
		bool early, data;
	} cases[] = {
		{ "rule \"h\" { when header \"X\" ~ /y/ reject }\n", NULL, false, false },
		{ "rule \"c\" { when client.ip in { 192.0.2.0/24 } accept }\n", NULL, true, false },
		{ "rule \"h\" { when helo == \"x\" tempfail }\n", NULL, true, false },
		/* scores alone decide nothing before MAIL */
		{ "rule \"s\" { when helo == \"x\" score 3 }\n", NULL, false, false },
		/* a rate counted at connect may fail: on_state_error answers there */
		{ "rule \"r\" { when rate(client.ip, 1m) > 9 and header \"X\" == \"y\" score 1 }\n", NULL, true, false },
		/* one positive recipient test: refused per recipient at RCPT */
		{ NULL, "rule \"one\" { when rcpt.to == \"a@example.com\" reject }\n", false, false },
		{ NULL, "rule \"count\" { when rcpt.count > 5 reject }\n", false, true },
		{ NULL, "rule \"not\" { when rcpt.to != \"a@example.com\" reject }\n", false, true },
		{ NULL, "rule \"neg\" { when not rcpt.to.domain == \"example.com\" tempfail }\n", false, true },
		{ NULL, "rule \"both\" { when rcpt.to == \"a@example.com\" and rcpt.to == \"b@example.com\" reject }\n",
		  false, true },
		/* accepting or scoring at DATA is not a refusal */
		{ NULL, "rule \"acc\" { when rcpt.count > 5 accept }\n", false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mp_ruleset *rs = load2(cases[i].global ? cases[i].global : "version 1\n",
					      "example.com.rules",
					      cases[i].domain ? cases[i].domain : "version 1\n", NULL);
		if (mp_ruleset_decides_early(rs) != cases[i].early ||
		    mp_ruleset_refuses_at_data(rs) != cases[i].data)
			fail_msg("case %zu: early %d data %d", i, mp_ruleset_decides_early(rs),
				 mp_ruleset_refuses_at_data(rs));
		mp_ruleset_unref(rs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_valued),
		cmocka_unit_test(test_decision_is_final),
		cmocka_unit_test(test_connect_and_helo),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_state_failure),
		cmocka_unit_test(test_reply_stages),
		cmocka_unit_test(test_per_recipient),
		cmocka_unit_test(test_split_and_strictest),
		cmocka_unit_test(test_multi_valued),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_lazy_checks),
		cmocka_unit_test(test_dkim_and_alignment),
		cmocka_unit_test(test_body_and_size),
		cmocka_unit_test(test_regex_limit),
		cmocka_unit_test(test_null_sender_and_fields),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_helo_memory),
		cmocka_unit_test(test_header_name_flood_memory),
		cmocka_unit_test(test_reload_forgets_cached_eval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
