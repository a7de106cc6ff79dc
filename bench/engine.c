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
 * Usage: engine [-n MESSAGES] [-s SIZES] [-c CORPUS] [-o DIR] [-w DIR [-H] [-m]]
 *   -n  messages timed per rule-set size (default 20000)
 *   -s  comma-separated rule counts (default 10,100,1000,10000)
 *   -c  distinct messages in the corpus (default 500)
 *   -o  keep the generated rules and corpus in DIR
 *   -w  only write the rule sets (DIR/rulesN, with header_checks.pcre) and
 *       exit; -H every rule a header regex, -m add the SPF and DKIM rules
 *       (for bench/mta)
 * MP_PREFILTER=0 in the environment turns the regex prefilter off.
 */
#include "auth/checks.h"
#include "conf/conf.h"
#include "engine/engine.h"
#include "replay/replay.h"
#include "rules/ruleset.h"
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

/* ---- deterministic generation ------------------------------------------ */

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (unsigned)(rng % n) : 0;
}

static const char *const words[] = {
	"invoice", "meeting", "report", "offer", "account", "update", "shipping", "order",
	"password", "security", "newsletter", "weekly", "summary", "project", "budget",
	"review", "lunch", "holiday", "schedule", "payment", "receipt", "delivery", "alert",
	"notice", "reminder", "question", "feedback", "release", "ticket", "support",
	"contract", "proposal", "draft", "final", "urgent", "free", "winner", "discount",
	"statement", "balance", "transfer", "login", "verify", "confirm", "team", "agenda",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static const char *const hdr_names[] = {
	"Subject", "From", "To", "X-Mailer", "Received", "Message-ID", "Content-Type",
	"List-Id", "User-Agent", "Reply-To", "X-Spam-Status", "Return-Path",
};
#define N_HDRS (sizeof(hdr_names) / sizeof(hdr_names[0]))

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sadd(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL) {
			perror("engine");
			exit(2);
		}
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sadds(struct sbuf *b, const char *s)
{
	sadd(b, s, strlen(s));
}

static void sprintf_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sprintf_add(struct sbuf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sadd(b, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void text_line(struct sbuf *b, unsigned nwords)
{
	for (unsigned i = 0; i < nwords; i++)
		sprintf_add(b, "%s%s", i ? " " : "", words[rnd(N_WORDS)]);
}

/* One message (LF line ends; mp_message_parse makes the body CRLF). */
static void gen_message(struct sbuf *b, unsigned i)
{
	unsigned dom = rnd(2000), size = 2048 + rnd(48 * 1024);
	bool mime = rnd(3) == 0, list = rnd(5) == 0;

	b->len = 0;
	sprintf_add(b, "Return-Path: <user%u@d%u.example>\n", rnd(500), dom);
	for (unsigned r = 0, nr = 2 + rnd(5); r < nr; r++)
		sprintf_add(b, "Received: from mx%u.d%u.example (mx%u.d%u.example [10.%u.%u.%u])\n"
			    "\tby relay%u.example.net (Postfix) with ESMTPS id %08X%u\n"
			    "\tfor <rcpt%u@example.com>; Thu, 26 Nov 2026 10:%02u:%02u +0000\n",
			    rnd(9), dom, rnd(9), dom, rnd(256), rnd(256), rnd(256), rnd(20),
			    rnd(0x7fffffff), r, rnd(100), rnd(60), rnd(60));
	if (rnd(2))
		sprintf_add(b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d%u.example; s=s1;\n"
			    "\th=from:to:subject:date; bh=%08X%08X=; b=%08X%08X%08X%08X%08X\n",
			    dom, rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff),
			    rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff));
	sprintf_add(b, "From: %s User %u <user%u@d%u.example>\n", words[rnd(N_WORDS)], i, rnd(500), dom);
	sprintf_add(b, "To: Bob <bob%u@example.com>", rnd(50));
	if (rnd(3) == 0)
		sprintf_add(b, ", carol%u@example.com", rnd(50));
	sadds(b, "\n");
	if (rnd(4) == 0)
		sprintf_add(b, "Cc: team%u@example.com\n", rnd(20));
	if (rnd(6) == 0) {
		sadds(b, "Subject: =?UTF-8?Q?");
		text_line(b, 2);
		sadds(b, "_=C3=BCber?=\n");
	} else {
		sadds(b, "Subject: ");
		if (rnd(4) == 0)
			sadds(b, "Re: ");
		text_line(b, 2 + rnd(6));
		sadds(b, "\n");
	}
	sprintf_add(b, "Date: Thu, 26 Nov 2026 %02u:%02u:%02u +0000\n", rnd(24), rnd(60), rnd(60));
	sprintf_add(b, "Message-ID: <%08X.%u@d%u.example>\n", rnd(0x7fffffff), i, dom);
	if (rnd(2))
		sprintf_add(b, "X-Mailer: %s Mail %u.%u\n", words[rnd(N_WORDS)], rnd(10), rnd(10));
	else
		sprintf_add(b, "User-Agent: Mozilla/5.0 Thunderbird/%u.%u\n", 100 + rnd(30), rnd(10));
	if (list)
		sprintf_add(b, "List-Id: <%s.list%u.example.org>\nList-Unsubscribe: <mailto:leave@list%u.example.org>\n",
			    words[rnd(N_WORDS)], rnd(100), rnd(100));
	if (rnd(3) == 0)
		sprintf_add(b, "Reply-To: reply%u@d%u.example\n", rnd(100), dom);
	sprintf_add(b, "X-Spam-Status: No, score=%u.%u\n", rnd(5), rnd(10));
	sadds(b, "MIME-Version: 1.0\n");
	if (mime)
		sprintf_add(b, "Content-Type: multipart/mixed; boundary=\"b%u\"\n\n--b%u\n"
			    "Content-Type: text/plain; charset=us-ascii\n\n", i, i);
	else
		sadds(b, "Content-Type: text/plain; charset=us-ascii\n\n");
	size_t body_start = b->len;
	while (b->len - body_start < size * (mime ? 2 : 3) / 3) {
		text_line(b, 8 + rnd(8));
		sadds(b, "\n");
	}
	if (mime) {
		sprintf_add(b, "\n--b%u\nContent-Type: application/pdf; name=\"%s%u.pdf\"\n"
			    "Content-Transfer-Encoding: base64\n\n", i, words[rnd(N_WORDS)], i);
		while (b->len - body_start < size) {
			for (unsigned k = 0; k < 76; k++)
				sadd(b, &"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rnd(64)], 1);
			sadds(b, "\n");
		}
		sprintf_add(b, "--b%u--\n", i);
	}
}

/* A header regex test: the rule's condition into b, the same regex as a
 * Postfix header_checks line into hc. */
static void header_test(struct sbuf *b, struct sbuf *hc)
{
	const char *h = hdr_names[rnd(N_HDRS)];
	char re[256];
	bool icase = false;

	switch (rnd(5)) {
	case 0:
		snprintf(re, sizeof(re), "\\b%s-%u\\b", words[rnd(N_WORDS)], rnd(100000));
		icase = true;
		break;
	case 1:
		snprintf(re, sizeof(re), "(?:%s|%s)[0-9]{%u}x", words[rnd(N_WORDS)], words[rnd(N_WORDS)],
			 3 + rnd(4));
		break;
	case 2:
		snprintf(re, sizeof(re), "^%s%u", words[rnd(N_WORDS)], rnd(100000));
		icase = true;
		break;
	case 3:
		snprintf(re, sizeof(re), "%s.{0,20}%s-%u", words[rnd(N_WORDS)], words[rnd(N_WORDS)],
			 rnd(100000));
		icase = true;
		break;
	default:
		snprintf(re, sizeof(re), "d%u\\.example", rnd(2000));
		break;
	}
	const char *one = re;
	sprintf_add(b, "header \"%s\" ~ /%s/%s", h, one, icase ? "i" : "");
	/* header_checks sees "Name: value" */
	if (one[0] == '^')
		sprintf_add(hc, "/^%s:[ \t]*%s/%s WARN bench\n", h, one + 1, icase ? "i" : "");
	else
		sprintf_add(hc, "/^%s:.*%s/%s WARN bench\n", h, one, icase ? "i" : "");
}

static void write_file(const char *path, const struct sbuf *b)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || (b->len && fwrite(b->p, 1, b->len, f) != b->len) || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* A rule set of n rules in dir/global.rules (and a domain file), and its
 * header regexes as dir/header_checks.pcre. headers_only: every rule a
 * header regex; mta: add the SPF and DKIM rules the MTA benchmark needs. */
static void gen_rules(const char *dir, unsigned n, bool headers_only, bool mta)
{
	char path[8400];
	struct sbuf b = { 0 }, hc = { 0 };

	sadds(&b, "version 1\n\n");
	unsigned n_lists = n / 50 + 1;
	for (unsigned l = 0; l < n_lists; l++) {
		sprintf_add(&b, "list senders%u {", l);
		for (unsigned k = 0; k < 40; k++)
			sprintf_add(&b, "%s \"@d%u.example\"", k ? "," : "", rnd(100000) + 2000);
		sadds(&b, " }\n");
	}
	for (unsigned r = 0; r < n; r++) {
		unsigned kind = headers_only ? 50 : rnd(100);
		sprintf_add(&b, "rule \"r%u\" {\n    when ", r);
		if (kind < 15) {
			sprintf_add(&b, "mail.from.domain == \"d%u.example\"", 2000 + rnd(100000));
		} else if (kind < 20) {
			sprintf_add(&b, "client.ip in { 172.%u.%u.0/24 }", rnd(32), rnd(256));
		} else if (kind < 25) {
			sprintf_add(&b, "helo ~ /^mx%u\\.h%u\\.example$/", rnd(10), rnd(10000));
		} else if (kind < 80) {
			header_test(&b, &hc);
		} else if (kind < 90) {
			sprintf_add(&b, "mail.from in senders%u", rnd(n_lists));
		} else if (kind < 95) {
			sprintf_add(&b, "spf == fail and header \"Subject\" ~ /%s/i", words[rnd(N_WORDS)]);
		} else {
			sprintf_add(&b, "message.size > %uk and header \"X-Spam-Status\" ~ /score=%u/", 10 + rnd(40), rnd(5));
		}
		sadds(&b, "\n");
		if (r % 97 == 96)
			sadds(&b, "    add header \"X-Bench\" \"${rule}\"\n");
		else
			sprintf_add(&b, "    score %u\n", 1 + rnd(3));
		sadds(&b, "}\n\n");
	}
	if (mta)
		sadds(&b, "rule \"spf-fail\" {\n    when spf == fail\n"
			  "    reject 550 5.7.23 \"SPF check failed for ${spf.domain}\"\n}\n\n"
			  "rule \"unsigned-bank\" {\n    when header.from.domain == \"bank.example\" and not dkim.aligned\n"
			  "    tag subject \"[SUSPECT] \"\n}\n\n");
	sadds(&b, "threshold 20 {\n    add header \"X-Spam-Flag\" \"YES\"\n}\n");
	snprintf(path, sizeof(path), "%s/global.rules", dir);
	write_file(path, &b);
	snprintf(path, sizeof(path), "%s/header_checks.pcre", dir);
	write_file(path, &hc);
	free(hc.p);
	snprintf(path, sizeof(path), "%s/example.com.rules", dir);
	FILE *f = fopen(path, "w");
	fputs("version 1\nrule \"closed\" {\n    when rcpt.to == \"closed@example.com\"\n"
	      "    reject 550 5.1.1 \"Mailbox closed\"\n}\n", f);
	fclose(f);
	free(b.p);
}

/* base/rulesSIZE, the same rules for the same size on every run. */
static void make_rules(const char *base, unsigned size, bool headers_only, bool mta)
{
	char rules[4200];

	snprintf(rules, sizeof(rules), "%s/rules%u", base, size);
	mkdir(rules, 0755);
	rng = 0x1234567ULL * (size + 1);
	gen_rules(rules, size, headers_only, mta);
}

/* ---- the run -------------------------------------------------------------- */

struct item {
	struct mp_message msg;
	char from[128], rcpt[128], ip[32], helo[64];
};

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

static int run_one(struct mp_ruleset *rs, const struct mp_checks *ck, const struct item *it)
{
	struct mp_verdict v;
	struct mp_conn *c = mp_conn_new(rs, ck);
	int rc = -1;

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
static int run_size(const char *dir, unsigned size, struct item *items, unsigned n_items,
		    unsigned n)
{
	struct mp_conf *conf = mp_conf_new();
	struct mp_diags d;
	char rules[4200];

	snprintf(rules, sizeof(rules), "%s/rules%u", dir, size);
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
		const struct item *it = &items[i % n_items];
		if (run_one(rs, ops, it) < 0) {
			fprintf(stderr, "engine error\n");
			return 1;
		}
		bytes += (double)it->msg.body_len;
	}
	double el = now() - t0;
	printf("%6u rules: %9.0f msg/s  %8.2f us/msg  peak RSS %6.1f MiB  (load %.2f s, %.2f rules matched/msg, %.1f KiB/msg, digest %016llx)\n",
	       size, n / el, el * 1e6 / n, peak_rss_kib() / 1024.0, load, (double)n_matched / n,
	       bytes / n / 1024, digest);
	fflush(stdout);
	mp_checker_free(ck);
	mp_ruleset_unref(rs);
	mp_conf_free(conf);
	mp_diags_free(&d);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 20000, n_corpus = 500;
	const char *sizes = "10,100,1000,10000", *keep = NULL, *write_only = NULL;
	bool headers_only = false, mta = false;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:c:o:w:Hm")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': sizes = optarg; break;
		case 'c': n_corpus = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': keep = optarg; break;
		case 'w': write_only = optarg; break;
		case 'H': headers_only = true; break;
		case 'm': mta = true; break;
		default:
			fprintf(stderr, "usage: engine [-n MESSAGES] [-s SIZES] [-c CORPUS] [-o DIR] [-w DIR [-H] [-m]]\n");
			return 2;
		}
	}
	if (write_only != NULL) {
		mkdir(write_only, 0755);
		char *list = strdup(sizes);
		for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
			make_rules(write_only, (unsigned)strtoul(tok, NULL, 10), headers_only, mta);
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
	struct item *items = calloc(n_corpus, sizeof(*items));
	struct sbuf b = { 0 };
	double total = 0;
	unsigned mimes = 0;
	for (unsigned i = 0; i < n_corpus; i++) {
		gen_message(&b, i);
		total += (double)b.len;
		mimes += strstr(b.p, "multipart/mixed") != NULL;
		if (mp_message_parse(b.p, b.len, &items[i].msg) != 0) {
			fprintf(stderr, "corpus message %u does not parse\n", i);
			return 2;
		}
		snprintf(items[i].from, sizeof(items[i].from), "user%u@d%u.example", rnd(500), rnd(2000));
		snprintf(items[i].rcpt, sizeof(items[i].rcpt), "bob%u@example.com", rnd(50));
		snprintf(items[i].ip, sizeof(items[i].ip), "198.51.%u.%u", rnd(256), 1 + rnd(254));
		snprintf(items[i].helo, sizeof(items[i].helo), "mx%u.d%u.example", rnd(10), rnd(2000));
		if (keep) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/msg%04u.eml", dir, i);
			FILE *f = fopen(path, "w");
			if (f) {
				fwrite(b.p, 1, b.len, f);
				fclose(f);
			}
		}
	}
	free(b.p);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	printf("bench/engine: %u messages (%.1f KiB average, %u multipart), %u timed per size, one core of %ld%s\n",
	       n_corpus, total / n_corpus / 1024, mimes, n, ncpu,
	       getenv("MP_PREFILTER") && strcmp(getenv("MP_PREFILTER"), "0") == 0 ? ", prefilter off" : "");
	fflush(stdout);
	char *list = strdup(sizes);
	int rc = 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		unsigned size = (unsigned)strtoul(tok, NULL, 10);
		make_rules(dir, size, false, false);
		pid_t pid = fork();
		if (pid == 0)
			_exit(run_size(dir, size, items, n_corpus, n));
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
	}
	free(list);
	for (unsigned i = 0; i < n_corpus; i++)
		mp_message_free(&items[i].msg);
	free(items);
	if (!keep) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
