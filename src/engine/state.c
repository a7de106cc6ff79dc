/*
 * state - rate() and greylist in the engine (SPEC §12): which counters a
 * stage counts and their keys, the values rules read, greylisting one
 * recipient, and on_state_error. The store is the connection's
 * (mp_conn_set_state); every count a stage needs goes to it in one call.
 *
 * Where counts live: a rate whose keys are connect/HELO fields counts
 * connections and is kept in the connection (counted once: at connect, at
 * the first HELO, or at the first recipient of a domain's policy that
 * reads it); MAIL FROM and header ones count messages and are kept in the
 * transaction; recipient ones count recipients and are kept with each.
 * A key with an empty value (no AUTH, the null sender) is not counted:
 * that rate reads 0. A transaction under a newer rule set than its
 * connection's reads the connection's counters without counting again.
 *
 * Keys: state_prefix, "r|", the rate's canonical name, then each value,
 * lowercased, with '|', '%', spaces and controls %-escaped; IPv6 clients
 * as their /64 unless client.ip/128. Greylisting: "g|NET|SENDER|RCPT" for
 * the triplet and "w|NET" for the network (/24 or /64).
 */
#include "engine/internal.h"

#include "state/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CS_NONE, CS_OK, CS_FAILED };

void mp_conn_set_state(struct mp_conn *c, struct mp_state *st, bool read_only)
{
	struct mp_state *old = c->state;

	c->state = mp_state_ref(st);
	c->state_ro = read_only;
	mp_state_free(old);
}

const char *mp_conn_state_error(struct mp_conn *c)
{
	if (!c->state_err_new)
		return NULL;
	c->state_err_new = false;
	return c->state_err;
}

unsigned long mp_conn_state_errors(const struct mp_conn *c)
{
	return c->state_errors;
}

int mp_conn_preload_rate(struct mp_conn *c, const char *name, uint64_t n)
{
	struct mp_preload *v = realloc(c->preload, (c->n_preload + 1) * sizeof(*v));
	const char *copy = mp_arena_strdup(&c->arena, name);

	if (v != NULL)
		c->preload = v;
	if (v == NULL || copy == NULL)
		return -1;
	v[c->n_preload++] = (struct mp_preload){ copy, n, false };
	return 0;
}

void mp_conn_preload_greylist(struct mp_conn *c, unsigned ago)
{
	c->grey_ago = (int)(ago > 86400 * 400 ? 86400 * 400 : ago);
}

/* A case file's count for rate r, put in the store under its key: 0, or
 * what the store said. */
static int preload(struct mp_conn *c, const struct mp_rate *r, const void *key, size_t klen,
		   time_t now, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_preload; i++) {
		struct mp_preload *p = &c->preload[i];
		if (p->done || strcmp(p->name, r->name) != 0)
			continue;
		p->done = true;
		for (uint64_t k = 0; k < p->n; k++) {
			struct mp_state_req q = { key, klen, r->window, true, 0 };
			int rc = mp_state_counters(c->state, &q, 1, now, err, errlen);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* The counts of a connection, transaction or recipient, sized for rs. */
static struct mp_counts *ready(struct mp_counts *k, struct mp_arena *a, size_t n)
{
	if (k->v == NULL) {
		k->v = mp_arena_zalloc(a, n * sizeof(*k->v));
		k->st = mp_arena_zalloc(a, n);
		if (k->v == NULL || k->st == NULL) {
			k->v = NULL;
			return NULL;
		}
	}
	return k;
}

/* Where rate r's count lives in this scope (NULL: none, or no memory);
 * *peek: it may be read but not counted here. */
static struct mp_counts *home(struct mp_conn *c, struct mp_txn *t, int rcpt,
			      const struct mp_rate *r, bool *peek)
{
	*peek = false;
	if (r->stage <= MP_STAGE_HELO) {
		if (t == NULL || t->rs == c->rs)
			return ready(&c->cnt, &c->arena, mp_ruleset_n_rates(c->rs));
		*peek = true;
		return ready(&t->cnt, &t->arena, mp_ruleset_n_rates(t->rs));
	}
	if (t == NULL)
		return NULL;
	if (r->stage == MP_STAGE_RCPT) {
		if (rcpt < 0)
			return NULL;
		return ready(&t->rcpts[rcpt].cnt, &t->arena, mp_ruleset_n_rates(t->rs));
	}
	return ready(&t->cnt, &t->arena, mp_ruleset_n_rates(t->rs));
}

/* Appends v to b, lowercased and escaped. */
static void add_value(struct mp_buf *b, const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '|' || ch == '%')
			mp_buf_printf(b, "%%%02X", ch);
		else
			mp_buf_addc(b, (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch));
	}
}

/* The client's network: an IPv4 client's /v4 (32: the address itself),
 * an IPv6 one's /64, or the address when full6. "" when unknown. */
