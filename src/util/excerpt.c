/*
 * excerpt - prints diagnostics for a person at a terminal: each
 * "FILE:LINE:COL: message" followed by the source line it points at and a
 * caret under the column, as compilers do.
 *
 * The files are read again at print time (the loaders do not keep their
 * text); a file that cannot be read, or has changed so that the line is gone,
 * just gets no excerpt. One file is held at a time, with an index of its
 * line starts, so a file with many errors is read once. Bytes that could
 * drive a terminal (controls other than tab, DEL) are shown as '?'.
 */
#include "util/diag.h"
#include "util/file.h"

#include <stdlib.h>
#include <string.h>

#define EXCERPT_MAX_FILE (16u << 20)
#define EXCERPT_WIDTH 160 /* bytes of a long line shown around the column */

struct src {
	char *path;
	char *text;
	size_t len;
	size_t *starts; /* starts[i]: offset of line i + 1 */
	size_t n_lines;
};

static void src_clear(struct src *s)
{
	free(s->path);
	free(s->text);
	free(s->starts);
	memset(s, 0, sizeof(*s));
}

/* Loads path into s unless it is already there; false when unreadable. */
static bool src_load(struct src *s, const char *path)
{
	if (s->path != NULL && strcmp(s->path, path) == 0)
		return s->text != NULL;
	src_clear(s);
	s->path = strdup(path);
	if (s->path == NULL)
		return false;
	s->text = mp_read_file(path, EXCERPT_MAX_FILE, &s->len);
	if (s->text == NULL)
		return false;
	size_t n = 1;
	for (size_t i = 0; i < s->len; i++)
		n += s->text[i] == '\n';
	s->starts = malloc(n * sizeof(*s->starts));
	if (s->starts == NULL) {
		free(s->text);
		s->text = NULL;
		return false;
	}
	s->starts[s->n_lines++] = 0;
	for (size_t i = 0; i < s->len; i++)
		if (s->text[i] == '\n')
			s->starts[s->n_lines++] = i + 1;
	return true;
}

static bool shown_raw(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void excerpt(FILE *out, const struct src *s, int line, int col)
{
	if (line < 1 || (size_t)line > s->n_lines)
		return;
	const char *p = s->text + s->starts[line - 1];
	size_t n = (size_t)(s->text + s->len - p);
	const char *nl = memchr(p, '\n', n);
	if (nl != NULL)
		n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (col < 0 || (size_t)col > n + 1)
		return; /* the file changed since it was loaded */
	size_t from = 0, at = col > 0 ? (size_t)col - 1 : 0;
	if (n > EXCERPT_WIDTH) {
		from = at > EXCERPT_WIDTH / 2 ? at - EXCERPT_WIDTH / 2 : 0;
		if (n - from > EXCERPT_WIDTH)
			n = from + EXCERPT_WIDTH;
	}
	fprintf(out, "%5d | %s", line, from > 0 ? "..." : "");
	for (size_t i = from; i < n; i++)
		fputc(shown_raw((unsigned char)p[i]) ? p[i] : '?', out);
	fputc('\n', out);
	if (col <= 0)
		return;
	/* the caret line copies tabs so that it lines up, and counts a UTF-8
	 * character once */
	fprintf(out, "      | %s", from > 0 ? "   " : "");
	for (size_t i = from; i < at && i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\t')
			fputc('\t', out);
		else if ((c & 0xc0) != 0x80)
			fputc(' ', out);
	}
	fputs("^\n", out);
}

void mp_diags_print_source(const struct mp_diags *d, FILE *out)
{
	struct src s;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < d->n; i++) {
		const struct mp_diag *g = &d->v[i];
		struct mp_diags one = { .v = (struct mp_diag *)g, .n = 1 };

		mp_diags_print(&one, out);
		if (g->line > 0 && src_load(&s, g->file))
			excerpt(out, &s, g->line, g->col);
	}
	src_clear(&s);
	struct mp_diags rest = { .dropped = d->dropped, .oom = d->oom };
	mp_diags_print(&rest, out);
}
