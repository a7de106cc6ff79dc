/*
 * state - the shared state of SPEC §12 behind one small interface: windowed
 * counters (rate()) and greylisting. A store is safe to call from any
 * number of threads; each call is atomic (two threads incrementing one key
 * both see their increment counted once). Keys are the caller's bytes
 * (fields joined; no message content beyond the fields a rule names). The
 * stores: `memory` (memory.c), `lmdb:PATH` (lmdb.c) and
 * `redis://HOST:PORT/DB` or `redis+unix:/PATH[?db=N]` (redis.c), each
 * behind the same operations (store.h). A store is reference-counted: the
 * daemon swaps it on reload while connections finish with the old one.
 *
 * Windows are sliding, counted in buckets of ceil(WINDOW / MP_STATE_BUCKETS)
 * seconds: a count is the current bucket and the ones that cover the
 * window before it, so it never misses an event of the window and may
 * include events up to one bucket older (the error bound: about a tenth
 * of the window, always towards counting more).
 */
#ifndef MP_STATE_H
#define MP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MP_STATE_BUCKETS 10

struct mp_state;

struct mp_state_stats {
	uint64_t entries;        /* keys held now (0 for redis: the server's) */
	uint64_t evicted;        /* dropped for state_max_entries (least recently used) */
	uint64_t expired;        /* dropped because their window or expiry passed */
};

struct mp_state_opts {
	size_t max_entries;      /* memory and lmdb */
	unsigned timeout_ms;     /* redis: every call, connecting included */
	const char *password;    /* redis AUTH, or NULL */
};

/* The store a `state =` value names: memory, lmdb:PATH, redis://HOST[:PORT][/DB],
 * redis+unix:/PATH[?db=N]. NULL with err (the value is wrong, or the file
 * cannot be opened; a Redis server is not contacted here). */
struct mp_state *mp_state_open(const char *spec, const struct mp_state_opts *o, char *err,
			       size_t errlen);
/* A memory store of at most max_entries keys (counters and triplets). */
struct mp_state *mp_state_memory_new(size_t max_entries);
/* The LMDB store in the file path (made when missing); NULL with err. */
struct mp_state *mp_state_lmdb_open(const char *path, size_t max_entries, char *err, size_t errlen);
struct mp_state *mp_state_ref(struct mp_state *st);
/* Drops a reference; the last one frees the store. NULL is fine. */
void mp_state_free(struct mp_state *st);
/* "memory", "lmdb" or "redis". */
const char *mp_state_kind(const struct mp_state *st);

/* One windowed counter of a batch. */
struct mp_state_req {
	const void *key;
	size_t klen;
	unsigned window;         /* seconds */
	bool add;                /* count one event now; else only read */
	uint64_t count;          /* out: the events of the window (this one included) */
};

/* The counters of one stage, in one round trip where the store has trips.
 * 0, -1 (the store failed: no count is valid; err says why) or
 * MP_STATE_NOMEM (this process ran out of memory: an internal error, not
 * a store failure). */
#define MP_STATE_NOMEM (-2)
int mp_state_counters(struct mp_state *st, struct mp_state_req *reqs, size_t n, time_t now,
		      char *err, size_t errlen);
/* One counter (tests, benchmarks). 0 or -1. */
int mp_state_incr(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r);
int mp_state_peek(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r);

/* Greylisting of one triplet (SPEC §12). A triplet first seen is
 * remembered and refused for delay seconds; a retry after that passes, and
 * the triplet is then remembered for expiry seconds from its last pass.
 * Each pass counts for the client network (net); a network with
 * whitelist_after passes or more (0: never) passes at once, remembered for
 * expiry from its last pass. write false: what would happen, nothing kept. */
struct mp_grey_req {
	const void *key;
	size_t klen;
	const void *net;
	size_t nlen;
	unsigned delay, expiry, whitelist_after;
	bool write;
};

struct mp_grey_ans {
	bool pass;
	bool whitelisted;        /* passed as a whitelisted network */
	unsigned left;           /* when refused: seconds of the delay left, rounded up */
};

/* 0, -1 (the store failed; err says why) or MP_STATE_NOMEM. */
int mp_state_greylist(struct mp_state *st, const struct mp_grey_req *req, time_t now,
		      struct mp_grey_ans *ans, char *err, size_t errlen);

void mp_state_stats(struct mp_state *st, struct mp_state_stats *out);

#endif
