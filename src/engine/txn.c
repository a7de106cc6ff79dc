/*
 * txn - connections and transactions, stage by stage (SPEC §4.4).
 *
 * Before RCPT only global.rules can decide ("pre"). At each RCPT a copy of
 * pre, extended with the recipient's policy, decides that recipient alone;
 * a refused recipient is out of the message. From the end of RCPT on, one
 * evaluation per distinct policy of the accepted recipients ("msg") sees
 * rcpt.to as the set of its accepted recipients; with recipient_policy =
 * split there is one. A transaction re-evaluates the connect and HELO
 * stages itself, so it runs wholly under the rule set it started with.
 *
 * Internally everything follows enforce semantics; mode = dry-run only
 * masks what callers are told (verdicts returned, the result's effects).
 */
#include "engine/internal.h"

#include "mail/authres.h"

#include "mail/header.h"
#include "state/state.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mp_outcome_name(enum mp_outcome o)
{
	static const char *names[] = { "none", "accept", "discard", "quarantine", "tempfail",
				       "reject" };

	return names[o];
}

/* ---- connection ------------------------------------------------------- */

struct mp_conn *mp_conn_new(struct mp_ruleset *rs, const struct mp_checks *checks)
{
	struct mp_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	mp_arena_init(&c->arena);
	c->rs = mp_ruleset_ref(rs);
	c->checks = checks;
	c->ip = "";
	c->name = "unknown";
	c->helo = "";
	c->grey_ago = -1;
	c->matcher = mp_matcher_new(mp_ruleset_settings(rs)->regex_match_limit);
	if (c->matcher == NULL) {
		mp_conn_free(c);
		return NULL;
	}
	return c;
}

void mp_conn_free(struct mp_conn *c)
{
	if (c == NULL)
		return;
	mp_eval_release(&c->ev);
	mp_state_free(c->state);
	free(c->preload);
	free(c->helo_buf);
	mp_matcher_free(c->matcher);
	mp_ruleset_unref(c->rs);
	mp_arena_release(&c->arena);
	free(c);
}

/* 0, or -1 (no memory: the connection keeps its old rule set). */
int mp_conn_set_ruleset(struct mp_conn *c, struct mp_ruleset *rs)
{
	if (rs == c->rs)
		return 0;
	struct mp_matcher *m = mp_matcher_new(mp_ruleset_settings(rs)->regex_match_limit);
	if (m == NULL)
		return -1;
	mp_matcher_free(c->matcher);
	c->matcher = m;
	mp_ruleset_ref(rs);
	mp_ruleset_unref(c->rs);
	c->rs = rs;
	/* the answers were sized and numbered for the old rule set, and the
	 * cached evaluation points into it: a new set could be allocated at
	 * the same address, so forget both rather than compare addresses */
	memset(&c->gs, 0, sizeof(c->gs));
	mp_eval_release(&c->ev);
	memset(&c->ev, 0, sizeof(c->ev));
	/* counted under the old set's rate ids: transactions under this one
	 * read the connection's counters afresh (engine/state.c) */
	memset(&c->cnt, 0, sizeof(c->cnt));
	return 0;
}

static void verdict_of(const struct mp_eval *ev, struct mp_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->outcome = ev->outcome;
	v->stage = ev->stage;
	if (ev->outcome != MP_O_NONE) {
		v->rule = ev->rule >= 0 ? ev->pol->rules[ev->rule]->name : NULL;
		v->by_threshold = ev->threshold != NULL;
		v->threshold = ev->threshold != NULL ? ev->threshold->score : 0;
		v->reply = ev->reply;
	}
}

/* What a caller is told: nothing is refused in mode = dry-run. */
static void masked(const struct mp_settings *set, const struct mp_verdict *in,
		   struct mp_verdict *out)
{
	if (out == NULL)
		return;
	if (set->mode == MP_MODE_DRY_RUN)
		memset(out, 0, sizeof(*out));
	else
		*out = *in;
}

/* Runs the connect and HELO stages of the global rules for the connection. */
static int conn_eval(struct mp_conn *c, struct mp_verdict *v)
{
	const struct mp_policy *g = mp_ruleset_global(c->rs);

	if (c->v.outcome != MP_O_NONE && c->v.stage == MP_STAGE_CONNECT) {
		masked(mp_ruleset_settings(c->rs), &c->v, v);
		return 0;
	}
	mp_eval_release(&c->ev);
	mp_guard_reset(c);
	if (mp_eval_init(&c->ev, g, NULL, "global") < 0)
		return -1;
	struct mp_ctx x = { .conn = c, .ev = &c->ev };
	for (x.stage = MP_STAGE_CONNECT; x.stage <= (c->helo_seen ? MP_STAGE_HELO : MP_STAGE_CONNECT);
	     x.stage++) {
		if (mp_eval_stage(&x) < 0)
			return -1;
	}
	verdict_of(&c->ev, &c->v);
	masked(mp_ruleset_settings(c->rs), &c->v, v);
	return 0;
}

