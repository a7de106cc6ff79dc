/*
 * status - `milter-policy status`: the running daemon's summary (SPEC
 * §13), fetched from its metrics endpoint (GET /status on metrics_listen)
 * and printed in a few lines, or as JSON.
 *
 * The request is HTTP/1.0 over one TCP connection to the address the
 * configuration names, written by hand rather than through an HTTP
 * library: the server is our own (daemon/http.c), the request is fixed,
 * the answer is read to its end with a 1 MiB bound and a 5 s timeout.
 * Without metrics_listen there are no counters: the pidfile says whether
 * the daemon runs.
 */
#include "daemon/daemon.h"

#include "conf/conf.h"
#include "util/buf.h"
#include "util/ip.h"

#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX (1024 * 1024)

/* GET path from spec; the body of a 200 answer into out. 0, or -1 with err. */
static int http_get(const char *spec, const char *path, struct mp_buf *out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const char *why;
	struct timeval tv = { 5, 0 };

	if (mp_hostport_parse(spec, &ss, &why) < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", spec, why);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	socklen_t sl = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, errlen, "no daemon answers on %s (metrics_listen): %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: milter-policy\r\n\r\n", path);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "%s: cannot send the request: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	struct mp_buf b;
	mp_buf_init(&b);
	char chunk[8192];
	ssize_t r;
	while ((r = recv(fd, chunk, sizeof(chunk), 0)) > 0 && b.len < ANSWER_MAX)
		mp_buf_add(&b, chunk, (size_t)r);
	close(fd);
	const char *body = b.p ? strstr(b.p, "\r\n\r\n") : NULL;
	if (r < 0 || b.oom || body == NULL || strncmp(b.p, "HTTP/1.", 7) != 0 ||
	    strncmp(b.p + 8, " 200", 4) != 0) {
		snprintf(err, errlen, "%s: no valid answer to GET %s", spec, path);
		mp_buf_free(&b);
		return -1;
	}
	body += 4;
	mp_buf_add(out, body, b.len - (size_t)(body - b.p));
	mp_buf_free(&b);
	return out->oom ? -1 : 0;
}

static long long jint(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void counts_line(json_object *m, const char *key, const char *label)
{
	static const char *const names[][2] = { { "accept", "accepted" }, { "reject", "rejected" },
						{ "tempfail", "tempfailed" }, { "discard", "discarded" },
						{ "quarantine", "quarantined" }, { "abort", "aborted" } };
	json_object *w;

	if (!json_object_object_get_ex(m, key, &w))
		return;
	printf("  %-12s", label);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		printf("%s%lld %s", i ? ", " : "", jint(w, names[i][0]), names[i][1]);
	printf("\n");
}

static void when(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
}

static void print_summary(json_object *o)
{
	char started[32], reloaded[32];
	long long up = jint(o, "uptime_seconds");
	json_object *m, *top, *dns, *v;

	when(jint(o, "started"), started, sizeof(started));
	printf("milter-policy %s: up %lldd %02lldh %02lldm (since %s), %lld session%s open\n",
	       json_object_object_get_ex(o, "version", &v) ? json_object_get_string(v) : "?",
	       up / 86400, up / 3600 % 24, up / 60 % 60, started, jint(o, "sessions_open"),
	       jint(o, "sessions_open") == 1 ? "" : "s");
	printf("rules: %lld in %lld polic%s besides global, %lld list%s; reloads %lld, failed %lld",
	       jint(o, "rules"), jint(o, "policies"), jint(o, "policies") == 1 ? "y" : "ies",
	       jint(o, "lists"), jint(o, "lists") == 1 ? "" : "s", jint(o, "reloads"),
	       jint(o, "reload_failures"));
	if (jint(o, "last_reload") > 0) {
		json_object *ok;
		when(jint(o, "last_reload"), reloaded, sizeof(reloaded));
		bool good = json_object_object_get_ex(o, "last_reload_ok", &ok) && json_object_get_boolean(ok);
		printf(" (the last %s at %s)", good ? "succeeded" : "FAILED", reloaded);
	}
	printf("\nmessages:\n");
	if (json_object_object_get_ex(o, "messages", &m)) {
		counts_line(m, "last_minute", "last minute");
		counts_line(m, "last_hour", "last hour");
		counts_line(m, "since_start", "since start");
	}
	if (json_object_object_get_ex(o, "top_rules", &top) && json_object_array_length(top) > 0) {
		printf("top rules:");
		for (size_t i = 0; i < json_object_array_length(top); i++) {
			json_object *e = json_object_array_get_idx(top, i), *r, *p;
			json_object_object_get_ex(e, "rule", &r);
			json_object_object_get_ex(e, "policy", &p);
			printf("%s %s [%s] %lld", i ? "," : "", json_object_get_string(r),
			       json_object_get_string(p), jint(e, "hits"));
		}
		printf("\n");
	} else {
		printf("top rules: (no rule has matched yet)\n");
	}
	if (json_object_object_get_ex(o, "dns", &dns)) {
		json_object *mean;
		json_object_object_get_ex(dns, "mean_ms", &mean);
		printf("dns: %lld queries, %lld temporary failures, %.2f ms on average\n",
		       jint(dns, "queries"), jint(dns, "tempfail"), mean ? json_object_get_double(mean) : 0);
	}
}

int mp_daemon_status(const struct mp_conf *c, bool json, const char *html)
{
	char err[512];
	struct mp_buf b;

	if (c->metrics_listen == NULL) {
		long p = (long)mp_daemon_pid(c->pidfile);
		if (p <= 0) {
			fprintf(stderr, "milter-policy: status: not running (pidfile %s)\n", c->pidfile);
			return 1;
		}
		if (html != NULL)
			fprintf(stderr, "milter-policy: status: no counters for --html: set metrics_listen\n");
		if (html != NULL)
			return 1;
		if (json)
			printf("{\"pid\": %ld, \"counters\": null}\n", p);
		else
			printf("milter-policy: running as pid %ld; set metrics_listen for its counters\n", p);
		return 0;
	}
	mp_buf_init(&b);
	if (http_get(c->metrics_listen, "/status", &b, err, sizeof(err)) < 0) {
		fprintf(stderr, "milter-policy: status: %s\n", err);
		mp_buf_free(&b);
		return 1;
	}
	json_object *o = json_tokener_parse(b.p ? b.p : "");
	mp_buf_free(&b);
	if (o == NULL) {
		fprintf(stderr, "milter-policy: status: the daemon's answer is not JSON\n");
		return 1;
	}
	int rc = 0;
	if (html != NULL) {
		FILE *f = fopen(html, "w");
		if (f == NULL || mp_status_html(o, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "milter-policy: status: cannot write %s\n", html);
			rc = 1;
		}
	} else if (json) {
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED));
	} else {
		print_summary(o);
	}
	json_object_put(o);
	return rc;
}
