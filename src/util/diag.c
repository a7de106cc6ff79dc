/*
 * diag - the error record; see diag.h.
 */
#include "util/diag.h"

#include "util/buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_DEFAULT_LIMIT 1000

void mp_diags_init(struct mp_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void mp_diags_free(struct mp_diags *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	mp_diags_init(d);
}

static bool same(const struct mp_diag *a, const char *file, int line, int col,
		 const char *msg)
{
	return a->line == line && a->col == col && strcmp(a->msg, msg) == 0 &&
	       strcmp(a->file, file) == 0;
}

void mp_diags_add(struct mp_diags *d, const char *file, int line, int col,
		  const char *fmt, ...)
{
	struct mp_buf b;
	va_list ap;
	size_t limit = d->limit ? d->limit : DIAG_DEFAULT_LIMIT;

	if (file == NULL)
		file = "(unknown)";
	mp_buf_init(&b);
	va_start(ap, fmt);
	mp_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *msg = mp_buf_steal(&b);
	if (msg == NULL) {
		d->oom = true;
		return;
	}
	/* messages quote rule, list and configuration text: nothing in them
	 * may drive a terminal or split a log line */
	for (char *p = msg; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	for (size_t i = 0; i < d->n; i++) {
		if (same(&d->v[i], file, line, col, msg)) {
			free(msg);
			return;
		}
	}
	if (d->n >= limit) {
		d->dropped++;
		free(msg);
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct mp_diag *v = realloc(d->v, cap * sizeof(*v));
		if (v == NULL) {
			d->oom = true;
			free(msg);
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	char *f = strdup(file);
	if (f == NULL) {
		d->oom = true;
		free(msg);
		return;
	}
	d->v[d->n++] = (struct mp_diag){ f, line, col, msg };
}

struct sortkey {
	size_t rank, i;  /* the file's first appearance; the entry's place */
	const struct mp_diag *g;
};

static int cmp_key(const void *x, const void *y)
{
	const struct sortkey *a = x, *b = y;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->g->line != b->g->line)
		return a->g->line < b->g->line ? -1 : 1;
	if (a->g->col != b->g->col)
		return a->g->col < b->g->col ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

void mp_diags_sort(struct mp_diags *d, size_t from)
{
	if (from >= d->n || d->n - from < 2)
		return;
	size_t n = d->n - from;
	struct sortkey *k = malloc(n * sizeof(*k));
	struct mp_diag *v = malloc(n * sizeof(*v));
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return; /* left in the order found */
	}
	for (size_t i = 0; i < n; i++) {
		const struct mp_diag *g = &d->v[from + i];
		k[i] = (struct sortkey){ i, i, g };
		for (size_t j = 0; j < i; j++) {
			if (strcmp(k[j].g->file, g->file) == 0) {
				k[i].rank = k[j].rank;
				break;
			}
		}
	}
	qsort(k, n, sizeof(*k), cmp_key);
	for (size_t i = 0; i < n; i++)
		v[i] = *k[i].g;
	memcpy(&d->v[from], v, n * sizeof(*v));
	free(k);
	free(v);
}

size_t mp_diags_count(const struct mp_diags *d)
{
	return d->n + d->dropped + (d->oom ? 1 : 0);
}

void mp_diag_where(const struct mp_diag *g, char *buf, size_t size)
{
	if (g->line > 0 && g->col > 0)
		snprintf(buf, size, "%s:%d:%d", g->file, g->line, g->col);
	else if (g->line > 0)
		snprintf(buf, size, "%s:%d", g->file, g->line);
	else
		snprintf(buf, size, "%s", g->file);
}

void mp_diags_print(const struct mp_diags *d, FILE *out)
{
	char where[4200];

	for (size_t i = 0; i < d->n; i++) {
		mp_diag_where(&d->v[i], where, sizeof(where));
		fprintf(out, "%s: %s\n", where, d->v[i].msg);
	}
	if (d->dropped > 0)
		fprintf(out, "(%zu more errors not shown)\n", d->dropped);
	if (d->oom)
		fprintf(out, "out of memory while collecting errors\n");
}
