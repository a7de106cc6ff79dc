/*
 * memory - the embedded store (`state = memory`, SPEC §12): in-process,
 * lost at restart. 64 shards, each a chained hash table under its own
 * mutex with an LRU list, so threads working on different keys rarely
 * meet; at most max_entries keys in all (per shard max_entries / 64, at
 * least 1): past it, entries whose time has passed go first, then the
 * least recently used, each counted. Hashes are seeded per store from
 * getrandom, so a sender cannot choose keys that all land in one chain.
 */
#include "state/state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SHARDS 64
#define CHAINS 1024 /* per shard; chains grow, the table does not */

enum { K_COUNTER, K_TRIPLET };

struct entry {
	struct entry *next;          /* in its chain */
	struct entry *newer, *older; /* in its shard's LRU list */
	uint64_t hash;
	time_t expires;              /* nothing of it counts from then on */
	unsigned window;             /* counters: the window; 0 for triplets */
	uint8_t kind;
	union {
		struct {
			/* the current bucket and the MP_STATE_BUCKETS before it */
			int64_t slot[MP_STATE_BUCKETS + 1];
			uint64_t n[MP_STATE_BUCKETS + 1];
		} c;
		struct {
			time_t first;
			bool passed;
		} t;
	} u;
	size_t klen;
	unsigned char key[];
};

struct shard {
	pthread_mutex_t lock;
	struct entry *chains[CHAINS];
	struct entry *newest, *oldest;
	size_t n;
	uint64_t evicted, expired;
};

struct mp_state {
	uint64_t seed;
	size_t per_shard;
	struct shard shards[SHARDS];
};

struct mp_state *mp_state_memory_new(size_t max_entries)
{
	struct mp_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	if (getrandom(&st->seed, sizeof(st->seed), 0) != sizeof(st->seed))
		st->seed = (uint64_t)(uintptr_t)st ^ (uint64_t)time(NULL);
	st->per_shard = max_entries / SHARDS > 0 ? max_entries / SHARDS : 1;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&st->shards[i].lock, NULL);
	return st;
}

void mp_state_free(struct mp_state *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct entry *e = st->shards[i].newest;
		while (e != NULL) {
			struct entry *next = e->older;
			free(e);
			e = next;
		}
		pthread_mutex_destroy(&st->shards[i].lock);
	}
	free(st);
}

