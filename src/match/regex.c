/*
 * regex - PCRE2 glue; see regex.h.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "match/regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mp_regex {
	pcre2_code *code;
	char *pattern;
	unsigned flags;
};

#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (1024 * 1024)
#define HEAP_LIMIT_KIB (16 * 1024)

struct mp_matcher {
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *jit_stack;  /* made when the default 32 KiB one runs out */
	unsigned limit_hits;
};

struct mp_regex *mp_regex_compile(const char *pattern, size_t len, unsigned flags,
				  char *err, size_t errlen, size_t *offset_r)
{
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	int code;
	PCRE2_SIZE off;

	if (flags & MP_RE_I)
		opts |= PCRE2_CASELESS;
	if (flags & MP_RE_M)
		opts |= PCRE2_MULTILINE;
	if (flags & MP_RE_S)
		opts |= PCRE2_DOTALL;
	if (flags & MP_RE_X)
		opts |= PCRE2_EXTENDED;
	struct mp_regex *re = calloc(1, sizeof(*re));
	if (re == NULL) {
		snprintf(err, errlen, "out of memory");
		*offset_r = 0;
		return NULL;
	}
	re->code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &code, &off, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(code, (PCRE2_UCHAR *)err, errlen);
		*offset_r = off;
		free(re);
		return NULL;
	}
	/* JIT is an optimisation: without it (no executable memory) we still match */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->pattern = strndup(pattern, len);
	re->flags = flags;
	if (re->pattern == NULL) {
		mp_regex_free(re);
		snprintf(err, errlen, "out of memory");
		*offset_r = 0;
		return NULL;
	}
	return re;
}

void mp_regex_free(struct mp_regex *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

const char *mp_regex_pattern(const struct mp_regex *re)
{
	return re->pattern;
}

unsigned mp_regex_flags(const struct mp_regex *re)
{
	return re->flags;
}

struct mp_matcher *mp_matcher_new(unsigned long match_limit)
{
	struct mp_matcher *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->md = pcre2_match_data_create(1, NULL);
	m->mc = pcre2_match_context_create(NULL);
	if (m->md == NULL || m->mc == NULL) {
		mp_matcher_free(m);
		return NULL;
	}
	pcre2_set_match_limit(m->mc, (uint32_t)match_limit);
	/* depth limit bounds backtracking memory the same way */
	pcre2_set_depth_limit(m->mc, (uint32_t)match_limit);
	pcre2_set_heap_limit(m->mc, HEAP_LIMIT_KIB);
	return m;
}

void mp_matcher_free(struct mp_matcher *m)
{
	if (m == NULL)
		return;
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mc);
	pcre2_jit_stack_free(m->jit_stack);
	free(m);
}

int mp_regex_match(struct mp_matcher *m, const struct mp_regex *re,
		   const char *subject, size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, m->md, m->mc);

	if (rc == PCRE2_ERROR_JIT_STACKLIMIT && m->jit_stack == NULL) {
		/* the default JIT stack is 32 KiB: give this matcher a larger one */
		m->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
		if (m->jit_stack != NULL) {
			pcre2_jit_stack_assign(m->mc, NULL, m->jit_stack);
			rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, m->md, m->mc);
		}
	}
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		/* still too deep for JIT: the interpreter keeps its frames on the
		 * heap, under the match, depth and heap limits */
		rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_JIT, m->md, m->mc);
		if (rc == PCRE2_ERROR_HEAPLIMIT) {
			m->limit_hits++;
			return MP_RE_JIT_STACK;
		}
	}
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	m->limit_hits++;
	return MP_RE_LIMIT;
}

unsigned mp_matcher_limit_hits(const struct mp_matcher *m)
{
	return m->limit_hits;
}
