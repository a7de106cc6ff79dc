/*
 * Fuzz target: rule files through the lexer, parser and loader (include
 * graphs and list files too), then one message through what loaded.
 *
 * The input is up to six files separated by NUL bytes: global.rules,
 * a.example.rules, default.rules, inc/one.inc, inc/two.inc and
 * lists/l.txt (the files can include one another and name the list).
 * Every file is written on every run, empty when the input has no part for
 * it. A rule set that loads is given one transaction with fixed envelope
 * and header fields. Files live in the process's scratch directory.
 */
#include "conf/conf.h"
#include "engine/engine.h"
#include "fuzzutil.h"
#include "rules/ruleset.h"
#include "util/diag.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *names[] = { "global.rules", "a.example.rules", "default.rules",
			       "inc/one.inc", "inc/two.inc", "lists/l.txt" };

static void one_message(struct mp_ruleset *rs)
{
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, NULL);

	if (c == NULL)
		return;
	mp_conn_connect(c, "198.51.100.7", "mail.sender.example", 25, &v);
	mp_conn_helo(c, "mail.sender.example", true, &v);
	struct mp_txn *t = mp_txn_new(c);
	if (t != NULL) {
		mp_txn_mail(t, "<alice@sender.example>", NULL, &v);
		mp_txn_rcpt(t, "<bob@a.example>", &v);
		mp_txn_rcpt(t, "<carol@b.example>", &v);
		mp_txn_header(t, "From", " Alice <alice@sender.example>");
		mp_txn_header(t, "Subject", " =?utf-8?q?hello?= x");
		mp_txn_header(t, "Content-Type", " text/plain; name=\"a.exe\"");
		mp_txn_eoh(t, &v);
		mp_txn_body(t, "body text\r\n", 11);
		mp_txn_eom(t, &v);
		mp_txn_result(t);
		mp_txn_free(t);
	}
	mp_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *parts[6];
	size_t lens[6];
	size_t n = fz_split(data, size, parts, lens, 6);

	for (size_t i = 0; i < 6; i++)
		fz_write(names[i], i < n ? parts[i] : (const uint8_t *)"", i < n ? lens[i] : 0);
	struct mp_conf *conf = mp_conf_new();
	if (conf == NULL || mp_conf_set_rules_dir(conf, fz_dir()) < 0)
		abort();
	struct mp_diags d;
	mp_diags_init(&d);
	struct mp_ruleset *rs = mp_ruleset_load(conf, &d);
	if (rs != NULL) {
		one_message(rs);
		mp_ruleset_unref(rs);
	}
	mp_diags_free(&d);
	mp_conf_free(conf);
	return 0;
}
