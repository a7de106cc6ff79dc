/*
 * ruleset - loading a rules directory into policies; see ruleset.h.
 *
 * Loading parses every top-level file, then links each policy by walking
 * its file with includes expanded in place (cycles and depth checked), then
 * resolves list names, which share one namespace across the directory.
 * Everything compiled lives in the rule set's arena; regexes and lists,
 * which own memory of their own, are also kept in vectors for freeing.
 */
#include "rules/ruleset.h"

#include "match/lindex.h"
#include "match/lists.h"
#include "match/prefilter.h"
#include "match/regex.h"
#include "rules/loader.h"
#include "rules/stamps.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/suggest.h"
#include "util/strmap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RULE_FILE_MAX (64u * 1024 * 1024)
#define MAX_INCLUDE_DEPTH 32

struct vec {
	void **v;
	size_t n, cap;
};

struct mp_ruleset {
	atomic_int refs;
	struct mp_arena arena;
	struct mp_settings set;
	char *dir;
	struct mp_policy global;
	struct mp_policy **pols;
	size_t n_pols;
	struct mp_policy *deflt;
	struct mp_strmap domains;
	struct vec regexes, lists;
	size_t n_named_lists, n_rules;
	struct mp_stamps *stamps;
	char **top;          /* top-level file names, sorted */
	size_t n_top;
	struct mp_strmap hkeys;  /* lowercased header name -> id + 1 */
	struct mp_strmap used;   /* lowercased header names a transaction indexes: those
				  * the rules test or remove, and those results read */
	size_t n_hkeys;
	struct mp_prefilter *pf;
	struct mp_lindex *lindex[MP_F_COUNT]; /* per envelope field, or NULL */
	size_t n_vids;
};

static int vec_push(struct vec *v, void *p)
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

static void ruleset_free(struct mp_ruleset *rs)
{
	mp_prefilter_free(rs->pf);
	for (int f = 0; f < MP_F_COUNT; f++)
		mp_lindex_free(rs->lindex[f]);
	mp_strmap_free(&rs->hkeys);
	mp_strmap_free(&rs->used);
	for (size_t i = 0; i < rs->regexes.n; i++)
		mp_regex_free(rs->regexes.v[i]);
	for (size_t i = 0; i < rs->lists.n; i++)
		mp_list_free(rs->lists.v[i]);
	free(rs->regexes.v);
	free(rs->lists.v);
	mp_stamps_free(rs->stamps);
	mp_stamps_free_names(rs->top, rs->n_top);
	mp_strmap_free(&rs->domains);
	free(rs->pols);
	free(rs->dir);
	mp_arena_release(&rs->arena);
	free(rs);
}

struct mp_ruleset *mp_ruleset_ref(struct mp_ruleset *rs)
{
	if (rs != NULL)
		atomic_fetch_add(&rs->refs, 1);
	return rs;
}

void mp_ruleset_unref(struct mp_ruleset *rs)
{
	if (rs != NULL && atomic_fetch_sub(&rs->refs, 1) == 1)
		ruleset_free(rs);
}

/* ---- loader callbacks ------------------------------------------------- */

int mp_loader_keep_regex(struct mp_loader *ld, struct mp_regex *re)
{
	return vec_push(&ld->rs->regexes, re);
}

