/*
 * lindex - one lookup for many literal and list tests; see lindex.h.
 *
 * Four maps from lowercased keys to test ids (literals, list strings,
 * list domains, list subdomain suffixes) and, per prefix length, sorted
 * (masked address, id) pairs. A value is probed the way mp_list_match
 * probes one list, once for all of them.
 */
#include "match/lindex.h"

#include "match/probe.h"

#include "util/arena.h"
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

struct ids {
	uint32_t *v;
	size_t n, cap;
};

struct v4e {
	uint32_t key, id;
};

struct v6e {
	uint64_t hi, lo;
	uint32_t id;
};

struct mp_lindex {
	struct mp_arena arena;      /* keys and struct ids */
	struct mp_strmap literals, strings, domains, subdomains;
	struct ids *all;            /* every struct ids, to free their vectors */
	size_t n_all, cap_all;
	struct v4e *v4[33];
	size_t n4[33], cap4[33];
	struct v6e *v6[129];
	size_t n6[129], cap6[129];
	struct mp_probe_lens lens;  /* prefix lengths present */
};

struct mp_lindex *mp_lindex_new(void)
{
	struct mp_lindex *ix = calloc(1, sizeof(*ix));

	if (ix == NULL)
		return NULL;
	mp_arena_init(&ix->arena);
	mp_strmap_init(&ix->literals);
	mp_strmap_init(&ix->strings);
	mp_strmap_init(&ix->domains);
	mp_strmap_init(&ix->subdomains);
	return ix;
}

void mp_lindex_free(struct mp_lindex *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; i < ix->n_all; i++)
		free(ix->all[i].v);
	free(ix->all);
	for (int p = 0; p <= 32; p++)
		free(ix->v4[p]);
	for (int p = 0; p <= 128; p++)
		free(ix->v6[p]);
	mp_strmap_free(&ix->literals);
	mp_strmap_free(&ix->strings);
	mp_strmap_free(&ix->domains);
	mp_strmap_free(&ix->subdomains);
	mp_arena_release(&ix->arena);
	free(ix);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, nc * size);
	if (nv == NULL)
		return false;
	*v = nv;
	*cap = nc;
	return true;
}

/* Adds id under key (already lowercased, len bytes) in m. */
static int put(struct mp_lindex *ix, struct mp_strmap *m, const char *key, size_t len, uint32_t id)
{
	void *found;
	size_t slot;

	if (mp_strmap_getn(m, key, len, &found)) {
		slot = (size_t)(uintptr_t)found - 1;
	} else {
		char *k = mp_arena_strndup(&ix->arena, key, len);
		if (k == NULL || !grow((void **)&ix->all, &ix->cap_all, ix->n_all, sizeof(*ix->all)))
			return -1;
		slot = ix->n_all;
		ix->all[ix->n_all++] = (struct ids){ NULL, 0, 0 };
		if (mp_strmap_put(m, k, len, (void *)(uintptr_t)(slot + 1), NULL) < 0)
			return -1;
	}
	struct ids *s = &ix->all[slot];
	if (!grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v)))
		return -1;
	s->v[s->n++] = id;
	return 0;
}

static void lower(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] >= 'A' && src[i] <= 'Z' ? (char)(src[i] - 'A' + 'a') : src[i];
}

int mp_lindex_add_literal(struct mp_lindex *ix, const char *s, size_t len, uint32_t id)
{
	char buf[MP_LIST_ITEM_MAX];

	if (len > sizeof(buf))
		return 1;
	lower(buf, s, len);
	return put(ix, &ix->literals, buf, len, id);
}

struct add_ctx {
	struct mp_lindex *ix;
	uint32_t id;
};

static int add_item(void *arg, const struct mp_list_item *it)
{
	struct add_ctx *a = arg;
	struct mp_lindex *ix = a->ix;

	switch (it->part) {
	case MP_LP_STRING:
		return put(ix, &ix->strings, it->key, it->len, a->id);
	case MP_LP_DOMAIN:
		return put(ix, &ix->domains, it->key, it->len, a->id);
	case MP_LP_SUBDOMAIN:
		return put(ix, &ix->subdomains, it->key, it->len, a->id);
	case MP_LP_V4:
		if (!grow((void **)&ix->v4[it->prefix], &ix->cap4[it->prefix], ix->n4[it->prefix],
			  sizeof(struct v4e)))
			return -1;
		ix->v4[it->prefix][ix->n4[it->prefix]++] = (struct v4e){ it->v4, a->id };
		mp_probe_lens_add(&ix->lens, false, it->prefix);
		return 0;
	case MP_LP_V6:
		if (!grow((void **)&ix->v6[it->prefix], &ix->cap6[it->prefix], ix->n6[it->prefix],
			  sizeof(struct v6e)))
			return -1;
		ix->v6[it->prefix][ix->n6[it->prefix]++] = (struct v6e){ it->v6hi, it->v6lo, a->id };
		mp_probe_lens_add(&ix->lens, true, it->prefix);
		return 0;
	}
	return 0;
}

