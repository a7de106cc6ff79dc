/*
 * eval - three-valued evaluation of conditions and the per-stage decision
 * loop of SPEC §4.4.
 *
 * A test is unknown until the stage of its field; `and` is false as soon as
 * either side is false, `or` true as soon as either is true. Siblings that
 * need SPF are evaluated after the others, so a cheap side that decides
 * spares the DNS work. At each stage the undecided rules are taken in
 * policy order; the first true rule with a terminal action ends the
 * evaluation. A stage visits only the rules that become decidable there
 * (the policy's by_stage index) and those left unknown before (pending),
 * so each rule is usually evaluated once.
 */
#include "engine/internal.h"

#include "match/lists.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COSTLY (MP_NEED_SPF | MP_NEED_SPF_HELO)

int mp_eval_init(struct mp_eval *ev, const struct mp_policy *pol, const struct mp_eval *from,
		 const char *scope)
{
	size_t n = pol->n_rules ? pol->n_rules : 1;

	memset(ev, 0, sizeof(*ev));
	ev->pol = pol;
	ev->rule = -1;
	ev->rcpt = -1;
	ev->scope = scope;
	/* one block for the four index arrays and the states: an evaluation
	 * per policy per message, so one allocation instead of five */
	if (n > SIZE_MAX / (4 * sizeof(uint32_t) + 1))
		return -1;
	ev->block = malloc(n * (4 * sizeof(uint32_t) + 1));
	if (ev->block == NULL)
		return -1;
	ev->hits = ev->block;
	ev->pending = ev->hits + n;
	ev->cand = ev->pending + n;
	ev->fired = ev->cand + n;
	ev->st = (uint8_t *)(ev->fired + n);
	memset(ev->st, 0, n);
	if (from != NULL) {
		/* from's policy is the global prefix of pol */
		memcpy(ev->st, from->st, from->pol->n_rules);
		memcpy(ev->hits, from->hits, from->n_hits * sizeof(*ev->hits));
		memcpy(ev->pending, from->pending, from->n_pending * sizeof(*ev->pending));
		ev->n_pending = from->n_pending;
		ev->next_stage = from->next_stage;
		ev->n_hits = from->n_hits;
		ev->score = from->score;
		ev->outcome = from->outcome;
		ev->stage = from->stage;
		ev->rule = from->rule;
		ev->reply = from->reply;
		ev->quarantine = from->quarantine;
	}
	return 0;
}

void mp_eval_release(struct mp_eval *ev)
{
	if (ev == NULL)
		return;
	free(ev->block);
	ev->block = NULL;
	ev->st = NULL;
	ev->hits = ev->pending = ev->cand = ev->fired = NULL;
}

static bool match_one(struct mp_ctx *x, const struct mp_expr *e,
		      const struct mp_field_info *f, const char *s, size_t len)
{
	switch (e->op) {
	case MP_OP_EQ:
	case MP_OP_NE:
		return mp_ascii_ieqn(s, len, e->str, strlen(e->str));
	case MP_OP_MATCH:
	case MP_OP_NMATCH: {
		int rc = mp_regex_match(x->txn ? x->txn->matcher : x->conn->matcher, e->re, s,
					 len);
		if (rc < 0 && x->txn != NULL)
			mp_txn_note_limit(x->txn, x->rule, rc == MP_RE_JIT_STACK);
		return rc == 1;
	}
	case MP_OP_IN:
	case MP_OP_NIN:
		return mp_list_match(e->list, f->match == MP_M_NONE ? MP_M_STRING : f->match, s, len);
	default:
		return false;
	}
}

static int tv(bool b)
{
	return b ? TV_TRUE : TV_FALSE;
}

static bool num_cmp(enum mp_op op, double v, double n)
{
	switch (op) {
	case MP_OP_EQ: return v == n;
	case MP_OP_NE: return v != n;
	case MP_OP_LT: return v < n;
	case MP_OP_LE: return v <= n;
	case MP_OP_GT: return v > n;
	case MP_OP_GE: return v >= n;
	default: return false;
	}
}

