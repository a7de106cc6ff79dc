/*
 * effects - what a transaction asks of the world once it is decided, in
 * data: the ordered list of changes for the MTA (header fields, recipients,
 * quarantine) and the fields of its log lines (SPEC §6).
 *
 * Both come from the transaction's own settings and result, never from the
 * daemon's current rule set, so a reload cannot change what a message in
 * flight gets. The daemon maps each change to one smfi_* call and each log
 * record to one line; `test` applies the same changes to the message and
 * prints the same records. Everything returned lives in the transaction's
 * arena (or the connection's, for connect and HELO) and its lists, until
 * the transaction is freed or the function is called again.
 */
#include "engine/internal.h"

#include "rules/ruleset.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the changes ----------------------------------------------------- */

static void edit(struct mp_txn *t, enum mp_edit_kind kind, const char *name, int index,
		 const char *value)
{
	if (t->n_edits == t->cap_edits) {
		size_t cap = t->cap_edits ? t->cap_edits * 2 : 16;
		struct mp_edit *v = realloc(t->edits, cap * sizeof(*v));
		if (v == NULL) {
			t->oom = true;
			return;
		}
		t->edits = v;
		t->cap_edits = cap;
	}
	t->edits[t->n_edits++] = (struct mp_edit){ kind, name, index, value };
}

/* The X-Policy-Trace value: matched rules and the decision. */
static const char *trace_value(struct mp_txn *t, const struct mp_result *r)
{
	struct mp_buf b;

	mp_buf_init(&b);
	mp_buf_adds(&b, "rules=");
	for (size_t i = 0; i < r->n_rules; i++)
		mp_buf_printf(&b, "%s%s", i ? "," : "", r->rules[i]);
	if (r->n_rules == 0)
		mp_buf_adds(&b, "-");
	mp_buf_printf(&b, "; action=%s; stage=%s; score=%.6g", mp_verdict_action(&r->v),
		      mp_stage_name(r->v.stage), r->score);
	const char *v = b.oom ? NULL : mp_txn_strdup(t, b.p);
	if (b.oom)
		t->oom = true;
	mp_buf_free(&b);
	return v;
}

int mp_txn_edits(struct mp_txn *t, const struct mp_edit **edits_r, size_t *n_r)
{
	const struct mp_result *r = mp_txn_result(t);

	*edits_r = NULL;
	*n_r = 0;
	if (r == NULL)
		return -1;
	if (t->edits_done)
		goto done;
	t->n_edits = 0;
	if (mp_verdict_ends(&r->v))
		return 0;
	/* forged Authentication-Results first, highest index down, then ours
	 * (and Received-SPF) at the very top */
	for (size_t i = 0; i < r->n_ar_delete; i++)
		edit(t, MP_EDIT_HEADER_DELETE, "Authentication-Results", r->ar_delete[i], NULL);
	if (r->received_spf != NULL)
		edit(t, MP_EDIT_HEADER_INSERT, "Received-SPF", 0, r->received_spf);
	if (r->auth_results != NULL)
		edit(t, MP_EDIT_HEADER_INSERT, "Authentication-Results", 0, r->auth_results);
	/* every field of a removed name, from the last one up, so that the
	 * indexes still to come stay right */
	for (size_t i = 0; i < r->n_remove; i++) {
		for (size_t k = mp_txn_header_count(t, r->remove[i]); k > 0; k--)
			edit(t, MP_EDIT_HEADER_DELETE, r->remove[i], (int)k, NULL);
	}
	/* the whole message was the attachment stripped: it is now the note */
	for (size_t i = 0; i < r->n_strips && r->mime != NULL; i++) {
		if (r->mime->parts[r->strips[i].part].parent >= 0)
			continue;
		if (mp_txn_header_count(t, "Content-Type") > 0)
			edit(t, MP_EDIT_HEADER_CHANGE, "Content-Type", 1, "text/plain; charset=utf-8");
		else
			edit(t, MP_EDIT_HEADER_ADD, "Content-Type", 0, "text/plain; charset=utf-8");
		if (mp_txn_header_count(t, "Content-Transfer-Encoding") > 0)
			edit(t, MP_EDIT_HEADER_CHANGE, "Content-Transfer-Encoding", 1, "8bit");
		for (size_t k = mp_txn_header_count(t, "Content-Disposition"); k > 0; k--)
			edit(t, MP_EDIT_HEADER_DELETE, "Content-Disposition", (int)k, NULL);
	}
	if (r->subject_raw != NULL)
		edit(t, r->subject_added ? MP_EDIT_HEADER_ADD : MP_EDIT_HEADER_CHANGE, "Subject", 1,
		     r->subject_raw);
	for (size_t i = 0; i < r->n_add; i++)
		edit(t, MP_EDIT_HEADER_ADD, r->add[i].name, 0, r->add[i].value);
	if (t->set->add_trace_header && !r->dry_run_mode) {
		const char *v = trace_value(t, r);
		if (v != NULL)
			edit(t, MP_EDIT_HEADER_ADD, "X-Policy-Trace", 0, v);
	}
	if (r->redirect != NULL) {
		/* every recipient the MTA accepted goes, as the MTA wrote it */
		for (size_t i = 0; i < t->n_rcpts; i++) {
			const struct mp_rcpt_info *ri = &t->rcpts[i].info;
			if (ri->outcome == MP_O_ACCEPT || ri->would)
				edit(t, MP_EDIT_RCPT_DELETE, NULL, 0, t->rcpts[i].arg);
		}
		edit(t, MP_EDIT_RCPT_ADD, NULL, 0, r->redirect);
	}
	for (size_t i = 0; i < r->n_bcc; i++)
		edit(t, MP_EDIT_RCPT_ADD, NULL, 0, r->bcc[i]);
	if (r->v.outcome == MP_O_QUARANTINE)
		edit(t, MP_EDIT_QUARANTINE, NULL, 0,
		     r->quarantine && *r->quarantine ? r->quarantine : "milter-policy");
	if (t->oom)
		return -1;
	t->edits_done = true;
done:
	*edits_r = t->edits;
	*n_r = t->n_edits;
	return 0;
}

