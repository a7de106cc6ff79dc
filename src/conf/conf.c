/*
 * conf - configuration file parser; see conf.h.
 *
 * A table maps each key to a setter; setters return NULL when the value is
 * good or a message saying what is wrong with it. Every line is checked, so
 * one run reports every mistake in the file.
 */
#include "conf/conf.h"

#include "util/diag.h"
#include "util/file.h"
#include "util/ip.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONF_MAX_BYTES (1024 * 1024)

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct mp_conf *mp_conf_new(void)
{
	struct mp_conf *c = calloc(1, sizeof(*c));
	char host[256];

	if (c == NULL)
		return NULL;
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	c->socket = xstrdup("unix:/run/milter-policy/milter-policy.sock");
	c->socket_mode = 0660;
	c->user = xstrdup("milter-policy");
	c->group = xstrdup("milter-policy");
	c->pidfile = xstrdup("/run/milter-policy/milter-policy.pid");
	c->rules_dir = xstrdup(MP_DEFAULT_RULES_DIR);
	c->authserv_id = xstrdup(host);
	c->dns_servers = calloc(1, sizeof(char *));
	if (!c->socket || !c->user || !c->group || !c->pidfile || !c->rules_dir ||
	    !c->authserv_id || !c->dns_servers) {
		mp_conf_free(c);
		return NULL;
	}
	c->add_auth_results = true;
	c->spf = c->spf_helo = c->dkim = c->dmarc = true;
	c->dns_timeout_ms = 5000;
	c->recipient_policy = MP_RCPT_SPLIT;
	c->mode = MP_MODE_ENFORCE;
	c->on_internal_error = MP_ONERR_TEMPFAIL;
	c->on_limit = MP_ONERR_TEMPFAIL;
	c->regex_match_limit = 100000;
	c->dkim_max_signatures = 5;
	c->body_scan_limit = 1024 * 1024;
	c->mime_max_depth = 20;
	c->mime_max_parts = 500;
	c->archive_max_entries = 1000;
	c->reload_check_interval_ms = 10000;
	c->state = xstrdup("memory");
	c->state_prefix = xstrdup("mp:");
	c->state_timeout_ms = 200;
	c->state_max_entries = 1000000;
	c->greylist_whitelist_after = 5;
	c->on_state_error = MP_ONERR_TEMPFAIL;
	if (c->state == NULL || c->state_prefix == NULL) {
		mp_conf_free(c);
		return NULL;
	}
	c->log = MP_LOGTO_SYSLOG;
	c->log_level = MP_LOG_INFO;
	return c;
}

static void free_servers(struct mp_conf *c)
{
	if (c->dns_servers != NULL) {
		for (size_t i = 0; c->dns_servers[i] != NULL; i++)
			free(c->dns_servers[i]);
		free(c->dns_servers);
	}
	c->dns_servers = NULL;
	c->n_dns_servers = 0;
}

void mp_conf_free(struct mp_conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->socket);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->rules_dir);
	free(c->authserv_id);
	free_servers(c);
	free(c->dns_zone_file);
	free(c->dmarc_history);
	free(c->metrics_listen);
	free(c->dmarc_report_org);
	free(c->dmarc_report_email);
	free(c->state);
	free(c->state_prefix);
	free(c->state_password_file);
	if (c->state_password != NULL)
		explicit_bzero(c->state_password, strlen(c->state_password));
	free(c->state_password);
	free(c);
}

int mp_conf_set_rules_dir(struct mp_conf *c, const char *dir)
{
	char *p = strdup(dir);

	if (p == NULL)
		return -1;
	free(c->rules_dir);
	c->rules_dir = p;
	return 0;
}

int mp_parse_bool(const char *s, bool *b_r)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (mp_ascii_ieq(s, yes[i])) {
			*b_r = true;
			return 0;
		}
		if (mp_ascii_ieq(s, no[i])) {
			*b_r = false;
			return 0;
		}
	}
	return -1;
}

/* Parses a leading unsigned decimal; returns the rest or NULL. */
static const char *parse_ulong(const char *s, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*v_r = v;
	return s;
}

int mp_parse_duration_ms(const char *s, unsigned *ms_r)
{
	unsigned long long v;
	const char *rest = parse_ulong(s, &v);

	if (rest == NULL)
		return -1;
	if (strcmp(rest, "ms") == 0) {
		/* as is */
	} else if (strcmp(rest, "s") == 0 || *rest == '\0') {
		if (v > UINT_MAX / 1000)
			return -1;
		v *= 1000;
	} else {
		return -1;
	}
	if (v > UINT_MAX)
		return -1;
	*ms_r = (unsigned)v;
	return 0;
}

