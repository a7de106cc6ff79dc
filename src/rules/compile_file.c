/*
 * compile_file - what the checked tests and list declarations of one file
 * need built: each regex compiled, each list (inline, one address or CIDR,
 * a named list and its file) filled and sealed. The regexes and lists are
 * kept by the rule set under construction and freed with it.
 */
#include "rules/loader.h"
#include "rules/compile.h"
#include "rules/syntax.h"

#include "match/lists.h"
#include "match/regex.h"
#include "util/diag.h"
#include "util/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void oom(struct mp_loader *ld, const char *file, int line, int col)
{
	mp_diags_add(ld->diags, file, line, col, "out of memory");
}

/* A new list kept by the rule set; NULL (reported) when out of memory. */
static struct mp_list *new_list(struct mp_loader *ld, const char *name, const char *file,
				int line, int col)
{
	struct mp_list *l = mp_list_new(name);

	if (l == NULL || mp_vec_push(&ld->rs->lists, l) < 0) {
		mp_list_free(l);
		oom(ld, file, line, col);
		return NULL;
	}
	return l;
}

/* Adds items to l; a bad item is reported where it is written. */
static void add_items(struct mp_loader *ld, struct mp_list *l, const char *file,
		      const struct mp_token *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *why;
		if (mp_list_add(l, items[i].s, items[i].len, &why) < 0)
			mp_diags_add(ld->diags, file, items[i].line, items[i].col, "%s", why);
	}
}

static void compile_test(struct mp_loader *ld, const char *file, const struct mp_syn_test *t)
{
	struct mp_expr *e = t->e;
	const struct mp_token *v = &t->val;

	if (e->op == MP_OP_MATCH || e->op == MP_OP_NMATCH) {
		char err[256];
		size_t off;
		e->re = mp_regex_compile(v->s, v->len, v->flags, err, sizeof(err), &off);
		if (e->re == NULL) {
			mp_diags_add(ld->diags, file, v->line, v->col + 1 + (int)off,
				     "bad regex: %s (at offset %zu)", err, off);
		} else if (mp_vec_push(&ld->rs->regexes, e->re) < 0) {
			mp_regex_free(e->re);
			e->re = NULL;
			oom(ld, file, v->line, v->col);
		}
		return;
	}
	if ((e->op != MP_OP_IN && e->op != MP_OP_NIN) || e->list_name != NULL)
		return;
	/* an inline list, or an address or CIDR the checker made one */
	struct mp_list *l = new_list(ld, "", file, v->line, v->col);
	if (l == NULL)
		return;
	if (v->t == T_EOF)
		add_items(ld, l, file, t->items, t->n_items);
	else
		add_items(ld, l, file, v, 1);
	mp_list_finish(l);
	e->list = l;
	/* as for a named list, the items' types are known once it is built */
	if (mp_field_info(e->field)->type == MP_T_IP && mp_list_count_ip(l) != mp_list_count(l))
		mp_diags_add(ld->diags, file, v->line, v->col,
			     "'%s' is an IP address: every item of the list must be an IP or CIDR",
			     mp_field_info(e->field)->name);
}

static void compile_list(struct mp_loader *ld, const char *file, struct mp_syn_stmt *st)
{
	struct mp_list *l = new_list(ld, st->name.s, file, st->kw.line, st->kw.col);

	if (l == NULL)
		return;
	if (st->file.t == T_EOF) {
		add_items(ld, l, file, st->items, st->n_items);
	} else {
		char *path = mp_path_join(ld->dir, st->file.s);
		if (path == NULL) {
			oom(ld, file, st->kw.line, st->kw.col);
			return;
		}
		/* an unreadable file is reported where it is named */
		if (mp_list_load_file(l, ld->dirfd, st->file.s, path, ld->diags) == -2)
			mp_diags_add(ld->diags, file, st->file.line, st->file.col,
				     "cannot read list file %s%s: %s", st->file.s,
				     mp_file_as(), errno == EFBIG ? "file too large" : strerror(errno));
		mp_loader_stamp(ld, path);
		free(path);
	}
	mp_list_finish(l);
	st->decl->list = l;
}

void mp_compile_file(struct mp_loader *ld, struct mp_syn_file *sf)
{
	for (size_t i = 0; i < sf->n_tests; i++)
		if (sf->tests[i]->e != NULL)
			compile_test(ld, sf->path, sf->tests[i]);
	for (size_t i = 0; i < sf->n_stmts; i++)
		if (sf->stmts[i].kind == MP_SYN_LIST && sf->stmts[i].decl != NULL)
			compile_list(ld, sf->path, &sf->stmts[i]);
}