/* ---- the log records ------------------------------------------------- */

void mp_logrec_free(struct mp_logrec *l)
{
	if (l == NULL)
		return;
	free(l->fields);
	memset(l, 0, sizeof(*l));
}

static void field(struct mp_logrec *l, const char *key, const char *value)
{
	if (value == NULL || l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 24;
		struct mp_log_field *v = realloc(l->fields, cap * sizeof(*v));
		if (v == NULL) {
			l->oom = true;
			return;
		}
		l->fields = v;
		l->cap = cap;
	}
	l->fields[l->n++] = (struct mp_log_field){ key, value };
}

static void fieldf(struct mp_logrec *l, struct mp_arena *a, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fieldf(struct mp_logrec *l, struct mp_arena *a, const char *key, const char *fmt, ...)
{
	char buf[MP_TEXT_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	const char *v = mp_arena_strdup(a, buf);
	if (v == NULL)
		l->oom = true;
	field(l, key, v);
}

static void reply_field(struct mp_logrec *l, struct mp_arena *a, const char *key,
			const struct mp_reply *r)
{
	char buf[MP_TEXT_MAX + 64];

	mp_reply_format(r, buf, sizeof(buf));
	fieldf(l, a, key, "%s", buf);
}

int mp_conn_log_decision(struct mp_conn *c, const struct mp_verdict *v, enum mp_stage stage,
			 struct mp_logrec *l)
{
	field(l, "client", c->ip[0] ? c->ip : "-");
	if (stage == MP_STAGE_HELO)
		field(l, "helo", c->helo);
	field(l, "action", mp_verdict_action(v));
	field(l, "stage", mp_stage_name(stage));
	field(l, "rule", v->rule ? v->rule : "-");
	if (mp_verdict_refuses(v))
		reply_field(l, &c->arena, "reply", &v->reply);
	return l->oom ? -1 : 0;
}

int mp_txn_log_rcpt(struct mp_txn *t, const char *arg, const struct mp_verdict *v,
		    struct mp_logrec *l)
{
	field(l, "rcpt", arg);
	field(l, "action", v->split ? "defer-split" : mp_verdict_action(v));
	field(l, "stage", "rcpt");
	field(l, "rule", v->rule ? v->rule : "-");
	if (mp_verdict_refuses(v))
		reply_field(l, &t->arena, "reply", &v->reply);
	return l->oom ? -1 : 0;
}

/* Accepted recipients as "<a>,<b>", or "-". */
static const char *rcpt_list(struct mp_txn *t, const struct mp_result *r)
{
	struct mp_buf b;

	mp_buf_init(&b);
	for (size_t i = 0; r != NULL && i < r->n_rcpts; i++) {
		if (r->rcpts[i].outcome == MP_O_ACCEPT || r->rcpts[i].would)
			mp_buf_printf(&b, "%s<%s>", b.len ? "," : "", r->rcpts[i].addr);
	}
	const char *v = b.oom ? NULL : mp_txn_strdup(t, b.len ? b.p : "-");
	mp_buf_free(&b);
	return v;
}

static const char *rules_list(struct mp_txn *t, const struct mp_result *r)
{
	struct mp_buf b;

	mp_buf_init(&b);
	for (size_t i = 0; i < r->n_rules; i++)
		mp_buf_printf(&b, "%s%s", i ? "," : "", r->rules[i]);
	const char *v = b.oom ? NULL : mp_txn_strdup(t, r->n_rules ? b.p : "-");
	mp_buf_free(&b);
	return v;
}

int mp_txn_log_summary(struct mp_txn *t, const char *action, enum mp_stage stage,
		       struct mp_logrec *l)
{
	const struct mp_result *r = mp_txn_result(t);
	struct mp_arena *a = &t->arena;

	field(l, "client", t->conn->ip[0] ? t->conn->ip : "-");
	field(l, "helo", t->conn->helo[0] ? t->conn->helo : "-");
	fieldf(l, a, "from", "<%s>", mp_txn_from(t));
	field(l, "rcpt", rcpt_list(t, r));
	if (r != NULL) {
		field(l, "policy", r->policy);
		field(l, "spf", r->spf_done ? mp_auth_result_name(r->spf) : "-");
		field(l, "dkim", r->dkim_done ? mp_auth_result_name(r->dkim) : "-");
		/* only where it was evaluated: the line of SPEC §6 otherwise */
		if (r->dmarc_done && r->dmarc != MP_AR_NONE)
			field(l, "dmarc", mp_auth_result_name(r->dmarc));
		field(l, "rules", rules_list(t, r));
	}
	if (action == NULL && r != NULL) {
		const struct mp_verdict *v = &r->v;
		field(l, "action", mp_verdict_action(v));
		field(l, "stage", mp_stage_name(v->stage));
		/* what decided: a rule, a threshold (rule=-), or nothing */
		field(l, "rule", v->rule ? v->rule : "-");
		if (v->by_threshold)
			fieldf(l, a, "threshold", "%.6g", v->threshold);
		if (mp_verdict_refuses(v))
			reply_field(l, a, "reply", &v->reply);
		field(l, "quarantine", r->quarantine);
		if (r->dry_run_mode && r->would_v.outcome != MP_O_NONE) {
			field(l, "mode", "dry-run");
			fieldf(l, a, "would", "%s at %s", mp_outcome_name(r->would_v.outcome),
			       mp_stage_name(r->would_v.stage));
			if (mp_verdict_refuses(&r->would_v))
				reply_field(l, a, "would_reply", &r->would_v.reply);
		}
	} else {
		field(l, "action", action ? action : "tempfail");
		field(l, "stage", mp_stage_name(stage));
		field(l, "rule", "-");
	}
	if (r != NULL)
		fieldf(l, a, "score", "%.6g", r->score);
	if (r != NULL && r->limit != NULL)
		field(l, "limit", r->limit);
	if (r != NULL && r->n_strips > 0)
		fieldf(l, a, "stripped", "%zu", r->n_strips);
	return l->oom || r == NULL ? -1 : 0;
}

size_t mp_txn_log_n_extras(struct mp_txn *t)
{
	const struct mp_result *r = mp_txn_result(t);

	return r != NULL ? r->n_logs + r->n_would : 0;
}

int mp_txn_log_extra(struct mp_txn *t, size_t i, struct mp_logrec *l)
{
	const struct mp_result *r = mp_txn_result(t);

	if (r == NULL)
		return -1;
	if (i < r->n_logs) {
		field(l, "log", r->logs[i]);
	} else if (i < r->n_logs + r->n_would) {
		const struct mp_would *w = &r->would[i - r->n_logs];
		field(l, "rule", w->rule);
		field(l, "dry_run", "yes");
		field(l, "would", w->what);
		field(l, "stage", mp_stage_name(w->stage));
	}
	return l->oom ? -1 : 0;
}
