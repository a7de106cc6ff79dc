/*
 * loader - helpers every stage of loading uses: a growable pointer array,
 * the files the daemon watches for changes.
 */
#include "rules/loader.h"

#include "rules/stamps.h"

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

void mp_loader_stamp(struct mp_loader *ld, const char *path)
{
	if (ld->rs->stamps != NULL)
		mp_stamps_add(ld->rs->stamps, path);
}
