/*
 * casefile - test-case files (SPEC §2): envelope and expectation lines, a
 * line "---", then the message. Each case runs through the same replay as
 * `test`; a failing case prints every expectation that differed.
 *
 * A case gets DNS only from a `dns-zone:` file (none otherwise: SPF and
 * DKIM are then none unless injected), so cases never touch the network.
 * Besides the keys of the SPEC, cases accept `client-port`, `tls`,
 * `spf-helo`, `queue-id`, `mode` and `recipient-policy` (overriding the
 * configuration for that case), `expect-would: glob` (a dry-run entry) and
 * `expect-log: glob`. Rule sets are loaded once per distinct rules
 * directory and settings.
 */
#include "replay/replay.h"

#include "conf/conf.h"
#include "dns/dns.h"
#include "rules/ruleset.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/file.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_MAX (64u * 1024 * 1024)
#define MAX_MULTI 64

struct expect {
	const char *action, *reply, *stage, *subject, *score;
	const char *rules[MAX_MULTI];
	size_t n_rules;
	const char *headers[MAX_MULTI];
	size_t n_headers;
	const char *no_headers[MAX_MULTI];
	size_t n_no_headers;
	const char *recipients[MAX_MULTI];
	size_t n_recipients;
	const char *woulds[MAX_MULTI];
	size_t n_woulds;
	const char *stripped[MAX_MULTI];   /* file names strip attachment removed */
	size_t n_stripped;
	const char *body[MAX_MULTI];       /* globs the new body must match */
	size_t n_body;
	const char *logs[MAX_MULTI];
	size_t n_logs;
};

struct tcase {
	const char *path;
	char *dir;
	const char *rules;
	const char *dns_zone;
	const char *mode, *rpolicy;
	struct mp_replay_env env;
	const char *rcpts[MAX_MULTI + 1];
	size_t n_rcpts;
	struct expect ex;
	const char *body;
	size_t body_len;
	char err[128];       /* a parse error that needs formatting */
	char pre[64][256];   /* state: rate(...) canonical names */
};

/* Loaded rule sets, keyed by directory and the settings a case may set. */
struct rs_cache {
	char *key;
	struct mp_ruleset *rs;
	struct rs_cache *next;
};

static void fail(struct mp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct mp_buf *b, const char *fmt, ...)
{
	va_list ap;

	mp_buf_adds(b, "  ");
	va_start(ap, fmt);
	mp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	mp_buf_addc(b, '\n');
}

static bool add_multi(const char **v, size_t *n, const char *s)
{
	if (*n >= MAX_MULTI)
		return false;
	v[(*n)++] = s;
	return true;
}

/* Parses the key lines (text is modified in place). NULL on success, else a
 * message; *line_r says where. */
/* state: rate(KEY..., WINDOW) = N (that many events already counted with
 * this case's keys), or state: greylist DURATION (its triplets first seen
 * that long ago). The store is a fresh memory store per case. */
static const char *state_line(struct tcase *c, char *v)
{
	if (strncmp(v, "greylist ", 9) == 0) {
		unsigned ago;
		if (mp_parse_duration_s(v + 9, 400 * 86400, &ago) < 0)
			return "state: greylist takes how long ago the triplets were first seen, as in 6m";
		c->env.grey_ago = (int)ago;
		return NULL;
	}
	char *eq = strrchr(v, '=');
	if (eq == NULL || strncmp(v, "rate(", 5) != 0)
		return "state: expected 'rate(KEY..., WINDOW) = N' or 'greylist DURATION'";
	char *end;
	unsigned long long n = strtoull(eq + 1, &end, 10);
	while (*end == ' ')
		end++;
	if (end == eq + 1 || *end != '\0' || n > 1000000)
		return "state: the count after '=' is a number up to 1000000";
	char *r = eq;
	while (r > v && r[-1] == ' ')
		r--;
	*r = '\0';
	if (c->env.n_pre == 64)
		return "state: too many lines";
	const char *why;
	if (mp_rate_canonical(v, c->pre[c->env.n_pre], sizeof(c->pre[0]), &why) < 0)
		return why;
	c->env.pre_names[c->env.n_pre] = c->pre[c->env.n_pre];
	c->env.pre_n[c->env.n_pre++] = n;
	return NULL;
}