static int test(struct mp_ctx *x, const struct mp_expr *e)
{
	const struct mp_field_info *f = mp_field_info(e->field);

	if (x->stage < f->stage)
		return TV_UNKNOWN;
	/* positive tests hold if any value satisfies them; the others negate */
	bool positive = e->op == MP_OP_EQ || e->op == MP_OP_MATCH || e->op == MP_OP_IN;
	if (e->vid >= 0 && x->part1 == 0) {
		int b = mp_guard_val(x, e->vid, e->field);
		if (b >= 0)
			return tv(positive ? b : !b); /* the value index knows */
	}
	if (e->pf >= 0 && !mp_guard_pf(x, e->pf, e->pfkey))
		return tv(!positive); /* the prefilter: no value can match */
	if (e->field == MP_F_RATE) {
		/* a count per recipient after RCPT: any satisfies; != negates == */
		struct mp_viter it = { 0, 0 };
		double v;
		bool any = false;
		while (!any && mp_val_rate_next(x, e, &it, &v))
			any = num_cmp(e->op == MP_OP_NE ? MP_OP_EQ : e->op, v, e->num);
		return tv(e->op == MP_OP_NE ? !any : any);
	}
	switch (f->type) {
	case MP_T_BOOL:
		return tv(mp_val_bool(x, e));
	case MP_T_NUM: {
		if (f->multi) {
			/* one number per attachment: any satisfies; != negates == */
			struct mp_viter it = { 0, 0 };
			double v;
			bool any = false;
			while (!any && mp_val_mime_size_next(x, &it, &v))
				any = num_cmp(e->op == MP_OP_NE ? MP_OP_EQ : e->op, v, e->num);
			return tv(e->op == MP_OP_NE ? !any : any);
		}
		return tv(num_cmp(e->op, mp_val_number(x, e), e->num));
	}
	case MP_T_RESULT: {
		bool eq = mp_val_result(x, e->field) == (enum mp_auth_result)e->result;
		return tv(e->op == MP_OP_EQ ? eq : !eq);
	}
	case MP_T_IP:
		if (e->op == MP_OP_IN || e->op == MP_OP_NIN) {
			bool m = x->conn->ip_ok && mp_list_match_ip(e->list, &x->conn->ipbin);
			return tv(e->op == MP_OP_IN ? m : !m);
		}
		break;
	case MP_T_STR:
		break;
	}
	bool any = false;
	struct mp_viter it = { 0, 0 };
	const char *s;
	size_t len;
	while (!any && mp_val_next(x, e, &it, &s, &len))
		any = match_one(x, e, f, s, len);
	return tv(positive ? any : !any);
}

static int mp_eval_expr(struct mp_ctx *x, const struct mp_expr *e)
{
	if (x->stage < e->min_stage)
		return TV_UNKNOWN;
	switch (e->kind) {
	case MP_E_TEST:
		return test(x, e);
	case MP_E_NOT: {
		int v = mp_eval_expr(x, e->a);
		return v == TV_UNKNOWN ? TV_UNKNOWN : v == TV_TRUE ? TV_FALSE : TV_TRUE;
	}
	case MP_E_AND:
	case MP_E_OR: {
		const struct mp_expr *first = e->a, *second = e->b;
		if ((first->need & COSTLY) && !(second->need & COSTLY)) {
			first = e->b;
			second = e->a;
		}
		int stop = e->kind == MP_E_AND ? TV_FALSE : TV_TRUE;
		int va = mp_eval_expr(x, first);
		if (va == stop)
			return stop;
		int vb = mp_eval_expr(x, second);
		if (vb == stop)
			return stop;
		return va == TV_UNKNOWN || vb == TV_UNKNOWN ? TV_UNKNOWN : !stop;
	}
	}
	return TV_UNKNOWN;
}

int mp_eval_cond(struct mp_ctx *x, const struct mp_expr *e)
{
	return mp_eval_expr(x, e);
}

/* Past a MIME limit a rule still decides when it refuses, discards or
 * quarantines on what was found before the limit (an exe is an exe);
 * one that would accept, or only score, does not (SPEC §11). */
