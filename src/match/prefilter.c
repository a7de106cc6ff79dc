/*
 * prefilter - Vectorscan databases per header key; see prefilter.h.
 *
 * Every pattern is compiled with HS_FLAG_PREFILTER (a superset of its
 * matches, even for constructs Vectorscan cannot run exactly) and
 * HS_FLAG_SINGLEMATCH (one report per pattern per scan). A pattern that
 * does not compile is left out, alone: the key's set is compiled again
 * without it. Vectorscan ids are the bit indexes.
 *
 * The daemon compiles in a helper process (prefilter_helper.c) and takes
 * the serialized databases back: Vectorscan's compiler and what it leaves
 * in malloc's free lists then never become part of the daemon's memory.
 */
#include "match/prefilter.h"

#include "match/prefilter_helper.h"
#include "match/regex.h"

#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

struct mp_prefilter {
	hs_database_t **dbs;      /* per key, NULL when none */
	size_t n_keys;
	size_t n_ids;
	hs_scratch_t *proto;      /* scratch for every database, to clone */
};

struct mp_pf_scratch {
	hs_scratch_t *s;
};

/* Patterns whose matches byte-mode Vectorscan can bound on ASCII input. */
static bool eligible(const struct mp_pf_pattern *p)
{
	if (p->flags & MP_RE_X)
		return false;
	for (size_t i = 0; i < p->len; i++) {
		unsigned char c = (unsigned char)p->pattern[i];
		if (c >= 0x80 || c == '\0')
			return false;
	}
	return true;
}

static unsigned hs_flags(unsigned re_flags)
{
	unsigned f = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;

	if (re_flags & MP_RE_I)
		f |= HS_FLAG_CASELESS;
	if (re_flags & MP_RE_S)
		f |= HS_FLAG_DOTALL;
	if (re_flags & MP_RE_M)
		f |= HS_FLAG_MULTILINE;
	return f;
}

/* Compiles the patterns of one key (their indexes in idx[0..n)); drops
 * those Vectorscan rejects. NULL when none is left. */
static hs_database_t *compile_key(struct mp_pf_pattern *pats, size_t *idx, size_t n)
{
	const char **exprs = malloc(n * sizeof(*exprs));
	unsigned *flags = malloc(n * sizeof(*flags)), *ids = malloc(n * sizeof(*ids));
	char **copies = calloc(n, sizeof(*copies));
	hs_database_t *db = NULL;

	if (exprs == NULL || flags == NULL || ids == NULL || copies == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct mp_pf_pattern *p = &pats[idx[i]];
		copies[i] = strndup(p->pattern, p->len); /* Vectorscan wants C strings */
		if (copies[i] == NULL)
			goto out;
	}
	while (n > 0) {
		for (size_t i = 0; i < n; i++) {
			exprs[i] = copies[i];
			flags[i] = hs_flags(pats[idx[i]].flags);
			ids[i] = (unsigned)pats[idx[i]].id;
		}
		hs_compile_error_t *err = NULL;
		if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &err) ==
		    HS_SUCCESS)
			break;
		db = NULL;
		int bad = err ? err->expression : -1;
		hs_free_compile_error(err);
		if (bad < 0 || (size_t)bad >= n) {
			/* not one pattern's fault: take none of this key */
			for (size_t i = 0; i < n; i++)
				pats[idx[i]].id = -1;
			break;
		}
		pats[idx[bad]].id = -1;
		free(copies[bad]);
		memmove(&idx[bad], &idx[bad + 1], (n - (size_t)bad - 1) * sizeof(*idx));
		memmove(&copies[bad], &copies[bad + 1], (n - (size_t)bad - 1) * sizeof(*copies));
		n--;
	}
out:
	if (copies != NULL)
		for (size_t i = 0; i < n; i++)
			free(copies[i]);
	free(copies);
	free(exprs);
	free(flags);
	free(ids);
	return db;
}

struct mp_prefilter *mp_prefilter_build(struct mp_pf_pattern *pats, size_t n, size_t n_keys)
{
	bool failed = false;
	struct mp_prefilter *pf = mp_pf_helper_build(pats, n, n_keys, &failed);