static const char *parse_case(struct tcase *c, char *text, size_t len, int *line_r)
{
	char *p = text, *end = text + len;
	int line = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		line++;
		*line_r = line;
		if (le > p && le[-1] == '\r')
			le[-1] = '\0';
		*le = '\0';
		char *next = nl ? nl + 1 : end;
		if (strcmp(p, "---") == 0) {
			c->body = next;
			c->body_len = (size_t)(end - next);
			return NULL;
		}
		if (*p == '\0' || *p == '#') {
			p = next;
			continue;
		}
		char *colon = strchr(p, ':');
		if (colon == NULL)
			return "expected 'key: value' or '---'";
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vl = strlen(v);
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			v[--vl] = '\0';
		const char *k = p;
		struct expect *ex = &c->ex;
		if (strcmp(k, "client-ip") == 0)
			c->env.client_ip = v;
		else if (strcmp(k, "client-name") == 0)
			c->env.client_name = v;
		else if (strcmp(k, "client-port") == 0) {
			if (mp_parse_port(v, &c->env.client_port) < 0)
				return "client-port: expected a port, 1 to 65535";
		}
		else if (strcmp(k, "helo") == 0)
			c->env.helo = v;
		else if (strcmp(k, "tls") == 0) {
			if (mp_parse_bool(v, &c->env.tls) < 0)
				return "tls: expected yes or no";
		} else if (strcmp(k, "mail-from") == 0)
			c->env.from = v;
		else if (strcmp(k, "rcpt-to") == 0) {
			if (!add_multi(c->rcpts, &c->n_rcpts, v))
				return "too many rcpt-to lines";
		} else if (strcmp(k, "auth") == 0)
			c->env.auth = v;
		else if (strcmp(k, "queue-id") == 0)
			c->env.queue_id = v;
		else if (strcmp(k, "spf") == 0 || strcmp(k, "spf-helo") == 0) {
			int r = mp_auth_result_parse(v);
			if (r < 0 || r == MP_AR_POLICY)
				return "expected an SPF result (pass, fail, softfail, neutral, none, temperror, permerror)";
			if (k[3] == '\0')
				mp_checker_injected(c->env.checker)->spf = r;
			else
				mp_checker_injected(c->env.checker)->spf_helo = r;
		} else if (strcmp(k, "dkim") == 0) {
			int rc = mp_injected_set_dkim(mp_checker_injected(c->env.checker), v);
			if (rc == -2)
				return "out of memory";
			if (rc < 0)
				return "expected a DKIM result, optionally RESULT:domain[,domain]";
		} else if (strcmp(k, "dmarc") == 0) {
			if (mp_injected_set_dmarc(mp_checker_injected(c->env.checker), v) < 0)
				return "expected a DMARC result, optionally RESULT:POLICY (none, quarantine, reject)";
		} else if (strcmp(k, "state") == 0) {
			const char *why = state_line(c, v);
			if (why != NULL)
				return why;
		} else if (strcmp(k, "dns-zone") == 0)
			c->dns_zone = v;
		else if (strcmp(k, "rules") == 0)
			c->rules = v;
		else if (strcmp(k, "mode") == 0) {
			if (strcmp(v, "enforce") != 0 && strcmp(v, "dry-run") != 0)
				return "mode: expected enforce or dry-run";
			c->mode = v;
		} else if (strcmp(k, "recipient-policy") == 0) {
			if (strcmp(v, "split") != 0 && strcmp(v, "strictest") != 0)
				return "recipient-policy: expected split or strictest";
			c->rpolicy = v;
		} else if (strcmp(k, "expect-action") == 0)
			ex->action = v;
		else if (strcmp(k, "expect-reply") == 0)
			ex->reply = v;
		else if (strcmp(k, "expect-stage") == 0)
			ex->stage = v;
		else if (strcmp(k, "expect-subject") == 0)
			ex->subject = v;
		else if (strcmp(k, "expect-score") == 0)
			ex->score = v;
		else if (strcmp(k, "expect-rule") == 0) {
			if (!add_multi(ex->rules, &ex->n_rules, v))
				return "too many expect-rule lines";
		} else if (strcmp(k, "expect-header") == 0) {
			if (strchr(v, ':') == NULL)
				return "expect-header: expected 'Name: value-glob'";
			if (!add_multi(ex->headers, &ex->n_headers, v))
				return "too many expect-header lines";
		} else if (strcmp(k, "expect-no-header") == 0) {
			if (!add_multi(ex->no_headers, &ex->n_no_headers, v))
				return "too many expect-no-header lines";
		} else if (strcmp(k, "expect-recipient") == 0) {
			if (strchr(v, ' ') == NULL)
				return "expect-recipient: expected 'ADDRESS ACTION'";
			if (!add_multi(ex->recipients, &ex->n_recipients, v))
				return "too many expect-recipient lines";
		} else if (strcmp(k, "expect-would") == 0) {
			if (!add_multi(ex->woulds, &ex->n_woulds, v))
				return "too many expect-would lines";
		} else if (strcmp(k, "expect-stripped") == 0) {
			if (!add_multi(ex->stripped, &ex->n_stripped, v))
				return "too many expect-stripped lines";
		} else if (strcmp(k, "expect-body") == 0) {
			if (!add_multi(ex->body, &ex->n_body, v))
				return "too many expect-body lines";
		} else if (strcmp(k, "expect-log") == 0) {
			if (!add_multi(ex->logs, &ex->n_logs, v))
				return "too many expect-log lines";
		} else {
			snprintf(c->err, sizeof(c->err), "unknown key '%.60s'", k);
			return c->err;
		}
		p = next;
	}
	return "missing '---' line before the message";
}