int mp_conn_connect(struct mp_conn *c, const char *ip, const char *name, unsigned port,
		    struct mp_verdict *v)
{
	/* one form for every address, whatever the MTA wrote: "IPv6:2001:db8::9"
	 * (Postfix's and Sendmail's {client_addr}), "[2001:db8::9]", an
	 * IPv4-mapped address; everything downstream (rules, SPF, DKIM, the
	 * log, Authentication-Results) sees the canonical text */
	char canon[64];
	c->ip_ok = ip != NULL && mp_ip_parse(ip, strlen(ip), &c->ipbin) == 0;
	if (c->ip_ok)
		mp_ip_format(&c->ipbin, canon, sizeof(canon));
	c->ip = mp_arena_strdup(&c->arena, c->ip_ok ? canon : ip ? ip : "");
	c->name = mp_arena_strdup(&c->arena, name && *name ? name : "unknown");
	if (c->ip == NULL || c->name == NULL)
		return -1;
	c->port = port;
	c->connected = true;
	if (mp_rates_count(c, NULL, -1, mp_ruleset_global(c->rs), MP_STAGE_CONNECT) < 0)
		return -1;
	return conn_eval(c, v);
}

/* Every HELO/EHLO (again after STARTTLS) re-decides with the latest name. */
int mp_conn_helo(struct mp_conn *c, const char *helo, bool tls, struct mp_verdict *v)
{
	/* a client may say HELO many times: only the latest is kept */
	size_t n = strlen(helo ? helo : "") + 1;
	if (n > c->helo_cap) {
		char *p = realloc(c->helo_buf, n);
		if (p == NULL)
			return -1;
		c->helo_buf = p;
		c->helo_cap = n;
	}
	memcpy(c->helo_buf, helo ? helo : "", n);
	c->helo = c->helo_buf;
	c->tls = tls;
	c->helo_seen = true;
	if (mp_rates_count(c, NULL, -1, mp_ruleset_global(c->rs), MP_STAGE_HELO) < 0)
		return -1;
	return conn_eval(c, v);
}

/* ---- transaction helpers ---------------------------------------------- */

const char *mp_txn_strdup(struct mp_txn *t, const char *s)
{
	const char *p = mp_arena_strdup(&t->arena, s);

	if (p == NULL)
		t->oom = true;
	return p;
}

void *mp_txn_push(struct mp_txn *t, void **v, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *nv = realloc(*v, nc * size);
		if (nv == NULL) {
			t->oom = true;
			return NULL;
		}
		*v = nv;
		*cap = nc;
	}
	return (char *)*v + (*n)++ * size;
}

void mp_txn_log(struct mp_txn *t, const char *s)
{
	const char *copy = mp_txn_strdup(t, s);
	const char **slot = copy ? mp_txn_push(t, (void **)&t->logs, &t->n_logs, &t->cap_logs,
					sizeof(*t->logs)) : NULL;

	if (slot != NULL)
		*slot = copy;
}

/* The first limit of the message: recorded and noted. */
static void first_limit(struct mp_txn *t, const char *name, bool found)
{
	char msg[200];

	t->limit = name;
	t->limit_found = found;
	snprintf(msg, sizeof(msg), "limit reached: %s; %s, else on_limit (%s)", name,
		 found ? "the MIME fields hold what came before it, rules that refuse on it still decide"
		       : "only rules that test limit.* decide now",
		 t->set->on_limit == MP_ONERR_ACCEPT ? "accept" : "tempfail");
	mp_txn_log(t, msg);
}

void mp_txn_limit(struct mp_txn *t, const char *name)
{
	t->limit_found = false; /* any other limit: only limit.* rules decide */
	if (t->limit == NULL)
		first_limit(t, name, false);
}

void mp_txn_limit_found(struct mp_txn *t, const char *name)
{
	if (t->limit == NULL)
		first_limit(t, name, true);
}

