/*
 * result - what a transaction comes to: the decision, the matched rules and
 * the effects of their non-terminal actions (SPEC §4.4, §4.5).
 *
 * Non-terminal actions of every rule decided true, then of every reached
 * threshold (when no rule decided terminally), are applied in policy order
 * unless the decision is reject, tempfail or discard. Texts are expanded
 * now, at the end, so ${score} and header fields have their final values.
 * With several policies (strictest) the effects merge: identical additions
 * count once. In mode = dry-run the effects become "would" entries.
 */
#include "engine/internal.h"

#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct collect {
	struct mp_txn *t;
	struct mp_header_op *add;
	size_t n_add, cap_add;
	const char **remove, **bcc, **rules;
	size_t n_remove, cap_remove, n_bcc, cap_bcc, n_rules, cap_rules;
	const char *redirect;
	const char **tags;   /* subject prefixes in order */
	size_t n_tags, cap_tags;
};

static bool grow(struct mp_txn *t, void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, nc * size);
	if (nv == NULL) {
		t->oom = true;
		return false;
	}
	*v = nv;
	*cap = nc;
	return true;
}

/* Appends s to a string vector unless already there (case-insensitively
 * when icase). */
static void add_unique(struct mp_txn *t, const char ***v, size_t *n, size_t *cap, const char *s,
		       bool icase)
{
	if (s == NULL)
		return; /* out of memory, already recorded in t->oom */
	for (size_t i = 0; i < *n; i++) {
		if (icase ? mp_ascii_ieq((*v)[i], s) : strcmp((*v)[i], s) == 0)
			return;
	}
	if (grow(t, (void **)v, *n, cap, sizeof(**v)))
		(*v)[(*n)++] = s;
}

static void apply(struct collect *c, struct mp_ctx *x, const struct mp_action *a,
		  const struct mp_rule *r, const char *rule)
{
	struct mp_txn *t = c->t;
	char text[MP_TEXT_MAX + 1];

	if (a->kind == MP_A_STRIP) {
		mp_strip_plan(x, r, a); /* its text is per attachment */
		return;
	}
	if (a->text != NULL)
		mp_text_expand(x, a->text, rule, false, text);
	else
		text[0] = '\0';
	switch (a->kind) {
	case MP_A_TAG_SUBJECT:
		add_unique(t, &c->tags, &c->n_tags, &c->cap_tags, mp_txn_strdup(t, text), false);
		break;
	case MP_A_ADD_HEADER: {
		for (size_t i = 0; i < c->n_add; i++) {
			if (mp_ascii_ieq(c->add[i].name, a->arg) && strcmp(c->add[i].value, text) == 0)
				return;
		}
		const char *value = mp_txn_strdup(t, text);
		if (value != NULL && grow(t, (void **)&c->add, c->n_add, &c->cap_add, sizeof(*c->add)))
			c->add[c->n_add++] = (struct mp_header_op){ a->arg, value };
		break;
	}
	case MP_A_REMOVE_HEADER:
		add_unique(t, &c->remove, &c->n_remove, &c->cap_remove, a->arg, true);
		break;
	case MP_A_BCC:
		add_unique(t, &c->bcc, &c->n_bcc, &c->cap_bcc, a->arg, true);
		break;
	case MP_A_REDIRECT:
		if (c->redirect == NULL)
			c->redirect = a->arg;
		break;
	case MP_A_LOG: {
		char line[MP_TEXT_MAX + 200];
		snprintf(line, sizeof(line), "rule %s: %s", rule ? rule : "threshold", text);
		mp_txn_log(t, line);
		break;
	}
	default:
		break;
	}
}

static void apply_all(struct collect *c, struct mp_ctx *x, const struct mp_action *acts,
		      size_t n, const struct mp_rule *r, const char *rule)
{
	for (size_t i = 0; i < n; i++) {
		if (!mp_act_terminal(acts[i].kind) && acts[i].kind != MP_A_SCORE)
			apply(c, x, &acts[i], r, rule);
	}
}

/* The first Subject field, raw and decoded; NULL when there is none or a
 * rule removes Subject. */
