/*
 * dump - `check --dump`: every policy with each rule, the stage it decides
 * at (a range when `or`/`and` can decide it early) and what it does.
 */
#include "rules/dump.h"

#include "match/regex.h"

#include <stdio.h>

static void stage_range(enum mp_stage lo, enum mp_stage hi, char *buf, size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%s", mp_stage_name(hi));
	else
		snprintf(buf, len, "%s..%s", mp_stage_name(lo), mp_stage_name(hi));
}

static void actions(const struct mp_action *a, size_t n, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s%s", i ? ", " : "", mp_act_name(a[i].kind));
		switch (a[i].kind) {
		case MP_A_REJECT:
		case MP_A_TEMPFAIL:
			fprintf(out, " %s %s", a[i].code, a[i].xcode);
			if (a[i].text)
				fprintf(out, " \"%s\"", a[i].text->src);
			break;
		case MP_A_ADD_HEADER:
			fprintf(out, " %s \"%s\"", a[i].arg, a[i].text->src);
			break;
		case MP_A_REMOVE_HEADER:
		case MP_A_BCC:
		case MP_A_REDIRECT:
			fprintf(out, " %s", a[i].arg);
			break;
		case MP_A_TAG_SUBJECT:
		case MP_A_LOG:
		case MP_A_STRIP:
		case MP_A_QUARANTINE:
			if (a[i].text)
				fprintf(out, " \"%s\"", a[i].text->src);
			break;
		case MP_A_SCORE:
			fprintf(out, " %.6g", a[i].score);
			break;
		case MP_A_GREYLIST:
			fprintf(out, " %us %us", a[i].delay, a[i].expiry);
			break;
		default:
			break;
		}
	}
}

static void rules(const struct mp_policy *p, size_t from, size_t to, enum mp_stage floor,
		  FILE *out)
{
	char st[32];

	for (size_t i = from; i < to; i++) {
		const struct mp_rule *r = p->rules[i];
		enum mp_stage lo = r->min_stage > floor ? r->min_stage : floor;
		enum mp_stage hi = r->stage > floor ? r->stage : floor;
		if (r->greylist >= 0) /* it acts per recipient */
			lo = hi = MP_STAGE_RCPT;
		stage_range(lo, hi, st, sizeof(st));
		fprintf(out, "  %-15s %-28s ", st, r->name);
		if (r->dry_run)
			fprintf(out, "(dry-run) ");
		actions(r->actions, r->n_actions, out);
		fprintf(out, "  [%s:%d]\n", r->file, r->line);
	}
}

static bool has_rate(const struct mp_policy *p, const struct mp_rate *r)
{
	for (size_t i = 0; p != NULL && i < p->n_rates; i++) {
		if (p->rates[i] == r)
			return true;
	}
	return false;
}

/* What each rate() counts and where (SPEC §12); a domain's policy lists
 * those the global one does not count already. */
static void rates(const struct mp_policy *p, const struct mp_policy *g, FILE *out)
{
	for (size_t i = 0; i < p->n_rates; i++) {
		const struct mp_rate *r = p->rates[i];
		enum mp_stage at = (enum mp_stage)r->stage;
		if (has_rate(g, r))
			continue;
		const char *what = at <= MP_STAGE_HELO ? "connections"
				   : at == MP_STAGE_RCPT ? "recipients" : "messages";
		if (g != NULL && at < MP_STAGE_RCPT)
			at = MP_STAGE_RCPT; /* a domain's policy is known at RCPT */
		fprintf(out, "  %-15s %-28s counts %s\n", mp_stage_name(at), r->name, what);
	}
}

static void thresholds(const struct mp_policy *p, size_t from, FILE *out)
{
	for (size_t i = from; i < p->n_thresholds; i++) {
		const struct mp_threshold *t = p->thresholds[i];
		fprintf(out, "  %-15s threshold %-18.6g ", "eom", t->score);
		actions(t->actions, t->n_actions, out);
		fprintf(out, "  [%s:%d]\n", t->file, t->line);
	}
}

void mp_ruleset_dump(const struct mp_ruleset *rs, FILE *out)
{
	const struct mp_policy *g = mp_ruleset_global(rs);

	fprintf(out, "policy global (%s)\n", g->file ? g->file : "no global.rules");
	rules(g, 0, g->n_rules, MP_STAGE_CONNECT, out);
	rates(g, NULL, out);
	thresholds(g, 0, out);
	for (size_t i = 0; i < mp_ruleset_n_policies(rs); i++) {
		const struct mp_policy *p = mp_ruleset_policy_at(rs, i);
		fprintf(out, "policy %s (%s), after the global rules\n", p->name, p->file);
		rules(p, p->n_global, p->n_rules, MP_STAGE_RCPT, out);
		rates(p, g, out);
		thresholds(p, g->n_thresholds, out);
	}
}
