/*
 * The prefilter must never rule out a match PCRE2 finds: many patterns
 * (constructs Vectorscan runs exactly, approximates, or cannot take)
 * against generated and targeted ASCII subjects, each PCRE2 match checked
 * against the prefilter's bits; non-ASCII subjects are not scanned; what
 * cannot be taken is left to PCRE2. Everything again with the databases
 * compiled in the daemon's helper process (match/prefilter_helper.c: the
 * same ids, the same scans), and the helper failing every way it can
 * (the build falls back to compiling here).
 */
#include "match/prefilter.h"
#include "match/prefilter_helper.h"
#include "match/regex.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct pat {
	const char *src;
	unsigned flags;
};

static const struct pat pats[] = {
	{ "invoice", 0 }, { "invoice", MP_RE_I }, { "^re: ", MP_RE_I }, { "offer$", 0 },
	{ "\\bfree\\b", MP_RE_I }, { "\\Bree", 0 }, { "(?:cash|money)[0-9]{3,}", 0 },
	{ "a.c", 0 }, { "a.c", MP_RE_S }, { "x+y*z?", 0 }, { "[^a-z]{4}", 0 },
	{ "(ab)\\1", 0 },                 /* backreference: approximated */
	{ "foo(?=bar)", 0 },              /* lookahead: approximated */
	{ "(?<!no)win", MP_RE_I },        /* lookbehind: approximated */
	{ "^$", 0 }, { "q*", 0 },           /* empty matches */
	{ "^line2", MP_RE_M }, { "end$", MP_RE_M },
	{ "\\d+\\.\\d+", 0 }, { "\\s{2,}", 0 }, { "\\w+@\\w+\\.example", 0 },
	{ "(a|b|c|d)+e", MP_RE_I }, { "[[:upper:]]{3}", 0 }, { "\\x41\\x42", 0 },
	{ "(?i)mixed(?-i)CASE", 0 }, { "a{2}b{1,3}c{0,}", 0 },
	{ "caf\xc3\xa9", 0 },            /* non-ASCII: not taken */
	{ "spaced  out", MP_RE_X },      /* x flag: not taken */
	{ "a(?R)?b", 0 },                /* recursion Vectorscan rejects: left to PCRE2 */
	{ "abc\\z", 0 }, { "\\Aabc", 0 }, { "[ab]{2,}?c", 0 }, { "(x)(?(1)y|z)", 0 },
};
#define N_PATS (sizeof(pats) / sizeof(pats[0]))

static const char *const targeted[] = {
	"invoice", "INVOICE 12", "Re: hello", "re: x", "special offer", "free gift", "freebie",
	"tree", "cash123", "money9999", "abc", "a\nc", "xz", "xyyyz", "1234", "ABCD", "abab",
	"foobar", "foobaz", "winner", "nowin", "", "line1\nline2", "the end\nmore", "3.14",
	"a  b", "joe@host.example", "abcde", "ABCDE", "AB", "mixedCASE", "MIXEDCASE", "mixedcase",
	"aabbbc", "abc", "xabc", "xy", "z", "cafe", "spacedout", "aab", "abc\n",
};

static void check_subject(const struct mp_prefilter *pf, struct mp_pf_scratch *s,
			  struct mp_regex **re, struct mp_pf_pattern *pp, struct mp_matcher *m,
			  const char *subj, size_t len)
{
	uint8_t bits[16];

	memset(bits, 0, sizeof(bits));
	int rc = mp_prefilter_scan(pf, s, 0, subj, len, bits);
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < N_PATS; i++) {
		if (pp[i].id < 0)
			continue;
		bool may = (bits[pp[i].id >> 3] >> (pp[i].id & 7)) & 1;
		if (mp_regex_match(m, re[i], subj, len) == 1 && !may)
			fail_msg("prefilter ruled out /%s/ on \"%.*s\"", pats[i].src, (int)len, subj);
	}
}