static void client_net(const struct mp_conn *c, int v4, bool full6, char *buf, size_t len)
{
	struct mp_ip ip = c->ipbin;
	char a[64];

	if (!c->ip_ok) {
		snprintf(buf, len, "%s", "");
		return;
	}
	int prefix = ip.v6 ? (full6 ? 128 : 64) : v4;
	if (prefix == 32 || prefix == 128) {
		mp_ip_format(&ip, buf, len);
		return;
	}
	mp_ip_mask(&ip, prefix);
	mp_ip_format(&ip, a, sizeof(a));
	snprintf(buf, len, "%s/%d", a, prefix);
}

/* Appends rate r's key for this scope to b; false when a key field has no
 * value (not counted). */
static bool rate_key(struct mp_conn *c, struct mp_txn *t, int rcpt, const struct mp_policy *pol,
		     const struct mp_rate *r, struct mp_buf *b)
{
	const struct mp_settings *set = mp_ruleset_settings(t ? t->rs : c->rs);
	struct mp_eval ev = { .rcpt = rcpt, .pol = pol };
	struct mp_ctx x = { .conn = c, .txn = t, .ev = &ev, .stage = MP_STAGE_EOM };

	mp_buf_adds(b, set->state_prefix ? set->state_prefix : "");
	mp_buf_adds(b, "r|");
	mp_buf_adds(b, r->name);
	for (size_t i = 0; i < r->n_keys; i++) {
		const char *s = NULL;
		size_t len = 0;
		char ipbuf[80];
		mp_buf_addc(b, '|');
		if (r->keys[i] == MP_F_CLIENT_IP) {
			client_net(c, 32, r->ip128, ipbuf, sizeof(ipbuf));
			s = ipbuf;
			len = strlen(s);
		} else {
			struct mp_expr e = { .kind = MP_E_TEST, .field = r->keys[i] };
			struct mp_viter it = { 0, 0 };
			if (!mp_val_next(&x, &e, &it, &s, &len))
				len = 0;
		}
		if (len == 0)
			return false;
		add_value(b, s, len);
	}
	return true;
}

/* A store failure: noted for the daemon's log, the metric and `test`. */
static void state_error(struct mp_conn *c, struct mp_txn *t, const char *err)
{
	snprintf(c->state_err, sizeof(c->state_err), "%s", err[0] ? err : "state store failed");
	/* a server's error text: printable ASCII only */
	for (char *p = c->state_err; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	}
	c->state_err_new = t == NULL; /* a transaction's goes among its lines */
	c->state_errors++;
	if (t != NULL) {
		char msg[320];
		snprintf(msg, sizeof(msg), "state error: %s; on_state_error (%s)", c->state_err,
			 t->set->on_state_error == MP_ONERR_ACCEPT ? "accept" : "tempfail");
		mp_txn_log(t, msg);
	}
}

struct pending {
	struct mp_counts *k;
	const struct mp_rate *r;
	bool plus_one;     /* read-only store: this event counts as if added */
	size_t off;        /* of its key in the buffer */
};

/* Counts the rates of pol known by stage upto that this scope has not
 * counted yet, in one store call. 0, or -1 (no memory). */
int mp_rates_count(struct mp_conn *c, struct mp_txn *t, int rcpt, const struct mp_policy *pol,
		   enum mp_stage upto)
{
	if (pol->n_rates == 0)
		return 0;
	struct pending *p = calloc(pol->n_rates, sizeof(*p));
	struct mp_state_req *q = calloc(pol->n_rates, sizeof(*q));
	struct mp_buf b;
	size_t n = 0;
	int rc = 0;

	mp_buf_init(&b);
	if (p == NULL || q == NULL)
		goto oom;
	for (size_t i = 0; i < pol->n_rates; i++) {
		const struct mp_rate *r = pol->rates[i];
		bool peek;
		if (r->stage > upto || (r->stage == MP_STAGE_RCPT && rcpt < 0))
			continue;
		struct mp_counts *k = home(c, t, rcpt, r, &peek);
		if (k == NULL) {
			if (r->stage == MP_STAGE_RCPT && rcpt < 0)
				continue;
			goto oom;
		}
		if (k->st[r->id] != CS_NONE)
			continue;
		size_t off = b.len;
		if (!rate_key(c, t, rcpt, pol, r, &b)) {
			b.len = off;
			k->st[r->id] = CS_OK; /* no value: not counted, reads 0 */
			k->v[r->id] = 0;
			continue;
		}
		p[n] = (struct pending){ k, r, c->state_ro && !peek, off };
		q[n] = (struct mp_state_req){ NULL, b.len - off, r->window, !c->state_ro && !peek, 0 };
		n++;
	}
	if (b.oom)
		goto oom;
	if (n > 0) {
		char err[256] = "no state store";
		for (size_t i = 0; i < n; i++)
			q[i].key = b.p + p[i].off;
		time_t now = time(NULL);
		int s = c->state != NULL ? 0 : -1;
		for (size_t i = 0; s == 0 && c->n_preload > 0 && i < n; i++)
			s = preload(c, p[i].r, q[i].key, q[i].klen, now, err, sizeof(err));
		if (s == 0)
			s = mp_state_counters(c->state, q, n, now, err, sizeof(err));
		if (s == MP_STATE_NOMEM)
			goto oom; /* ours, not the store's: an internal error */
		for (size_t i = 0; i < n; i++) {
			p[i].k->st[p[i].r->id] = s == 0 ? CS_OK : CS_FAILED;
			p[i].k->v[p[i].r->id] = s == 0 ? q[i].count + (p[i].plus_one ? 1 : 0) : 0;
		}
		if (s < 0)
			state_error(c, t, err);
	}
	goto done;
oom:
	rc = -1;
	if (t != NULL)
		t->oom = true;
done:
	free(p);
	free(q);
	mp_buf_free(&b);
	return rc;
}