int mp_loader_keep_list(struct mp_loader *ld, struct mp_list *l)
{
	return vec_push(&ld->rs->lists, l);
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

/* ---- files ------------------------------------------------------------ */

/* Reads and parses a file once; NULL (errno set) when it cannot be read. */
static struct mp_rfile *load_file(struct mp_loader *ld, struct vec *order, const char *path)
{
	void *found;
	size_t len;

	if (mp_strmap_get(&ld->files, path, &found))
		return found;
	mp_loader_stamp(ld, path);
	char *text = mp_read_file(path, RULE_FILE_MAX, &len);
	if (text == NULL)
		return NULL;
	struct mp_rfile *rf = mp_parse_file(ld, path, text, len);
	free(text);
	if (rf == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (mp_strmap_put(&ld->files, rf->path, strlen(rf->path), rf, NULL) < 0 ||
	    vec_push(order, rf) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return rf;
}

/* ---- linking policies ------------------------------------------------- */

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
			} else if (rc < 0 || vec_push(&ls->rules, it->rule) < 0) {
				mp_diags_add(ld->diags, rf->path, it->line, it->col, "out of memory");
			}
		} else if (it->kind == MP_ITEM_THRESHOLD) {
			if (vec_push(&ls->ths, it->th) < 0)
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
				struct mp_rfile *inc = load_file(ld, ls->order, path);
				if (inc == NULL)
					mp_diags_add(ld->diags, rf->path, it->line, it->col,
						     "cannot read included file %s: %s", it->include,
						     errno == EFBIG ? "file too large" : strerror(errno));
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

/* Builds pol from the global rules (base, may be NULL) and file rf. */
static void link_policy(struct mp_loader *ld, struct vec *order, struct mp_policy *pol,
			const struct mp_policy *base, struct mp_rfile *rf)
{
	struct linkstate ls = { .ld = ld, .order = order, .pol = pol, .gen = ++ld->link_gen };

	mp_strmap_init(&ls.names);
	if (base != NULL) {
		for (size_t i = 0; i < base->n_rules; i++) {
			const char *name = base->rules[i]->name;
			if (mp_strmap_put(&ls.names, name, strlen(name), (void *)base->rules[i], NULL) < 0 ||
			    vec_push(&ls.rules, (void *)base->rules[i]) < 0)
				mp_diags_add(ld->diags, rf->path, 0, 0, "out of memory");
		}
		for (size_t i = 0; i < base->n_thresholds; i++)
			if (vec_push(&ls.ths, (void *)base->thresholds[i]) < 0)
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
	free(ls.rules.v);
	free(ls.ths.v);
	mp_strmap_free(&ls.names);
}

/* ---- header keys, the regex prefilter, the value index -------------------- */

/* Single-valued fields known by MAIL FROM whose tests the value index and
 * the prefilter answer (besides header regexes). */
static const enum mp_field_id env_fields[] = {
	MP_F_CLIENT_IP, MP_F_CLIENT_NAME, MP_F_HELO, MP_F_MAIL_FROM, MP_F_MAIL_FROM_LOCAL,
	MP_F_MAIL_FROM_DOMAIN, MP_F_AUTH_USER, MP_F_SPF_DOMAIN,
};
#define N_ENV_FIELDS (sizeof(env_fields) / sizeof(env_fields[0]))

static int env_slot(enum mp_field_id f)
{
	for (size_t i = 0; i < N_ENV_FIELDS; i++)
		if (env_fields[i] == f)
			return (int)i;
	return -1;
}

struct hwalk {
	struct mp_loader *ld;
	struct vec regexes;         /* tests for the prefilter */
	bool prefilter;
};

static void oom(struct mp_loader *ld)
{
	mp_diags_add(ld->diags, ld->dir, 0, 0, "out of memory");
}

/* The value index of field f, made on first use. */
static struct mp_lindex *lindex_of(struct mp_ruleset *rs, enum mp_field_id f)
{
	if (rs->lindex[f] == NULL)
		rs->lindex[f] = mp_lindex_new();
	return rs->lindex[f];
}

static void walk_expr(struct hwalk *w, struct mp_expr *e)
{
	struct mp_ruleset *rs = w->ld->rs;

	if (e == NULL)
		return;
	if (e->kind != MP_E_TEST) {
		walk_expr(w, e->a);
		walk_expr(w, e->b);
		return;
	}
	e->hid = e->pf = e->pfkey = e->vid = -1;
	if (e->hkey != NULL) {
		void *v;
		size_t kl = strlen(e->hkey);
		if (mp_strmap_getn(&rs->hkeys, e->hkey, kl, &v)) {
			e->hid = (int)(uintptr_t)v - 1;
		} else {
			e->hid = (int)rs->n_hkeys;
			if (mp_strmap_put(&rs->hkeys, e->hkey, kl, (void *)(uintptr_t)(rs->n_hkeys + 1),
					  NULL) < 0) {
				oom(w->ld);
				return;
			}
			rs->n_hkeys++;
		}
	}
	if (!w->prefilter)
		return;
	bool regex = e->re != NULL && (e->op == MP_OP_MATCH || e->op == MP_OP_NMATCH);
	if (regex && (e->field == MP_F_HEADER || env_slot(e->field) >= 0)) {
		if (vec_push(&w->regexes, e) < 0)
			oom(w->ld);
		return;
	}
	if (env_slot(e->field) < 0 || rs->n_vids >= INT32_MAX)
		return;
	int rc = 1;
	if ((e->op == MP_OP_EQ || e->op == MP_OP_NE) && e->str != NULL) {
		struct mp_lindex *ix = lindex_of(rs, e->field);
		rc = ix ? mp_lindex_add_literal(ix, e->str, strlen(e->str), (uint32_t)rs->n_vids) : -1;
	} else if ((e->op == MP_OP_IN || e->op == MP_OP_NIN) && e->list != NULL) {
		struct mp_lindex *ix = lindex_of(rs, e->field);
		rc = ix ? mp_lindex_add_list(ix, e->list, (uint32_t)rs->n_vids) : -1;
	}
	if (rc == 0)
		e->vid = (int)rs->n_vids++;
	else if (rc < 0)
		oom(w->ld); /* half an index would answer for the next test */
	/* otherwise (a literal too long to index) it is evaluated */
}

/* A test e needs to be true, as a guard; kind MP_G_NONE when none. */
static struct mp_guard guard_of(const struct mp_expr *e)
{
	struct mp_guard none = { MP_G_NONE, 0, -1, -1 };

	if (e == NULL)
		return none;
	if (e->kind == MP_E_TEST) {
		if (e->pf >= 0 && e->op == MP_OP_MATCH)
			return (struct mp_guard){ MP_G_PF, (uint8_t)mp_field_info(e->field)->stage, e->pf,
						  e->pfkey };
		if (e->vid >= 0 && (e->op == MP_OP_EQ || e->op == MP_OP_IN))
			return (struct mp_guard){ MP_G_VAL, (uint8_t)mp_field_info(e->field)->stage, e->vid,
						  (int32_t)e->field };
		return none;
	}
	if (e->kind == MP_E_AND) {
		struct mp_guard g = guard_of(e->a);
		return g.kind != MP_G_NONE ? g : guard_of(e->b);
	}
	return none;
}

static void policy_guards(struct mp_loader *ld, struct mp_policy *pol)
{
	struct mp_guard *g = mp_arena_alloc(ld->arena, (pol->n_rules ? pol->n_rules : 1) * sizeof(*g));

	if (g == NULL) {
		oom(ld);
		return;
	}
	for (size_t i = 0; i < pol->n_rules; i++)
		g[i] = guard_of(pol->rules[i]->when);
	pol->guards = g;
}

static void build_prefilter(struct hwalk *w)
{
	struct mp_ruleset *rs = w->ld->rs;
	struct mp_pf_pattern *pats = calloc(w->regexes.n, sizeof(*pats));

	if (pats == NULL) {
		oom(w->ld);
		return;
	}
	/* keys: the header keys, then one per envelope field */
	for (size_t i = 0; i < w->regexes.n; i++) {
		struct mp_expr *e = w->regexes.v[i];
		e->pfkey = e->field == MP_F_HEADER ? e->hid : (int)rs->n_hkeys + env_slot(e->field);
		pats[i].key = (unsigned)e->pfkey;
		pats[i].pattern = mp_regex_pattern(e->re);
		pats[i].len = strlen(pats[i].pattern);
		pats[i].flags = mp_regex_flags(e->re);
	}
	rs->pf = mp_prefilter_build(pats, w->regexes.n, rs->n_hkeys + N_ENV_FIELDS);
	for (size_t i = 0; i < w->regexes.n; i++) {
		struct mp_expr *e = w->regexes.v[i];
		e->pf = rs->pf ? pats[i].id : -1;
		if (e->pf < 0)
			e->pfkey = -1;
	}
	free(pats);
}

/* Notes the header names that a list of actions removes. */
static void note_removals(struct mp_loader *ld, const struct mp_action *a, size_t n)
{
	struct mp_ruleset *rs = ld->rs;

	for (size_t i = 0; i < n; i++) {
		if (a[i].kind != MP_A_REMOVE_HEADER || a[i].arg == NULL)
			continue;
		char *key = mp_arena_strdup(ld->arena, a[i].arg);
		if (key == NULL) {
			oom(ld);
			return;
		}
		mp_ascii_lower(key);
		if (mp_strmap_put(&rs->used, key, strlen(key), key, NULL) < 0)
			oom(ld);
	}
}

/* The names a transaction indexes: the removed ones (noted already), the
 * tested ones and those the result reads (From, Subject, our
 * Authentication-Results) - so that it asks one question per field. */
static void note_used(struct mp_loader *ld)
{
	static const char *const own[] = { "from", "subject", "authentication-results" };
	struct mp_ruleset *rs = ld->rs;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (mp_strmap_put(&rs->used, own[i], strlen(own[i]), NULL, NULL) < 0)
			oom(ld);
	for (size_t i = 0; i < rs->hkeys.cap; i++) {
		const struct mp_strmap_slot *k = &rs->hkeys.slots[i];
		if (k->key != NULL && mp_strmap_put(&rs->used, k->key, k->len, NULL, NULL) < 0)
			oom(ld);
	}
}

/* Gives every header name the rules test an id, puts the regexes of header
 * and envelope tests into the prefilter and the literal and list tests of
 * envelope fields into the value index (unless index is false: the tests
 * show with it that results do not depend on either), and derives each
 * rule's guard. */
static void index_tests(struct mp_loader *ld, struct vec *order, bool index)
{
	struct mp_ruleset *rs = ld->rs;
	struct hwalk w = { .ld = ld, .prefilter = index };

	for (size_t i = 0; i < order->n; i++) {
		struct mp_rfile *rf = (struct mp_rfile *)order->v[i];
		for (size_t j = 0; j < rf->n_items; j++) {
			const struct mp_item *it = &rf->items[j];
			if (it->kind == MP_ITEM_RULE) {
				walk_expr(&w, it->rule->when);
				note_removals(ld, it->rule->actions, it->rule->n_actions);
			} else if (it->kind == MP_ITEM_THRESHOLD) {
				note_removals(ld, it->th->actions, it->th->n_actions);
			}
		}
	}
	note_used(ld);
	if (w.regexes.n > 0)
		build_prefilter(&w);
	free(w.regexes.v);
	for (int f = 0; f < MP_F_COUNT; f++)
		if (rs->lindex[f] != NULL && mp_lindex_finish(rs->lindex[f]) < 0)
			oom(ld);
	policy_guards(ld, &rs->global);
	for (size_t i = 0; i < rs->n_pols; i++)
		policy_guards(ld, rs->pols[i]);
}

int mp_ruleset_hkey(const struct mp_ruleset *rs, const char *key, size_t len)
{
	void *v;

	return mp_strmap_getn(&rs->hkeys, key, len, &v) ? (int)(uintptr_t)v - 1 : -1;
}

bool mp_ruleset_header_used(const struct mp_ruleset *rs, const char *key, size_t len)
{
	void *v;

	return mp_strmap_getn(&rs->used, key, len, &v);
}

size_t mp_ruleset_n_hkeys(const struct mp_ruleset *rs)
{
	return rs->n_hkeys;
}

const struct mp_prefilter *mp_ruleset_prefilter(const struct mp_ruleset *rs)
{
	return rs->pf;
}

size_t mp_ruleset_n_pfkeys(const struct mp_ruleset *rs)
{
	return rs->n_hkeys + N_ENV_FIELDS;
}

int mp_ruleset_pfkey_field(const struct mp_ruleset *rs, int key)
{
	return key >= (int)rs->n_hkeys && key < (int)(rs->n_hkeys + N_ENV_FIELDS)
		       ? (int)env_fields[key - (int)rs->n_hkeys]
		       : -1;
}

const struct mp_lindex *mp_ruleset_lindex(const struct mp_ruleset *rs, enum mp_field_id f)
{
	return rs->lindex[f];
}

size_t mp_ruleset_n_vids(const struct mp_ruleset *rs)
{
	return rs->n_vids;
}

/* ---- list references -------------------------------------------------- */

/* The declared list name closest to a misspelt one, or NULL. */
static const char *suggest_list(const struct mp_loader *ld, const char *name)
{
	const char *names[256];
	size_t n = 0;

	for (size_t i = 0; i < ld->lists.cap && n < 256; i++) {
		if (ld->lists.slots[i].key != NULL)
			names[n++] = ld->lists.slots[i].key;
	}
	return mp_suggest(name, names, n);
}

static void resolve_lists(struct mp_loader *ld, struct vec *order)
{
	for (size_t i = 0; i < order->n; i++) {
		struct mp_rfile *rf = (struct mp_rfile *)order->v[i];
		for (size_t j = 0; j < rf->n_list_refs; j++) {
			struct mp_expr *e = rf->list_refs[j];
			void *found;
			if (!mp_strmap_get(&ld->lists, e->list_name, &found)) {
				const char *near = suggest_list(ld, e->list_name);
				if (near != NULL)
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s' (did you mean '%s'?)", e->list_name,
						     near);
				else
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s'", e->list_name);
				continue;
			}
			struct mp_list_decl *decl = found;
			const struct mp_field_info *f = mp_field_info(e->field);
			size_t n = mp_list_count(decl->list), nip = mp_list_count_ip(decl->list);
			if (f->type == MP_T_IP && nip != n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) has items that are not IP addresses; '%s' needs IPs or CIDRs",
					     e->list_name, decl->file, decl->line, f->name);
			else if (f->type != MP_T_IP && n > 0 && nip == n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) holds only IP addresses; '%s' is not an IP field",
					     e->list_name, decl->file, decl->line,
					     f->id == MP_F_HEADER ? "header" : f->name);
			e->list = decl->list;
		}
	}
}