static void test_no_false_negatives(void **state)
{
	struct mp_regex *re[N_PATS];
	struct mp_pf_pattern pp[N_PATS];
	char err[256];
	size_t off;

	for (size_t i = 0; i < N_PATS; i++) {
		re[i] = mp_regex_compile(pats[i].src, strlen(pats[i].src), pats[i].flags, err,
					 sizeof(err), &off);
		assert_non_null(re[i]);
		pp[i] = (struct mp_pf_pattern){ 0, pats[i].src, strlen(pats[i].src), pats[i].flags, -1 };
	}
	struct mp_prefilter *pf = mp_prefilter_build(pp, N_PATS, 1);
	assert_non_null(pf);
	struct mp_pf_scratch *s = mp_pf_scratch_new(pf);
	assert_non_null(s);
	struct mp_matcher *m = mp_matcher_new(100000);
	size_t taken = 0;
	for (size_t i = 0; i < N_PATS; i++)
		taken += pp[i].id >= 0;
	/* most are taken; the non-ASCII, x-flag and verb ones are not */
	assert_true(taken >= N_PATS - 4);
	assert_int_equal(pp[26].id, -1);
	assert_int_equal(pp[27].id, -1);
	assert_int_equal(pp[28].id, -1);

	for (size_t t = 0; t < sizeof(targeted) / sizeof(targeted[0]); t++)
		check_subject(pf, s, re, pp, m, targeted[t], strlen(targeted[t]));
	/* generated subjects over an alphabet the patterns care about */
	static const char alpha[] = "abcdefinoqrswxyzABCEFINORW0123456789 .@:\n\t-";
	unsigned long long x = 88172645463325252ULL;
	char subj[64];
	for (int n = 0; n < 20000; n++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t len = x % 24;
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			subj[k] = alpha[x % (sizeof(alpha) - 1)];
		}
		check_subject(pf, s, re, pp, m, subj, len);
	}
	/* and it does rule things out: "zzz" cannot hold /invoice/ */
	uint8_t bits[16] = { 0 };
	assert_int_equal(mp_prefilter_scan(pf, s, 0, "zzz", 3, bits), 0);
	assert_false((bits[pp[0].id >> 3] >> (pp[0].id & 7)) & 1);
	assert_true((bits[pp[15].id >> 3] >> (pp[15].id & 7)) & 1); /* q* matches anything */
	/* values outside ASCII are not scanned: everything stays possible */
	memset(bits, 0, sizeof(bits));
	assert_int_equal(mp_prefilter_scan(pf, s, 0, "caf\xc3\xa9", 5, bits), -1);
	mp_matcher_free(m);
	mp_pf_scratch_free(s);
	mp_prefilter_free(pf);
	for (size_t i = 0; i < N_PATS; i++)
		mp_regex_free(re[i]);
}

static void test_keys_and_nothing_taken(void **state)
{
	struct mp_pf_pattern pp[] = {
		{ 1, "alpha", 5, 0, -1 },
		{ 0, "caf\xc3\xa9", 5, 0, -1 },
	};
	struct mp_prefilter *pf = mp_prefilter_build(pp, 2, 2);
	assert_non_null(pf);
	assert_true(mp_prefilter_has_key(pf, 1));
	assert_false(mp_prefilter_has_key(pf, 0));
	assert_int_equal(pp[1].id, -1);
	struct mp_pf_scratch *s = mp_pf_scratch_new(pf);
	uint8_t bits[1] = { 0 };
	/* a key without a database is not scanned */
	assert_int_equal(mp_prefilter_scan(pf, s, 0, "x", 1, bits), -1);
	assert_int_equal(mp_prefilter_scan(pf, s, 1, "xalphax", 7, bits), 0);
	assert_int_equal(bits[0], 1);
	mp_pf_scratch_free(s);
	mp_prefilter_free(pf);
	/* nothing to take: no prefilter at all */
	struct mp_pf_pattern none[] = { { 0, "\xc3\xa9", 2, 0, -1 } };
	assert_null(mp_prefilter_build(none, 1, 1));
	assert_int_equal(none[0].id, -1);
}

