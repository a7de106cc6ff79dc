/*
 * bench/engine - the rule engine in-process, on one core: no libmilter, no
 * DNS (SPF and DKIM results injected). A generated corpus of varied
 * messages (2-50 KiB, real-looking headers, a third MIME multipart) runs
 * through generated rule sets of several sizes that mix envelope tests,
 * header regexes, lists and scores, driven stage by stage as the daemon
 * drives the engine (the body only while the engine wants it). Reports
 * messages/s, microseconds per message and the peak RSS of each size (each
 * size runs in a child process of its own). A benchmark: it reports
 * figures and never fails on them.
 *
 * Usage: engine [-n MESSAGES] [-s SIZES] [-c CORPUS] [-o DIR] [-M] [-R] [-w DIR [-H] [-m]]
 *   -n  messages timed per rule-set size (default 20000)
 *   -s  comma-separated rule counts (default 10,100,1000,10000)
 *   -c  distinct messages in the corpus (default 500)
 *   -o  keep the generated rules and corpus in DIR
 *   -w  only write the rule sets (DIR/rulesN, with header_checks.pcre) and
 *       exit; -H every rule a header regex, -m add the SPF and DKIM rules
 *       (for bench/mta; with -M also DIR/rulesN-mime, with -R DIR/rulesN-rate)
 *   -M  each size also with attachment rules added (the body parsed as
 *       MIME: SPEC §11), timed right after it: the difference is MIME's cost
 *   -R  each size also with three rate() rules added (SPEC §12: three
 *       counts per message in a memory store), timed right after it
 * MP_PREFILTER=0 in the environment turns the regex prefilter off.
 */
#include "auth/checks.h"
#include "gen.h"
#include "conf/conf.h"
#include "engine/engine.h"
#include "replay/replay.h"
#include "rules/ruleset.h"
#include "state/state.h"
#include "util/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the run -------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One message through the engine, as the daemon drives it. */
/* A digest of what the engine decided for every message: the same rules,
 * messages and decisions give the same digest (prefilter on or off). */
static unsigned long long digest, n_matched;

static void digest_add(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		digest = (digest ^ b[i]) * 1099511628211ULL;
}

static void digest_result(const struct mp_result *r)
{
	digest_add(&r->v.outcome, sizeof(r->v.outcome));
	digest_add(&r->v.stage, sizeof(r->v.stage));
	long long score = (long long)(r->score * 1000);
	digest_add(&score, sizeof(score));
	for (size_t i = 0; i < r->n_rules; i++)
		digest_add(r->rules[i], strlen(r->rules[i]) + 1);
	n_matched += r->n_rules;
	for (size_t i = 0; i < r->n_add; i++)
		digest_add(r->add[i].value, strlen(r->add[i].value) + 1);
}

/* The store rate() counts in (a memory store, as the daemon's default). */
static struct mp_state *store;

static int run_one(struct mp_ruleset *rs, const struct mp_checks *ck, const struct gen_item *it)
{
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, ck);
	int rc = -1;

	if (c != NULL)
		mp_conn_set_state(c, store, false);
	if (c == NULL || mp_conn_connect(c, it->ip, "mx.d1.example", 25, &v) < 0 ||
	    mp_conn_helo(c, it->helo, false, &v) < 0)
		goto out;
	struct mp_txn *t = mp_txn_new(c);
	if (t == NULL)
		goto out;
	const char *rcpts[] = { it->rcpt, NULL };
	struct mp_drive_msg dm = { .from = it->from, .rcpts = rcpts, .hdrs = it->msg.hdrs,
				   .n_hdrs = it->msg.n_hdrs, .body = it->msg.body,
				   .body_len = it->msg.body_len };
	if (mp_drive_message(t, &dm, &v) < 0)
		goto txn;
	const struct mp_result *r = mp_txn_result(t);
	if (r != NULL)
		digest_result(r);
	rc = r ? 0 : -1;
txn:
	mp_txn_free(t);
out:
	mp_conn_free(c);
	return rc;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Child: load the rules of one size, warm up, time n messages; prints one
 * result line. */