void mp_txn_note_limit(struct mp_txn *t, const struct mp_rule *r, bool jit)
{
	mp_txn_limit(t, jit ? "regex_jit_stack" : "regex_match");
	if (r == NULL)
		return;
	for (size_t i = 0; i < t->n_limit_rules; i++) {
		if (t->limit_rules[i] == r)
			return;
	}
	const struct mp_rule **slot = mp_txn_push(t, (void **)&t->limit_rules, &t->n_limit_rules,
					   &t->cap_limit_rules, sizeof(*slot));
	if (slot == NULL)
		return;
	*slot = r;
	char msg[300];
	snprintf(msg, sizeof(msg), "%s reached in rule %s (%s:%d)",
		 jit ? "regex JIT stack and heap limit" : "regex match limit", r->name, r->file, r->line);
	mp_txn_log(t, msg);
}

void mp_txn_add_trace(struct mp_ctx *x, const struct mp_rule *r, bool value)
{
	struct mp_txn *t = x->txn;

	if (t == NULL || !t->trace_on)
		return;
	struct mp_trace *e = mp_txn_push(t, (void **)&t->trace, &t->n_trace, &t->cap_trace, sizeof(*e));
	if (e == NULL)
		return;
	*e = (struct mp_trace){ .stage = x->stage, .scope = x->ev->scope, .rule = r->name,
				.value = value, .dry_run = r->dry_run,
				.decided = value && !r->dry_run && r->terminal >= 0 &&
					   x->ev->outcome == MP_O_NONE };
	for (size_t i = 0; value && !r->dry_run && i < r->n_actions; i++) {
		if (r->actions[i].kind == MP_A_SCORE)
			e->score += r->actions[i].score;
	}
}

void mp_txn_add_would(struct mp_ctx *x, const struct mp_rule *r)
{
	struct mp_txn *t = x->txn;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_would; i++) {
		if (t->would[i].rule == r->name)
			return;
	}
	const char *what = mp_text_describe(x, r);
	if (what == NULL)
		return;
	struct mp_would *w = mp_txn_push(t, (void **)&t->would, &t->n_would, &t->cap_would, sizeof(*w));
	if (w != NULL)
		*w = (struct mp_would){ r->name, x->stage, what };
}

/* ---- transaction ------------------------------------------------------ */

struct mp_txn *mp_txn_new(struct mp_conn *c)
{
	struct mp_txn *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->conn = c;
	t->rs = mp_ruleset_ref(c->rs);
	t->set = mp_ruleset_settings(t->rs);
	mp_arena_init(&t->arena);
	mp_buf_init(&t->body);
	mp_strmap_init(&t->hindex);
	t->matcher = mp_matcher_new(t->set->regex_match_limit);
	if (t->matcher == NULL) {
		mp_txn_free(t);
		return NULL;
	}
	c->n_txn++;
	return t;
}

void mp_txn_free(struct mp_txn *t)
{
	if (t == NULL)
		return;
	if (t->dkim_st != NULL && t->conn->checks && t->conn->checks->dkim_free)
		t->conn->checks->dkim_free(t->dkim_st);
	mp_eval_release(&t->pre);
	for (size_t i = 0; i < t->n_msg; i++) {
		mp_eval_release(t->msg[i]);
		free(t->msg[i]);
	}
	free(t->msg);
	free(t->rcpts);
	free(t->hdrs);
	free(t->trace);
	free(t->edits);
	free(t->logs);
	free(t->would);
	free(t->limit_rules);
	free(t->strips);
	mp_mime_txn_free(t);
	free(t->ar_ours);
	mp_strmap_free(&t->hindex);
	mp_buf_free(&t->body);
	mp_matcher_free(t->matcher);
	mp_ruleset_unref(t->rs);
	mp_arena_release(&t->arena);
	free(t);
}

void mp_txn_set_queue_id(struct mp_txn *t, const char *id)
{
	t->queue_id = id ? mp_txn_strdup(t, id) : NULL;
}

void mp_txn_set_trace(struct mp_txn *t, bool on)
{
	t->trace_on = on;
}

const struct mp_verdict *mp_txn_verdict(const struct mp_txn *t)
{
	return &t->v;
}

size_t mp_txn_n_accepted(const struct mp_txn *t)
{
	return t->n_accepted;
}

const char *mp_txn_from(const struct mp_txn *t)
{
	return t->from ? t->from : "";
}

const char *mp_conn_client_ip(const struct mp_conn *c)
{
	return c->ip;
}

const char *mp_conn_helo_name(const struct mp_conn *c)
{
	return c->helo;
}

const struct mp_trace *mp_txn_trace(const struct mp_txn *t, size_t *n_r)
{
	*n_r = t->n_trace;
	return t->trace;
}

static int finish(struct mp_txn *t, struct mp_verdict *v)
{
	masked(t->set, &t->v, v);
	return t->oom ? -1 : 0;
}

