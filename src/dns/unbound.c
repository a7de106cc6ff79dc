/*
 * unbound - the libunbound backend: the system resolver, or dns_servers
 * as forwarders; caching by libunbound; a hard per-query timeout.
 *
 * One ub_ctx in threaded async mode is shared by every caller. A query is
 * started with ub_resolve_async and the caller waits on its own condition
 * variable until the answer arrives or dns_timeout passes; one event
 * thread runs ub_process whenever libunbound's fd is readable and so
 * delivers the callbacks. A query that times out is cancelled; the
 * request record is reference-counted between the caller and the callback
 * so that neither frees it under the other.
 *
 * Answers are also kept in a small cache of our own (dns/cache.c), which
 * spares repeated names the round trip through libunbound's threads.
 *
 * With dns_servers set, every name goes to those servers: libunbound's
 * built-in local zones (test., invalid., the private reverse zones, ...)
 * are removed, so a site resolver's own zones answer.
 */
#include "dns/backend.h"

#include "conf/conf.h"
#include "dns/cache.h"
#include "util/buf.h"
#include "util/diag.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define CACHE_NAMES 20000

struct ub {
	struct ub_ctx *ctx;
	struct mp_dns_cache *cache;
	unsigned timeout_ms;
	pthread_t thread;
	int stop[2];
};

struct req {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	int err;
	struct ub_result *res;
};

static void req_release(struct req *q)
{
	pthread_mutex_lock(&q->mu);
	bool last = --q->refs == 0;
	pthread_mutex_unlock(&q->mu);
	if (!last)
		return;
	if (q->res != NULL)
		ub_resolve_free(q->res);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

static void callback(void *arg, int err, struct ub_result *res)
{
	struct req *q = arg;

	pthread_mutex_lock(&q->mu);
	q->err = err;
	q->res = res;
	q->done = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	req_release(q);
}

static void *event_thread(void *arg)
{
	struct ub *u = arg;
	struct pollfd pf[2] = { { ub_fd(u->ctx), POLLIN, 0 }, { u->stop[0], POLLIN, 0 } };

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if (pf[0].revents)
			ub_process(u->ctx);
	}
	return NULL;
}

static int convert(const struct ub_result *res, uint16_t type, struct mp_dns_answer *ans)
{
	if (res->rcode == 3 || res->nxdomain) {
		ans->status = MP_DNS_NXDOMAIN;
		return 0;
	}
	if (res->rcode != 0) {
		ans->status = MP_DNS_TEMPFAIL; /* SERVFAIL, REFUSED, ... */
		return 0;
	}
	ans->status = MP_DNS_NODATA;
	for (int i = 0; res->havedata && res->data[i] != NULL; i++) {
		const unsigned char *p = (const unsigned char *)res->data[i];
		size_t len = (size_t)res->len[i];
		struct mp_dns_rr rr = { .type = type, .ttl = (uint32_t)(res->ttl > 0 ? res->ttl : 0) };
		char name[1100];
		switch (type) {
		case MP_DNS_A:
		case MP_DNS_AAAA:
			if (len != (type == MP_DNS_A ? 4u : 16u))
				continue;
			rr.len = len;
			rr.data = malloc(len + 1);
			if (rr.data == NULL)
				return -1;
			memcpy(rr.data, p, len);
			break;
		case MP_DNS_TXT: {
			int trc = mp_dns_txt_from_wire(p, len, &rr);
			if (trc == -2)
				return -1;
			if (trc < 0)
				continue; /* malformed: as if absent */
			break;
		}
		case MP_DNS_MX:
		case MP_DNS_PTR: {
			size_t off = 0;
			if (type == MP_DNS_MX) {
				if (len < 3)
					continue;
				rr.pref = (uint16_t)(p[0] << 8 | p[1]);
				off = 2;
			}
			if (mp_dns_name_from_wire(p + off, len - off, name, sizeof(name), NULL) < 0)
				continue;
			rr.len = strlen(name);
			rr.data = strdup(name);
			if (rr.data == NULL)
				return -1;
			break;
		}
		default:
			continue;
		}
		if (mp_dns_answer_add(ans, &rr) < 0) {
			free(rr.data);
			return -1;
		}
		ans->status = MP_DNS_OK;
	}
	return 0;
}