static const struct mp_hdr *subject_field(const struct mp_txn *t, const struct collect *c)
{
	for (size_t i = 0; i < c->n_remove; i++) {
		if (mp_ascii_ieq(c->remove[i], "Subject"))
			return NULL;
	}
	for (size_t i = 0; i < t->n_hdrs; i++) {
		if (strcmp(t->hdrs[i].key, "subject") == 0)
			return &t->hdrs[i];
	}
	return NULL;
}

static const char *concat(struct mp_txn *t, const char *a, const char *b, size_t blen)
{
	size_t al = strlen(a);
	char *p = mp_arena_alloc(&t->arena, al + blen + 1);

	if (p == NULL) {
		t->oom = true;
		return NULL;
	}
	memcpy(p, a, al);
	memcpy(p + al, b, blen);
	p[al + blen] = '\0';
	return p;
}

static bool has_prefix(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);

	return strlen(s) >= pl && mp_ascii_ieqn(s, pl, prefix, pl);
}

/* Tags the subject once per prefix: not again if it already starts so. */
static void tag_subject(struct mp_txn *t, const struct collect *c, struct mp_result *r)
{
	const struct mp_hdr *h = subject_field(t, c);
	const char *dec = h ? h->value : NULL;
	const char *raw = h ? h->raw : NULL;

	r->subject = dec;
	for (size_t i = 0; i < c->n_tags; i++) {
		const char *prefix = c->tags[i];
		if (prefix == NULL || *prefix == '\0')
			continue;
		if (dec == NULL) {
			size_t l = strlen(prefix);
			while (l > 0 && prefix[l - 1] == ' ')
				l--;
			dec = raw = concat(t, "", prefix, l);
			r->subject_added = true;
		} else if (!has_prefix(dec, prefix)) {
			dec = concat(t, prefix, dec, strlen(dec));
			raw = concat(t, prefix, raw, strlen(raw));
		} else {
			continue;
		}
		r->subject = dec;
		r->subject_raw = raw;
	}
}

static void would(struct mp_txn *t, const char *what)
{
	struct mp_would w = { NULL, MP_STAGE_EOM, mp_txn_strdup(t, what) };
	struct mp_would *slot;

	if (!grow(t, (void **)&t->would, t->n_would, &t->cap_would, sizeof(w)))
		return;
	slot = &t->would[t->n_would++];
	*slot = w;
}

/* In mode = dry-run the effects are only reported. */
static void effects_to_would(struct mp_txn *t, struct mp_result *r)
{
	char buf[MP_TEXT_MAX * 2 + 64];

	for (size_t i = 0; i < r->n_remove; i++) {
		snprintf(buf, sizeof(buf), "remove header %s", r->remove[i]);
		would(t, buf);
	}
	if (r->n_ar_delete > 0) {
		snprintf(buf, sizeof(buf), "remove %zu Authentication-Results field(s) with our authserv-id",
			 r->n_ar_delete);
		would(t, buf);
	}
	if (r->received_spf != NULL) {
		snprintf(buf, sizeof(buf), "add header Received-SPF: %s", r->received_spf);
		would(t, buf);
	}
	if (r->auth_results != NULL) {
		snprintf(buf, sizeof(buf), "add header Authentication-Results: %s", r->auth_results);
		would(t, buf);
	}
	for (size_t i = 0; i < r->n_add; i++) {
		snprintf(buf, sizeof(buf), "add header %s: %s", r->add[i].name, r->add[i].value);
		would(t, buf);
	}
	if (r->subject_raw != NULL) {
		snprintf(buf, sizeof(buf), "%s Subject: %s", r->subject_added ? "add" : "change",
			 r->subject_raw);
		would(t, buf);
	}
	for (size_t i = 0; i < r->n_bcc; i++) {
		snprintf(buf, sizeof(buf), "bcc %s", r->bcc[i]);
		would(t, buf);
	}
	if (r->redirect != NULL) {
		snprintf(buf, sizeof(buf), "redirect %s", r->redirect);
		would(t, buf);
	}
	for (size_t i = 0; i < r->n_strips; i++) {
		snprintf(buf, sizeof(buf), "strip attachment %s (%s): %s", r->strips[i].name,
			 r->strips[i].type, r->strips[i].reason ? r->strips[i].reason : "");
		would(t, buf);
	}
	r->n_strips = 0;
	t->n_strips = 0;
	r->n_remove = r->n_add = r->n_bcc = r->n_ar_delete = 0;
	r->auth_results = r->received_spf = NULL;
	r->subject_raw = NULL;
	r->subject_added = false;
	r->redirect = NULL;
}