int mp_txn_mail(struct mp_txn *t, const char *from, const char *auth_user,
		struct mp_verdict *v)
{
	struct mp_conn *c = t->conn;
	const char *addr = mp_addr_envelope(from, &t->from_len);

	t->from = mp_arena_strndup(&t->arena, addr, t->from_len);
	if (t->from == NULL)
		return -1;
	t->from_dom = mp_addr_domain_offset(t->from, t->from_len);
	t->auth_user = auth_user ? mp_txn_strdup(t, auth_user) : NULL;
	t->spf_domain = t->from_len > 0 ? t->from + t->from_dom : mp_txn_strdup(t, c->helo);
	t->mail_seen = true;
	/* the connection has evaluated the connect and HELO rules already;
	 * start from there, unless the transaction would report more of them
	 * (a trace, dry-run entries, regex limit hits) */
	const struct mp_eval *done = NULL;
	const struct mp_policy *g = mp_ruleset_global(t->rs);
	if (!t->trace_on && c->ev.st != NULL && c->ev.pol == g && c->ev.outcome == MP_O_NONE &&
	    !g->dry_run_early && mp_matcher_limit_hits(c->matcher) == 0)
		done = &c->ev;
	if (t->oom || mp_eval_init(&t->pre, mp_ruleset_global(t->rs), done, "global") < 0 ||
	    mp_rates_count(c, t, -1, g, MP_STAGE_MAIL) < 0)
		return -1;
	struct mp_ctx x = { .conn = c, .txn = t, .ev = &t->pre };
	for (x.stage = done ? (enum mp_stage)done->next_stage : MP_STAGE_CONNECT; x.stage <= MP_STAGE_MAIL;
	     x.stage++) {
		/* the connect and HELO rules decide on what they saw whole; an
		 * over-long sender is a limit from MAIL on */
		if (x.stage == MP_STAGE_MAIL && t->from_len >= MP_ADDR_MAX)
			mp_txn_limit(t, "address_length");
		if (mp_eval_stage(&x) < 0)
			return -1;
	}
	verdict_of(&t->pre, &t->v);
	if (t->v.outcome == MP_O_QUARANTINE)
		t->v_quarantine = t->pre.quarantine;
	return finish(t, v);
}

static bool refusing(enum mp_outcome o)
{
	return o == MP_O_REJECT || o == MP_O_TEMPFAIL;
}

