/*
 * loader - what the parser hands the rule set under construction while it
 * reads a file: regexes and lists to keep (and free with the set), list
 * declarations (one namespace for the directory), files to watch.
 */
#include "rules/loader.h"

#include "match/lists.h"
#include "rules/stamps.h"
#include "util/diag.h"

#include <stdlib.h>
#include <string.h>

int mp_vec_push(struct vec *v, void *p)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void **nv = realloc(v->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = p;
	return 0;
}


int mp_loader_keep_regex(struct mp_loader *ld, struct mp_regex *re)
{
	return mp_vec_push(&ld->rs->regexes, re);
}

int mp_loader_keep_list(struct mp_loader *ld, struct mp_list *l)
{
	return mp_vec_push(&ld->rs->lists, l);
}

int mp_loader_add_list(struct mp_loader *ld, struct mp_list *l, const char *file, int line,
		       int col)
{
	struct mp_list_decl *decl = mp_arena_alloc(ld->arena, sizeof(*decl));
	void *old;

	if (decl == NULL) {
		mp_diags_add(ld->diags, file, line, col, "out of memory");
		return -1;
	}
	*decl = (struct mp_list_decl){ l, file, line, col };
	const char *name = mp_list_name(l);
	int rc = mp_strmap_put(&ld->lists, name, strlen(name), decl, &old);
	if (rc == 1) {
		struct mp_list_decl *o = old;
		mp_diags_add(ld->diags, file, line, col, "list '%s' is already defined at %s:%d",
			     name, o->file, o->line);
		return -1;
	}
	if (rc < 0) {
		mp_diags_add(ld->diags, file, line, col, "out of memory");
		return -1;
	}
	ld->rs->n_named_lists++;
	return 0;
}

void mp_loader_stamp(struct mp_loader *ld, const char *path)
{
	if (ld->rs->stamps != NULL)
		mp_stamps_add(ld->rs->stamps, path);
}
