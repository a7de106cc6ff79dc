/*
 * backend - the DNS handle: reference counting and the dispatch of each
 * query to the backend that made it (see backend.h).
 */
#include "dns/backend.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
	return dns->ops->query(dns, name, type, ans, max_ms);
}