static bool decides_past_limit(const struct mp_txn *t, const struct mp_rule *r)
{
	if (r->need & MP_NEED_LIMIT)
		return true;
	if (!t->limit_found || r->terminal < 0)
		return false;
	enum mp_act k = r->actions[r->terminal].kind;
	return k != MP_A_ACCEPT;
}

static void set_reply(struct mp_ctx *x, const struct mp_action *a, const char *rule)
{
	struct mp_reply *rep = &x->ev->reply;

	snprintf(rep->code, sizeof(rep->code), "%s", a->code);
	snprintf(rep->xcode, sizeof(rep->xcode), "%s", a->xcode);
	if (a->text != NULL)
		mp_text_expand(x, a->text, rule, true, rep->text);
	else
		snprintf(rep->text, sizeof(rep->text), "%s",
			 a->kind == MP_A_REJECT ? "Rejected by policy"
						: "Temporarily rejected by policy; try again later");
}

static enum mp_outcome outcome_of(enum mp_act a)
{
	switch (a) {
	case MP_A_ACCEPT: return MP_O_ACCEPT;
	case MP_A_REJECT: return MP_O_REJECT;
	case MP_A_TEMPFAIL: return MP_O_TEMPFAIL;
	case MP_A_DISCARD: return MP_O_DISCARD;
	case MP_A_QUARANTINE: return MP_O_QUARANTINE;
	default: return MP_O_NONE;
	}
}

void mp_eval_terminal(struct mp_ctx *x, const struct mp_action *a, int rule_idx,
		      const char *rule_name)
{
	struct mp_eval *ev = x->ev;

	ev->outcome = outcome_of(a->kind);
	ev->stage = x->stage;
	ev->rule = rule_idx;
	if (a->kind == MP_A_REJECT || a->kind == MP_A_TEMPFAIL) {
		set_reply(x, a, rule_name);
	} else if (a->kind == MP_A_QUARANTINE) {
		char buf[MP_TEXT_MAX + 1];
		if (a->text != NULL)
			mp_text_expand(x, a->text, rule_name, false, buf);
		else
			snprintf(buf, sizeof(buf), "quarantined by %s", rule_name ? rule_name : "policy");
		ev->quarantine = x->txn ? mp_txn_strdup(x->txn, buf) : NULL;
	}
}

/* Whether every rule must be evaluated: when the transaction keeps a trace. */
static bool keeps_every_rule(const struct mp_ctx *x)
{
	return x->txn != NULL && x->txn->trace_on;
}

/* What one guard state already knows of g: 1, 0, or -1 (not scanned). */
static inline int guard_bit(const struct mp_gstate *gs, const struct mp_guard *g)
{
	if (g->kind == MP_G_PF) {
		if (gs->pf_state == NULL || gs->pf_state[g->key] == PF_UNSCANNED)
			return -1;
		if (gs->pf_state[g->key] == PF_ALL)
			return 1;
		return (gs->pf_bits[g->id >> 3] >> (g->id & 7)) & 1;
	}
	if (g->key >= 64 || !(gs->v_done >> g->key & 1) || gs->v_bits == NULL)
		return -1;
	return (gs->v_bits[g->id >> 3] >> (g->id & 7)) & 1;
}

/* A guard's answer when its key or field is already scanned (1 or 0), read
 * here without the calls of mp_guard_holds: with 10,000 rules the stage
 * loop asks thousands of guards per message. Only a state that already
 * holds the answer is read - guards.c fills each key and field in the one
 * state it belongs to: the transaction's (tgs), or the connection's (cgs,
 * NULL unless the transaction runs under the connection's rule set).
 * -1: mp_guard_holds must answer. */
static inline int guard_known(const struct mp_gstate *tgs, const struct mp_gstate *cgs,
			      const struct mp_guard *g)
{
	if (tgs == NULL || g->key < 0 || g->id < 0)
		return -1;
	int b = guard_bit(tgs, g);
	if (b < 0 && cgs != NULL)
		b = guard_bit(cgs, g);
	return b;
}

