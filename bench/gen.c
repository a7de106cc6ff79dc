/*
 * gen - the deterministic corpus and rule sets of bench/engine, also used
 * by the prefilter equivalence test (tests/prefilter-equiv.c): varied
 * messages (2-50 KiB, real-looking headers, a third MIME multipart) and
 * rule sets of any size that mix envelope tests, header regexes, lists and
 * scores. The same arguments give the same bytes on every run.
 */
#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* The attachment rules of the MIME configurations (SPEC §11): names,
 * names in archives, content types, text; the body is parsed as MIME. */
#define MIME_RULES \
	"list dangerous_ext { \"exe\", \"scr\", \"js\", \"vbs\", \"bat\", \"com\" }\n" \
	"rule \"mime-exe\" {\n    when attachment.ext in dangerous_ext or archive.name ~ /\\.exe$/i\n" \
	"    reject 550 5.7.1 \"Executable attachments are not accepted\"\n}\n\n" \
	"rule \"mime-disguised\" {\n    when attachment.detected == \"application/x-dosexec\"\n" \
	"    reject 550 5.7.1 \"Executable content\"\n}\n\n" \
	"rule \"mime-text\" {\n    when text ~ /wire the funds/i\n    score 5\n}\n\n"

/* The rate rules of the state configurations (SPEC §12): a connection, a
 * recipient and a header count per message; limits no message reaches,
 * so the decisions are those without them. */
#define RATE_RULES \
	"rule \"rate-conn\" {\n    when rate(client.ip, 1m) > 1000000000\n    tempfail\n}\n\n" \
	"rule \"rate-rcpt\" {\n    when rate(mail.from.domain, rcpt.to, 1d) > 1000000000\n    reject\n}\n\n" \
	"rule \"rate-from\" {\n    when rate(header.from.domain, 1h) > 1000000000\n    score 1\n}\n\n"

/* A rule set of n rules in dir/global.rules (and a domain file), and its
 * header regexes as dir/header_checks.pcre. headers_only: every rule a
 * header regex; mta: add the SPF and DKIM rules the MTA benchmark needs. */
static void gen_rules(const char *dir, unsigned n, bool headers_only, bool mta, const char *variant)
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
	if (strcmp(variant, "mime") == 0)
		sadds(&b, MIME_RULES);
	else if (strcmp(variant, "rate") == 0)
		sadds(&b, RATE_RULES);
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
void gen_make_rules(const char *base, unsigned size, bool headers_only, bool mta,
		    const char *variant)
{
	char rules[4200];

	snprintf(rules, sizeof(rules), "%s/rules%u%s%s", base, size, *variant ? "-" : "", variant);
	mkdir(rules, 0755);
	rng = 0x1234567ULL * (size + 1);
	gen_rules(rules, size, headers_only, mta, variant);
}

struct gen_item *gen_corpus(unsigned n, const char *keep, unsigned *mimes_r, double *bytes_r)
{
	rng = 0x9e3779b97f4a7c15ULL;
	struct gen_item *items = calloc(n, sizeof(*items));
	struct sbuf b = { 0 };
	double total = 0;
	unsigned mimes = 0;

	if (items == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		b.len = 0;
		gen_message(&b, i);
		total += (double)b.len;
		mimes += strstr(b.p, "multipart/mixed") != NULL;
		if (mp_message_parse(b.p, b.len, &items[i].msg) != 0) {
			fprintf(stderr, "corpus message %u does not parse\n", i);
			exit(2);
		}
		snprintf(items[i].from, sizeof(items[i].from), "user%u@d%u.example", rnd(500), rnd(2000));
		snprintf(items[i].rcpt, sizeof(items[i].rcpt), "bob%u@example.com", rnd(50));
		snprintf(items[i].ip, sizeof(items[i].ip), "198.51.%u.%u", rnd(256), 1 + rnd(254));
		snprintf(items[i].helo, sizeof(items[i].helo), "mx%u.d%u.example", rnd(10), rnd(2000));
		if (keep) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/msg%04u.eml", keep, i);
			FILE *f = fopen(path, "w");
			if (f) {
				fwrite(b.p, 1, b.len, f);
				fclose(f);
			}
		}
	}
	free(b.p);
	if (mimes_r)
		*mimes_r = mimes;
	if (bytes_r)
		*bytes_r = total;
	return items;
}

void gen_corpus_free(struct gen_item *items, unsigned n)
{
	for (unsigned i = 0; items != NULL && i < n; i++)
		mp_message_free(&items[i].msg);
	free(items);
}