/* FNV-1a over the seed, the kind, the window and the key. */
static uint64_t hash(const struct mp_state *st, int kind, unsigned window, const void *key,
		     size_t klen)
{
	uint64_t h = 14695981039346656037ULL ^ st->seed;
	const unsigned char *p = key;

	h = (h ^ (uint64_t)kind) * 1099511628211ULL;
	h = (h ^ (uint64_t)window) * 1099511628211ULL;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static void lru_unlink(struct shard *s, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_front(struct shard *s, struct entry *e)
{
	e->older = s->newest;
	e->newer = NULL;
	if (s->newest != NULL)
		s->newest->newer = e;
	s->newest = e;
	if (s->oldest == NULL)
		s->oldest = e;
}

static void drop(struct shard *s, struct entry *e)
{
	struct entry **pp = &s->chains[e->hash % CHAINS];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	lru_unlink(s, e);
	s->n--;
	free(e);
}

/* Room for one more entry: the oldest whose time has passed, else the
 * least recently used. */
static void make_room(struct shard *s, size_t max, time_t now)
{
	while (s->n >= max && s->oldest != NULL) {
		struct entry *victim = NULL;
		/* a few from the old end: an expired one is freed without loss */
		struct entry *e = s->oldest;
		for (int i = 0; e != NULL && i < 8; i++, e = e->newer) {
			if (e->expires <= now) {
				victim = e;
				break;
			}
		}
		if (victim != NULL) {
			s->expired++;
			drop(s, victim);
		} else {
			s->evicted++;
			drop(s, s->oldest);
		}
	}
}

/* The entry for (kind, window, key), made when create; NULL when absent
 * (or no memory, *oom set). An entry whose time has passed is reset. */
static struct entry *find(struct mp_state *st, struct shard *s, uint64_t h, int kind,
			  unsigned window, const void *key, size_t klen, time_t now, bool create,
			  bool *oom)
{
	struct entry *e = s->chains[h % CHAINS];

	for (; e != NULL; e = e->next) {
		if (e->hash == h && e->kind == kind && e->window == window && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			break;
	}
	if (e != NULL && e->expires <= now) {
		s->expired++;
		drop(s, e);
		e = NULL;
	}
	if (e != NULL) {
		lru_unlink(s, e);
		lru_front(s, e);
		return e;
	}
	if (!create)
		return NULL;
	make_room(s, st->per_shard, now);
	e = calloc(1, sizeof(*e) + klen);
	if (e == NULL) {
		*oom = true;
		return NULL;
	}
	e->hash = h;
	e->kind = (uint8_t)kind;
	e->window = window;
	e->klen = klen;
	memcpy(e->key, key, klen);
	for (int i = 0; kind == K_COUNTER && i <= MP_STATE_BUCKETS; i++)
		e->u.c.slot[i] = -1;
	e->next = s->chains[h % CHAINS];
	s->chains[h % CHAINS] = e;
	lru_front(s, e);
	s->n++;
	return e;
}

/* Buckets of ceil(window / MP_STATE_BUCKETS) seconds; a window is
 * ceil(window / width) of them (at most MP_STATE_BUCKETS) plus the
 * current one. */
static unsigned bucket_width(unsigned window)
{
	unsigned w = (window + MP_STATE_BUCKETS - 1) / MP_STATE_BUCKETS;
	return w > 0 ? w : 1;
}

static int counter(struct mp_state *st, const void *key, size_t klen, unsigned window,
		   time_t now, bool add, uint64_t *count_r)
{
	uint64_t h = hash(st, K_COUNTER, window, key, klen);
	struct shard *s = &st->shards[h % SHARDS];
	unsigned width = bucket_width(window);
	int64_t span = (int64_t)((window + width - 1) / width); /* buckets before the current */
	int64_t slot = (int64_t)now / width;
	bool oom = false;

	*count_r = 0;
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(st, s, h, K_COUNTER, window, key, klen, now, add, &oom);
	if (e != NULL) {
		if (add) {
			int i = (int)(slot % (MP_STATE_BUCKETS + 1));
			if (e->u.c.slot[i] != slot) {
				e->u.c.slot[i] = slot;
				e->u.c.n[i] = 0;
			}
			e->u.c.n[i]++;
			e->expires = (time_t)((slot + span + 1) * (int64_t)width);
		}
		for (int i = 0; i <= MP_STATE_BUCKETS; i++) {
			if (e->u.c.slot[i] >= 0 && e->u.c.slot[i] <= slot &&
			    slot - e->u.c.slot[i] <= span)
				*count_r += e->u.c.n[i];
		}
	}
	pthread_mutex_unlock(&s->lock);
	return oom ? -1 : 0;
}

int mp_state_incr(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return counter(st, key, klen, window_s, now, true, count_r);
}

int mp_state_peek(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return counter(st, key, klen, window_s, now, false, count_r);
}

int mp_state_greylist(struct mp_state *st, const void *key, size_t klen, time_t now,
		      unsigned delay_s, unsigned expiry_s, bool *pass_r, unsigned *left_r)
{
	uint64_t h = hash(st, K_TRIPLET, 0, key, klen);
	struct shard *s = &st->shards[h % SHARDS];
	bool oom = false;

	*pass_r = false;
	*left_r = delay_s;
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(st, s, h, K_TRIPLET, 0, key, klen, now, true, &oom);
	if (e != NULL) {
		if (e->expires == 0) {
			/* new: refused for the delay; kept a day (or the expiry,
			 * when shorter) for its retry */
			e->u.t.first = now;
			unsigned keep = expiry_s < 86400 ? expiry_s : 86400;
			e->expires = now + (time_t)(delay_s > keep ? delay_s : keep);
		} else if (e->u.t.passed || now - e->u.t.first >= (time_t)delay_s) {
			e->u.t.passed = true;
			e->expires = now + (time_t)expiry_s;
			*pass_r = true;
			*left_r = 0;
		} else {
			*left_r = (unsigned)((time_t)delay_s - (now - e->u.t.first));
		}
	}
	pthread_mutex_unlock(&s->lock);
	return oom ? -1 : 0;
}

void mp_state_stats(struct mp_state *st, struct mp_state_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &st->shards[i];
		pthread_mutex_lock(&s->lock);
		out->entries += s->n;
		out->evicted += s->evicted;
		out->expired += s->expired;
		pthread_mutex_unlock(&s->lock);
	}
}