/* ---- load ------------------------------------------------------------- */

static void copy_settings(struct mp_ruleset *rs, const struct mp_conf *c)
{
	rs->set.regex_match_limit = c->regex_match_limit;
	rs->set.dkim_max_signatures = c->dkim_max_signatures;
	rs->set.dns_timeout_ms = c->dns_timeout_ms;
	rs->set.body_scan_limit = c->body_scan_limit;
	rs->set.recipient_policy = c->recipient_policy;
	rs->set.mode = c->mode;
	rs->set.add_auth_results = c->add_auth_results;
	rs->set.add_received_spf = c->add_received_spf;
	rs->set.add_trace_header = c->add_trace_header;
	rs->set.spf = c->spf;
	rs->set.spf_helo = c->spf_helo;
	rs->set.dkim = c->dkim;
	rs->set.on_internal_error = c->on_internal_error;
	rs->set.on_limit = c->on_limit;
	rs->set.authserv_id = mp_arena_strdup(&rs->arena, c->authserv_id);
}

static struct mp_policy *new_policy(struct mp_ruleset *rs, const char *name, const char *file)
{
	struct mp_policy *p = mp_arena_zalloc(&rs->arena, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->name = mp_arena_strdup(&rs->arena, name);
	p->file = file ? mp_arena_strdup(&rs->arena, file) : NULL;
	return p->name ? p : NULL;
}

struct mp_ruleset *mp_ruleset_load(const struct mp_conf *conf, struct mp_diags *d)
{
	return mp_ruleset_load_with(conf, NULL, d);
}

struct mp_ruleset *mp_ruleset_load_with(const struct mp_conf *conf, const struct mp_load_opts *o,
					struct mp_diags *d)
{
	static const struct mp_load_opts defaults = { false, NULL };
	if (o == NULL)
		o = &defaults;
	struct mp_stamps **failed_r = o->failed_r;
	struct mp_ruleset *rs = calloc(1, sizeof(*rs));
	struct mp_loader ld;
	struct vec order = { 0 };
	size_t errors0 = mp_diags_count(d);
	const char *dir = conf->rules_dir;

