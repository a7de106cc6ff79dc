/*
 * strmap - open-addressing hash map with linear probing; see strmap.h.
 *
 * Keys can come from hostile input (DNS names in the answer cache), so the
 * hash is SipHash-2-4 under a key drawn from getrandom() once per process:
 * nobody outside can make names collide on purpose (SPEC §8).
 */
#include "util/strmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

static uint64_t seed[2];
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		/* no entropy source (a very old kernel): still not guessable
		 * from outside the host */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
		seed[1] = (uint64_t)(uintptr_t)&ts ^ 0x736f6d6570736575ULL;
	}
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                    \
	do {                                                                        \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);           \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                              \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                              \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);           \
	} while (0)

/* SipHash-2-4 (Aumasson and Bernstein) of p under the process key. */
static uint64_t mp_hash(const void *p, size_t n)
{
	const unsigned char *s = p;

	pthread_once(&seed_once, seed_init);
	uint64_t v0 = seed[0] ^ 0x736f6d6570736575ULL, v1 = seed[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = seed[0] ^ 0x6c7967656e657261ULL, v3 = seed[1] ^ 0x7465646279746573ULL;
	size_t full = n & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m;
		memcpy(&m, s + i, 8); /* little-endian hosts; the hash stays in the process */
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t last = (uint64_t)n << 56;
	for (size_t i = 0; i < (n & 7); i++)
		last |= (uint64_t)s[full + i] << (8 * i);
	v3 ^= last;
	SIPROUND;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
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