/* Authentication-Results and Received-SPF for a message that goes on
 * (quarantined: into the hold queue, DMARC's disposition). */
static void auth_headers(struct mp_txn *t, struct mp_result *r, bool quarantined)
{
	if (t->set->add_auth_results) {
		r->auth_results = mp_authres_value(t, quarantined);
		int *del = t->n_ar_ours ? mp_arena_alloc(&t->arena, t->n_ar_ours * sizeof(int)) : NULL;
		for (size_t i = 0; del != NULL && i < t->n_ar_ours; i++)
			del[i] = t->ar_ours[t->n_ar_ours - 1 - i];
		r->ar_delete = del;
		r->n_ar_delete = del ? t->n_ar_ours : 0;
	}
	if (t->set->add_received_spf)
		r->received_spf = mp_received_spf_value(t);
}

int mp_result_build(struct mp_txn *t)
{
	struct mp_result *r = &t->result;
	struct collect c;
	struct mp_eval *pre = &t->pre;
	struct mp_eval **evs = t->n_msg ? t->msg : &pre;
	size_t n_evs = t->n_msg ? t->n_msg : 1;
	struct mp_verdict v = t->v;

	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	c.t = t;
	r->decided = v.outcome != MP_O_NONE;
	r->limit = t->limit;
	/* every recipient refused: the first refusal stands for the transaction */
	if (!r->decided && t->n_accepted == 0) {
		for (size_t i = 0; i < t->n_rcpts; i++) {
			const struct mp_rcpt_info *ri = &t->rcpts[i].info;
			if (ri->outcome == MP_O_ACCEPT)
				continue;
			v.outcome = ri->outcome;
			v.stage = MP_STAGE_RCPT;
			v.rule = ri->rule;
			v.reply = ri->reply;
			v.split = ri->split;
			r->decided = true;
			break;
		}
	}
	if (!r->decided)
		v.stage = t->eom_done ? MP_STAGE_EOM : v.stage;
	r->policy = t->n_msg ? t->msg[0]->pol->name
			     : t->n_rcpts ? t->rcpts[0].pol->name : "global";

	for (size_t e = 0; e < n_evs; e++) {
		const struct mp_eval *ev = evs[e];
		if (e == 0 || ev->score > r->score)
			r->score = ev->score;
		for (size_t i = 0; i < ev->n_hits; i++)
			add_unique(t, &c.rules, &c.n_rules, &c.cap_rules,
				   ev->pol->rules[ev->hits[i]]->name, false);
	}
	/* every recipient refused: their deciding rules are what matched */
	for (size_t i = 0; t->n_accepted == 0 && i < t->n_rcpts; i++)
		add_unique(t, &c.rules, &c.n_rules, &c.cap_rules, t->rcpts[i].info.rule, false);
	bool moot = mp_verdict_ends(&v);
	if (!moot && (t->mail_seen)) {
		enum mp_stage reached = t->eom_done ? MP_STAGE_EOM
				      : t->eoh_seen ? MP_STAGE_HEADER
				      : t->data_done ? MP_STAGE_RCPT : MP_STAGE_MAIL;
		for (size_t e = 0; e < n_evs; e++) {
			struct mp_eval *ev = evs[e];
			struct mp_ctx x = { .conn = t->conn, .txn = t, .ev = ev, .stage = reached };
			/* effects in policy order, whatever the order of decisions */
			for (size_t i = 0; i < ev->pol->n_rules; i++) {
				const struct mp_rule *rule = ev->pol->rules[i];
				if (ev->st[i] == RS_TRUE && !rule->dry_run)
					apply_all(&c, &x, rule->actions, rule->n_actions, rule, rule->name);
			}
			if (ev->rule >= 0 || !t->eom_done)
				continue;
			for (size_t i = 0; i < ev->pol->n_thresholds; i++) {
				const struct mp_threshold *th = ev->pol->thresholds[i];
				if (ev->score >= th->score)
					apply_all(&c, &x, th->actions, th->n_actions, NULL, NULL);
			}
		}
	}
	r->n_rules = c.n_rules;
	r->n_add = c.n_add;
	r->n_remove = c.n_remove;
	r->n_bcc = c.n_bcc;
	r->redirect = c.redirect;
	r->strips = t->strips;
	r->n_strips = t->n_strips;
	r->mime_done = t->mime_done;
	r->mime = t->mime_done ? &t->mime : NULL;
	tag_subject(t, &c, r);
	free(c.tags);
	/* the result lives as long as the transaction: copy into its arena */
	r->rules = c.n_rules ? mp_arena_memdup(&t->arena, c.rules, c.n_rules * sizeof(*c.rules)) : NULL;
	r->add = c.n_add ? mp_arena_memdup(&t->arena, c.add, c.n_add * sizeof(*c.add)) : NULL;
	r->remove = c.n_remove ? mp_arena_memdup(&t->arena, c.remove, c.n_remove * sizeof(char *)) : NULL;
	r->bcc = c.n_bcc ? mp_arena_memdup(&t->arena, c.bcc, c.n_bcc * sizeof(char *)) : NULL;
	free(c.rules);
	free(c.add);
	free(c.remove);
	free(c.bcc);

	r->quarantine = v.outcome == MP_O_QUARANTINE ? t->v_quarantine : NULL;
	if (!moot && t->eom_done)
		auth_headers(t, r, v.outcome == MP_O_QUARANTINE && t->set->mode != MP_MODE_DRY_RUN);
	if (t->set->mode == MP_MODE_DRY_RUN) {
		r->dry_run_mode = true;
		r->would_v = v;
		r->would_quarantine = r->quarantine;
		memset(&r->v, 0, sizeof(r->v));
		r->v.stage = t->eom_done ? MP_STAGE_EOM : v.stage;
		r->quarantine = NULL;
		effects_to_would(t, r);
		if (r->decided) {
			char buf[MP_TEXT_MAX + 64];
			if (mp_verdict_refuses(&v))
				snprintf(buf, sizeof(buf), "%s %s %s %s at %s", mp_outcome_name(v.outcome),
					 v.reply.code, v.reply.xcode, v.reply.text, mp_stage_name(v.stage));
			else
				snprintf(buf, sizeof(buf), "%s at %s", mp_outcome_name(v.outcome),
					 mp_stage_name(v.stage));
			would(t, buf);
		}
		r->decided = false;
	} else {
		r->v = v;
	}
	r->logs = t->logs;
	r->n_logs = t->n_logs;
	r->would = t->would;
	r->n_would = t->n_would;
	r->n_rcpts = t->n_rcpts;
	r->rcpts = t->n_rcpts ? mp_arena_alloc(&t->arena, t->n_rcpts * sizeof(*r->rcpts)) : NULL;
	for (size_t i = 0; r->rcpts && i < t->n_rcpts; i++)
		r->rcpts[i] = t->rcpts[i].info;
	r->spf = t->spf.r;
	r->spf_done = t->spf.done;
	r->spf_helo = t->spf_helo.r;
	r->spf_helo_done = t->spf_helo.done;
	r->dkim = t->dkim;
	r->dkim_done = t->dkim_done;
	r->sigs = t->sigs;
	r->n_sigs = t->n_sigs;
	r->dmarc_done = t->dmarc_done;
	r->dmarc = t->dmarc.result;
	r->dmarc_policy = mp_dmarc_policy_name(t->dmarc.policy);
	r->dmarc_domain = t->dmarc.domain;
	return t->oom ? -1 : 0;
}
