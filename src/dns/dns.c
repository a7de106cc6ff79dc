/*
 * dns - the common part: reference counting, answers, wire-format helpers.
 */
#include "dns/dns.h"

#include "conf.h"
#include "util/diag.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mp_unbound_opts;
struct mp_dns *mp_dns_new_unbound(const struct mp_conf *conf, struct mp_diags *d);

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

struct mp_dns *mp_dns_new(const struct mp_conf *conf, struct mp_diags *d)
{
	if (conf->dns_zone_file != NULL)
		return mp_dns_new_zone(conf->dns_zone_file, d);
	return mp_dns_new_unbound(conf, d);
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

void mp_dns_answer_clear(struct mp_dns_answer *ans)
{
	if (ans == NULL)
		return;
	for (size_t i = 0; i < ans->n; i++)
		free(ans->rr[i].data);
	free(ans->rr);
	memset(ans, 0, sizeof(*ans));
}

/* Takes over rr->data. */
int mp_dns_answer_add(struct mp_dns_answer *ans, const struct mp_dns_rr *rr)
{
	if (ans->n == ans->cap) {
		size_t nc = ans->cap ? ans->cap * 2 : 4;
		struct mp_dns_rr *v = realloc(ans->rr, nc * sizeof(*v));
		if (v == NULL)
			return -1;
		ans->rr = v;
		ans->cap = nc;
	}
	ans->rr[ans->n++] = *rr;
	return 0;
}

int mp_dns_txt_from_wire(const unsigned char *p, size_t len, struct mp_dns_rr *rr)
{
	char *out = malloc(len + 1);
	size_t o = 0, n = 0;

	if (out == NULL)
		return -2;
	for (size_t i = 0; i < len;) {
		size_t sl = p[i++];
		if (sl > len - i) {
			free(out);
			return -1;
		}
		memcpy(out + o, p + i, sl);
		o += sl;
		i += sl;
		n++;
	}
	out[o] = '\0';
	rr->data = out;
	rr->len = o;
	rr->n_strings = n;
	return 0;
}

int mp_dns_name_from_wire(const unsigned char *p, size_t len, char *out, size_t outlen,
			  size_t *used_r)
{
	size_t i = 0, o = 0;

	for (;;) {
		if (i >= len)
			return -1;
		size_t ll = p[i++];
		if (ll == 0)
			break;
		if (ll > 63 || ll > len - i)
			return -1; /* a compression pointer or a cut label */
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		for (size_t k = 0; k < ll; k++) {
			unsigned char c = p[i + k];
			if (c > ' ' && c < 0x7f && c != '.' && c != '\\') {
				if (o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			} else {
				if (o + 4 >= outlen)
					return -1;
				o += (size_t)snprintf(out + o, outlen - o, "\\%03u", c);
			}
		}
		i += ll;
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	if (used_r != NULL)
		*used_r = i;
	return 0;
}