int mp_parse_duration_s(const char *s, unsigned max, unsigned *secs_r)
{
	unsigned long long v, mult = 1;
	const char *rest = parse_ulong(s, &v);

	if (rest == NULL)
		return -1;
	if (strcmp(rest, "m") == 0)
		mult = 60;
	else if (strcmp(rest, "h") == 0)
		mult = 3600;
	else if (strcmp(rest, "d") == 0)
		mult = 86400;
	else if (strcmp(rest, "s") != 0 && *rest != '\0')
		return -1;
	if (v == 0 || v > max / mult)
		return -1;
	*secs_r = (unsigned)(v * mult);
	return 0;
}

int mp_parse_size(const char *s, size_t *bytes_r)
{
	unsigned long long v, mult = 1;
	const char *rest = parse_ulong(s, &v);

	if (rest == NULL)
		return -1;
	if (strcmp(rest, "k") == 0 || strcmp(rest, "K") == 0)
		mult = 1024;
	else if (strcmp(rest, "M") == 0)
		mult = 1024 * 1024;
	else if (*rest != '\0')
		return -1;
	if (v > SIZE_MAX / mult)
		return -1;
	*bytes_r = (size_t)(v * mult);
	return 0;
}

struct setter_ctx {
	struct mp_conf *c;
	const char *dir; /* directory of the config file, for relative paths */
};

typedef const char *(*setter_fn)(struct setter_ctx *, const char *value);

static const char *set_str(char **dst, const char *v)
{
	char *p = strdup(v);

	if (p == NULL)
		return "out of memory";
	free(*dst);
	*dst = p;
	return NULL;
}

static const char *set_path(struct setter_ctx *x, char **dst, const char *v)
{
	if (*v == '\0')
		return "empty path";
	char *p = mp_path_join(x->dir, v);
	if (p == NULL)
		return "out of memory";
	free(*dst);
	*dst = p;
	return NULL;
}

int mp_parse_port(const char *s, unsigned *port_r)
{
	unsigned long long v;
	const char *rest = parse_ulong(s, &v);

	if (rest == NULL || *rest != '\0' || v < 1 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static bool is_port(const char *s)
{
	unsigned port;

	return mp_parse_port(s, &port) == 0;
}

static const char *set_socket(struct setter_ctx *x, const char *v)
{
	const char *rest;

	if (strncmp(v, "unix:", 5) == 0 || strncmp(v, "local:", 6) == 0) {
		rest = strchr(v, ':') + 1;
		if (*rest != '/')
			return "unix socket path must be absolute (unix:/path)";
	} else if (strncmp(v, "inet:", 5) == 0 || strncmp(v, "inet6:", 6) == 0) {
		char port[16];
		rest = strchr(v, ':') + 1;
		const char *at = strchr(rest, '@');
		size_t pl = at ? (size_t)(at - rest) : strlen(rest);
		if (pl == 0 || pl >= sizeof(port))
			return "expected inet:PORT@HOST or inet6:PORT@HOST";
		memcpy(port, rest, pl);
		port[pl] = '\0';
		if (!is_port(port))
			return "port must be a number from 1 to 65535";
		if (at != NULL && at[1] == '\0')
			return "empty host after '@'";
	} else if (strncmp(v, "fd:", 3) == 0) {
		unsigned long long fd;
		rest = parse_ulong(v + 3, &fd);
		if (rest == NULL || *rest != '\0' || fd > INT_MAX)
			return "expected fd:N";
	} else {
		return "expected unix:PATH, inet:PORT@HOST, inet6:PORT@HOST or fd:N";
	}
	return set_str(&x->c->socket, v);
}

static const char *set_socket_mode(struct setter_ctx *x, const char *v)
{
	char *end;

	errno = 0;
	unsigned long m = strtoul(v, &end, 8);
	if (*v == '\0' || *end != '\0' || errno != 0 || m > 0777 || *v == '-')
		return "expected an octal mode such as 0660";
	x->c->socket_mode = (unsigned)m;
	return NULL;
}

static const char *set_name(char **dst, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return "must not contain spaces or control characters";
	}
	if (*v == '\0')
		return "empty value";
	return set_str(dst, v);
}

static const char *set_user(struct setter_ctx *x, const char *v)
{
	return set_name(&x->c->user, v);
}

static const char *set_group(struct setter_ctx *x, const char *v)
{
	return set_name(&x->c->group, v);
}

static const char *set_pidfile(struct setter_ctx *x, const char *v)
{
	return set_path(x, &x->c->pidfile, v);
}

static const char *set_rules_dir(struct setter_ctx *x, const char *v)
{
	return set_path(x, &x->c->rules_dir, v);
}

static const char *set_authserv_id(struct setter_ctx *x, const char *v)
{
	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= ' ' || ch >= 0x7f || strchr(";()\"\\", ch) != NULL)
			return "authserv_id must be a token (no spaces, ';', '(', ')' or quotes)";
	}
	if (*v == '\0')
		return "empty value";
	return set_str(&x->c->authserv_id, v);
}

