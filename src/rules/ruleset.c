/*
 * ruleset - loading a rules directory into policies; see ruleset.h.
 *
 * The pipeline: each file is read once (pipeline.c) through lex.c and
 * parse.c (syntax tree), check.c (names, types, stages: program nodes) and
 * compile_file.c (regexes, lists); link.c links each policy, includes
 * expanded; check.c resolves list names across the directory; compile.c
 * builds the prefilter, the value index and the guards. This file runs
 * them in that order, sorts the errors by file and position, and answers
 * the queries. Everything compiled lives in the rule
 * set's arena; regexes and lists, which own memory of their own, are also
 * kept in vectors for freeing.
 */
#include "rules/ruleset.h"

#include "match/lindex.h"
#include "match/lists.h"
#include "match/prefilter.h"
#include "match/regex.h"
#include "rules/loader.h"
#include "rules/check.h"
#include "rules/compile.h"
#include "rules/link.h"
#include "rules/pipeline.h"
#include "rules/stamps.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/strmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void ruleset_free(struct mp_ruleset *rs)
{
	if (rs->ext_free != NULL)
		rs->ext_free(rs->ext);
	mp_prefilter_free(rs->pf);
	for (int f = 0; f < MP_F_COUNT; f++)
		mp_lindex_free(rs->lindex[f]);
	mp_strmap_free(&rs->hkeys);
	mp_strmap_free(&rs->used);
	mp_strmap_free(&rs->rates);
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

/* ---- load ------------------------------------------------------------- */

static void copy_settings(struct mp_ruleset *rs, const struct mp_conf *c)
{
	rs->set.regex_match_limit = c->regex_match_limit;
	rs->set.dkim_max_signatures = c->dkim_max_signatures;
	rs->set.dns_timeout_ms = c->dns_timeout_ms;
	rs->set.body_scan_limit = c->body_scan_limit;
	rs->set.mime_max_depth = c->mime_max_depth;
	rs->set.mime_max_parts = c->mime_max_parts;
	rs->set.archive_max_entries = c->archive_max_entries;
	rs->set.recipient_policy = c->recipient_policy;
	rs->set.mode = c->mode;
	rs->set.add_auth_results = c->add_auth_results;
	rs->set.add_received_spf = c->add_received_spf;
	rs->set.add_trace_header = c->add_trace_header;
	rs->set.spf = c->spf;
	rs->set.spf_helo = c->spf_helo;
	rs->set.dkim = c->dkim;
	rs->set.dmarc = c->dmarc;
	rs->set.on_internal_error = c->on_internal_error;
	rs->set.on_limit = c->on_limit;
	rs->set.authserv_id = mp_arena_strdup(&rs->arena, c->authserv_id);
	rs->set.state_prefix = mp_arena_strdup(&rs->arena, c->state_prefix);
	rs->set.greylist_whitelist_after = c->greylist_whitelist_after;
	rs->set.on_state_error = c->on_state_error;
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
	size_t errors0 = mp_diags_count(d), first = d->n;
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
	ld.dirfd = -1;
	mp_arena_init(&ld.scratch);
	mp_strmap_init(&ld.files);
	mp_strmap_init(&ld.lists);
	if (rs->dir == NULL || rs->set.authserv_id == NULL) {
		mp_diags_add(d, dir, 0, 0, "out of memory");
		goto fail;
	}

	rs->stamps = mp_stamps_new(dir);
	if (conf->path != NULL)
		mp_loader_stamp(&ld, conf->path);
	/* resolved once: a link swapped to another release during the load
	 * changes nothing read from here on */
	ld.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ld.dirfd < 0 || mp_stamps_list_rules_at(ld.dirfd, &rs->top, &rs->n_top) < 0) {
		mp_diags_add(d, dir, 0, 0, "cannot read rules directory%s: %s", mp_file_as(),
			     strerror(errno));
		goto fail;
	}
	if (rs->stamps != NULL) {
		mp_stamps_scan_dir(rs->stamps);
		mp_stamps_set_dir(rs->stamps, ld.dirfd);
	}

	/* global.rules first: every other policy starts with its rules */
	struct mp_rfile *global_rf = NULL;
	for (size_t i = 0; i < rs->n_top; i++) {
		char *path = mp_path_join(dir, rs->top[i]);
		struct mp_rfile *rf = path ? mp_load_file(&ld, &order, rs->top[i], path) : NULL;
		if (rf == NULL)
			mp_diags_add(d, path ? path : rs->top[i], 0, 0, "cannot read rule file%s: %s",
				     mp_file_as(), errno == EFBIG ? "file too large" : strerror(errno));
		else if (strcmp(rs->top[i], "global.rules") == 0)
			global_rf = rf;
		free(path);
	}
	rs->global.name = "global";
	rs->global.file = global_rf ? global_rf->path : NULL;
	mp_link_policy(&ld, &order, &rs->global, NULL, global_rf);

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
			mp_link_policy(&ld, &order, pol, &rs->global, found);
			rs->pols[rs->n_pols++] = pol;
			if (is_default)
				rs->deflt = pol;
			else if (mp_strmap_put(&rs->domains, pol->name, strlen(pol->name), pol, NULL) < 0)
				mp_diags_add(d, pol->file, 0, 0, "out of memory");
		}
	}
	mp_check_lists(&ld, &order);
	mp_arena_release(&ld.scratch);
	if (mp_diags_count(d) == errors0)
		mp_compile_index(&ld, &order, !o->no_index);
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
	mp_replies_analyse(rs);
	close(ld.dirfd);
	free(order.v);
	mp_strmap_free(&ld.files);
	mp_strmap_free(&ld.lists);
	return rs;
fail:
	if (ld.dirfd >= 0)
		close(ld.dirfd);
	mp_diags_sort(d, first);
	mp_arena_release(&ld.scratch);
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
	return rs->n_hkeys + mp_compile_n_env_fields();
}

int mp_ruleset_pfkey_field(const struct mp_ruleset *rs, int key)
{
	return key >= (int)rs->n_hkeys && key < (int)(rs->n_hkeys + mp_compile_n_env_fields())
		       ? (int)mp_compile_env_field((size_t)(key - (int)rs->n_hkeys))
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

void mp_ruleset_set_ext(struct mp_ruleset *rs, void *ext, void (*ext_free)(void *ext))
{
	rs->ext = ext;
	rs->ext_free = ext_free;
}

void *mp_ruleset_ext(const struct mp_ruleset *rs)
{
	return rs->ext;
}

size_t mp_ruleset_n_rates(const struct mp_ruleset *rs)
{
	return rs->n_rates;
}

bool mp_ruleset_decides_early(const struct mp_ruleset *rs)
{
	return rs->decides_early;
}

bool mp_ruleset_refuses_at_data(const struct mp_ruleset *rs)
{
	return rs->refuses_at_data;
}