	if (rs == NULL) {
		mp_diags_add(d, dir, 0, 0, "out of memory");
		return NULL;
	}
	atomic_init(&rs->refs, 1);
	mp_arena_init(&rs->arena);
	mp_strmap_init(&rs->domains);
	mp_strmap_init(&rs->hkeys);
	mp_strmap_init(&rs->used);
	copy_settings(rs, conf);
	rs->dir = strdup(dir);
	memset(&ld, 0, sizeof(ld));
	ld.rs = rs;
	ld.arena = &rs->arena;
	ld.diags = d;
	ld.dir = dir;
	mp_strmap_init(&ld.files);
	mp_strmap_init(&ld.lists);
	if (rs->dir == NULL || rs->set.authserv_id == NULL) {
		mp_diags_add(d, dir, 0, 0, "out of memory");
		goto fail;
	}

	rs->stamps = mp_stamps_new(dir);
	if (conf->path != NULL)
		mp_loader_stamp(&ld, conf->path);
	if (mp_stamps_list_rules(dir, &rs->top, &rs->n_top) < 0) {
		mp_diags_add(d, dir, 0, 0, "cannot read rules directory: %s", strerror(errno));
		goto fail;
	}
	if (rs->stamps != NULL)
		mp_stamps_scan_dir(rs->stamps);