int mp_txn_rcpt(struct mp_txn *t, const char *addr, struct mp_verdict *v)
{
	size_t len;
	const char *span = mp_addr_envelope(addr, &len);
	struct mp_rcpt *r = mp_txn_push(t, (void **)&t->rcpts, &t->n_rcpts, &t->cap_rcpts, sizeof(*r));
	struct mp_verdict rv;

	if (r == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	memset(&rv, 0, sizeof(rv));
	r->addr = mp_arena_strndup(&t->arena, span, len);
	r->arg = mp_arena_strdup(&t->arena, addr);
	if (r->addr == NULL || r->arg == NULL) {
		t->oom = true;
		return -1;
	}
	r->len = len;
	r->dom = mp_addr_domain_offset(r->addr, len);
	if (len >= MP_ADDR_MAX)
		mp_txn_limit(t, "address_length");
	r->pol = mp_ruleset_lookup(t->rs, r->addr + r->dom, len - r->dom);
	r->info.addr = r->addr;
	r->info.policy = r->pol->name;
	if (t->oom)
		return -1;
	if (t->v.outcome != MP_O_NONE) {
		/* decided before RCPT: every recipient shares that fate */
		rv = t->v;
	} else if (t->set->recipient_policy == MP_RCPT_SPLIT && t->first_pol != NULL &&
		   r->pol != t->first_pol) {
		rv.outcome = MP_O_TEMPFAIL;
		rv.stage = MP_STAGE_RCPT;
		rv.split = true;
		snprintf(rv.reply.code, sizeof(rv.reply.code), "452");
		snprintf(rv.reply.xcode, sizeof(rv.reply.xcode), "4.5.3");
		snprintf(rv.reply.text, sizeof(rv.reply.text),
			 "Too many recipients for this message; send again in a new transaction");
	} else {
		struct mp_eval ev;
		char scope[MP_ADDR_MAX + 8];
		snprintf(scope, sizeof(scope), "rcpt <%s>", r->addr);
		if (mp_eval_init(&ev, r->pol, &t->pre, t->trace_on ? mp_txn_strdup(t, scope) : "rcpt") < 0)
			return -1;
		ev.rcpt = (int)(r - t->rcpts);
		struct mp_ctx x = { .conn = t->conn, .txn = t, .ev = &ev, .stage = MP_STAGE_RCPT };
		int rc = mp_rates_count(t->conn, t, ev.rcpt, r->pol, MP_STAGE_RCPT);
		/* a rule decided before RCPT that greylists: this recipient now */
		for (size_t h = 0; rc == 0 && h < ev.n_hits; h++) {
			const struct mp_rule *gr = r->pol->rules[ev.hits[h]];
			if (gr->greylist >= 0) {
				mp_greylist_rcpt(&x, gr, (int)ev.hits[h]);
				break;
			}
		}
		if (rc == 0)
			rc = mp_eval_stage(&x);
		verdict_of(&ev, &rv);
		mp_eval_release(&ev);
		if (rc < 0)
			return -1;
	}
	r->info.outcome = refusing(rv.outcome) ? rv.outcome : MP_O_ACCEPT;
	if (refusing(rv.outcome)) {
		r->info.split = rv.split;
		r->info.rule = rv.rule;
		r->info.reply = rv.reply;
		r->info.would = t->set->mode == MP_MODE_DRY_RUN;
	} else {
		t->n_accepted++;
		if (t->first_pol == NULL)
			t->first_pol = r->pol;
		memset(&rv, 0, sizeof(rv));
	}
	masked(t->set, &rv, v);
	return t->oom ? -1 : 0;
}

/* The message-level verdict: a refusal by any evaluation ends the message;
 * otherwise the most severe outcome once every evaluation has one (or, at
 * the end, of those that have one). */
static void combine(struct mp_txn *t, bool final)
{
	const struct mp_eval *best = NULL;
	bool all = true;

	for (size_t i = 0; i < t->n_msg; i++) {
		const struct mp_eval *ev = t->msg[i];
		if (ev->outcome == MP_O_NONE)
			all = false;
		else if (best == NULL || ev->outcome > best->outcome)
			best = ev;
	}
	if (best != NULL && (refusing(best->outcome) || all || final)) {
		verdict_of(best, &t->v);
		t->v_quarantine = best->quarantine;
	}
}

static int eval_msg(struct mp_txn *t, enum mp_stage stage)
{
	for (size_t i = 0; i < t->n_msg; i++) {
		struct mp_ctx x = { .conn = t->conn, .txn = t, .ev = t->msg[i], .stage = stage };
		if (mp_eval_stage(&x) < 0)
			return -1;
	}
	combine(t, false);
	return 0;
}

/* DKIM runs when Authentication-Results will report it, or when an
 * undecided rule needs it. */
static bool dkim_wanted(const struct mp_txn *t)
{
	if (t->set->add_auth_results)
		return true;
	for (size_t i = 0; i < t->n_msg; i++) {
		if (t->msg[i]->outcome == MP_O_NONE && (t->msg[i]->pol->need & MP_NEED_DKIM))
			return true;
	}
	return false;
}

int mp_txn_data(struct mp_txn *t, struct mp_verdict *v)
{
	if (t->data_done || t->v.outcome != MP_O_NONE) {
		t->data_done = true;
		return finish(t, v);
	}
	t->data_done = true;
	for (size_t i = 0; i < t->n_rcpts; i++) {
		const struct mp_rcpt *r = &t->rcpts[i];
		bool seen = r->info.outcome != MP_O_ACCEPT;
		for (size_t j = 0; j < t->n_msg && !seen; j++)
			seen = t->msg[j]->pol == r->pol;
		if (seen)
			continue;
		struct mp_eval *ev = calloc(1, sizeof(*ev));
		struct mp_eval **nv = realloc(t->msg, (t->n_msg + 1) * sizeof(*nv));
		if (nv != NULL)
			t->msg = nv;
		char scope[300];
		snprintf(scope, sizeof(scope), "policy %s", r->pol->name);
		if (ev == NULL || nv == NULL ||
		    mp_eval_init(ev, r->pol, &t->pre, mp_txn_strdup(t, scope)) < 0) {
			free(ev);
			return -1;
		}
		t->msg[t->n_msg++] = ev;
	}
	if (eval_msg(t, MP_STAGE_RCPT) < 0)
		return -1;
	const struct mp_checks *ck = t->conn->checks;
	if (t->v.outcome == MP_O_NONE && t->set->dkim && ck && ck->dkim_begin && dkim_wanted(t)) {
		struct mp_envelope env = mp_val_envelope(t);
		t->dkim_started = true;
		t->dkim_st = ck->dkim_begin(ck->arg, &env);
		if (t->dkim_st == NULL)
			t->oom = true; /* no memory for the verifier */
	}
	return finish(t, v);
}

/* Lowercases name into buf (256 bytes); false when it does not fit. */
static bool lower_key(const char *name, size_t nl, char *buf)
{
	if (nl >= 256)
		return false;
	for (size_t i = 0; i < nl; i++)
		buf[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	buf[nl] = '\0';
	return true;
}

/* The slot of a header name, created on first sight; NULL (t->oom unset)
 * for a name that is not indexed. */
static struct mp_hslot *header_slot(struct mp_txn *t, const char *name, size_t nl)
{
	char buf[256];
	void *v;

	if (!lower_key(name, nl, buf))
		return NULL;
	if (mp_strmap_getn(&t->hindex, buf, nl, &v))
		return v;
	if (!mp_ruleset_header_used(t->rs, buf, nl))
		return NULL;
	char *key = mp_arena_strndup(&t->arena, name, nl);
	struct mp_hslot *slot = mp_arena_alloc(&t->arena, sizeof(*slot));
	if (key == NULL || slot == NULL) {
		t->oom = true;
		return NULL;
	}
	mp_ascii_lower(key);
	*slot = (struct mp_hslot){ key, -1, -1, 0, mp_ruleset_hkey(t->rs, key, nl) };
	void *old;
	int rc = mp_strmap_put(&t->hindex, key, nl, slot, &old);
	if (rc == 1)
		return old; /* a name longer than 255 bytes seen before */
	if (rc < 0) {
		t->oom = true;
		return NULL;
	}
	if (slot->hid >= 0) {
		if (t->slot_by_hid == NULL)
			t->slot_by_hid = mp_arena_zalloc(&t->arena, mp_ruleset_n_hkeys(t->rs) *
									sizeof(*t->slot_by_hid));
		if (t->slot_by_hid == NULL) {
			t->oom = true;
			return NULL;
		}
		t->slot_by_hid[slot->hid] = slot;
	}
	return slot;
}

size_t mp_txn_header_count(const struct mp_txn *t, const char *name)
{
	char buf[256];
	size_t nl = strlen(name);
	void *v;

	if (!lower_key(name, nl, buf) || !mp_strmap_getn(&t->hindex, buf, nl, &v))
		return 0;
	return ((const struct mp_hslot *)v)->count;
}

int mp_txn_header(struct mp_txn *t, const char *name, const char *value)
{
	const struct mp_checks *ck = t->conn->checks;
	const char *as_sent = value;
	size_t nl = strlen(name), vl = strlen(value);

	if (!t->data_done && mp_txn_data(t, NULL) < 0)
		return -1;
	t->header_bytes += nl + 1 + vl + 2;
	t->n_hdrs_seen++;
	/* rules see the value without the whitespace after the colon; DKIM
	 * gets it as sent */
	while (*value == ' ' || *value == '\t') {
		value++;
		vl--;
	}
	/* counted always: removals at EOM need every occurrence. Only names
	 * the rules use have a slot (a crafted flood of names costs nothing) */
	struct mp_hslot *slot = header_slot(t, name, nl);
	if (slot == NULL && t->oom)
		return -1;
	if (slot != NULL)
		slot->count++;
	/* forged fields go even from a message decided early (SPEC §5) */
	if (nl == 22 && mp_ascii_ieqn(name, nl, "authentication-results", 22)) {
		t->n_ar++;
		if (mp_authres_is_ours(value, t->set->authserv_id)) {
			int *ix = mp_txn_push(t, (void **)&t->ar_ours, &t->n_ar_ours, &t->cap_ar_ours,
				       sizeof(*ix));
			if (ix == NULL)
				return -1;
			*ix = (int)t->n_ar;
		}
	}
	if (t->v.outcome != MP_O_NONE || t->limit != NULL)
		return t->oom ? -1 : 0; /* decided, or past a limit: nothing uses it */
	/* past a storage limit the message is not judged as if the rest did
	 * not exist (SPEC §8) */
	if (t->n_hdrs >= MP_HEADERS_MAX)
		mp_txn_limit(t, "header_count");
	else if (t->header_bytes > MP_HEADER_BYTES_MAX || vl > MP_HEADER_VALUE_MAX)
		mp_txn_limit(t, "header_size");
	if (t->limit != NULL)
		return t->oom ? -1 : 0;
	if (t->dkim_st != NULL)
		ck->dkim_header(t->dkim_st, name, as_sent);
	struct mp_hdr *h = mp_txn_push(t, (void **)&t->hdrs, &t->n_hdrs, &t->cap_hdrs, sizeof(*h));
	if (h == NULL)
		return -1;
	h->name = mp_arena_strndup(&t->arena, name, nl);
	h->key = slot != NULL ? slot->key : ""; /* a name nothing reads */
	h->raw = mp_arena_strndup(&t->arena, value, vl);
	h->raw_len = vl;
	h->next = -1;
	if (h->name == NULL || h->key == NULL || h->raw == NULL ||
	    mp_header_value(h->raw, vl, &t->arena, &h->value, &h->value_len) < 0) {
		t->n_hdrs--;
		return -1;
	}
	int idx = (int)(t->n_hdrs - 1);
	if (slot != NULL) {
		if (slot->first < 0)
			slot->first = idx;
		else
			t->hdrs[slot->last].next = idx;
		slot->last = idx;
	}
	const char *key = h->key;
	if (strcmp(key, "from") == 0) {
		size_t stored = t->n_from < MP_FROM_MAX ? t->n_from : MP_FROM_MAX;
		/* addresses come from the raw value, never from decoded text */
		int n = mp_addr_parse_list(h->raw, h->raw_len, &t->arena, t->from_boxes + stored,
					   MP_FROM_MAX - stored);
		if (n < 0)
			return -1;
		t->n_from += (size_t)n;
		if (t->n_from > MP_FROM_MAX)
			mp_txn_limit(t, "from_addresses");
		for (size_t i = stored; i < t->n_from && i < MP_FROM_MAX; i++) {
			if (t->from_boxes[i].flags & MP_MB_TOO_LONG)
				mp_txn_limit(t, "address_length");
		}
	}
	return t->oom ? -1 : 0;
}

int mp_txn_eoh(struct mp_txn *t, struct mp_verdict *v)
{
	if (!t->data_done && mp_txn_data(t, NULL) < 0)
		return -1;
	if (t->eoh_seen)
		return finish(t, v);
	t->eoh_seen = true;
	if (t->dkim_st != NULL && t->v.outcome == MP_O_NONE)
		t->dkim_body = t->conn->checks->dkim_eoh(t->dkim_st);
	for (size_t i = 0; t->v.outcome == MP_O_NONE && i < t->n_msg; i++) {
		if (mp_rates_count(t->conn, t, -1, t->msg[i]->pol, MP_STAGE_HEADER) < 0)
			return -1;
	}
	if (t->v.outcome == MP_O_NONE && eval_msg(t, MP_STAGE_HEADER) < 0)
		return -1;
	for (size_t i = 0; i < t->n_msg; i++) {
		if (t->msg[i]->outcome == MP_O_NONE && (t->msg[i]->pol->need & MP_NEED_BODY))
			t->collect_body = t->set->body_scan_limit > 0;
	}
	if (t->limit == NULL)
		mp_mime_txn_start(t);
	return finish(t, v);
}

int mp_txn_body(struct mp_txn *t, const void *p, size_t n)
{
	if (!t->eoh_seen && mp_txn_eoh(t, NULL) < 0)
		return -1;
	t->body_bytes += n;
	if (t->v.outcome != MP_O_NONE)
		return 0;
	if (t->collect_body && t->body.len < t->set->body_scan_limit) {
		size_t room = t->set->body_scan_limit - t->body.len;
		mp_buf_add(&t->body, p, n < room ? n : room);
		if (t->body.oom)
			return -1;
	}
	if (t->dkim_body)
		t->conn->checks->dkim_body(t->dkim_st, p, n);
	mp_mime_txn_body(t, p, n);
	return 0;
}

bool mp_txn_wants_body(const struct mp_txn *t)
{
	if (t->v.outcome != MP_O_NONE)
		return false;
	if (t->collect_body || t->dkim_body || t->spool_on)
		return true;
	for (size_t i = 0; i < t->n_msg; i++) {
		if (t->msg[i]->outcome == MP_O_NONE &&
		    (t->msg[i]->pol->need & (MP_NEED_SIZE | MP_NEED_BODY)))
			return true;
	}
	return false;
}

/* pass if any signature passes, else fail if any fails, else the worst
 * error, else none. */
static enum mp_auth_result dkim_summary(const struct mp_dkim_sig *s, size_t n)
{
	static const int rank[MP_AR_COUNT] = {
		[MP_AR_NONE] = 0, [MP_AR_NEUTRAL] = 1, [MP_AR_POLICY] = 2,
		[MP_AR_PERMERROR] = 3, [MP_AR_TEMPERROR] = 4, [MP_AR_SOFTFAIL] = 1,
	};
	enum mp_auth_result worst = MP_AR_NONE;

	for (size_t i = 0; i < n; i++) {
		if (s[i].result == MP_AR_PASS)
			return MP_AR_PASS;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i].result == MP_AR_FAIL)
			return MP_AR_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		if (rank[s[i].result] > rank[worst])
			worst = s[i].result;
	}
	return worst;
}