	if (pf != NULL || !failed)
		return pf;
	return mp_prefilter_build_here(pats, n, n_keys);
}

struct mp_prefilter *mp_prefilter_build_here(struct mp_pf_pattern *pats, size_t n, size_t n_keys)
{
	hs_database_t **dbs = n_keys ? calloc(n_keys, sizeof(*dbs)) : NULL;
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	size_t n_ids = 0;
	struct mp_prefilter *pf = NULL;

	for (size_t i = 0; i < n; i++)
		pats[i].id = -1;
	if (dbs == NULL || idx == NULL) {
		free(dbs);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (eligible(&pats[i]) && pats[i].key < n_keys)
			pats[i].id = (int)n_ids++;
	for (unsigned k = 0; k < n_keys; k++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (pats[i].key == k && pats[i].id >= 0)
				idx[m++] = i;
		if (m > 0)
			dbs[k] = compile_key(pats, idx, m);
	}
	/* NULL when no database is left (nothing taken) */
	pf = mp_prefilter_assemble(dbs, n_keys, n_ids);
out:
	if (pf == NULL)
		for (size_t i = 0; i < n; i++)
			pats[i].id = -1;
	free(idx);
	return pf;
}

void mp_prefilter_free(struct mp_prefilter *pf)
{
	if (pf == NULL)
		return;
	for (size_t k = 0; k < pf->n_keys; k++)
		hs_free_database(pf->dbs[k]);
	free(pf->dbs);
	hs_free_scratch(pf->proto);
	free(pf);
}

struct mp_prefilter *mp_prefilter_assemble(hs_database_t **dbs, size_t n_keys, size_t n_ids)
{
	struct mp_prefilter *pf = calloc(1, sizeof(*pf));

	if (pf == NULL) {
		for (size_t k = 0; k < n_keys; k++)
			hs_free_database(dbs[k]);
		free(dbs);
		return NULL;
	}
	pf->dbs = dbs;
	pf->n_keys = n_keys;
	pf->n_ids = n_ids;
	for (size_t k = 0; k < n_keys; k++) {
		if (dbs[k] != NULL && hs_alloc_scratch(dbs[k], &pf->proto) != HS_SUCCESS) {
			mp_prefilter_free(pf);
			return NULL;
		}
	}
	if (pf->proto == NULL) {
		mp_prefilter_free(pf);
		return NULL;
	}
	return pf;
}

hs_database_t *mp_prefilter_db(const struct mp_prefilter *pf, size_t key)
{
	return key < pf->n_keys ? pf->dbs[key] : NULL;
}

size_t mp_prefilter_n_ids(const struct mp_prefilter *pf)
{
	return pf ? pf->n_ids : 0;
}

bool mp_prefilter_has_key(const struct mp_prefilter *pf, unsigned key)
{
	return pf != NULL && key < pf->n_keys && pf->dbs[key] != NULL;
}

struct mp_pf_scratch *mp_pf_scratch_new(const struct mp_prefilter *pf)
{
	struct mp_pf_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL || hs_clone_scratch(pf->proto, &s->s) != HS_SUCCESS) {
		free(s);
		return NULL;
	}
	return s;
}

void mp_pf_scratch_free(struct mp_pf_scratch *s)
{
	if (s == NULL)
		return;
	hs_free_scratch(s->s);
	free(s);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	uint8_t *bits = ctx;

	(void)from;
	(void)to;
	(void)flags;
	bits[id >> 3] |= (uint8_t)(1u << (id & 7));
	return 0;
}

int mp_prefilter_scan(const struct mp_prefilter *pf, struct mp_pf_scratch *s, unsigned key,
		      const char *v, size_t len, uint8_t *bits)
{
	if (!mp_prefilter_has_key(pf, key) || s == NULL || len > 0xffffffffu)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] >= 0x80)
			return -1;
	return hs_scan(pf->dbs[key], v, (unsigned)len, 0, s->s, on_match, bits) == HS_SUCCESS ? 0 : -1;
}