/* The count of one scope: false when it failed (x->state_failed set). */
static double one_value(struct mp_ctx *x, const struct mp_counts *k, uint32_t id)
{
	if (k == NULL || k->v == NULL)
		return 0;
	if (k->st[id] == CS_FAILED)
		x->state_failed = true;
	return (double)k->v[id];
}

bool mp_val_rate_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it, double *v)
{
	const struct mp_rate *r = e->rate;
	struct mp_txn *t = x->txn;
	bool peek;

	if (r->stage == MP_STAGE_RCPT && t != NULL && x->ev->rcpt < 0) {
		/* after RCPT: the policy's accepted recipients, each its count */
		while (it->i < t->n_rcpts && !(t->rcpts[it->i].info.outcome == MP_O_ACCEPT &&
					       t->rcpts[it->i].pol == x->ev->pol))
			it->i++;
		if (it->i >= t->n_rcpts)
			return false;
		*v = one_value(x, &t->rcpts[it->i++].cnt, r->id);
		return true;
	}
	if (it->i++ > 0)
		return false;
	*v = one_value(x, home(x->conn, t, x->ev->rcpt, r, &peek), r->id);
	return true;
}

/* x->ev tempfails at x's stage, decided by rule rule_idx, with 451 XCODE. */
static void tempfail(struct mp_ctx *x, int rule_idx, const char *xcode, const char *text)
{
	struct mp_eval *ev = x->ev;

	ev->outcome = MP_O_TEMPFAIL;
	ev->stage = x->stage;
	ev->rule = rule_idx;
	snprintf(ev->reply.code, sizeof(ev->reply.code), "451");
	snprintf(ev->reply.xcode, sizeof(ev->reply.xcode), "%s", xcode);
	snprintf(ev->reply.text, sizeof(ev->reply.text), "%s", text);
}

void mp_state_fail(struct mp_ctx *x, int rule_idx)
{
	tempfail(x, rule_idx, "4.3.0", "Temporary state failure");
}

void mp_greylist_rcpt(struct mp_ctx *x, const struct mp_rule *r, int rule_idx)
{
	struct mp_txn *t = x->txn;
	struct mp_conn *c = x->conn;
	struct mp_rcpt *rc = &t->rcpts[x->ev->rcpt];
	const struct mp_action *a = &r->actions[r->greylist];
	char net[80], err[256] = "no state store";
	struct mp_buf k, w;
	struct mp_grey_ans ans;

	if (rc->grey_done)
		return;
	rc->grey_done = true;
	client_net(c, 24, false, net, sizeof(net));
	if (net[0] == '\0')
		snprintf(net, sizeof(net), "unknown");
	mp_buf_init(&k);
	mp_buf_init(&w);
	const char *prefix = t->set->state_prefix ? t->set->state_prefix : "";
	mp_buf_printf(&k, "%sg|%s|", prefix, net);
	add_value(&k, t->from, t->from_len);
	mp_buf_addc(&k, '|');
	add_value(&k, rc->addr, rc->len);
	mp_buf_printf(&w, "%sw|%s", prefix, net);
	if (k.oom || w.oom) {
		t->oom = true;
		mp_buf_free(&k);
		mp_buf_free(&w);
		return;
	}
	struct mp_grey_req q = { k.p, k.len, w.p, w.len, a->delay, a->expiry,
				 t->set->greylist_whitelist_after, !c->state_ro };
	time_t now = time(NULL);
	int s = c->state != NULL ? 0 : -1;
	if (s == 0 && c->grey_ago >= 0) {
		/* a case file's triplet, first seen that long ago */
		struct mp_grey_req first = q;
		first.write = true;
		s = mp_state_greylist(c->state, &first, now - c->grey_ago, &ans, err, sizeof(err));
	}
	if (s == 0)
		s = mp_state_greylist(c->state, &q, now, &ans, err, sizeof(err));
	mp_buf_free(&k);
	mp_buf_free(&w);
	if (s == MP_STATE_NOMEM) {
		t->oom = true; /* ours: an internal error */
		return;
	}
	if (s < 0) {
		state_error(c, t, err);
		if (t->set->on_state_error == MP_ONERR_TEMPFAIL)
			mp_state_fail(x, rule_idx);
		return;
	}
	if (ans.pass)
		return;
	char text[64];
	snprintf(text, sizeof(text), "Greylisted, try again in %u seconds", ans.left);
	tempfail(x, rule_idx, "4.7.1", text);
}
