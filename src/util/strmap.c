/*
 * strmap - open-addressing hash map with linear probing; see strmap.h.
 */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

void mp_strmap_init(struct mp_strmap *m)
{
	m->slots = NULL;
	m->cap = m->n = 0;
}

void mp_strmap_free(struct mp_strmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	mp_strmap_init(m);
}

/* FNV-1a, 64 bit, with a final mix so low bits spread well. */
uint64_t mp_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static struct mp_strmap_slot *find(const struct mp_strmap *m, const char *key,
				   size_t len, uint64_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct mp_strmap_slot *s = &m->slots[i];

		if (s->key == NULL)
			return s;
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s;
	}
}

static int grow(struct mp_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct mp_strmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		m->slots = old;
		return -1;
	}
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key != NULL)
			*find(m, old[i].key, old[i].len, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

int mp_strmap_put(struct mp_strmap *m, const char *key, size_t len, void *val,
		  void **old_r)
{
	uint64_t h = mp_hash(key, len);

	if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	struct mp_strmap_slot *s = find(m, key, len, h);
	if (s->key != NULL) {
		if (old_r != NULL)
			*old_r = s->val;
		return 1;
	}
	*s = (struct mp_strmap_slot){ key, len, h, val };
	m->n++;
	return 0;
}

bool mp_strmap_getn(const struct mp_strmap *m, const char *key, size_t len,
		    void **val_r)
{
	if (m->n == 0)
		return false;
	struct mp_strmap_slot *s = find(m, key, len, mp_hash(key, len));
	if (s->key == NULL)
		return false;
	if (val_r != NULL)
		*val_r = s->val;
	return true;
}

bool mp_strmap_get(const struct mp_strmap *m, const char *key, void **val_r)
{
	return mp_strmap_getn(m, key, strlen(key), val_r);
}