/* A message past a safety limit that no rule testing limit.* decided:
 * on_limit decides (SPEC §8). Thresholds do not apply to it. */
static void on_limit(struct mp_txn *t, struct mp_eval *ev)
{
	if (ev->outcome != MP_O_NONE)
		return;
	ev->stage = MP_STAGE_EOM;
	ev->rule = -1;
	if (t->set->on_limit == MP_ONERR_ACCEPT) {
		ev->outcome = MP_O_ACCEPT;
		return;
	}
	ev->outcome = MP_O_TEMPFAIL;
	snprintf(ev->reply.code, sizeof(ev->reply.code), "451");
	snprintf(ev->reply.xcode, sizeof(ev->reply.xcode), "4.7.0");
	snprintf(ev->reply.text, sizeof(ev->reply.text),
		 "Message exceeds the %s limit", t->limit);
}

/* Thresholds decide for an evaluation that no rule decided (SPEC §4.4). */
static void thresholds(struct mp_txn *t, struct mp_eval *ev)
{
	const struct mp_threshold *best = NULL;

	if (ev->outcome != MP_O_NONE)
		return;
	for (size_t i = 0; i < ev->pol->n_thresholds; i++) {
		const struct mp_threshold *th = ev->pol->thresholds[i];
		if (th->terminal >= 0 && ev->score >= th->score && (best == NULL || th->score > best->score))
			best = th;
	}
	if (best != NULL) {
		struct mp_ctx x = { .conn = t->conn, .txn = t, .ev = ev, .stage = MP_STAGE_EOM };
		mp_eval_terminal(&x, &best->actions[best->terminal], -1, NULL);
		ev->threshold = best;
	}
	for (size_t i = 0; t->trace_on && i < ev->pol->n_thresholds; i++) {
		const struct mp_threshold *th = ev->pol->thresholds[i];
		struct mp_trace *e = mp_txn_push(t, (void **)&t->trace, &t->n_trace, &t->cap_trace,
						 sizeof(*e));
		if (e != NULL)
			*e = (struct mp_trace){ .stage = MP_STAGE_EOM, .scope = ev->scope,
						.threshold = th->score, .value = ev->score >= th->score,
						.decided = th == best, .score = ev->score };
	}
}