#define BOOL_SETTER(field)                                                  \
	static const char *set_##field(struct setter_ctx *x, const char *v) \
	{                                                                   \
		return mp_parse_bool(v, &x->c->field) == 0 ? NULL           \
			: "expected yes or no";                             \
	}
BOOL_SETTER(add_auth_results)
BOOL_SETTER(add_received_spf)
BOOL_SETTER(add_trace_header)
BOOL_SETTER(spf)
BOOL_SETTER(spf_helo)
BOOL_SETTER(dkim)
BOOL_SETTER(dmarc)

/* IP[@PORT] */
static bool valid_server(const char *s)
{
	char ip[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *at = strchr(s, '@');
	size_t l = at ? (size_t)(at - s) : strlen(s);

	if (l == 0 || l >= sizeof(ip))
		return false;
	memcpy(ip, s, l);
	ip[l] = '\0';
	if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		return false;
	return at == NULL || is_port(at + 1);
}

static const char *set_dns_servers(struct setter_ctx *x, const char *v)
{
	char *copy = strdup(v), *save = NULL;
	size_t n = 0;
	char **list;

	if (copy == NULL)
		return "out of memory";
	list = calloc(strlen(v) / 2 + 2, sizeof(char *));
	if (list == NULL) {
		free(copy);
		return "out of memory";
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		size_t l = strlen(tok);
		while (l > 0 && isspace((unsigned char)tok[l - 1]))
			tok[--l] = '\0';
		if (l == 0)
			continue;
		if (!valid_server(tok)) {
			for (size_t i = 0; i < n; i++)
				free(list[i]);
			free(list);
			free(copy);
			return "expected IP[@PORT], comma separated";
		}
		list[n] = strdup(tok);
		if (list[n] == NULL)
			break;
		n++;
	}
	free(copy);
	free_servers(x->c);
	x->c->dns_servers = list;
	x->c->n_dns_servers = n;
	return NULL;
}

static const char *set_dns_timeout(struct setter_ctx *x, const char *v)
{
	unsigned ms;

	if (mp_parse_duration_ms(v, &ms) < 0 || ms == 0)
		return "expected a duration above zero such as 5s or 800ms";
	x->c->dns_timeout_ms = ms;
	return NULL;
}

static const char *set_dns_zone_file(struct setter_ctx *x, const char *v)
{
	return set_path(x, &x->c->dns_zone_file, v);
}

static const char *set_metrics_listen(struct setter_ctx *x, const char *v)
{
	struct sockaddr_storage ss;
	const char *why;

	if (mp_hostport_parse(v, &ss, &why) < 0)
		return why;
	char *copy = strdup(v);
	if (copy == NULL)
		return "out of memory";
	free(x->c->metrics_listen);
	x->c->metrics_listen = copy;
	return NULL;
}

static const char *set_dmarc_history(struct setter_ctx *x, const char *v)
{
	return set_path(x, &x->c->dmarc_history, v);
}

/* Printable ASCII, at most max bytes, no character of except. */
static const char *plain_text(const char *v, size_t max, const char *except)
{
	if (*v == '\0')
		return "empty value";
	if (strlen(v) > max)
		return "too long";
	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < ' ' || ch >= 0x7f || strchr(except, ch) != NULL)
			return "printable ASCII only";
	}
	return NULL;
}

static const char *set_dmarc_report_org(struct setter_ctx *x, const char *v)
{
	const char *why = plain_text(v, 200, "<>&");
	return why ? why : set_str(&x->c->dmarc_report_org, v);
}

/* An address whose domain is a host name: it is the report mail's From,
 * and its domain names us in report file names. */
