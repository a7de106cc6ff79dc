/*
 * state - the shared state of SPEC §12 behind one small interface: windowed
 * counters (rate()) and greylisting triplets. A store is reference-free
 * and safe to call from any number of threads; each call is atomic (two
 * threads incrementing one key both see their increment counted once).
 * Keys are the caller's bytes (fields joined; no message content beyond
 * the fields a rule names). The stores: `memory` (memory.c) and `lmdb`
 * (lmdb.c); Redis comes behind the same operations (store.h).
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
	uint64_t entries;        /* keys held now */
	uint64_t evicted;        /* dropped for state_max_entries (least recently used) */
	uint64_t expired;        /* dropped because their window or expiry passed */
};

/* A memory store of at most max_entries keys (counters and triplets). */
struct mp_state *mp_state_memory_new(size_t max_entries);
/* The LMDB store in the file path (made when missing); NULL with err. */
struct mp_state *mp_state_lmdb_open(const char *path, size_t max_entries, char *err, size_t errlen);
void mp_state_free(struct mp_state *st);

/* Counts one event for key now and returns, in *count_r, the events of the
 * last window_s seconds, this one included. 0, or -1 (no memory). */
int mp_state_incr(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r);
/* Reads the count without adding to it (test --state, status). */
int mp_state_peek(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r);

/* Greylisting: a triplet first seen now is remembered and refused for
 * delay_s seconds; a retry after that passes, and the triplet is then
 * remembered for expiry_s seconds from its last pass. *pass_r says
 * whether it passes; when not, *left_r is the delay left, rounded up.
 * 0, or -1 (no memory). */
int mp_state_greylist(struct mp_state *st, const void *key, size_t klen, time_t now,
		      unsigned delay_s, unsigned expiry_s, bool *pass_r, unsigned *left_r);

void mp_state_stats(struct mp_state *st, struct mp_state_stats *out);

#endif
