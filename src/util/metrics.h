/*
 * metrics - counters and histograms that any thread bumps without a lock
 * (C11 atomics, relaxed: each value is exact, a scrape is not a snapshot
 * of all of them at one instant), and their Prometheus text exposition
 * (SPEC §13). Storage is the caller's (static, or in an object with its
 * own lifetime); nothing here allocates but the text.
 */
#ifndef MP_METRICS_H
#define MP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct mp_buf;

typedef _Atomic uint64_t mp_counter;

static inline void mp_counter_add(mp_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t mp_counter_get(const mp_counter *c)
{
	return atomic_load_explicit((mp_counter *)c, memory_order_relaxed);
}

/* Upper bounds in seconds, ascending; the +Inf bucket is implicit. */
#define MP_HIST_MAX_BUCKETS 16

struct mp_histogram {
	const double *bounds;
	size_t n;
	mp_counter buckets[MP_HIST_MAX_BUCKETS + 1]; /* not cumulative: one per bound, then +Inf */
	mp_counter count;
	mp_counter sum_ns;                           /* the sum, in nanoseconds */
};

void mp_hist_init(struct mp_histogram *h, const double *bounds, size_t n);
void mp_hist_observe(struct mp_histogram *h, double seconds);

/* Exposition. labels: "" or `name="value",...` already escaped
 * (mp_metrics_label appends one). */
void mp_metrics_head(struct mp_buf *b, const char *name, const char *type, const char *help);
void mp_metrics_value(struct mp_buf *b, const char *name, const char *labels, uint64_t v);
void mp_metrics_gauge(struct mp_buf *b, const char *name, const char *labels, double v);
void mp_metrics_hist(struct mp_buf *b, const char *name, const char *labels,
		     const struct mp_histogram *h);
/* Appends `name="value"` (with a comma first when b is not empty) to
 * labels, the value escaped as the format requires. */
void mp_metrics_label(struct mp_buf *labels, const char *name, const char *value);

#endif
