/*
 * stats - the daemon's counters and what shows them; see stats.h.
 */
#include "daemon/stats.h"
#include "state/state.h"

#include "auth/dkim.h"
#include "dns/dns.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/metrics.h"
#include "util/strmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Actions a message ends with, as the log line names them. */
static const char *const actions[] = { "accept", "reject", "tempfail", "discard", "quarantine",
				       "abort" };
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

/* Every limit.name (SPEC §8, §11), so that each series exists from start. */
static const char *const limits[] = { "header_count", "header_size", "from_addresses",
				      "address_length", "dkim_signatures", "spf_lookups",
				      "spf_time", "regex_match", "regex_jit_stack", "mime_depth",
				      "mime_parts", "archive_entries" };
#define N_LIMITS (sizeof(limits) / sizeof(limits[0]))

/* Time per message: from a cache-warm accept to a slow DNS timeout. */
static const double message_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					 0.25, 0.5, 1, 2.5, 5, 10, 30 };

#define WINDOW_SLOTS 361 /* an hour of 10-second snapshots, and now */

static struct {
	mp_counter messages[N_ACTIONS][MP_STAGE_COUNT];
	mp_counter rcpt_refused[2];    /* reject, tempfail */
	mp_counter spf[MP_AR_COUNT], dkim[MP_AR_COUNT], dmarc[MP_AR_COUNT];
	mp_counter limit[N_LIMITS];
	mp_counter stripped;
	mp_counter state_errors;       /* shared state (SPEC §12) */
	mp_counter reloads, reload_failures;
	_Atomic long sessions;
	struct mp_histogram message_seconds;
	time_t started;
	_Atomic long long last_reload;       /* time of the last reload attempt */
	_Atomic int last_reload_ok;
	/* snapshots of the per-action totals, for the windows */
	pthread_mutex_t lock;
	struct snap {
		time_t t;
		uint64_t n[N_ACTIONS];
	} ring[WINDOW_SLOTS];
	size_t head, n_snaps;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The rule hit counters of one rule set: one per (policy, rule). */
struct hits {
	struct mp_strmap index;   /* "policy\x1frule" -> slot + 1 */
	char **keys;
	mp_counter *n;
	size_t count;
};

static void hits_free(void *p)
{
	struct hits *h = p;

	if (h == NULL)
		return;
	mp_strmap_free(&h->index);
	for (size_t i = 0; i < h->count; i++)
		free(h->keys[i]);
	free(h->keys);
	free(h->n);
	free(h);
}

static size_t key_of(char *buf, size_t len, const char *policy, const char *rule)
{
	int n = snprintf(buf, len, "%s\x1f%s", policy, rule);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* The policy of a counter's key into pol; returns its rule. */
static const char *key_split(const char *key, char *pol, size_t len)
{
	const char *sep = strchr(key, '\x1f');

	snprintf(pol, len, "%.*s", (int)(sep - key), key);
	return sep + 1;
}

static mp_counter *hit_slot(const struct hits *h, const char *policy, const char *rule)
{
	char key[512];
	size_t kl = key_of(key, sizeof(key), policy, rule);
	void *v;

	if (h == NULL || kl == 0 || !mp_strmap_getn(&h->index, key, kl, &v))
		return NULL;
	return &h->n[(size_t)(uintptr_t)v - 1];
}

static int add_policy(struct hits *h, const struct mp_policy *pol, size_t *cap)
{
	char key[512];

	for (size_t i = 0; i < pol->n_rules; i++) {
		size_t kl = key_of(key, sizeof(key), pol->name, pol->rules[i]->name);
		void *old;
		if (kl == 0 || mp_strmap_getn(&h->index, key, kl, &old))
			continue;
		if (h->count == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			char **k = realloc(h->keys, nc * sizeof(*k));
			if (k == NULL)
				return -1;
			h->keys = k;
			mp_counter *n = realloc(h->n, nc * sizeof(*n));
			if (n == NULL)
				return -1;
			h->n = n;
			*cap = nc;
		}
		if ((h->keys[h->count] = strndup(key, kl)) == NULL)
			return -1;
		atomic_init(&h->n[h->count], 0);
		h->count++;
		if (mp_strmap_put(&h->index, h->keys[h->count - 1], kl,
				  (void *)(uintptr_t)h->count, NULL) < 0)
			return -1;
	}
	return 0;
}

void mp_stats_init(void)
{
	atomic_store(&S.last_reload_ok, 1);
	mp_hist_init(&S.message_seconds, message_bounds,
		     sizeof(message_bounds) / sizeof(message_bounds[0]));
	S.started = time(NULL);
}

int mp_stats_attach(struct mp_ruleset *rs, const struct mp_ruleset *old)
{
	struct hits *h = calloc(1, sizeof(*h));
	size_t cap = 0;

	if (h == NULL)
		return -1;
	mp_strmap_init(&h->index);
	int rc = add_policy(h, mp_ruleset_global(rs), &cap);
	for (size_t i = 0; rc == 0 && i < mp_ruleset_n_policies(rs); i++)
		rc = add_policy(h, mp_ruleset_policy_at(rs, i), &cap);
	if (rc < 0) {
		hits_free(h);
		return -1;
	}
	/* the counts of the rules that stay */
	const struct hits *o = old != NULL ? mp_ruleset_ext(old) : NULL;
	for (size_t i = 0; o != NULL && i < o->count; i++) {
		void *v;
		if (mp_strmap_get(&h->index, o->keys[i], &v))
			mp_counter_add(&h->n[(size_t)(uintptr_t)v - 1], mp_counter_get(&o->n[i]));
	}
	mp_ruleset_set_ext(rs, h, hits_free);
	return 0;
}

void mp_stats_reload(bool ok)
{
	mp_counter_add(ok ? &S.reloads : &S.reload_failures, 1);
	atomic_store(&S.last_reload, (long long)time(NULL));
	atomic_store(&S.last_reload_ok, ok ? 1 : 0);
}

void mp_stats_session(int delta)
{
	atomic_fetch_add(&S.sessions, delta);
}

static int action_index(const char *a)
{
	for (size_t i = 0; i < N_ACTIONS; i++)
		if (strcmp(actions[i], a) == 0)
			return (int)i;
	return -1;
}

static void count_message(const char *action, enum mp_stage stage)
{
	int a = action_index(action);

	if (a >= 0 && (unsigned)stage < MP_STAGE_COUNT)
		mp_counter_add(&S.messages[a][stage], 1);
}

void mp_stats_conn_decision(struct mp_ruleset *rs, const struct mp_verdict *v, enum mp_stage stage)
{
	count_message(mp_verdict_action(v), stage);
	mp_counter *c = rs != NULL && v->rule != NULL
				? hit_slot(mp_ruleset_ext(rs), mp_ruleset_global(rs)->name, v->rule)
				: NULL;
	if (c != NULL)
		mp_counter_add(c, 1);
}

void mp_stats_rcpt_refused(const struct mp_verdict *v)
{
	mp_counter_add(&S.rcpt_refused[v->outcome == MP_O_REJECT ? 0 : 1], 1);
}

void mp_stats_message(struct mp_txn *t, struct mp_ruleset *rs, const char *action,
		      enum mp_stage stage, double seconds)
{
	const struct mp_result *r = mp_txn_result(t);

	mp_hist_observe(&S.message_seconds, seconds);
	if (r == NULL) {
		count_message(action != NULL ? action : "tempfail", stage);
		return;
	}
	if (action == NULL) {
		action = mp_verdict_action(&r->v);
		stage = r->v.stage;
	}
	count_message(action, stage);
	const struct hits *h = rs != NULL ? mp_ruleset_ext(rs) : NULL;
	for (size_t i = 0; h != NULL && i < r->n_rules; i++) {
		mp_counter *c = hit_slot(h, r->policy, r->rules[i]);
		if (c == NULL)
			c = hit_slot(h, mp_ruleset_global(rs)->name, r->rules[i]);
		if (c != NULL)
			mp_counter_add(c, 1);
	}
	/* recipients refused while others went on: their rules (when every
	 * recipient was refused, their rules are the message's, above) */
	for (size_t i = 0; h != NULL && mp_txn_n_accepted(t) > 0 && i < r->n_rcpts; i++) {
		const struct mp_rcpt_info *ri = &r->rcpts[i];
		mp_counter *c = ri->outcome != MP_O_ACCEPT && !ri->would && ri->rule != NULL
					? hit_slot(h, ri->policy, ri->rule) : NULL;
		if (c != NULL)
			mp_counter_add(c, 1);
	}
	if (r->spf_done)
		mp_counter_add(&S.spf[r->spf], 1);
	if (r->dkim_done)
		mp_counter_add(&S.dkim[r->dkim], 1);
	if (r->dmarc_done)
		mp_counter_add(&S.dmarc[r->dmarc], 1);
	for (size_t i = 0; r->limit != NULL && i < N_LIMITS; i++) {
		if (strcmp(limits[i], r->limit) == 0)
			mp_counter_add(&S.limit[i], 1);
	}
	mp_counter_add(&S.stripped, r->n_strips);
}

/* ---- exposition --------------------------------------------------------- */

static void labels1(struct mp_buf *l, const char *k, const char *v)
{
	l->len = 0;
	mp_metrics_label(l, k, v);
}

static void results(struct mp_buf *b, struct mp_buf *l, const char *name, const char *help,
		    const mp_counter *c, bool with_policy)
{
	mp_metrics_head(b, name, "counter", help);
	for (int i = 0; i < MP_AR_COUNT; i++) {
		if (i == MP_AR_POLICY && !with_policy)
			continue;
		labels1(l, "result", mp_auth_result_name((enum mp_auth_result)i));
		mp_metrics_value(b, name, l->p, mp_counter_get(&c[i]));
	}
}

static struct mp_state *(*state_source)(void);

void mp_stats_state_source(struct mp_state *(*current)(void))
{
	state_source = current;
}

void mp_stats_state_errors(unsigned long n)
{
	mp_counter_add(&S.state_errors, n);
}

void mp_stats_render(struct mp_buf *b, const struct mp_ruleset *rs)
{
	static const char *const dns_status[] = { "ok", "nxdomain", "nodata", "tempfail" };
	struct mp_buf l;

	mp_buf_init(&l);
	mp_metrics_head(b, "milter_policy_build_info", "gauge", "Version of the running daemon.");
	labels1(&l, "version", MP_VERSION);
	mp_metrics_value(b, "milter_policy_build_info", l.p, 1);
	mp_metrics_head(b, "milter_policy_start_time_seconds", "gauge",
			"When the daemon started, in seconds since the epoch.");
	mp_metrics_gauge(b, "milter_policy_start_time_seconds", "", (double)S.started);

	mp_metrics_head(b, "milter_policy_messages_total", "counter",
			"Messages (and sessions refused at connect or HELO) by action and stage.");
	for (size_t a = 0; a < N_ACTIONS; a++) {
		for (int s = 0; s < MP_STAGE_COUNT; s++) {
			l.len = 0;
			mp_metrics_label(&l, "action", actions[a]);
			mp_metrics_label(&l, "stage", mp_stage_name((enum mp_stage)s));
			mp_metrics_value(b, "milter_policy_messages_total", l.p,
					 mp_counter_get(&S.messages[a][s]));
		}
	}
	mp_metrics_head(b, "milter_policy_recipients_refused_total", "counter",
			"Recipients refused at RCPT TO, by action.");
	labels1(&l, "action", "reject");
	mp_metrics_value(b, "milter_policy_recipients_refused_total", l.p,
			 mp_counter_get(&S.rcpt_refused[0]));
	labels1(&l, "action", "tempfail");
	mp_metrics_value(b, "milter_policy_recipients_refused_total", l.p,
			 mp_counter_get(&S.rcpt_refused[1]));

	mp_metrics_head(b, "milter_policy_rule_hits_total", "counter",
			"Rules decided true, by the policy they were evaluated in and rule.");
	const struct hits *h = rs != NULL ? mp_ruleset_ext(rs) : NULL;
	for (size_t i = 0; h != NULL && i < h->count; i++) {
		char pol[256];
		const char *rule = key_split(h->keys[i], pol, sizeof(pol));
		l.len = 0;
		mp_metrics_label(&l, "policy", pol);
		mp_metrics_label(&l, "rule", rule);
		mp_metrics_value(b, "milter_policy_rule_hits_total", l.p, mp_counter_get(&h->n[i]));
	}

	results(b, &l, "milter_policy_spf_results_total", "SPF results of MAIL FROM, per message.",
		S.spf, false);
	results(b, &l, "milter_policy_dkim_results_total",
		"DKIM results (the message's summary), per message.", S.dkim, true);
	results(b, &l, "milter_policy_dmarc_results_total", "DMARC results, per message.", S.dmarc,
		false);

	const struct mp_dns_stats *d = mp_dns_stats();
	mp_metrics_head(b, "milter_policy_dns_queries_total", "counter", "DNS queries by answer status.");
	for (int i = 0; i < 4; i++) {
		labels1(&l, "status", dns_status[i]);
		mp_metrics_value(b, "milter_policy_dns_queries_total", l.p, mp_counter_get(&d->status[i]));
	}
	mp_metrics_head(b, "milter_policy_dns_query_duration_seconds", "histogram",
			"Time per DNS query (cache hits included).");
	mp_metrics_hist(b, "milter_policy_dns_query_duration_seconds", "", &d->latency);
	unsigned long key_hits, key_misses;
	mp_dkim_keys_stats(&key_hits, &key_misses);
	mp_metrics_head(b, "milter_policy_dkim_key_cache_total", "counter",
			"DKIM public keys taken decoded from the cache (hit) or decoded (miss).");
	labels1(&l, "result", "hit");
	mp_metrics_value(b, "milter_policy_dkim_key_cache_total", l.p, key_hits);
	labels1(&l, "result", "miss");
	mp_metrics_value(b, "milter_policy_dkim_key_cache_total", l.p, key_misses);
	mp_metrics_head(b, "milter_policy_message_duration_seconds", "histogram",
			"Time per message in the daemon, from MAIL FROM to its end.");
	mp_metrics_hist(b, "milter_policy_message_duration_seconds", "", &S.message_seconds);

	mp_metrics_head(b, "milter_policy_limits_total", "counter",
			"Messages that reached a safety limit, by limit.");
	for (size_t i = 0; i < N_LIMITS; i++) {
		labels1(&l, "limit", limits[i]);
		mp_metrics_value(b, "milter_policy_limits_total", l.p, mp_counter_get(&S.limit[i]));
	}
	mp_metrics_head(b, "milter_policy_attachments_stripped_total", "counter",
			"Attachments removed by strip attachment.");
	mp_metrics_value(b, "milter_policy_attachments_stripped_total", "", mp_counter_get(&S.stripped));
	mp_metrics_head(b, "milter_policy_state_errors_total", "counter",
			"Errors of the shared state store.");
	mp_metrics_value(b, "milter_policy_state_errors_total", "", mp_counter_get(&S.state_errors));
	struct mp_state *st = state_source != NULL ? state_source() : NULL;
	struct mp_state_stats ss = { 0, 0, 0 };
	if (st != NULL)
		mp_state_stats(st, &ss);
	mp_state_free(st);
	mp_metrics_head(b, "milter_policy_state_entries", "gauge",
			"Keys the embedded state store holds (memory, lmdb; 0 for redis).");
	mp_metrics_value(b, "milter_policy_state_entries", "", ss.entries);
	mp_metrics_head(b, "milter_policy_state_evicted_total", "counter",
			"Keys dropped for state_max_entries (least recently used first).");
	mp_metrics_value(b, "milter_policy_state_evicted_total", "", ss.evicted);

	mp_metrics_head(b, "milter_policy_reloads_total", "counter", "Successful reloads.");
	mp_metrics_value(b, "milter_policy_reloads_total", "", mp_counter_get(&S.reloads));
	mp_metrics_head(b, "milter_policy_reload_failures_total", "counter",
			"Reloads that failed (the rules in force stayed).");
	mp_metrics_value(b, "milter_policy_reload_failures_total", "", mp_counter_get(&S.reload_failures));
	mp_metrics_head(b, "milter_policy_rules_loaded", "gauge", "Rules in the set in force.");
	mp_metrics_gauge(b, "milter_policy_rules_loaded", "", rs ? (double)mp_ruleset_n_rules(rs) : 0);
	mp_metrics_head(b, "milter_policy_sessions_open", "gauge", "SMTP sessions the milter is in.");
	mp_metrics_gauge(b, "milter_policy_sessions_open", "", (double)atomic_load(&S.sessions));
	mp_buf_free(&l);
}

/* ---- the summary ------------------------------------------------------- */

static void totals(uint64_t n[N_ACTIONS])
{
	for (size_t a = 0; a < N_ACTIONS; a++) {
		n[a] = 0;
		for (int s = 0; s < MP_STAGE_COUNT; s++)
			n[a] += mp_counter_get(&S.messages[a][s]);
	}
}

void mp_stats_sample(void)
{
	pthread_mutex_lock(&S.lock);
	struct snap *sn = &S.ring[S.head];
	sn->t = time(NULL);
	totals(sn->n);
	S.head = (S.head + 1) % WINDOW_SLOTS;
	if (S.n_snaps < WINDOW_SLOTS)
		S.n_snaps++;
	pthread_mutex_unlock(&S.lock);
}

/* Per action, what came in the last `secs` seconds (as far as the
 * snapshots reach back). */
static void window(uint64_t out[N_ACTIONS], const uint64_t now[N_ACTIONS], time_t secs)
{
	time_t t = time(NULL);
	const struct snap *best = NULL;

	pthread_mutex_lock(&S.lock);
	for (size_t i = 0; i < S.n_snaps; i++) {
		const struct snap *sn = &S.ring[(S.head + WINDOW_SLOTS - 1 - i) % WINDOW_SLOTS];
		if (t - sn->t > secs)
			break;
		best = sn;
	}
	for (size_t a = 0; a < N_ACTIONS; a++)
		out[a] = best != NULL && now[a] >= best->n[a] ? now[a] - best->n[a]
			 : best != NULL ? 0 : now[a];
	pthread_mutex_unlock(&S.lock);
}

static void actions_json(struct mp_buf *b, const uint64_t n[N_ACTIONS])
{
	mp_buf_addc(b, '{');
	for (size_t a = 0; a < N_ACTIONS; a++)
		mp_buf_printf(b, "%s\"%s\": %llu", a ? ", " : "", actions[a], (unsigned long long)n[a]);
	mp_buf_addc(b, '}');
}

/* A histogram as {"bounds": [...], "counts": [...]} (per bucket, +Inf last). */
static void hist_json(struct mp_buf *b, const struct mp_histogram *h)
{
	mp_buf_adds(b, "{\"bounds\": [");
	for (size_t i = 0; i < h->n; i++)
		mp_buf_printf(b, "%s%g", i ? ", " : "", h->bounds[i]);
	mp_buf_adds(b, "], \"counts\": [");
	for (size_t i = 0; i <= h->n; i++)
		mp_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)mp_counter_get(&h->buckets[i]));
	mp_buf_adds(b, "]}");
}