static void build_both(struct mp_pf_pattern *here, struct mp_pf_pattern *there,
		       struct mp_prefilter **pf_here, struct mp_prefilter **pf_there)
{
	for (size_t i = 0; i < N_PATS; i++)
		here[i] = there[i] =
			(struct mp_pf_pattern){ i % 3, pats[i].src, strlen(pats[i].src), pats[i].flags, -1 };
	mp_prefilter_set_helper(NULL);
	*pf_here = mp_prefilter_build(here, N_PATS, 3);
	mp_prefilter_set_helper(MP_BIN_PATH);
	*pf_there = mp_prefilter_build(there, N_PATS, 3);
}

/* The helper's build is the same build: ids, keys and scan bits. */
static void test_helper_same(void **state)
{
	struct mp_pf_pattern here[N_PATS], there[N_PATS];
	struct mp_prefilter *a, *b;

	(void)state;
	unsigned long n0 = mp_prefilter_helper_builds();
	build_both(here, there, &a, &b);
	assert_non_null(a);
	assert_non_null(b);
	/* b came from the helper, not from a fallback */
	assert_int_equal(mp_prefilter_helper_builds() - n0, 1);
	assert_int_equal(mp_prefilter_n_ids(a), mp_prefilter_n_ids(b));
	for (size_t i = 0; i < N_PATS; i++)
		assert_int_equal(here[i].id, there[i].id);
	/* "a(?R)?b" is rejected by Vectorscan and dropped by both */
	assert_int_equal(there[28].id, -1);
	struct mp_pf_scratch *sa = mp_pf_scratch_new(a), *sb = mp_pf_scratch_new(b);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(mp_prefilter_has_key(a, k), mp_prefilter_has_key(b, k));
		for (size_t t = 0; t < sizeof(targeted) / sizeof(targeted[0]); t++) {
			uint8_t ba[16] = { 0 }, bb[16] = { 0 };
			const char *v = targeted[t];
			assert_int_equal(mp_prefilter_scan(a, sa, k, v, strlen(v), ba),
					 mp_prefilter_scan(b, sb, k, v, strlen(v), bb));
			assert_memory_equal(ba, bb, sizeof(ba));
		}
	}
	mp_pf_scratch_free(sa);
	mp_pf_scratch_free(sb);
	mp_prefilter_free(a);
	mp_prefilter_free(b);
}

/* A helper that is not there, fails, or answers nonsense: the build
 * falls back to compiling here, with the same result. */
static void test_helper_fails(void **state)
{
	static const char *const helpers[] = { "/nonexistent/milter-policy", "/bin/false",
					       "/bin/echo", "/bin/true" };
	(void)state;
	unsigned long n0 = mp_prefilter_helper_builds();
	for (size_t h = 0; h < sizeof(helpers) / sizeof(helpers[0]); h++) {
		struct mp_pf_pattern here[N_PATS], there[N_PATS];
		for (size_t i = 0; i < N_PATS; i++)
			here[i] = there[i] = (struct mp_pf_pattern){ 0, pats[i].src,
								     strlen(pats[i].src),
								     pats[i].flags, -1 };
		mp_prefilter_set_helper(NULL);
		struct mp_prefilter *a = mp_prefilter_build(here, N_PATS, 1);
		mp_prefilter_set_helper(helpers[h]);
		struct mp_prefilter *b = mp_prefilter_build(there, N_PATS, 1);
		assert_non_null(a);
		assert_non_null(b);
		for (size_t i = 0; i < N_PATS; i++)
			assert_int_equal(here[i].id, there[i].id);
		mp_prefilter_free(a);
		mp_prefilter_free(b);
	}
	assert_int_equal(mp_prefilter_helper_builds(), n0);
	mp_prefilter_set_helper(NULL);
}

static int use_helper(void **state)
{
	(void)state;
	mp_prefilter_set_helper(MP_BIN_PATH);
	return 0;
}

static int no_helper(void **state)
{
	(void)state;
	mp_prefilter_set_helper(NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_false_negatives),
		cmocka_unit_test(test_keys_and_nothing_taken),
	};
	const struct CMUnitTest helper[] = {
		cmocka_unit_test(test_helper_same),
		cmocka_unit_test(test_helper_fails),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("through the helper", tests, use_helper, no_helper);
	return failed + cmocka_run_group_tests_name("helper", helper, NULL, no_helper);
}