int mp_txn_eom(struct mp_txn *t, struct mp_verdict *v)
{
	if (!t->eoh_seen && mp_txn_eoh(t, NULL) < 0)
		return -1;
	if (t->eom_done)
		return finish(t, v);
	t->eom_done = true;
	const struct mp_checks *ck = t->conn->checks;
	/* a message decided before its end has had no DKIM work since; its
	 * result is not reported */
	bool open = t->v.outcome == MP_O_NONE;
	if (open && t->dkim_st != NULL) {
		struct mp_check_note note = { NULL, false };
		t->n_sigs = ck->dkim_end(t->dkim_st, &t->sigs, &note);
		if (note.limit != NULL)
			mp_txn_limit(t, note.limit);
		if (note.failed)
			t->oom = true; /* an internal error, never "unsigned" */
		t->dkim = dkim_summary(t->sigs, t->n_sigs);
		t->dkim_done = true;
	} else if (open && t->dkim_started) {
		t->dkim = MP_AR_TEMPERROR;
		t->dkim_done = true;
	}
	if (open) {
		mp_mime_txn_parse(t);
		if (t->oom || eval_msg(t, MP_STAGE_EOM) < 0)
			return -1;
		for (size_t i = 0; i < t->n_msg; i++) {
			if (t->limit != NULL)
				on_limit(t, t->msg[i]);
			else
				thresholds(t, t->msg[i]);
		}
		combine(t, true);
		/* the headers report SPF for a message that goes on; one decided
		 * before the end of the message gets no new checks */
		if ((t->set->add_auth_results || t->set->add_received_spf) &&
		    !refusing(t->v.outcome) && t->v.outcome != MP_O_DISCARD)
			mp_val_spf(t);
		if (t->set->add_auth_results && !refusing(t->v.outcome) &&
		    t->v.outcome != MP_O_DISCARD)
			mp_val_dmarc(t);
	}
	return finish(t, v);
}

const struct mp_result *mp_txn_result(struct mp_txn *t)
{
	if (!t->result_built) {
		if (mp_result_build(t) < 0)
			return NULL;
		t->result_built = true;
	}
	return &t->result;
}

struct mp_ruleset *mp_conn_ruleset(const struct mp_conn *c)
{
	return c->rs;
}

struct mp_ruleset *mp_txn_ruleset(const struct mp_txn *t)
{
	return t->rs;
}