static const char *set_dmarc_report_email(struct setter_ctx *x, const char *v)
{
	const char *at = strrchr(v, '@');
	bool ok = plain_text(v, 254, " <>&\"(),;:\\") == NULL && at != NULL && at != v &&
		  at[1] != '\0';
	for (const char *p = at ? at + 1 : ""; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '-' || *p == '.';
	if (!ok)
		return "expected an address such as dmarc-reports@example.com";
	return set_str(&x->c->dmarc_report_email, v);
}

static const char *set_recipient_policy(struct setter_ctx *x, const char *v)
{
	if (strcmp(v, "split") == 0)
		x->c->recipient_policy = MP_RCPT_SPLIT;
	else if (strcmp(v, "strictest") == 0)
		x->c->recipient_policy = MP_RCPT_STRICTEST;
	else
		return "expected split or strictest";
	return NULL;
}

static const char *set_mode(struct setter_ctx *x, const char *v)
{
	if (strcmp(v, "enforce") == 0)
		x->c->mode = MP_MODE_ENFORCE;
	else if (strcmp(v, "dry-run") == 0)
		x->c->mode = MP_MODE_DRY_RUN;
	else
		return "expected enforce or dry-run";
	return NULL;
}

/* tempfail or accept, for on_internal_error and on_limit. */
static const char *set_on(enum mp_on_error *out, const char *v)
{
	if (strcmp(v, "tempfail") == 0)
		*out = MP_ONERR_TEMPFAIL;
	else if (strcmp(v, "accept") == 0)
		*out = MP_ONERR_ACCEPT;
	else
		return "expected tempfail or accept";
	return NULL;
}

static const char *set_on_internal_error(struct setter_ctx *x, const char *v)
{
	return set_on(&x->c->on_internal_error, v);
}

static const char *set_on_limit(struct setter_ctx *x, const char *v)
{
	return set_on(&x->c->on_limit, v);
}

static const char *set_regex_match_limit(struct setter_ctx *x, const char *v)
{
	unsigned long long n;
	const char *rest = parse_ulong(v, &n);

	if (rest == NULL || *rest != '\0' || n == 0 || n > UINT32_MAX)
		return "expected a number from 1 to 4294967295";
	x->c->regex_match_limit = (unsigned long)n;
	return NULL;
}

static const char *set_dkim_max_signatures(struct setter_ctx *x, const char *v)
{
	unsigned long long n;
	const char *rest = parse_ulong(v, &n);

	if (rest == NULL || *rest != '\0' || n == 0 || n > 50)
		return "expected a number from 1 to 50";
	x->c->dkim_max_signatures = (unsigned)n;
	return NULL;
}

static const char *set_body_scan_limit(struct setter_ctx *x, const char *v)
{
	size_t n;

	if (mp_parse_size(v, &n) < 0 || n > (size_t)1 << 30)
		return "expected a size such as 1M or 512k (at most 1024M)";
	x->c->body_scan_limit = n;
	return NULL;
}

/* A count from 1 to max, for the MIME limits. */
static const char *set_count(unsigned *out, const char *v, unsigned long long max, const char *msg)
{
	unsigned long long n;
	const char *rest = parse_ulong(v, &n);

	if (rest == NULL || *rest != '\0' || n == 0 || n > max)
		return msg;
	*out = (unsigned)n;
	return NULL;
}

static const char *set_mime_max_depth(struct setter_ctx *x, const char *v)
{
	return set_count(&x->c->mime_max_depth, v, 100, "expected a number from 1 to 100");
}

static const char *set_mime_max_parts(struct setter_ctx *x, const char *v)
{
	return set_count(&x->c->mime_max_parts, v, 100000, "expected a number from 1 to 100000");
}

static const char *set_archive_max_entries(struct setter_ctx *x, const char *v)
{
	return set_count(&x->c->archive_max_entries, v, 1000000,
			 "expected a number from 1 to 1000000");
}

static const char *set_reload_check_interval(struct setter_ctx *x, const char *v)
{
	unsigned ms;

	if (mp_parse_duration_ms(v, &ms) < 0)
		return "expected a duration such as 10s, or 0";
	x->c->reload_check_interval_ms = ms;
	return NULL;
}

static const char *set_state(struct setter_ctx *x, const char *v)
{
	struct mp_state_spec sp;
	const char *why = mp_state_spec_parse(v, &sp);

	if (why != NULL)
		return why;
	return set_str(&x->c->state, v);
}

static const char *set_state_prefix(struct setter_ctx *x, const char *v)
{
	if (strlen(v) > 64)
		return "expected at most 64 characters";
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return "expected printable ASCII without spaces";
	}
	return set_str(&x->c->state_prefix, v);
}