static int ub_query(struct mp_dns *dns, const char *name, uint16_t type, struct mp_dns_answer *ans,
		    unsigned max_ms)
{
	struct ub *u = mp_dns_impl(dns);
	struct req *q = calloc(1, sizeof(*q));
	int id;

	if (q == NULL)
		return -1;
	if (mp_dns_cache_get(u->cache, name, type, ans)) {
		free(q);
		return 0;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->refs = 2; /* the caller's and the callback's */
	if (ub_resolve_async(u->ctx, name, type, 1, q, callback, &id) != 0) {
		q->refs = 1;
		req_release(q);
		ans->status = MP_DNS_TEMPFAIL;
		return 0;
	}
	struct timespec deadline;
	unsigned wait_ms = max_ms > 0 && max_ms < u->timeout_ms ? max_ms : u->timeout_ms;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->mu);
	while (!q->done) {
		if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT)
			break;
	}
	bool done = q->done;
	pthread_mutex_unlock(&q->mu);
	int rc = 0;
	if (!done) {
		/* cancelled: the callback will not run, its reference is ours */
		if (ub_cancel(u->ctx, id) == 0)
			q->refs = 1;
		ans->status = MP_DNS_TEMPFAIL;
	} else if (q->err != 0 || q->res == NULL) {
		ans->status = MP_DNS_TEMPFAIL;
	} else {
		rc = convert(q->res, type, ans);
		if (rc < 0)
			mp_dns_answer_clear(ans);
		else if (q->res->ttl > 0)
			mp_dns_cache_put(u->cache, name, type, ans, (unsigned)q->res->ttl);
	}
	req_release(q);
	return rc;
}

static void stop_and_free(struct ub *u)
{
	if (write(u->stop[1], "x", 1) == 1)
		pthread_join(u->thread, NULL);
	close(u->stop[0]);
	close(u->stop[1]);
	ub_ctx_delete(u->ctx);
	mp_dns_cache_free(u->cache);
	free(u);
}

static void ub_destroy(struct mp_dns *dns)
{
	stop_and_free(mp_dns_impl(dns));
}

static const struct mp_dns_ops ub_ops = { ub_query, ub_destroy };

/* Removes every local zone libunbound has built in (listing them needs a
 * finalised context, so this comes after all other settings). */
static int drop_local_zones(struct ub_ctx *ctx)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return -1;
	ub_ctx_debugout(ctx, f);
	int rc = ub_ctx_print_local_zones(ctx);
	fflush(f);
	ub_ctx_debugout(ctx, stderr);
	fclose(f);
	for (char *line = text; rc == 0 && line != NULL && *line;) {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		/* "... info: static zone NAME TYPE0 IN" */
		char *z = strstr(line, " zone ");
		if (z != NULL) {
			char name[300];
			if (sscanf(z + 6, "%299s", name) == 1)
				rc = ub_ctx_zone_remove(ctx, name) == 0 ? 0 : -1;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return rc;
}

struct mp_dns *mp_dns_new_unbound(const struct mp_conf *conf, struct mp_diags *d);

struct mp_dns *mp_dns_new_unbound(const struct mp_conf *conf, struct mp_diags *d)
{
	const char *what = conf->path ? conf->path : "dns";
	struct ub *u = calloc(1, sizeof(*u));
	struct mp_buf desc;
	int rc = 0;

	if (u == NULL || pipe(u->stop) < 0) {
		free(u);
		mp_diags_add(d, what, 0, 0, "cannot set up the resolver: %s", strerror(errno));
		return NULL;
	}
	u->timeout_ms = conf->dns_timeout_ms;
	u->cache = mp_dns_cache_new(CACHE_NAMES);
	u->ctx = u->cache ? ub_ctx_create() : NULL;
	mp_buf_init(&desc);
	if (u->ctx == NULL) {
		rc = -1;
	} else if (conf->n_dns_servers > 0) {
		mp_buf_adds(&desc, "unbound forwarding to");
		rc = ub_ctx_set_option(u->ctx, "do-not-query-localhost:", "no");
		for (size_t i = 0; rc == 0 && i < conf->n_dns_servers; i++) {
			rc = ub_ctx_set_fwd(u->ctx, conf->dns_servers[i]);
			mp_buf_printf(&desc, "%s %s", i ? "," : "", conf->dns_servers[i]);
		}
	} else {
		/* the system's resolvers as forwarders, or recursion when none */
		int r = ub_ctx_resolvconf(u->ctx, NULL);
		mp_buf_adds(&desc, r == 0 ? "unbound with /etc/resolv.conf" : "unbound recursing");
	}
	if (rc == 0 && u->ctx != NULL)
		rc = ub_ctx_async(u->ctx, 1);
	if (rc == 0 && u->ctx != NULL && conf->n_dns_servers > 0)
		rc = drop_local_zones(u->ctx);
	mp_buf_printf(&desc, ", timeout %u ms", u->timeout_ms);
	if (rc != 0 || u->ctx == NULL ||
	    pthread_create(&u->thread, NULL, event_thread, u) != 0) {
		mp_diags_add(d, what, 0, 0, "cannot set up the resolver%s%s",
			     rc > 0 || rc < -1 ? ": " : "", rc > 0 || rc < -1 ? ub_strerror(rc) : "");
		if (u->ctx != NULL)
			ub_ctx_delete(u->ctx);
		mp_dns_cache_free(u->cache);
		close(u->stop[0]);
		close(u->stop[1]);
		free(u);
		mp_buf_free(&desc);
		return NULL;
	}
	struct mp_dns *dns = mp_dns_alloc(&ub_ops, u, desc.p ? desc.p : "unbound");
	mp_buf_free(&desc);
	if (dns == NULL) {
		mp_diags_add(d, what, 0, 0, "out of memory");
		stop_and_free(u);
	}
	return dns;
}
