/*
 * metrics - see metrics.h.
 */
#include "util/metrics.h"

#include "util/buf.h"

#include <stdio.h>
#include <string.h>

void mp_hist_init(struct mp_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n = n < MP_HIST_MAX_BUCKETS ? n : MP_HIST_MAX_BUCKETS;
}

void mp_hist_observe(struct mp_histogram *h, double seconds)
{
	size_t i = 0;

	if (seconds < 0)
		seconds = 0;
	while (i < h->n && seconds > h->bounds[i])
		i++;
	mp_counter_add(&h->buckets[i], 1);
	mp_counter_add(&h->count, 1);
	mp_counter_add(&h->sum_ns, (uint64_t)(seconds * 1e9));
}

void mp_metrics_head(struct mp_buf *b, const char *name, const char *type, const char *help)
{
	mp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void mp_metrics_value(struct mp_buf *b, const char *name, const char *labels, uint64_t v)
{
	if (labels != NULL && *labels != '\0')
		mp_buf_printf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
	else
		mp_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void mp_metrics_gauge(struct mp_buf *b, const char *name, const char *labels, double v)
{
	if (labels != NULL && *labels != '\0')
		mp_buf_printf(b, "%s{%s} %.17g\n", name, labels, v);
	else
		mp_buf_printf(b, "%s %.17g\n", name, v);
}

void mp_metrics_hist(struct mp_buf *b, const char *name, const char *labels,
		     const struct mp_histogram *h)
{
	const char *sep = labels != NULL && *labels != '\0' ? "," : "";
	uint64_t cum = 0;

	if (labels == NULL)
		labels = "";
	for (size_t i = 0; i <= h->n; i++) {
		cum += mp_counter_get(&h->buckets[i]);
		if (i < h->n)
			mp_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i],
				      (unsigned long long)cum);
		else
			mp_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				      (unsigned long long)cum);
	}
	/* the count is the +Inf bucket, read once: the two always agree */
	mp_buf_printf(b, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
		      (double)mp_counter_get(&h->sum_ns) / 1e9);
	mp_buf_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		      *labels ? "}" : "", (unsigned long long)cum);
}

void mp_metrics_label(struct mp_buf *labels, const char *name, const char *value)
{
	if (labels->len > 0)
		mp_buf_addc(labels, ',');
	mp_buf_printf(labels, "%s=\"", name);
	for (const char *c = value; *c; c++) {
		if (*c == '\\' || *c == '"')
			mp_buf_addc(labels, '\\');
		if (*c == '\n')
			mp_buf_adds(labels, "\\n");
		else
			mp_buf_addc(labels, *c);
	}
	mp_buf_addc(labels, '"');
}
