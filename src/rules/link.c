/*
 * link - linking each policy: its file with
 * includes expanded in place (cycles and depth checked, a file reached a
 * second time in one policy linked once), rule names unique per policy,
 * and the rules indexed by the stage they can first decide at.
 */
#include "rules/loader.h"
#include "rules/link.h"
#include "rules/pipeline.h"

#include "util/diag.h"
#include "util/file.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 32

struct linkstate {
	struct mp_loader *ld;
	struct vec *order;
	struct mp_policy *pol;
	struct vec rules, ths;
	struct mp_strmap names;  /* rule name -> rule */
	unsigned gen;            /* this policy's number: files linked into it carry it */
};

static void link_file(struct linkstate *ls, struct mp_rfile *rf, int depth)
{
	struct mp_loader *ld = ls->ld;

	rf->linking = true;
	rf->linked_in = ls->gen;
	for (size_t i = 0; i < rf->n_items; i++) {
		struct mp_item *it = &rf->items[i];
		if (it->kind == MP_ITEM_RULE) {
			void *old;
			const char *name = it->rule->name;
			int rc = mp_strmap_put(&ls->names, name, strlen(name), it->rule, &old);
			if (rc == 1) {
				const struct mp_rule *o = old;
				mp_diags_add(ld->diags, rf->path, it->line, it->col,
					     "duplicate rule name '%s' in policy %s (also at %s:%d)",
					     name, ls->pol->name, o->file, o->line);
			} else if (rc < 0 || mp_vec_push(&ls->rules, it->rule) < 0) {
				mp_diags_add(ld->diags, rf->path, it->line, it->col, "out of memory");
			}
		} else if (it->kind == MP_ITEM_THRESHOLD) {
			if (mp_vec_push(&ls->ths, it->th) < 0)
				mp_diags_add(ld->diags, rf->path, it->line, it->col, "out of memory");
		} else {
			char *path = mp_path_join(ld->dir, it->include);
			if (path == NULL) {
				mp_diags_add(ld->diags, rf->path, it->line, it->col, "out of memory");
				continue;
			}
			void *found = NULL;
			if (mp_strmap_get(&ld->files, path, &found) &&
			    ((struct mp_rfile *)found)->linking) {
				mp_diags_add(ld->diags, rf->path, it->line, it->col,
					     "include cycle: %s is already being included", it->include);
			} else if (found != NULL && ((struct mp_rfile *)found)->linked_in == ls->gen) {
				/* included before into this policy (a diamond): its rules
				 * are in already, and walking it again could take
				 * exponential time */
			} else if (depth >= MAX_INCLUDE_DEPTH) {
				mp_diags_add(ld->diags, rf->path, it->line, it->col,
					     "includes nested more than %d deep", MAX_INCLUDE_DEPTH);
			} else {
				struct mp_rfile *inc = mp_load_file(ld, ls->order, it->include, path);
				if (inc == NULL)
					mp_diags_add(ld->diags, rf->path, it->line, it->col,
						     "cannot read included file %s%s: %s", it->include,
						     mp_file_as(), errno == EFBIG ? "file too large"
										  : strerror(errno));
				else
					link_file(ls, inc, depth + 1);
			}
			free(path);
		}
	}
	rf->linking = false;
}

/* The first stage rule i of pol can be decided at. */
static enum mp_stage first_stage(const struct mp_policy *pol, size_t i)
{
	enum mp_stage s = (enum mp_stage)pol->rules[i]->min_stage;

	return i >= pol->n_global && s < MP_STAGE_RCPT ? MP_STAGE_RCPT : s;
}

