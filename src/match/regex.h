/*
 * regex - PCRE2 patterns of the rule language.
 *
 * A struct mp_regex is compiled (and JIT-compiled where the CPU allows) once
 * at load time and shared read-only. Matching needs a struct mp_matcher,
 * which holds the per-transaction match data and the match limit; never share
 * one between threads. Patterns are UTF-8 with PCRE2_MATCH_INVALID_UTF, so
 * raw 8-bit subjects match instead of failing.
 */
#ifndef MP_REGEX_H
#define MP_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_regex;
struct mp_matcher;

enum mp_re_flag { MP_RE_I = 1, MP_RE_M = 2, MP_RE_S = 4, MP_RE_X = 8 };

/* Returns NULL and fills err (PCRE2's message) and *offset_r on error. */
struct mp_regex *mp_regex_compile(const char *pattern, size_t len, unsigned flags,
				  char *err, size_t errlen, size_t *offset_r);
void mp_regex_free(struct mp_regex *re);
const char *mp_regex_pattern(const struct mp_regex *re);
unsigned mp_regex_flags(const struct mp_regex *re);

struct mp_matcher *mp_matcher_new(unsigned long match_limit);
void mp_matcher_free(struct mp_matcher *m);
enum { MP_RE_LIMIT = -1, MP_RE_JIT_STACK = -2 };
/* 1 match, 0 no match, MP_RE_LIMIT when the match limit (or another
 * matching error) was hit, MP_RE_JIT_STACK when the pattern was too deep
 * for JIT's largest stack and for the interpreter's heap limit: either
 * way the subject was not fully examined (a limit, SPEC §8). A JIT stack
 * that runs out first grows to 1 MiB, then the interpreter tries. */
int mp_regex_match(struct mp_matcher *m, const struct mp_regex *re,
		   const char *subject, size_t len);
/* Number of limit hits since the matcher was made. */
unsigned mp_matcher_limit_hits(const struct mp_matcher *m);

#endif