static void json_str(struct mp_buf *b, const char *s)
{
	mp_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			mp_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			mp_buf_printf(b, "\\u%04x", c);
		else
			mp_buf_addc(b, (char)c);
	}
	mp_buf_addc(b, '"');
}

void mp_stats_status_json(struct mp_buf *b, const struct mp_ruleset *rs)
{
	uint64_t now[N_ACTIONS], minute[N_ACTIONS], hour[N_ACTIONS];

	totals(now);
	window(minute, now, 60);
	window(hour, now, 3600);
	mp_buf_printf(b, "{\"version\": \"%s\", \"started\": %lld, \"uptime_seconds\": %lld, ", MP_VERSION,
		      (long long)S.started, (long long)(time(NULL) - S.started));
	mp_buf_printf(b, "\"sessions_open\": %ld, ", atomic_load(&S.sessions));
	mp_buf_printf(b, "\"rules\": %zu, \"lists\": %zu, \"policies\": %zu, ",
		      rs ? mp_ruleset_n_rules(rs) : 0, rs ? mp_ruleset_n_lists(rs) : 0,
		      rs ? mp_ruleset_n_policies(rs) : 0);
	mp_buf_printf(b, "\"reloads\": %llu, \"reload_failures\": %llu, \"last_reload\": %lld, "
			 "\"last_reload_ok\": %s, ",
		      (unsigned long long)mp_counter_get(&S.reloads),
		      (unsigned long long)mp_counter_get(&S.reload_failures),
		      (long long)atomic_load(&S.last_reload), atomic_load(&S.last_reload_ok) ? "true" : "false");
	mp_buf_adds(b, "\"messages\": {\"last_minute\": ");
	actions_json(b, minute);
	mp_buf_adds(b, ", \"last_hour\": ");
	actions_json(b, hour);
	mp_buf_adds(b, ", \"since_start\": ");
	actions_json(b, now);
	mp_buf_adds(b, "}, \"top_rules\": [");
	/* the five rules with most hits */
	const struct hits *h = rs != NULL ? mp_ruleset_ext(rs) : NULL;
	size_t top[5], n_top = 0;
	for (size_t i = 0; h != NULL && i < h->count; i++) {
		uint64_t v = mp_counter_get(&h->n[i]);
		if (v == 0)
			continue;
		/* insertion into the five largest so far, largest first */
		size_t k = n_top < 5 ? n_top++ : 5;
		while (k > 0 && mp_counter_get(&h->n[top[k - 1]]) < v) {
			if (k < 5)
				top[k] = top[k - 1];
			k--;
		}
		if (k < 5)
			top[k] = i;
	}
	for (size_t i = 0; i < n_top; i++) {
		char pol[256];
		const char *rule = key_split(h->keys[top[i]], pol, sizeof(pol));
		mp_buf_adds(b, i ? ", {\"policy\": " : "{\"policy\": ");
		json_str(b, pol);
		mp_buf_adds(b, ", \"rule\": ");
		json_str(b, rule);
		mp_buf_printf(b, ", \"hits\": %llu}", (unsigned long long)mp_counter_get(&h->n[top[i]]));
	}
	const struct mp_dns_stats *d = mp_dns_stats();
	uint64_t q = 0;
	for (int i = 0; i < 4; i++)
		q += mp_counter_get(&d->status[i]);
	uint64_t cnt = mp_counter_get(&d->latency.count);
	mp_buf_printf(b, "], \"dns\": {\"queries\": %llu, \"tempfail\": %llu, \"mean_ms\": %.3f}",
		      (unsigned long long)q, (unsigned long long)mp_counter_get(&d->status[3]),
		      cnt ? (double)mp_counter_get(&d->latency.sum_ns) / 1e6 / (double)cnt : 0.0);
	/* for the charts of status --html */
	mp_buf_adds(b, ", \"results\": {");
	const mp_counter *res[] = { S.spf, S.dkim, S.dmarc };
	static const char *const res_names[] = { "spf", "dkim", "dmarc" };
	for (int k = 0; k < 3; k++) {
		mp_buf_printf(b, "%s\"%s\": {", k ? ", " : "", res_names[k]);
		for (int i = 0; i < MP_AR_COUNT; i++)
			mp_buf_printf(b, "%s\"%s\": %llu", i ? ", " : "",
				      mp_auth_result_name((enum mp_auth_result)i),
				      (unsigned long long)mp_counter_get(&res[k][i]));
		mp_buf_addc(b, '}');
	}
	mp_buf_adds(b, "}, \"latency\": {\"message\": ");
	hist_json(b, &S.message_seconds);
	mp_buf_adds(b, ", \"dns\": ");
	hist_json(b, &d->latency);
	mp_buf_adds(b, "}, \"history\": [");
	pthread_mutex_lock(&S.lock);
	for (size_t i = 0; i < S.n_snaps; i++) {
		const struct snap *sn = &S.ring[(S.head + WINDOW_SLOTS - S.n_snaps + i) % WINDOW_SLOTS];
		mp_buf_printf(b, "%s{\"t\": %lld, \"totals\": ", i ? ", " : "", (long long)sn->t);
		actions_json(b, sn->n);
		mp_buf_addc(b, '}');
	}
	pthread_mutex_unlock(&S.lock);
	mp_buf_adds(b, "]}");
}

void mp_stats_status_line(char *buf, size_t len, const struct mp_ruleset *rs)
{
	uint64_t now[N_ACTIONS];

	totals(now);
	snprintf(buf, len, "%zu rules; since start: %llu accepted, %llu rejected, %llu tempfailed; "
		 "%ld sessions; reloads %llu, failed %llu%s",
		 rs ? mp_ruleset_n_rules(rs) : 0, (unsigned long long)now[0],
		 (unsigned long long)now[1], (unsigned long long)now[2], atomic_load(&S.sessions),
		 (unsigned long long)mp_counter_get(&S.reloads),
		 (unsigned long long)mp_counter_get(&S.reload_failures),
		 atomic_load(&S.last_reload_ok) || mp_counter_get(&S.reload_failures) == 0
			 ? "" : " (the last one failed)");
}