static void index_stages(struct mp_loader *ld, struct mp_policy *pol)
{
	for (int s = 0; s < MP_STAGE_COUNT; s++) {
		size_t n = 0;
		for (size_t i = 0; i < pol->n_rules; i++)
			n += first_stage(pol, i) == (enum mp_stage)s;
		uint32_t *v = n ? mp_arena_alloc(ld->arena, n * sizeof(*v)) : NULL;
		if (n && v == NULL) {
			mp_diags_add(ld->diags, pol->file ? pol->file : "global.rules", 0, 0, "out of memory");
			return;
		}
		n = 0;
		for (size_t i = 0; i < pol->n_rules; i++)
			if (first_stage(pol, i) == (enum mp_stage)s)
				v[n++] = (uint32_t)i;
		pol->by_stage[s] = v;
		pol->n_by_stage[s] = n;
	}
	for (size_t i = 0; i < pol->n_rules; i++)
		if (pol->rules[i]->dry_run && first_stage(pol, i) <= MP_STAGE_HELO)
			pol->dry_run_early = true;
}

/* Adds the rates e reads to v (each once: seen by id). */
static void collect_rates(const struct mp_expr *e, uint8_t *seen, struct vec *v, bool *oom)
{
	if (e == NULL)
		return;
	if (e->kind == MP_E_TEST) {
		if (e->rate != NULL && !seen[e->rate->id]) {
			seen[e->rate->id] = 1;
			if (mp_vec_push(v, (void *)e->rate) < 0)
				*oom = true;
		}
		return;
	}
	collect_rates(e->a, seen, v, oom);
	collect_rates(e->b, seen, v, oom);
}

/* The rates pol's rules read, in rule order. */
static void index_rates(struct mp_loader *ld, struct mp_policy *pol)
{
	size_t n = ld->rs->n_rates;
	struct vec v = { 0 };
	bool oom = false;

	if (n == 0)
		return;
	uint8_t *seen = calloc(n, 1);
	if (seen == NULL)
		oom = true;
	for (size_t i = 0; seen != NULL && i < pol->n_rules; i++)
		collect_rates(pol->rules[i]->when, seen, &v, &oom);
	free(seen);
	if (!oom && v.n > 0 &&
	    (pol->rates = mp_arena_memdup(ld->arena, v.v, v.n * sizeof(void *))) == NULL)
		oom = true;
	pol->n_rates = oom ? 0 : v.n;
	free(v.v);
	if (oom)
		mp_diags_add(ld->diags, pol->file ? pol->file : "global.rules", 0, 0, "out of memory");
}

/* Builds pol from the global rules (base, may be NULL) and file rf. */
void mp_link_policy(struct mp_loader *ld, struct vec *order, struct mp_policy *pol,
			const struct mp_policy *base, struct mp_rfile *rf)
{
	struct linkstate ls = { .ld = ld, .order = order, .pol = pol, .gen = ++ld->link_gen };

	mp_strmap_init(&ls.names);
	if (base != NULL) {
		for (size_t i = 0; i < base->n_rules; i++) {
			const char *name = base->rules[i]->name;
			if (mp_strmap_put(&ls.names, name, strlen(name), (void *)base->rules[i], NULL) < 0 ||
			    mp_vec_push(&ls.rules, (void *)base->rules[i]) < 0)
				mp_diags_add(ld->diags, rf->path, 0, 0, "out of memory");
		}
		for (size_t i = 0; i < base->n_thresholds; i++)
			if (mp_vec_push(&ls.ths, (void *)base->thresholds[i]) < 0)
				mp_diags_add(ld->diags, rf->path, 0, 0, "out of memory");
	}
	if (rf != NULL)
		link_file(&ls, rf, 0);
	pol->n_global = base ? base->n_rules : ls.rules.n;
	pol->rules = mp_arena_memdup(ld->arena, ls.rules.v, ls.rules.n * sizeof(void *));
	pol->n_rules = ls.rules.n;
	pol->thresholds = mp_arena_memdup(ld->arena, ls.ths.v, ls.ths.n * sizeof(void *));
	pol->n_thresholds = ls.ths.n;
	for (size_t i = 0; i < pol->n_rules; i++)
		pol->need |= pol->rules[i]->need;
	index_stages(ld, pol);
	index_rates(ld, pol);
	free(ls.rules.v);
	free(ls.ths.v);
	mp_strmap_free(&ls.names);
}
