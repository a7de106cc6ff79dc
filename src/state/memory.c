/*
 * memory - the embedded store (`state = memory`, SPEC §12): in-process,
 * lost at restart. 64 shards, each a chained hash table under its own
 * mutex with an LRU list, so threads working on different keys rarely
 * meet; at most max_entries keys in all (per shard max_entries / 64, at
 * least 2): past it, entries whose time has passed go first, then the
 * least recently used, each counted. Hashes are seeded per store from
 * getrandom, so a sender cannot choose keys that all land in one chain.
 */
#include "state/store.h"

#include <pthread.h>
#include <stdio.h>
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
		struct mp_window c;
		struct mp_triplet t;
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

struct memory {
	struct mp_state base;        /* first: the store's ops */
	uint64_t seed;
	size_t per_shard;
	struct shard shards[SHARDS];
};

static const struct mp_state_ops memory_ops;

struct mp_state *mp_state_memory_new(size_t max_entries)
{
	struct memory *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	mp_state_base_init(&st->base, &memory_ops);
	if (getrandom(&st->seed, sizeof(st->seed), 0) != sizeof(st->seed))
		st->seed = (uint64_t)(uintptr_t)st ^ (uint64_t)time(NULL);
	/* two at least: a triplet and its network may share a shard */
	st->per_shard = max_entries / SHARDS > 2 ? max_entries / SHARDS : 2;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&st->shards[i].lock, NULL);
	return &st->base;
}

static void memory_free(struct mp_state *base)
{
	struct memory *st = (struct memory *)base;

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
static uint64_t hash(const struct memory *st, int kind, unsigned window, const void *key,
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
static struct entry *find(struct memory *st, struct shard *s, uint64_t h, int kind,
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
	if (kind == K_COUNTER)
		mp_window_init(&e->u.c);
	e->next = s->chains[h % CHAINS];
	s->chains[h % CHAINS] = e;
	lru_front(s, e);
	s->n++;
	return e;
}

static int memory_counter(struct memory *st, struct mp_state_req *r, time_t now)
{
	uint64_t h = hash(st, K_COUNTER, r->window, r->key, r->klen);
	struct shard *s = &st->shards[h % SHARDS];
	bool oom = false;

	r->count = 0;
	pthread_mutex_lock(&s->lock);
	struct entry *e = find(st, s, h, K_COUNTER, r->window, r->key, r->klen, now, r->add, &oom);
	if (e != NULL)
		r->count = mp_window_count(&e->u.c, r->window, now, r->add, &e->expires);
	pthread_mutex_unlock(&s->lock);
	return oom ? -1 : 0;
}

static int memory_counters(struct mp_state *base, struct mp_state_req *reqs, size_t n, time_t now,
			   char *err, size_t errlen)
{
	struct memory *st = (struct memory *)base;

	for (size_t i = 0; i < n; i++) {
		if (memory_counter(st, &reqs[i], now) < 0) {
			snprintf(err, errlen, "memory store: out of memory");
			return MP_STATE_NOMEM;
		}
	}
	return 0;
}

/* The triplet and its network live in two shards, locked in shard order
 * (once when they share one), so the pair is decided atomically. */
static int memory_greylist(struct mp_state *base, const struct mp_grey_req *req, time_t now,
			   struct mp_grey_ans *ans, char *err, size_t errlen)
{
	struct memory *st = (struct memory *)base;
	uint64_t ht = hash(st, K_TRIPLET, 0, req->key, req->klen);
	uint64_t hn = hash(st, K_TRIPLET, 0, req->net, req->nlen);
	struct shard *a = &st->shards[ht % SHARDS], *b = &st->shards[hn % SHARDS];
	struct shard *lo = a < b ? a : b, *hi = a < b ? b : a;
	bool oom = false;

	pthread_mutex_lock(&lo->lock);
	if (hi != lo)
		pthread_mutex_lock(&hi->lock);
	struct entry *et = find(st, a, ht, K_TRIPLET, 0, req->key, req->klen, now, req->write, &oom);
	struct entry *en = oom ? NULL
			       : find(st, b, hn, K_TRIPLET, 0, req->net, req->nlen, now, req->write, &oom);
	if (!oom) {
		struct mp_triplet t = { 0 }, nt = { 0 };
		if (et != NULL)
			t = et->u.t;
		if (en != NULL)
			nt = en->u.t;
		mp_grey_decide(&t, &nt, req, now, ans);
		if (req->write) {
			et->u.t = t;
			et->expires = (time_t)t.expires;
			if (nt.expires != 0) {
				en->u.t = nt;
				en->expires = (time_t)nt.expires;
			} else {
				en->expires = (time_t)t.expires; /* an empty record goes with its triplet */
			}
		}
	}
	if (hi != lo)
		pthread_mutex_unlock(&hi->lock);
	pthread_mutex_unlock(&lo->lock);
	if (oom)
		snprintf(err, errlen, "memory store: out of memory");
	return oom ? MP_STATE_NOMEM : 0;
}

static void memory_stats(struct mp_state *base, struct mp_state_stats *out)
{
	struct memory *st = (struct memory *)base;

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

static const struct mp_state_ops memory_ops = {
	"memory", memory_counters, memory_greylist, memory_stats, memory_free,
};