static const char *set_state_timeout(struct setter_ctx *x, const char *v)
{
	unsigned ms;

	if (mp_parse_duration_ms(v, &ms) < 0 || ms == 0 || ms > 60000)
		return "expected a duration above zero such as 200ms (at most 60s)";
	x->c->state_timeout_ms = ms;
	return NULL;
}

static const char *set_state_max_entries(struct setter_ctx *x, const char *v)
{
	unsigned n;
	const char *why = set_count(&n, v, 1000000000, "expected a number from 1 to 1000000000");

	if (why == NULL)
		x->c->state_max_entries = n;
	return why;
}

static const char *set_greylist_whitelist_after(struct setter_ctx *x, const char *v)
{
	unsigned long long n;
	const char *rest = parse_ulong(v, &n);

	if (rest == NULL || *rest != '\0' || n > 1000000)
		return "expected a number from 0 (never) to 1000000";
	x->c->greylist_whitelist_after = (unsigned)n;
	return NULL;
}

static const char *set_on_state_error(struct setter_ctx *x, const char *v)
{
	return set_on(&x->c->on_state_error, v);
}

/* The password is read here, as the configuration is (as root at start,
 * as the daemon's user on reload: it must be readable by it). */
static const char *set_state_password_file(struct setter_ctx *x, const char *v)
{
	const char *why = set_path(x, &x->c->state_password_file, v);
	if (why != NULL)
		return why;
	FILE *f = fopen(x->c->state_password_file, "re");
	if (f == NULL)
		return "cannot read the file";
	char buf[1024];
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!got || buf[0] == '\0') {
		explicit_bzero(buf, sizeof(buf));
		return "the file's first line (the password) is empty";
	}
	if (x->c->state_password != NULL)
		explicit_bzero(x->c->state_password, strlen(x->c->state_password));
	free(x->c->state_password);
	x->c->state_password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return x->c->state_password != NULL ? NULL : "out of memory";
}

static const char *set_log(struct setter_ctx *x, const char *v)
{
	if (strcmp(v, "syslog") == 0)
		x->c->log = MP_LOGTO_SYSLOG;
	else if (strcmp(v, "stderr") == 0)
		x->c->log = MP_LOGTO_STDERR;
	else
		return "expected syslog or stderr";
	return NULL;
}

static const char *set_log_level(struct setter_ctx *x, const char *v)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(v, names[i]) == 0) {
			x->c->log_level = (enum mp_log_level)i;
			return NULL;
		}
	}
	return "expected error, warn, info or debug";
}