static struct mp_ruleset *get_ruleset(struct rs_cache **cache, const struct mp_conf *base,
				      const struct mp_load_opts *lo, const char *dir,
				      const struct tcase *c, struct mp_buf *out)
{
	char key[4096];

	snprintf(key, sizeof(key), "%s\n%s\n%s", dir, c->mode ? c->mode : "",
		 c->rpolicy ? c->rpolicy : "");
	for (struct rs_cache *e = *cache; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0)
			return e->rs;
	}
	struct mp_conf conf = *base;
	conf.rules_dir = (char *)dir;
	if (c->mode != NULL)
		conf.mode = strcmp(c->mode, "dry-run") == 0 ? MP_MODE_DRY_RUN : MP_MODE_ENFORCE;
	if (c->rpolicy != NULL)
		conf.recipient_policy = strcmp(c->rpolicy, "strictest") == 0 ? MP_RCPT_STRICTEST
									     : MP_RCPT_SPLIT;
	struct mp_diags d;
	char where[4200];
	mp_diags_init(&d);
	struct mp_ruleset *rs = mp_ruleset_load_with(&conf, lo, &d);
	if (rs == NULL) {
		for (size_t i = 0; i < d.n; i++) {
			mp_diag_where(&d.v[i], where, sizeof(where));
			mp_buf_printf(out, "  %s: %s\n", where, d.v[i].msg);
		}
		mp_diags_free(&d);
		return NULL;
	}
	mp_diags_free(&d);
	struct rs_cache *e = calloc(1, sizeof(*e));
	if (e == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		mp_ruleset_unref(rs);
		return NULL;
	}
	e->rs = rs;
	e->next = *cache;
	*cache = e;
	return rs;
}

/* Case globs: '*' matches any run, '?' one byte, '\\' quotes the next;
 * everything else - brackets too, as in "[SUSPECT] *" - is literal. */
static bool glob(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			for (const char *t = s;; t++) {
				if (glob(p + 1, t))
					return true;
				if (*t == '\0')
					return false;
			}
		}
		if (*s == '\0')
			return false;
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '?')
			continue;
		if (*p != *s)
			return false;
	}
	return *s == '\0';
}

