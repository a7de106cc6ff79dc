/*
 * diag - the error record: diagnostics collected as FILE:LINE:COL: message.
 *
 * Loaders add every error they find and keep going; the caller decides what a
 * non-empty record means. Identical diagnostics (a file included by several
 * policies) are kept once. After `limit` entries further ones are counted,
 * not stored. Control characters in a message become '?'. The record owns
 * its strings; mp_diags_free releases them.
 */
#ifndef MP_DIAG_H
#define MP_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct mp_diag {
	char *file;
	int line, col;
	char *msg;
};

struct mp_diags {
	struct mp_diag *v;
	size_t n, cap;
	size_t limit;   /* 0: the default (1000) */
	size_t dropped; /* past the limit */
	bool oom;
};

void mp_diags_init(struct mp_diags *d);
void mp_diags_free(struct mp_diags *d);
void mp_diags_add(struct mp_diags *d, const char *file, int line, int col,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t mp_diags_count(const struct mp_diags *d);
/* Orders the entries from index from on by file (in the order the files
 * first appear), then line and column; entries at one place keep their
 * order. */
void mp_diags_sort(struct mp_diags *d, size_t from);
/* "FILE:LINE:COL", "FILE:LINE" or "FILE", as much as the diagnostic knows. */
void mp_diag_where(const struct mp_diag *g, char *buf, size_t size);
/* Prints "FILE:LINE:COL: message" lines (LINE:COL left out when 0). */
void mp_diags_print(const struct mp_diags *d, FILE *out);
/* The same, each followed by the source line and a caret under the column
 * (for a person at a terminal; excerpt.c). */
void mp_diags_print_source(const struct mp_diags *d, FILE *out);

#endif