	/* global.rules first: every other policy starts with its rules */
	struct mp_rfile *global_rf = NULL;
	for (size_t i = 0; i < rs->n_top; i++) {
		char *path = mp_path_join(dir, rs->top[i]);
		struct mp_rfile *rf = path ? load_file(&ld, &order, path) : NULL;
		if (rf == NULL)
			mp_diags_add(d, path ? path : rs->top[i], 0, 0, "cannot read rule file: %s",
				     errno == EFBIG ? "file too large" : strerror(errno));
		else if (strcmp(rs->top[i], "global.rules") == 0)
			global_rf = rf;
		free(path);
	}
	rs->global.name = "global";
	rs->global.file = global_rf ? global_rf->path : NULL;
	link_policy(&ld, &order, &rs->global, NULL, global_rf);

	rs->pols = calloc(rs->n_top + 1, sizeof(*rs->pols));
	if (rs->pols == NULL) {
		mp_diags_add(d, dir, 0, 0, "out of memory");
		goto fail;
	}
	/* default first, then domains in name order */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < rs->n_top; i++) {
			const char *fn = rs->top[i];
			bool is_default = strcmp(fn, "default.rules") == 0;
			if (strcmp(fn, "global.rules") == 0 || is_default != (pass == 0))
				continue;
			char *path = mp_path_join(dir, fn);
			void *found = NULL;
			if (path == NULL) {
				mp_diags_add(d, dir, 0, 0, "out of memory");
				goto fail;
			}
			/* not there: it did not load, and said why */
			if (!mp_strmap_get(&ld.files, path, &found)) {
				free(path);
				continue;
			}
			char *name = strndup(fn, strlen(fn) - 6);
			if (name == NULL) {
				free(path);
				mp_diags_add(d, dir, 0, 0, "out of memory");
				goto fail;
			}
			mp_ascii_lower(name);
			struct mp_policy *pol = new_policy(rs, name, path);
			free(name);
			free(path);
			if (pol == NULL) {
				mp_diags_add(d, dir, 0, 0, "out of memory");
				goto fail;
			}
			link_policy(&ld, &order, pol, &rs->global, found);
			rs->pols[rs->n_pols++] = pol;
			if (is_default)
				rs->deflt = pol;
			else if (mp_strmap_put(&rs->domains, pol->name, strlen(pol->name), pol, NULL) < 0)
				mp_diags_add(d, pol->file, 0, 0, "out of memory");
		}
	}
	resolve_lists(&ld, &order);
	index_tests(&ld, &order, !o->no_index);
	for (size_t i = 0; i < order.n; i++) {
		const struct mp_rfile *rf = order.v[i];
		for (size_t j = 0; j < rf->n_items; j++)
			rs->n_rules += rf->items[j].kind == MP_ITEM_RULE;
	}
	rs->global.need = 0;
	for (size_t i = 0; i < rs->global.n_rules; i++)
		rs->global.need |= rs->global.rules[i]->need;
	if (mp_diags_count(d) > errors0)
		goto fail;
	free(order.v);
	mp_strmap_free(&ld.files);
	mp_strmap_free(&ld.lists);
	return rs;
