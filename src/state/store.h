/*
 * store - what each store (memory.c, lmdb.c) implements behind state.h,
 * and the arithmetic they share (window.c): the bucketed window of a
 * counter and the life of a greylisting triplet, as plain values a store
 * keeps under its own lock or transaction. Not for use outside src/state.
 */
#ifndef MP_STATE_STORE_H
#define MP_STATE_STORE_H

#include "state/state.h"

struct mp_state_ops {
	int (*counter)(struct mp_state *st, const void *key, size_t klen, unsigned window,
		       time_t now, bool add, uint64_t *count_r);
	int (*greylist)(struct mp_state *st, const void *key, size_t klen, time_t now,
			unsigned delay_s, unsigned expiry_s, bool *pass_r, unsigned *left_r);
	void (*stats)(struct mp_state *st, struct mp_state_stats *out);
	void (*free)(struct mp_state *st);
};

/* Every store begins with this. */
struct mp_state {
	const struct mp_state_ops *ops;
};

/* A counter's buckets: the current one and those covering the window
 * before it (at most MP_STATE_BUCKETS). */
struct mp_window {
	int64_t slot[MP_STATE_BUCKETS + 1];
	uint64_t n[MP_STATE_BUCKETS + 1];
};

void mp_window_init(struct mp_window *w);
/* Adds one event at now (when add) and returns the count of the window;
 * *expires_r: when nothing of it counts any more. */
uint64_t mp_window_count(struct mp_window *w, unsigned window, time_t now, bool add,
			 time_t *expires_r);

struct mp_triplet {
	int64_t first;       /* first seen */
	int64_t expires;     /* 0: new */
	uint8_t passed;
};

/* Greylisting of one triplet (a zeroed one is new); updates it. */
void mp_triplet_check(struct mp_triplet *t, time_t now, unsigned delay_s, unsigned expiry_s,
		      bool *pass_r, unsigned *left_r);

#endif