/* Merges the ascending arrays a and b into out; returns its length. */
static size_t merge(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na && j < nb)
		out[n++] = a[i] < b[j] ? a[i++] : b[j++];
	while (i < na)
		out[n++] = a[i++];
	while (j < nb)
		out[n++] = b[j++];
	return n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends to ev->fired the rules of stage s guarded by an id whose bit is
 * set in bits (ids from base to base + n). */
static size_t add_fired(struct mp_eval *ev, int s, const uint8_t *bits, uint32_t base, uint32_t n,
			size_t at)
{
	const uint32_t *start = ev->pol->g_start[s], *rules = ev->pol->g_rules[s];

	for (uint32_t byte = 0; byte < (n + 7) / 8; byte++) {
		for (unsigned b = bits[byte]; b != 0; b &= b - 1) {
			uint32_t id = byte * 8 + (uint32_t)__builtin_ctz(b);
			if (id >= n)
				break;
			for (uint32_t j = start[base + id]; j < start[base + id + 1]; j++)
				ev->fired[at++] = rules[j];
		}
	}
	return at;
}

/* The rules of stage s whose guard holds (struct mp_policy: g_start),
 * ascending, into ev->fired; -1 when the prefilter or the value index
 * cannot answer for one of the stage's keys or fields (then every rule of
 * the stage is visited). */
static long fired(struct mp_ctx *x, int s)
{
	struct mp_eval *ev = x->ev;
	const struct mp_policy *pol = ev->pol;
	const uint8_t *bits = NULL, *vbits[2] = { NULL, NULL };
	size_t n = 0;

	/* header keys all live in the transaction's state: one bitmap */
	for (size_t k = 0; k < pol->n_pf_keys[s]; k++)
		if ((bits = mp_guard_pf_bits(x, pol->pf_keys[s][k])) == NULL)
			return -1;
	/* fields live in the connection's state or the transaction's (each
	 * field in one: guards.c), so each holds only its own fields' bits */
	for (size_t k = 0; k < pol->n_val_fields[s]; k++) {
		const uint8_t *vb = mp_guard_val_bits(x, (enum mp_field_id)pol->val_fields[s][k]);
		if (vb == NULL)
			return -1;
		if (vbits[0] == NULL || vbits[0] == vb)
			vbits[0] = vb;
		else
			vbits[1] = vb;
	}
	if (bits != NULL)
		n = add_fired(ev, s, bits, 0, pol->n_pf_ids, n);
	for (int i = 0; i < 2; i++)
		if (vbits[i] != NULL)
			n = add_fired(ev, s, vbits[i], pol->n_pf_ids, pol->n_val_ids, n);
	qsort(ev->fired, n, sizeof(*ev->fired), cmp_u32);
	return (long)n;
}

/* The rules to visit at x->stage, ascending, into ev->cand: the pending
 * ones and those the stages up to this one make decidable - of the rules
 * whose guard the prefilter or the value index answers, only those whose
 * guard holds (the others are false), unless a trace wants every rule or
 * a safety limit was reached. */
static size_t candidates(struct mp_ctx *x)
{
	struct mp_eval *ev = x->ev;
	const struct mp_policy *pol = ev->pol;
	size_t n = ev->n_pending;
	const bool split = x->txn != NULL && !x->txn->trace_on && x->txn->limit == NULL;

	memcpy(ev->cand, ev->pending, n * sizeof(*ev->cand));
	for (int s = ev->next_stage; s <= (int)x->stage; s++) {
		if (pol->n_by_stage[s] == 0)
			continue;
		long nf = split && pol->g_start[s] != NULL ? fired(x, s) : -1;
		/* pending (now free) takes each merge, then becomes cand */
		if (nf < 0) {
			n = merge(ev->cand, n, pol->by_stage[s], pol->n_by_stage[s], ev->pending);
		} else {
			n = merge(ev->cand, n, pol->unguarded[s], pol->n_unguarded[s], ev->pending);
			uint32_t *t = ev->cand;
			ev->cand = ev->pending;
			ev->pending = t;
			n = merge(ev->cand, n, ev->fired, (size_t)nf, ev->pending);
		}
		uint32_t *t = ev->cand;
		ev->cand = ev->pending;
		ev->pending = t;
	}
	if ((int)x->stage >= ev->next_stage)
		ev->next_stage = (int)x->stage + 1;
	return n;
}

