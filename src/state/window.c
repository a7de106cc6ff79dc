/*
 * window - the arithmetic the embedded stores share (see store.h; redis.c
 * has the same in Lua), and the dispatch of state.h's calls to a store.
 */
#include "state/store.h"

#include <string.h>

/* Buckets of ceil(window / MP_STATE_BUCKETS) seconds. */
unsigned mp_window_width(unsigned window)
{
	unsigned w = (window + MP_STATE_BUCKETS - 1) / MP_STATE_BUCKETS;
	return w > 0 ? w : 1;
}

unsigned mp_window_span(unsigned window)
{
	unsigned width = mp_window_width(window);
	return (window + width - 1) / width;
}

void mp_window_init(struct mp_window *w)
{
	for (int i = 0; i <= MP_STATE_BUCKETS; i++) {
		w->slot[i] = -1;
		w->n[i] = 0;
	}
}

uint64_t mp_window_count(struct mp_window *w, unsigned window, time_t now, bool add,
			 time_t *expires_r)
{
	unsigned width = mp_window_width(window);
	int64_t span = (int64_t)mp_window_span(window); /* buckets before the current */
	int64_t slot = (int64_t)now / width;
	uint64_t count = 0;

	if (add) {
		int i = (int)(slot % (MP_STATE_BUCKETS + 1));
		if (w->slot[i] != slot) {
			w->slot[i] = slot;
			w->n[i] = 0;
		}
		w->n[i]++;
	}
	int64_t newest = -1;
	for (int i = 0; i <= MP_STATE_BUCKETS; i++) {
		if (w->slot[i] >= 0 && w->slot[i] <= slot && slot - w->slot[i] <= span)
			count += w->n[i];
		if (w->slot[i] > newest)
			newest = w->slot[i];
	}
	if (expires_r != NULL)
		*expires_r = (time_t)((newest + span + 1) * (int64_t)width);
	return count;
}

void mp_grey_decide(struct mp_triplet *t, struct mp_triplet *net, const struct mp_grey_req *req,
		    time_t now, struct mp_grey_ans *ans)
{
	ans->pass = ans->whitelisted = false;
	ans->left = req->delay;
	if (req->whitelist_after > 0 && net->passed >= req->whitelist_after) {
		ans->pass = ans->whitelisted = true;
		ans->left = 0;
		net->expires = now + (int64_t)req->expiry;
		return;
	}
	if (t->expires == 0) {
		/* new: refused for the delay; kept a day (or the expiry, when
		 * shorter) for its retry */
		unsigned keep = req->expiry < 86400 ? req->expiry : 86400;
		t->first = now;
		t->passed = 0;
		t->expires = now + (int64_t)(req->delay > keep ? req->delay : keep);
		return;
	}
	if (!t->passed && now - t->first < (int64_t)req->delay) {
		ans->left = (unsigned)((int64_t)req->delay - (now - t->first));
		return;
	}
	t->passed = 1;
	t->expires = now + (int64_t)req->expiry;
	ans->pass = true;
	ans->left = 0;
	if (net->expires == 0)
		net->first = now;
	if (net->passed < UINT32_MAX)
		net->passed++;
	net->expires = now + (int64_t)req->expiry;
}

void mp_state_base_init(struct mp_state *st, const struct mp_state_ops *ops)
{
	st->ops = ops;
	atomic_init(&st->refs, 1);
}

struct mp_state *mp_state_ref(struct mp_state *st)
{
	if (st != NULL)
		atomic_fetch_add(&st->refs, 1);
	return st;
}

const char *mp_state_kind(const struct mp_state *st)
{
	return st->ops->kind;
}

int mp_state_counters(struct mp_state *st, struct mp_state_req *reqs, size_t n, time_t now,
		      char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	if (errlen > 0)
		err[0] = '\0';
	return st->ops->counters(st, reqs, n, now, err, errlen);
}

static int one(struct mp_state *st, const void *key, size_t klen, unsigned window_s, time_t now,
	       bool add, uint64_t *count_r)
{
	char err[256];
	struct mp_state_req r = { key, klen, window_s, add, 0 };
	int rc = mp_state_counters(st, &r, 1, now, err, sizeof(err));

	*count_r = r.count;
	return rc;
}

int mp_state_incr(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return one(st, key, klen, window_s, now, true, count_r);
}

int mp_state_peek(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return one(st, key, klen, window_s, now, false, count_r);
}

int mp_state_greylist(struct mp_state *st, const struct mp_grey_req *req, time_t now,
		      struct mp_grey_ans *ans, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	ans->pass = ans->whitelisted = false;
	ans->left = req->delay;
	return st->ops->greylist(st, req, now, ans, err, errlen);
}

void mp_state_stats(struct mp_state *st, struct mp_state_stats *out)
{
	st->ops->stats(st, out);
}

void mp_state_free(struct mp_state *st)
{
	if (st != NULL && atomic_fetch_sub(&st->refs, 1) == 1)
		st->ops->free(st);
}