static void check(const struct tcase *c, const struct mp_replay *r, struct mp_buf *b)
{
	const struct mp_result *res = r->result;
	const struct expect *ex = &c->ex;
	const struct mp_verdict *v = &res->v;
	char buf[MP_TEXT_MAX + 64];

	if (ex->action && strcmp(ex->action, mp_verdict_action(v)) != 0)
		fail(b, "expect-action: wanted %s, got %s", ex->action, mp_verdict_action(v));
	if (ex->stage && strcmp(ex->stage, mp_stage_name(v->stage)) != 0)
		fail(b, "expect-stage: wanted %s, got %s", ex->stage, mp_stage_name(v->stage));
	if (ex->reply) {
		bool refused = mp_verdict_refuses(v);
		mp_reply_format(&v->reply, buf, sizeof(buf));
		size_t el = strlen(ex->reply);
		bool ok = refused && (glob(ex->reply, buf) ||
				      (strncmp(buf, ex->reply, el) == 0 &&
				       (buf[el] == ' ' || buf[el] == '\0')));
		if (!ok)
			fail(b, "expect-reply: wanted %s, got %s", ex->reply, refused ? buf : "(no reply)");
	}
	for (size_t i = 0; i < ex->n_rules; i++) {
		bool found = false;
		for (size_t j = 0; j < res->n_rules && !found; j++)
			found = strcmp(res->rules[j], ex->rules[i]) == 0;
		if (!found) {
			struct mp_buf got;
			mp_buf_init(&got);
			for (size_t j = 0; j < res->n_rules; j++)
				mp_buf_printf(&got, "%s%s", j ? " " : "", res->rules[j]);
			fail(b, "expect-rule: %s did not match (matched: %s)", ex->rules[i],
			     got.len ? got.p : "none");
			mp_buf_free(&got);
		}
	}
	if (ex->score) {
		char *end;
		double want = strtod(ex->score, &end);
		if (*end != '\0' || fabs(want - res->score) > 1e-9)
			fail(b, "expect-score: wanted %s, got %.6g", ex->score, res->score);
	}
	if (ex->subject) {
		const char *s = res->subject ? res->subject : "";
		if (!glob(ex->subject, s))
			fail(b, "expect-subject: wanted %s, got %s", ex->subject,
			     res->subject ? res->subject : "(no Subject)");
	}
	struct mp_final_header *hs;
	size_t nh = mp_replay_final_headers(r, &hs);
	if (hs == NULL) {
		fail(b, "out of memory");
		return;
	}
	for (size_t i = 0; i < ex->n_headers; i++) {
		const char *colon = strchr(ex->headers[i], ':');
		size_t nl = (size_t)(colon - ex->headers[i]);
		const char *pat = colon + 1;
		while (*pat == ' ')
			pat++;
		bool found = false, named = false;
		for (size_t j = 0; j < nh && !found; j++) {
			if (!mp_ascii_ieqn(hs[j].name, strlen(hs[j].name), ex->headers[i], nl))
				continue;
			named = true;
			found = glob(pat, hs[j].value);
		}
		if (!found)
			fail(b, "expect-header: %s: %s", ex->headers[i],
			     named ? "no field with a matching value" : "no such field");
	}
	for (size_t i = 0; i < ex->n_no_headers; i++) {
		for (size_t j = 0; j < nh; j++) {
			if (mp_ascii_ieq(hs[j].name, ex->no_headers[i])) {
				fail(b, "expect-no-header: %s is there: %s", ex->no_headers[i], hs[j].value);
				break;
			}
		}
	}
	free(hs);
	for (size_t i = 0; i < ex->n_recipients; i++) {
		const char *sp = strrchr(ex->recipients[i], ' ');
		size_t al = (size_t)(sp - ex->recipients[i]);
		const char *want = sp + 1;
		bool found = false;
		for (size_t j = 0; j < res->n_rcpts && !found; j++) {
			const struct mp_rcpt_info *ri = &res->rcpts[j];
			if (!mp_ascii_ieqn(ri->addr, strlen(ri->addr), ex->recipients[i], al))
				continue;
			found = true;
			const char *got = ri->outcome == MP_O_ACCEPT || ri->would ? "accept"
					  : ri->split ? "defer-split" : mp_outcome_name(ri->outcome);
			if (strcmp(got, want) != 0)
				fail(b, "expect-recipient: %.*s wanted %s, got %s", (int)al,
				     ex->recipients[i], want, got);
		}
		if (!found)
			fail(b, "expect-recipient: %.*s is not a recipient", (int)al, ex->recipients[i]);
	}
	for (size_t i = 0; i < ex->n_woulds; i++) {
		bool found = false;
		for (size_t j = 0; j < res->n_would && !found; j++) {
			snprintf(buf, sizeof(buf), "%s%s%s", res->would[j].rule ? res->would[j].rule : "",
				 res->would[j].rule ? ": " : "", res->would[j].what);
			found = glob(ex->woulds[i], buf);
		}
		if (!found)
			fail(b, "expect-would: nothing matched %s", ex->woulds[i]);
	}
	for (size_t i = 0; i < ex->n_stripped; i++) {
		bool found = false;
		for (size_t j = 0; j < res->n_strips && !found; j++)
			found = strcmp(ex->stripped[i], res->strips[j].name) == 0;
		if (!found)
			fail(b, "expect-stripped: %s was not stripped", ex->stripped[i]);
	}
	for (size_t i = 0; i < ex->n_body; i++) {
		if (r->new_body == NULL)
			fail(b, "expect-body: the body was not changed");
		else if (!glob(ex->body[i], r->new_body))
			fail(b, "expect-body: the new body does not match %s", ex->body[i]);
	}
	for (size_t i = 0; i < ex->n_logs; i++) {
		bool found = false;
		for (size_t j = 0; j < res->n_logs && !found; j++)
			found = glob(ex->logs[i], res->logs[j]);
		if (!found)
			fail(b, "expect-log: nothing matched %s", ex->logs[i]);
	}
}