static const struct {
	const char *key;
	setter_fn set;
} keys[] = {
	{ "socket", set_socket },
	{ "socket_mode", set_socket_mode },
	{ "user", set_user },
	{ "group", set_group },
	{ "pidfile", set_pidfile },
	{ "rules_dir", set_rules_dir },
	{ "authserv_id", set_authserv_id },
	{ "add_auth_results", set_add_auth_results },
	{ "add_received_spf", set_add_received_spf },
	{ "add_trace_header", set_add_trace_header },
	{ "spf", set_spf },
	{ "spf_helo", set_spf_helo },
	{ "dkim", set_dkim },
	{ "dmarc", set_dmarc },
	{ "dns_servers", set_dns_servers },
	{ "dns_timeout", set_dns_timeout },
	{ "dns_zone_file", set_dns_zone_file },
	{ "dmarc_history", set_dmarc_history },
	{ "metrics_listen", set_metrics_listen },
	{ "dmarc_report_org", set_dmarc_report_org },
	{ "dmarc_report_email", set_dmarc_report_email },
	{ "recipient_policy", set_recipient_policy },
	{ "mode", set_mode },
	{ "on_internal_error", set_on_internal_error },
	{ "on_limit", set_on_limit },
	{ "regex_match_limit", set_regex_match_limit },
	{ "dkim_max_signatures", set_dkim_max_signatures },
	{ "body_scan_limit", set_body_scan_limit },
	{ "mime_max_depth", set_mime_max_depth },
	{ "mime_max_parts", set_mime_max_parts },
	{ "archive_max_entries", set_archive_max_entries },
	{ "reload_check_interval", set_reload_check_interval },
	{ "state", set_state },
	{ "state_prefix", set_state_prefix },
	{ "state_timeout", set_state_timeout },
	{ "state_max_entries", set_state_max_entries },
	{ "greylist_whitelist_after", set_greylist_whitelist_after },
	{ "on_state_error", set_on_state_error },
	{ "state_password_file", set_state_password_file },
	{ "log", set_log },
	{ "log_level", set_log_level },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const char *mp_conf_key_name(size_t i)
{
	return i < N_KEYS ? keys[i].key : NULL;
}

static void parse_line(struct setter_ctx *x, char *line, const char *path,
		       int lineno, int *seen, struct mp_diags *d)
{
	char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return;
	char *key = p;
	while (*p && (isalnum((unsigned char)*p) || *p == '_'))
		p++;
	char *key_end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (key_end == key || *p != '=') {
		mp_diags_add(d, path, lineno, (int)(p - line) + 1,
			     "expected 'key = value'");
		return;
	}
	*key_end = '\0';
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	char *val = p;
	int vcol = (int)(val - line) + 1;
	char *end;
	if (*val == '"') {
		end = strchr(val + 1, '"');
		if (end == NULL) {
			mp_diags_add(d, path, lineno, vcol, "unterminated quoted value");
			return;
		}
		val++;
		*end = '\0';
		char *after = end + 1;
		while (*after == ' ' || *after == '\t')
			after++;
		if (*after != '\0' && *after != '#') {
			mp_diags_add(d, path, lineno, (int)(after - line) + 1,
				     "unexpected text after quoted value");
			return;
		}
	} else {
		/* '#' after whitespace starts a comment */
		for (end = val; *end; end++) {
			if (*end == '#' && end > val && (end[-1] == ' ' || end[-1] == '\t'))
				break;
		}
		*end = '\0';
		while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		if (seen[i] != 0) {
			mp_diags_add(d, path, lineno, 1,
				     "'%s' is already set at line %d", key, seen[i]);
			return;
		}
		seen[i] = lineno;
		for (const char *q = val; *q; q++) {
			if (iscntrl((unsigned char)*q) && *q != '\t') {
				mp_diags_add(d, path, lineno, vcol + (int)(q - val),
					     "control character in value");
				return;
			}
		}
		const char *err = keys[i].set(x, val);
		if (err != NULL)
			mp_diags_add(d, path, lineno, vcol, "bad value for %s: %s",
				     key, err);
		return;
	}
	mp_diags_add(d, path, lineno, 1, "unknown key '%s'", key);
}

int mp_conf_load(struct mp_conf *c, const char *path, struct mp_diags *d)
{
	size_t len;
	size_t before = mp_diags_count(d);
	char *text = mp_read_file(path, CONF_MAX_BYTES, &len);
	int seen[N_KEYS] = { 0 };

	if (text == NULL) {
		mp_diags_add(d, path, 0, 0, "cannot read configuration%s: %s", mp_file_as(),
			     errno == EFBIG ? "file too large" : strerror(errno));
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		mp_diags_add(d, path, 0, 0, "file contains a NUL byte");
		free(text);
		return -1;
	}
	free(c->path);
	c->path = strdup(path);
	char *dir = strdup(path);
	if (c->path == NULL || dir == NULL) {
		free(dir);
		free(text);
		mp_diags_add(d, path, 0, 0, "out of memory");
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	struct setter_ctx x = { c, dir };
	int lineno = 0;
	for (char *line = text, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[l - 1] = '\0';
		lineno++;
		if (next == NULL && *line == '\0')
			break;
		parse_line(&x, line, path, lineno, seen, d);
	}
	free(dir);
	free(text);
	return mp_diags_count(d) > before ? -1 : 0;
}

struct mp_conf *mp_conf_open(const char *path, const char *default_path,
			     const char *rules_override, struct mp_diags *d)
{
	struct mp_conf *c = mp_conf_new();

	if (c == NULL) {
		mp_diags_add(d, path ? path : "(defaults)", 0, 0, "out of memory");
		return NULL;
	}
	if (path == NULL && default_path != NULL && access(default_path, F_OK) == 0)
		path = default_path;
	if (path != NULL && mp_conf_load(c, path, d) < 0) {
		mp_conf_free(c);
		return NULL;
	}
	if (rules_override != NULL && mp_conf_set_rules_dir(c, rules_override) < 0) {
		mp_diags_add(d, rules_override, 0, 0, "out of memory");
		mp_conf_free(c);
		return NULL;
	}
	return c;
}
