/*
 * suggest - closest candidate by edit distance; see suggest.h.
 */
#include "util/suggest.h"

#include <string.h>

#define MAX_WORD 64

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance of a and b (both at most MAX_WORD). */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t d[MAX_WORD + 1][MAX_WORD + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *mp_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t lw = strlen(word), best_d = 3;
	const char *best = NULL;

	if (lw == 0 || lw > MAX_WORD)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lc = strlen(cands[i]);
		if (lc > MAX_WORD || (lc > lw ? lc - lw : lw - lc) >= best_d)
			continue;
		size_t dist = distance(word, lw, cands[i], lc);
		if (dist > 0 && dist < best_d && dist * 2 < lw) {
			best_d = dist;
			best = cands[i];
		}
	}
	return best;
}
