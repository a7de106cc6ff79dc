/*
 * store - what each store (memory.c, lmdb.c, redis.c) implements behind
 * state.h, and the arithmetic the embedded ones share (window.c): the
 * bucketed window of a counter and the life of a greylisting triplet and
 * of its network's passes, as plain values a store keeps under its own
 * lock or transaction. redis.c runs the same arithmetic as Lua on the
 * server. Not for use outside src/state.
 */
#ifndef MP_STATE_STORE_H
#define MP_STATE_STORE_H

#include "state/state.h"

#include <stdatomic.h>

struct mp_state_ops {
	const char *kind;
	int (*counters)(struct mp_state *st, struct mp_state_req *reqs, size_t n, time_t now,
			char *err, size_t errlen);
	int (*greylist)(struct mp_state *st, const struct mp_grey_req *req, time_t now,
			struct mp_grey_ans *ans, char *err, size_t errlen);
	void (*stats)(struct mp_state *st, struct mp_state_stats *out);
	void (*free)(struct mp_state *st);
};

/* Every store begins with this. */
struct mp_state {
	const struct mp_state_ops *ops;
	atomic_uint refs;
};

void mp_state_base_init(struct mp_state *st, const struct mp_state_ops *ops);
/* redis.c: a store for a server at host:port, or at the socket path. */
struct mp_state *mp_state_redis_new(const char *host, int port, const char *path, int db,
				    const struct mp_state_opts *o, char *err, size_t errlen);

/* A counter's buckets: the current one and those covering the window
 * before it (at most MP_STATE_BUCKETS). */
struct mp_window {
	int64_t slot[MP_STATE_BUCKETS + 1];
	uint64_t n[MP_STATE_BUCKETS + 1];
};

void mp_window_init(struct mp_window *w);
/* Buckets of a window: their width in seconds and how many precede the
 * current one. */
unsigned mp_window_width(unsigned window);
unsigned mp_window_span(unsigned window);
/* Adds one event at now (when add) and returns the count of the window;
 * *expires_r: when nothing of it counts any more. */
uint64_t mp_window_count(struct mp_window *w, unsigned window, time_t now, bool add,
			 time_t *expires_r);

/* A greylisting triplet, or (passes) a client network's record. */
struct mp_triplet {
	int64_t first;       /* first seen */
	int64_t expires;     /* 0: new */
	uint32_t passed;     /* triplet: passed once; network: passes */
	uint32_t pad;
};

/* Greylisting of one triplet and its network (zeroed records are new;
 * ones whose time has passed the caller zeroes); updates both. */
void mp_grey_decide(struct mp_triplet *t, struct mp_triplet *net, const struct mp_grey_req *req,
		    time_t now, struct mp_grey_ans *ans);

#endif