static int run_size(const char *dir, unsigned size, const char *variant, struct gen_item *items,
		    unsigned n_items, unsigned n)
{
	struct mp_conf *conf = mp_conf_new();
	struct mp_diags d;
	char rules[4200];

	store = mp_state_memory_new(1000000);
	snprintf(rules, sizeof(rules), "%s/rules%u%s%s", dir, size, *variant ? "-" : "", variant);
	free(conf->rules_dir);
	conf->rules_dir = strdup(rules);
	conf->add_auth_results = false; /* no checks needed by the headers */
	mp_diags_init(&d);
	double t0 = now();
	const char *pf = getenv("MP_PREFILTER");
	struct mp_load_opts lo = { .no_index = pf != NULL && strcmp(pf, "0") == 0 };
	struct mp_ruleset *rs = mp_ruleset_load_with(conf, &lo, &d);
	double load = now() - t0;
	if (rs == NULL) {
		mp_diags_print(&d, stderr);
		return 1;
	}
	struct mp_checker *ck = mp_checker_new("bench.example");
	struct mp_injected *inj = mp_checker_injected(ck);
	inj->spf = MP_AR_PASS;
	inj->spf_helo = MP_AR_NONE;
	inj->dkim = MP_AR_NONE;
	const struct mp_checks *ops = mp_checker_ops(ck);
	for (unsigned i = 0; i < n_items && i < 200; i++)
		run_one(rs, ops, &items[i]);
	digest = 14695981039346656037ULL;
	n_matched = 0;
	double bytes = 0;
	t0 = now();
	for (unsigned i = 0; i < n; i++) {
		const struct gen_item *it = &items[i % n_items];
		if (run_one(rs, ops, it) < 0) {
			fprintf(stderr, "engine error\n");
			return 1;
		}
		bytes += (double)it->msg.body_len;
	}
	double el = now() - t0;
	printf("%6u rules%s: %9.0f msg/s  %8.2f us/msg  peak RSS %6.1f MiB  (load %.2f s, %.2f rules matched/msg, %.1f KiB/msg, digest %016llx)\n",
	       size, strcmp(variant, "mime") == 0 ? " + MIME" : strcmp(variant, "rate") == 0 ? " + rate" : "", n / el, el * 1e6 / n, peak_rss_kib() / 1024.0, load, (double)n_matched / n,
	       bytes / n / 1024, digest);
	fflush(stdout);
	mp_checker_free(ck);
	mp_ruleset_unref(rs);
	mp_conf_free(conf);
	mp_diags_free(&d);
	mp_state_free(store);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 20000, n_corpus = 500;
	const char *sizes = "10,100,1000,10000", *keep = NULL, *write_only = NULL;
	bool headers_only = false, mta = false, mime = false, rate = false;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:c:o:w:HmMR")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': sizes = optarg; break;
		case 'c': n_corpus = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': keep = optarg; break;
		case 'w': write_only = optarg; break;
		case 'H': headers_only = true; break;
		case 'm': mta = true; break;
		case 'M': mime = true; break;
		case 'R': rate = true; break;
		default:
			fprintf(stderr, "usage: engine [-n MESSAGES] [-s SIZES] [-c CORPUS] [-o DIR] [-M] [-R] [-w DIR [-H] [-m]]\n");
			return 2;
		}
	}
	if (write_only != NULL) {
		mkdir(write_only, 0755);
		char *list = strdup(sizes);
		for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
			gen_make_rules(write_only, (unsigned)strtoul(tok, NULL, 10), headers_only, mta, "");
			if (mime)
				gen_make_rules(write_only, (unsigned)strtoul(tok, NULL, 10), headers_only, mta, "mime");
			if (rate)
				gen_make_rules(write_only, (unsigned)strtoul(tok, NULL, 10), headers_only, mta, "rate");
		}
		free(list);
		return 0;
	}
	char dir[4096];
	if (keep) {
		snprintf(dir, sizeof(dir), "%s", keep);
		mkdir(dir, 0755);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/mp-bench-engine-XXXXXX");
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 2;
		}
	}
	/* the corpus, parsed once (parsing is not timed: the MTA does it) */
	unsigned mimes = 0;
	double total = 0;
	struct gen_item *items = gen_corpus(n_corpus, keep ? dir : NULL, &mimes, &total);
	if (items == NULL) {
		perror("engine");
		return 2;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	printf("bench/engine: %u messages (%.1f KiB average, %u multipart), %u timed per size, one core of %ld%s\n",
	       n_corpus, total / n_corpus / 1024, mimes, n, ncpu,
	       getenv("MP_PREFILTER") && strcmp(getenv("MP_PREFILTER"), "0") == 0 ? ", prefilter off" : "");
	fflush(stdout);
	char *list = strdup(sizes);
	int rc = 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		unsigned size = (unsigned)strtoul(tok, NULL, 10);
		const char *variants[] = { "", mime ? "mime" : NULL, rate ? "rate" : NULL };
		for (int m = 0; m < 3; m++) {
			if (variants[m] == NULL)
				continue;
			gen_make_rules(dir, size, false, false, variants[m]);
			pid_t pid = fork();
			if (pid == 0)
				_exit(run_size(dir, size, variants[m], items, n_corpus, n));
			int st;
			waitpid(pid, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				rc = 1;
		}
	}
	free(list);
	gen_corpus_free(items, n_corpus);
	if (!keep) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