/* Runs one case; appends what went wrong to b. */
static void run_case(const char *path, const struct mp_conf *conf, const char *rules_override,
		     const struct mp_load_opts *lo, struct rs_cache **cache, struct mp_buf *b)
{
	size_t len;
	char *text = mp_read_file(path, CASE_MAX, &len);
	struct tcase c;
	int line = 0;

	memset(&c, 0, sizeof(c));
	c.path = path;
	if (text == NULL) {
		fail(b, "cannot read: %s", strerror(errno));
		return;
	}
	mp_replay_env_init(&c.env);
	c.env.checker = mp_checker_new(conf->authserv_id);
	c.env.state = mp_state_memory_new(100000); /* empty for every case */
	c.dir = strdup(path);
	if (c.env.checker == NULL || c.env.state == NULL || c.dir == NULL) {
		fail(b, "out of memory");
		goto out;
	}
	char *slash = c.dir ? strrchr(c.dir, '/') : NULL;
	if (c.dir != NULL) {
		if (slash != NULL)
			*slash = '\0';
		else
			strcpy(c.dir, ".");
	}
	const char *err = memchr(text, '\0', len) ? "NUL byte in the case file's keys" : NULL;
	if (err == NULL)
		err = parse_case(&c, text, len, &line);
	if (err != NULL) {
		fail(b, "%s:%d: %s", path, line, err);
		goto out;
	}
	/* no DNS unless the case names a zone: cases must not depend on the network */
	if (c.dns_zone != NULL) {
		char *zpath = mp_path_join(c.dir, c.dns_zone);
		struct mp_diags zd;
		mp_diags_init(&zd);
		struct mp_dns *dns = zpath ? mp_dns_new_zone(zpath, &zd) : NULL;
		char where[4200];
		for (size_t i = 0; i < zd.n; i++) {
			mp_diag_where(&zd.v[i], where, sizeof(where));
			fail(b, "%s: %s", where, zd.v[i].msg);
		}
		mp_diags_free(&zd);
		free(zpath);
		if (dns == NULL) {
			fail(b, "dns-zone did not load");
			goto out;
		}
		mp_checker_set_dns(c.env.checker, dns);
		mp_dns_unref(dns);
	}
	/* --rules on the command line beats the case's rules: */
	char *dir = rules_override ? strdup(rules_override)
		    : c.rules ? mp_path_join(c.dir, c.rules) : strdup(conf->rules_dir);
	struct mp_ruleset *rs = dir ? get_ruleset(cache, conf, lo, dir, &c, b) : NULL;
	free(dir);
	if (rs == NULL) {
		fail(b, "rules did not load");
		goto out;
	}
	struct mp_message msg;
	if (mp_message_parse(c.body, c.body_len, &msg) < 0) {
		fail(b, "out of memory");
		goto out;
	}
	if (c.n_rcpts > 0) {
		c.rcpts[c.n_rcpts] = NULL;
		c.env.rcpts = c.rcpts;
	}
	struct mp_replay r;
	const char *rerr;
	if (mp_replay_run(rs, &c.env, &msg, false, &r, &rerr) < 0)
		fail(b, "%s", rerr);
	else
		check(&c, &r, b);
	mp_replay_free(&r);
	mp_message_free(&msg);
out:
	mp_checker_free(c.env.checker);
	mp_state_free(c.env.state);
	free(c.dir);
	free(text);
}

int mp_cases_run(const struct mp_conf *conf, const char *rules_override,
		 const struct mp_load_opts *lo, char **files, int n_files, FILE *out)
{
	struct rs_cache *cache = NULL;
	int passed = 0, failed = 0;

	for (int i = 0; i < n_files; i++) {
		struct mp_buf b;
		mp_buf_init(&b);
		run_case(files[i], conf, rules_override, lo, &cache, &b);
		if (b.len == 0) {
			passed++;
		} else {
			failed++;
			fprintf(out, "FAIL %s\n%s", files[i], b.p);
		}
		mp_buf_free(&b);
	}
	while (cache != NULL) {
		struct rs_cache *next = cache->next;
		mp_ruleset_unref(cache->rs);
		free(cache->key);
		free(cache);
		cache = next;
	}
	fprintf(out, "%d passed, %d failed\n", passed, failed);
	return failed;
}
