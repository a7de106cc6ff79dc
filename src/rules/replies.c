/*
 * replies - at which SMTP stages the rule set can answer with something
 * other than "continue", so that the daemon asks the MTA for no reply
 * (SMFIP_NR_CONN, SMFIP_NR_HELO) and no DATA event (SMFIP_NODATA) where
 * none can come: each round trip saved is two context switches and four
 * system calls per message. Computed once per rule set at load.
 *
 * Before RCPT only the global policy applies: it can decide at connect or
 * HELO when one of its rules with a terminal action can be decided there,
 * or when a rate it counts there can fail (on_state_error).
 *
 * At DATA a policy's evaluation over its accepted recipients can refuse
 * what no single recipient's evaluation refused only when a refusing rule
 * reads the recipients as a set: rcpt.count, a recipient field under a
 * negation (!=, !~, not in, not), or two recipient tests in one condition
 * (`rcpt.to == "a@x" and rcpt.to == "b@x"`). A single positive recipient
 * test holds for the set only when it held for one accepted recipient,
 * whose own evaluation would then have refused it. Accepting, discarding
 * or quarantining at DATA rather than at the end of the header changes
 * nothing the client sees.
 */
#include "rules/loader.h"

static bool rcpt_field(enum mp_field_id f)
{
	return f == MP_F_RCPT_TO || f == MP_F_RCPT_TO_LOCAL || f == MP_F_RCPT_TO_DOMAIN;
}

struct rcpt_use {
	unsigned tests;   /* recipient tests */
	bool set;         /* rcpt.count, or a recipient test under a negation */
};

static void walk(const struct mp_expr *e, bool negated, struct rcpt_use *u)
{
	if (e == NULL)
		return;
	if (e->kind == MP_E_TEST) {
		bool neg = negated || e->op == MP_OP_NE || e->op == MP_OP_NMATCH || e->op == MP_OP_NIN;
		if (e->field == MP_F_RCPT_COUNT)
			u->set = true;
		if (rcpt_field(e->field) || (e->rate != NULL && e->rate->stage == MP_STAGE_RCPT)) {
			u->tests++;
			u->set |= neg;
		}
		return;
	}
	walk(e->a, negated != (e->kind == MP_E_NOT), u);
	walk(e->b, negated, u);
}

static bool refusing(const struct mp_rule *r)
{
	if (r->terminal < 0)
		return false;
	enum mp_act k = r->actions[r->terminal].kind;
	return k == MP_A_REJECT || k == MP_A_TEMPFAIL;
}

static bool refuses_at_data(const struct mp_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct mp_rule *r = p->rules[i];
		struct rcpt_use u = { 0, false };
		if (!refusing(r) || r->min_stage > MP_STAGE_RCPT)
			continue;
		walk(r->when, false, &u);
		if (u.set || u.tests > 1)
			return true;
	}
	return false;
}

void mp_replies_analyse(struct mp_ruleset *rs)
{
	const struct mp_policy *g = &rs->global;

	rs->decides_early = false;
	for (size_t i = 0; i < g->n_rules && !rs->decides_early; i++) {
		const struct mp_rule *r = g->rules[i];
		rs->decides_early = r->terminal >= 0 && r->min_stage <= MP_STAGE_HELO;
	}
	for (size_t i = 0; i < g->n_rates && !rs->decides_early; i++)
		rs->decides_early = g->rates[i]->stage <= MP_STAGE_HELO;
	rs->refuses_at_data = refuses_at_data(g);
	for (size_t i = 0; i < rs->n_pols && !rs->refuses_at_data; i++)
		rs->refuses_at_data = refuses_at_data(rs->pols[i]);
}