int mp_lindex_add_list(struct mp_lindex *ix, const struct mp_list *l, uint32_t id)
{
	struct add_ctx a = { ix, id };

	return mp_list_each(l, add_item, &a) == 0 ? 0 : -1;
}

static int cmp4(const void *a, const void *b)
{
	const struct v4e *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp6(const void *a, const void *b)
{
	const struct v6e *x = a, *y = b;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int mp_lindex_finish(struct mp_lindex *ix)
{
	for (int p = 0; p <= 32; p++)
		if (ix->n4[p] > 1)
			qsort(ix->v4[p], ix->n4[p], sizeof(struct v4e), cmp4);
	for (int p = 0; p <= 128; p++)
		if (ix->n6[p] > 1)
			qsort(ix->v6[p], ix->n6[p], sizeof(struct v6e), cmp6);
	return 0;
}

static void set_ids(const struct mp_lindex *ix, const struct mp_strmap *m, const char *key,
		    size_t len, uint8_t *bits)
{
	void *found;

	if (m->n == 0 || !mp_strmap_getn(m, key, len, &found))
		return;
	const struct ids *s = &ix->all[(size_t)(uintptr_t)found - 1];
	for (size_t i = 0; i < s->n; i++)
		bits[s->v[i] >> 3] |= (uint8_t)(1u << (s->v[i] & 7));
}

struct hit {
	const struct mp_lindex *ix;
	uint8_t *bits;
};

/* Every list (and literal) the key is in gets its bit; never stops. */
static bool name_hit(void *arg, enum mp_probe_table t, const char *key, size_t len)
{
	const struct hit *h = arg;
	const struct mp_lindex *ix = h->ix;

	set_ids(ix, t == MP_PT_STRING ? &ix->strings : t == MP_PT_DOMAIN ? &ix->domains
									 : &ix->subdomains,
		key, len, h->bits);
	return false;
}

void mp_lindex_match(const struct mp_lindex *ix, enum mp_fmatch how, const char *value,
		     size_t len, uint8_t *bits)
{
	char buf[MP_LIST_ITEM_MAX];
	struct hit h = { ix, bits };

	if (how == MP_M_IP) {
		struct mp_ip ip;
		if (mp_ip_parse(value, len, &ip) == 0)
			mp_lindex_match_ip(ix, &ip, bits);
	} else {
		mp_probe_name((int)how, value, len, name_hit, &h);
	}
	/* literals: the whole value, whatever the match kind */
	if (len <= sizeof(buf)) {
		lower(buf, value, len);
		set_ids(ix, &ix->literals, buf, len, bits);
	}
}

static uint32_t v4key(const struct mp_ip *ip)
{
	return (uint32_t)ip->a[0] << 24 | (uint32_t)ip->a[1] << 16 | (uint32_t)ip->a[2] << 8 | ip->a[3];
}

/* Every entry for this masked address gets its list's bit; never stops. */
static bool ip_hit(void *arg, int p, const struct mp_ip *m)
{
	const struct hit *h = arg;
	const struct mp_lindex *ix = h->ix;

	if (!m->v6) {
		uint32_t k = v4key(m);
		/* the first entry with key k, then every one equal */
		size_t lo = 0, hi = ix->n4[p];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (ix->v4[p][mid].key < k)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < ix->n4[p] && ix->v4[p][lo].key == k; lo++)
			h->bits[ix->v4[p][lo].id >> 3] |= (uint8_t)(1u << (ix->v4[p][lo].id & 7));
		return false;
	}
	struct v6e k = { 0, 0, 0 };
	for (int i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | m->a[i];
		k.lo = k.lo << 8 | m->a[8 + i];
	}
	size_t lo = 0, hi = ix->n6[p];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp6(&ix->v6[p][mid], &k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->n6[p] && cmp6(&ix->v6[p][lo], &k) == 0; lo++)
		h->bits[ix->v6[p][lo].id >> 3] |= (uint8_t)(1u << (ix->v6[p][lo].id & 7));
	return false;
}

void mp_lindex_match_ip(const struct mp_lindex *ix, const struct mp_ip *ip, uint8_t *bits)
{
	struct hit h = { ix, bits };

	mp_probe_ip(&ix->lens, ip, ip_hit, &h);
}