fail:
	free(order.v);
	mp_strmap_free(&ld.files);
	mp_strmap_free(&ld.lists);
	if (failed_r != NULL) {
		*failed_r = rs->stamps;
		rs->stamps = NULL;
	}
	ruleset_free(rs);
	return NULL;
}

/* ---- queries ---------------------------------------------------------- */

const struct mp_settings *mp_ruleset_settings(const struct mp_ruleset *rs)
{
	return &rs->set;
}

const char *mp_ruleset_dir(const struct mp_ruleset *rs)
{
	return rs->dir;
}

const struct mp_policy *mp_ruleset_global(const struct mp_ruleset *rs)
{
	return &rs->global;
}

const struct mp_policy *mp_ruleset_lookup(const struct mp_ruleset *rs, const char *domain,
					  size_t len)
{
	char buf[256];

	while (len > 0 && domain[len - 1] == '.')
		len--;
	if (len > 0 && len < sizeof(buf) && rs->domains.n > 0) {
		for (size_t i = 0; i < len; i++) {
			char c = domain[i];
			buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		for (size_t off = 0; off < len;) {
			void *p;
			if (mp_strmap_getn(&rs->domains, buf + off, len - off, &p))
				return p;
			const char *dot = memchr(buf + off, '.', len - off);
			if (dot == NULL)
				break;
			off = (size_t)(dot - buf) + 1;
		}
	}
	return rs->deflt ? rs->deflt : &rs->global;
}

size_t mp_ruleset_n_policies(const struct mp_ruleset *rs)
{
	return rs->n_pols;
}

const struct mp_policy *mp_ruleset_policy_at(const struct mp_ruleset *rs, size_t i)
{
	return i < rs->n_pols ? rs->pols[i] : NULL;
}

size_t mp_ruleset_n_rules(const struct mp_ruleset *rs)
{
	return rs->n_rules;
}

size_t mp_ruleset_n_lists(const struct mp_ruleset *rs)
{
	return rs->n_named_lists;
}

bool mp_ruleset_read_file(const struct mp_ruleset *rs, const char *path)
{
	return rs->stamps != NULL && mp_stamps_has(rs->stamps, path);
}

const struct mp_stamps *mp_ruleset_stamps(const struct mp_ruleset *rs)
{
	return rs->stamps;
}

bool mp_ruleset_changed(const struct mp_ruleset *rs)
{
	return rs->stamps == NULL || mp_stamps_changed(rs->stamps);
}
