/*
 * compile - what makes evaluation cheap, built once per rule set: an id per
 * header name the rules test, the Vectorscan prefilter over the regexes of
 * header and envelope tests, the value index over the literal and list
 * tests of envelope fields, and each rule's guard (a test the prefilter or
 * the index can rule out without evaluating the rule).
 */
#include "rules/loader.h"
#include "rules/compile.h"

#include "match/lindex.h"
#include "match/lists.h"
#include "match/prefilter.h"
#include "match/regex.h"
#include "util/diag.h"
#include "util/file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
		if (mp_vec_push(&w->regexes, e) < 0)
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

/* Rule i's guard id in the split of stage s (struct mp_policy: prefilter
 * ids, then value-index ids from n_pf) when its guard is a header regex,
 * or a literal or list test of a field whose values are final from MAIL on
 * (connection and sender fields), askable at s; -1 otherwise. */
static long split_id(const struct mp_ruleset *rs, const struct mp_policy *pol, size_t i, int s,
		     uint32_t n_pf)
{
	const struct mp_guard *g = &pol->guards[i];

	if (g->id < 0 || g->key < 0 || g->stage > s)
		return -1;
	if (g->kind == MP_G_PF && (size_t)g->key < rs->n_hkeys)
		return g->id;
	if (g->kind == MP_G_VAL && g->key < 64 && g->stage <= MP_STAGE_MAIL)
		return (long)n_pf + g->id;
	return -1;
}

/* Splits each stage's rules by their guards (struct mp_policy: unguarded,
 * g_start, g_rules, pf_keys, val_fields). */
static void split_stages(struct mp_loader *ld, struct mp_policy *pol)
{
	const struct mp_ruleset *rs = ld->rs;
	uint32_t n_pf = 0, n_val = 0;

	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct mp_guard *g = &pol->guards[i];
		long id = split_id(rs, pol, i, MP_STAGE_COUNT, 0);
		if (id >= 0 && g->kind == MP_G_PF && (uint32_t)g->id >= n_pf)
			n_pf = (uint32_t)g->id + 1;
		if (id >= 0 && g->kind == MP_G_VAL && (uint32_t)g->id >= n_val)
			n_val = (uint32_t)g->id + 1;
	}
	if (n_pf + n_val == 0)
		return;
	pol->n_pf_ids = n_pf;
	pol->n_val_ids = n_val;
	uint32_t n_ids = n_pf + n_val;
	uint8_t *key_seen = calloc(rs->n_hkeys + 1, 1);
	if (key_seen == NULL) {
		oom(ld);
		return;
	}
	for (int s = 0; s < MP_STAGE_COUNT; s++) {
		const uint32_t *v = pol->by_stage[s];
		size_t n = pol->n_by_stage[s], ng = 0;
		for (size_t k = 0; k < n; k++)
			ng += split_id(rs, pol, v[k], s, n_pf) >= 0;
		if (ng == 0)
			continue;
		uint32_t *plain = mp_arena_alloc(ld->arena, (n - ng + 1) * sizeof(*plain));
		uint32_t *start = mp_arena_zalloc(ld->arena, (n_ids + 1) * sizeof(*start));
		uint32_t *rules = mp_arena_alloc(ld->arena, ng * sizeof(*rules));
		int32_t *keys = mp_arena_alloc(ld->arena, ng * sizeof(*keys));
		int32_t *fields = mp_arena_alloc(ld->arena, ng * sizeof(*fields));
		if (plain == NULL || start == NULL || rules == NULL || keys == NULL || fields == NULL) {
			oom(ld);
			break;
		}
		size_t np = 0, nk = 0, nf = 0;
		uint64_t field_seen = 0;
		memset(key_seen, 0, rs->n_hkeys + 1);
		/* a counting sort by id, stable: each id's rules stay ascending */
		for (size_t k = 0; k < n; k++) {
			long id = split_id(rs, pol, v[k], s, n_pf);
			if (id < 0) {
				plain[np++] = v[k];
				continue;
			}
			const struct mp_guard *g = &pol->guards[v[k]];
			start[id + 1]++;
			if (g->kind == MP_G_PF && !key_seen[g->key]) {
				key_seen[g->key] = 1;
				keys[nk++] = g->key;
			} else if (g->kind == MP_G_VAL && !(field_seen >> g->key & 1)) {
				field_seen |= 1ULL << g->key;
				fields[nf++] = g->key;
			}
		}
		for (uint32_t id = 0; id < n_ids; id++)
			start[id + 1] += start[id];
		for (size_t k = 0; k < n; k++) {
			long id = split_id(rs, pol, v[k], s, n_pf);
			if (id >= 0)
				rules[start[id]++] = v[k];
		}
		/* the fill moved each start to the next one's: move them back */
		for (uint32_t id = n_ids; id > 0; id--)
			start[id] = start[id - 1];
		start[0] = 0;
		pol->unguarded[s] = plain;
		pol->n_unguarded[s] = np;
		pol->g_start[s] = start;
		pol->g_rules[s] = rules;
		pol->pf_keys[s] = keys;
		pol->n_pf_keys[s] = nk;
		pol->val_fields[s] = fields;
		pol->n_val_fields[s] = nf;
	}
	free(key_seen);
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
	split_stages(ld, pol);
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
void mp_compile_index(struct mp_loader *ld, struct vec *order, bool index)
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

size_t mp_compile_n_env_fields(void)
{
	return N_ENV_FIELDS;
}

enum mp_field_id mp_compile_env_field(size_t i)
{
	return env_fields[i];
}
