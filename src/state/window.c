/*
 * window - the arithmetic every store shares (see store.h), and the
 * dispatch of state.h's calls to a store.
 */
#include "state/store.h"

/* Buckets of ceil(window / MP_STATE_BUCKETS) seconds. */
static unsigned bucket_width(unsigned window)
{
	unsigned w = (window + MP_STATE_BUCKETS - 1) / MP_STATE_BUCKETS;
	return w > 0 ? w : 1;
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
	unsigned width = bucket_width(window);
	int64_t span = (int64_t)((window + width - 1) / width); /* buckets before the current */
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

void mp_triplet_check(struct mp_triplet *t, time_t now, unsigned delay_s, unsigned expiry_s,
		      bool *pass_r, unsigned *left_r)
{
	*pass_r = false;
	*left_r = delay_s;
	if (t->expires == 0) {
		/* new: refused for the delay; kept a day (or the expiry, when
		 * shorter) for its retry */
		unsigned keep = expiry_s < 86400 ? expiry_s : 86400;
		t->first = now;
		t->passed = 0;
		t->expires = now + (int64_t)(delay_s > keep ? delay_s : keep);
	} else if (t->passed || now - t->first >= (int64_t)delay_s) {
		t->passed = 1;
		t->expires = now + (int64_t)expiry_s;
		*pass_r = true;
		*left_r = 0;
	} else {
		*left_r = (unsigned)((int64_t)delay_s - (now - t->first));
	}
}

int mp_state_incr(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return st->ops->counter(st, key, klen, window_s, now, true, count_r);
}

int mp_state_peek(struct mp_state *st, const void *key, size_t klen, unsigned window_s,
		  time_t now, uint64_t *count_r)
{
	return st->ops->counter(st, key, klen, window_s, now, false, count_r);
}

int mp_state_greylist(struct mp_state *st, const void *key, size_t klen, time_t now,
		      unsigned delay_s, unsigned expiry_s, bool *pass_r, unsigned *left_r)
{
	return st->ops->greylist(st, key, klen, now, delay_s, expiry_s, pass_r, left_r);
}

void mp_state_stats(struct mp_state *st, struct mp_state_stats *out)
{
	st->ops->stats(st, out);
}

void mp_state_free(struct mp_state *st)
{
	if (st != NULL)
		st->ops->free(st);
}
