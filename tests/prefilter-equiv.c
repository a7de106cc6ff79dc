/*
 * prefilter-equiv - the regex prefilter and the value index must not
 * change a single decision. bench/engine's generated rule sets (envelope
 * tests, lists, header regexes, scores) are loaded twice, with both and
 * without (struct mp_load_opts.no_index), and every generated message runs
 * through each; the outcome, stage, score, matched rules and added header
 * fields must be equal, message by message. The first difference is shown.
 *
 * Usage: prefilter-equiv [MESSAGES [SIZE...]]   (default 400 messages, 100 1000)
 */
#include "auth/checks.h"
#include "conf/conf.h"
#include "engine/engine.h"
#include "gen.h"
#include "rules/ruleset.h"
#include "util/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct outcome {
	struct mp_conn *conn;
	struct mp_txn *txn;
	const struct mp_result *r;
};

static int run(struct mp_ruleset *rs, const struct mp_checks *ck, const struct gen_item *it,
	       struct outcome *o)
{
	struct mp_verdict v;

	memset(o, 0, sizeof(*o));
	o->conn = mp_conn_new(rs, ck);
	if (o->conn == NULL || mp_conn_connect(o->conn, it->ip, "mx.d1.example", 25, &v) < 0 ||
	    mp_conn_helo(o->conn, it->helo, false, &v) < 0 || (o->txn = mp_txn_new(o->conn)) == NULL)
		return -1;
	const char *rcpts[] = { it->rcpt, NULL };
	struct mp_drive_msg dm = { .from = it->from, .rcpts = rcpts, .hdrs = it->msg.hdrs,
				   .n_hdrs = it->msg.n_hdrs, .body = it->msg.body,
				   .body_len = it->msg.body_len };
	if (mp_drive_message(o->txn, &dm, &v) < 0)
		return -1;
	o->r = mp_txn_result(o->txn);
	return o->r != NULL ? 0 : -1;
}

static void done(struct outcome *o)
{
	mp_txn_free(o->txn);
	mp_conn_free(o->conn);
}

static void show(const char *what, const struct mp_result *r)
{
	fprintf(stderr, "  %s: %s at %s, score %.6g, rules", what, mp_verdict_action(&r->v),
		mp_stage_name(r->v.stage), r->score);
	for (size_t i = 0; i < r->n_rules; i++)
		fprintf(stderr, " %s", r->rules[i]);
	for (size_t i = 0; i < r->n_add; i++)
		fprintf(stderr, "; add %s: %s", r->add[i].name, r->add[i].value);
	fputc('\n', stderr);
}

static bool same(const struct mp_result *a, const struct mp_result *b)
{
	if (a->v.outcome != b->v.outcome || a->v.stage != b->v.stage || a->score != b->score ||
	    a->n_rules != b->n_rules || a->n_add != b->n_add)
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (strcmp(a->rules[i], b->rules[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_add; i++)
		if (strcmp(a->add[i].name, b->add[i].name) != 0 ||
		    strcmp(a->add[i].value, b->add[i].value) != 0)
			return false;
	return true;
}

static struct mp_ruleset *load(const char *dir, unsigned size, bool no_index)
{
	struct mp_conf *conf = mp_conf_new();
	struct mp_load_opts lo = { .no_index = no_index };
	struct mp_diags d;
	char rules[4200];

	snprintf(rules, sizeof(rules), "%s/rules%u", dir, size);
	mp_conf_set_rules_dir(conf, rules);
	conf->add_auth_results = false;
	mp_diags_init(&d);
	struct mp_ruleset *rs = mp_ruleset_load_with(conf, &lo, &d);
	if (rs == NULL)
		mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	mp_conf_free(conf);
	return rs;
}

/* One rule-set size over the whole corpus; the number of differences. */
static unsigned compare(const char *dir, unsigned size, const struct gen_item *items, unsigned n,
			const struct mp_checks *ck)
{
	struct mp_ruleset *on = load(dir, size, false), *off = load(dir, size, true);
	unsigned diff = 0;
	size_t matched = 0;

	if (on == NULL || off == NULL || mp_ruleset_prefilter(on) == NULL ||
	    mp_ruleset_prefilter(off) != NULL) {
		fprintf(stderr, "FAIL %u rules: the rule sets did not load as asked\n", size);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct outcome a, b;
		if (run(on, ck, &items[i], &a) < 0 || run(off, ck, &items[i], &b) < 0) {
			fprintf(stderr, "FAIL %u rules, message %u: engine error\n", size, i);
			diff++;
		} else if (!same(a.r, b.r)) {
			if (diff++ == 0) {
				fprintf(stderr, "FAIL %u rules, message %u (from %s, helo %s):\n", size, i,
					items[i].from, items[i].helo);
				show("with the prefilter and index", a.r);
				show("without", b.r);
			}
		} else {
			matched += a.r->n_rules;
		}
		done(&a);
		done(&b);
	}
	printf("%u rules: %u messages, %zu rule matches, %u differences\n", size, n, matched, diff);
	/* a run where nothing matched would prove little */
	if (matched == 0) {
		fprintf(stderr, "FAIL %u rules: nothing matched\n", size);
		diff++;
	}
	mp_ruleset_unref(on);
	mp_ruleset_unref(off);
	return diff;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 400;
	char dir[] = "/tmp/mp-prefilter-equiv-XXXXXX";

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	struct gen_item *items = gen_corpus(n, NULL, NULL, NULL);
	struct mp_checker *ck = mp_checker_new("bench.example");
	if (items == NULL || ck == NULL)
		return 2;
	struct mp_injected *inj = mp_checker_injected(ck);
	inj->spf = MP_AR_PASS;
	inj->spf_helo = MP_AR_NONE;
	inj->dkim = MP_AR_NONE;
	static const unsigned defaults[] = { 100, 1000 };
	unsigned diffs = 0;
	int n_sizes = argc > 2 ? argc - 2 : 2;
	for (int i = 0; i < n_sizes; i++) {
		unsigned size = argc > 2 ? (unsigned)strtoul(argv[i + 2], NULL, 10) : defaults[i];
		gen_make_rules(dir, size, false, false, "");
		diffs += compare(dir, size, items, n, mp_checker_ops(ck));
	}
	mp_checker_free(ck);
	gen_corpus_free(items, n);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (diffs == 0)
		printf("same decisions with and without the prefilter and the value index\n");
	return diffs == 0 ? 0 : 1;
}
