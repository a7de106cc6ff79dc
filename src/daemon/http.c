/*
 * http - the metrics endpoint over libmicrohttpd; see http.h.
 *
 * Why libmicrohttpd (Debian's libmicrohttpd12): a small, maintained
 * embedded server with its own polling thread. Fenced: it binds the one
 * address configured (loopback is the advice, docs/metrics.md), answers GET
 * on two fixed paths and nothing else, reads no request body, and holds at
 * most 16 connections with a 10 s timeout, so a scraper cannot reach the
 * milter threads or hold memory.
 */
#include "daemon/http.h"

#include "daemon/stats.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/ip.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct MHD_Daemon *mhd;
static struct mp_ruleset *(*in_force)(void);

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     struct mp_buf *b)
{
	size_t len = b->len;
	char *body = mp_buf_steal(b);
	if (body == NULL)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct mp_buf b;

	(void)cls;
	(void)version;
	(void)upload;
	/* the first call only announces the request */
	if (*state == NULL) {
		*state = (void *)1;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0; /* a body is read and dropped */
		return MHD_YES;
	}
	mp_buf_init(&b);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		mp_buf_adds(&b, "only GET\n");
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
	}
	bool metrics = strcmp(url, "/metrics") == 0, status = strcmp(url, "/status") == 0;
	if (!metrics && !status) {
		mp_buf_adds(&b, "not found: /metrics or /status\n");
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", &b);
	}
	struct mp_ruleset *rs = in_force != NULL ? in_force() : NULL;
	if (metrics)
		mp_stats_render(&b, rs);
	else
		mp_stats_status_json(&b, rs);
	mp_ruleset_unref(rs);
	if (b.oom) {
		mp_buf_free(&b);
		return MHD_NO;
	}
	return reply(c, MHD_HTTP_OK,
		     metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json", &b);
}

int mp_http_start(const char *spec, struct mp_ruleset *(*ruleset)(void), char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const char *why;

	if (mp_hostport_parse(spec, &ss, &why) < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", spec, why);
		return -1;
	}
	in_force = ruleset;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &ss,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
			       (unsigned)10, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
			       MHD_OPTION_END);
	if (mhd == NULL) {
		snprintf(err, errlen, "metrics_listen %s: cannot listen there (in use, or not an "
			 "address of this host)", spec);
		return -1;
	}
	return 0;
}

void mp_http_stop(void)
{
	if (mhd != NULL)
		MHD_stop_daemon(mhd);
	mhd = NULL;
}
