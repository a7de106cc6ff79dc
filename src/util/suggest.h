/*
 * suggest - "did you mean": the closest of a set of words to a misspelt
 * one, for diagnostics. Nothing is kept.
 */
#ifndef MP_SUGGEST_H
#define MP_SUGGEST_H

#include <stddef.h>

/* The candidate closest to word (ASCII case-insensitive edit distance,
 * a swap of neighbours counting one), if it is close enough to be a typo:
 * at most 2 edits, and fewer than half of word's length. NULL otherwise. */
const char *mp_suggest(const char *word, const char *const *cands, size_t n);

#endif
