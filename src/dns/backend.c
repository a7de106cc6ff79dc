/*
 * backend - the DNS handle: reference counting and the dispatch of each
 * query to the backend that made it (see backend.h).
 */
#include "dns/backend.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Query latency buckets: from a cache hit to the longest dns_timeout. */
static const double latency_bounds[] = { 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static struct mp_dns_stats stats = {
	.latency = { .bounds = latency_bounds,
		     .n = sizeof(latency_bounds) / sizeof(latency_bounds[0]) },
};

const struct mp_dns_stats *mp_dns_stats(void)
{
	return &stats;
}

struct mp_dns {
	atomic_int refs;
	const struct mp_dns_ops *ops;
	void *impl;
	char *desc;
};

struct mp_dns *mp_dns_alloc(const struct mp_dns_ops *ops, void *impl, const char *desc)
{
	struct mp_dns *dns = calloc(1, sizeof(*dns));

	if (dns == NULL)
		return NULL;
	atomic_init(&dns->refs, 1);
	dns->ops = ops;
	dns->impl = impl;
	dns->desc = strdup(desc);
	if (dns->desc == NULL) {
		free(dns);
		return NULL;
	}
	return dns;
}

void *mp_dns_impl(const struct mp_dns *dns)
{
	return dns->impl;
}

struct mp_dns *mp_dns_ref(struct mp_dns *dns)
{
	if (dns != NULL)
		atomic_fetch_add(&dns->refs, 1);
	return dns;
}

void mp_dns_unref(struct mp_dns *dns)
{
	if (dns == NULL || atomic_fetch_sub(&dns->refs, 1) != 1)
		return;
	dns->ops->destroy(dns);
	free(dns->desc);
	free(dns);
}

const char *mp_dns_describe(const struct mp_dns *dns)
{
	return dns->desc;
}

int mp_dns_query(struct mp_dns *dns, const char *name, uint16_t type, struct mp_dns_answer *ans)
{
	return mp_dns_query_within(dns, name, type, ans, 0);
}

int mp_dns_query_within(struct mp_dns *dns, const char *name, uint16_t type,
			struct mp_dns_answer *ans, unsigned max_ms)
{
	memset(ans, 0, sizeof(*ans));
	/* names longer than DNS allows, or with a NUL-ish shape, do not exist */
	size_t len = strlen(name);
	if (len == 0 || len > 253 + 1) {
		ans->status = MP_DNS_NXDOMAIN;
		return 0;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = dns->ops->query(dns, name, type, ans, max_ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0) {
		mp_hist_observe(&stats.latency, (double)(t1.tv_sec - t0.tv_sec) +
							(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		if ((unsigned)ans->status < 4)
			mp_counter_add(&stats.status[ans->status], 1);
	}
	return rc;
}