int mp_eval_stage(struct mp_ctx *x)
{
	struct mp_eval *ev = x->ev;
	const struct mp_policy *pol = ev->pol;

	if (ev->outcome != MP_O_NONE)
		return 0;
	size_t n = candidates(x);
	ev->n_pending = 0;
	/* the same for every rule of the loop (a trace wants every rule) */
	const bool use_guards = !keeps_every_rule(x);
	const struct mp_gstate *tgs = x->txn != NULL ? &x->txn->gs : NULL;
	const struct mp_gstate *cgs = tgs != NULL && x->txn->rs == x->conn->rs ? &x->conn->gs : NULL;
	const enum mp_stage stage = x->stage;
	for (size_t k = 0; k < n; k++) {
		uint32_t i = ev->cand[k];

		if (ev->st[i] != RS_UNDECIDED)
			continue;
		if (ev->outcome != MP_O_NONE) {
			ev->pending[ev->n_pending++] = i;
			continue;
		}
		/* a rule that needs a test the prefilter or the value index
		 * rules out is false without a look at it */
		const struct mp_guard *g = &pol->guards[i];
		if (g->kind != MP_G_NONE && stage >= g->stage && use_guards) {
			int known = guard_known(tgs, cgs, g);
			if (known == 0 || (known < 0 && !mp_guard_holds(x, g))) {
				ev->st[i] = RS_FALSE;
				continue;
			}
		}
		const struct mp_rule *r = pol->rules[i];
		/* past a safety limit only rules that test limit.* decide; the
		 * others stay undecided for good (SPEC §8) */
		if (x->txn != NULL && x->txn->limit != NULL && !decides_past_limit(x->txn, r))
			continue;
		if (x->stage < r->min_stage) {
			ev->pending[ev->n_pending++] = i;
			continue;
		}
		x->rule = r;
		x->state_failed = false;
		const char *limit = x->txn != NULL ? x->txn->limit : NULL;
		int v = r->when ? mp_eval_expr(x, r->when) : TV_TRUE;
		/* a rate it read failed: on_state_error decides (accept: read as 0) */
		if (x->state_failed &&
		    mp_ruleset_settings(x->txn ? x->txn->rs : x->conn->rs)->on_state_error ==
			    MP_ONERR_TEMPFAIL) {
			ev->st[i] = RS_FALSE;
			mp_state_fail(x, (int)i);
			continue;
		}
		/* a limit reached while evaluating this rule: its value rests on
		 * what was not examined */
		if (x->txn != NULL && x->txn->limit != limit && !(r->need & MP_NEED_LIMIT))
			continue;
		if (v == TV_UNKNOWN) {
			ev->pending[ev->n_pending++] = i;
			continue;
		}
		ev->st[i] = v == TV_TRUE ? RS_TRUE : RS_FALSE;
		mp_txn_add_trace(x, r, v == TV_TRUE);
		if (v == TV_FALSE)
			continue;
		if (r->dry_run) {
			mp_txn_add_would(x, r);
			continue;
		}
		ev->hits[ev->n_hits++] = (uint32_t)i;
		for (size_t j = 0; j < r->n_actions; j++) {
			if (r->actions[j].kind == MP_A_SCORE)
				ev->score += r->actions[j].score;
		}
		if (r->terminal >= 0)
			mp_eval_terminal(x, &r->actions[r->terminal], (int)i, r->name);
		else if (r->greylist >= 0 && x->stage == MP_STAGE_RCPT && ev->rcpt >= 0 &&
			 x->txn != NULL)
			mp_greylist_rcpt(x, r, (int)i);
	}
	x->rule = NULL;
	if (x->txn != NULL && x->txn->oom)
		return -1;
	return 0;
}
