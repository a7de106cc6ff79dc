/*
 * report - how `test` shows a replayed message: a readable trace, or one
 * JSON object (SPEC §2) built with json-c, which does the escaping of
 * arbitrary message bytes for us.
 */
#include "replay/replay.h"

#include "util/log.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message bytes may be any bytes: JSON strings must be valid UTF-8. */
static json_object *jstr(const char *s)
{
	struct mp_buf b;

	mp_buf_init(&b);
	mp_utf8_clean(&b, s, strlen(s), 0);
	json_object *o = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
	mp_buf_free(&b);
	return o;
}

static const char *rcpt_action(const struct mp_rcpt_info *ri)
{
	if (ri->outcome == MP_O_ACCEPT)
		return "accept";
	if (ri->split)
		return "defer-split";
	return mp_outcome_name(ri->outcome);
}

static void score_str(double s, char *buf, size_t len)
{
	snprintf(buf, len, "%.6g", s);
}

static void report_text(const struct mp_replay *r, FILE *out);

/* The trace is built in memory and cleaned as a whole, so nothing from the
 * message (a Subject with terminal escapes, say) reaches the terminal raw. */
void mp_report_text(const struct mp_replay *r, FILE *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct mp_buf b;

	if (mem == NULL)
		return;
	report_text(r, mem);
	fclose(mem);
	mp_buf_init(&b);
	mp_utf8_clean(&b, text, len, 1);
	fwrite(b.p ? b.p : "", 1, b.len, out);
	mp_buf_free(&b);
	free(text);
}

/* A header value we built, its folds ("\n\t") shown as indented lines:
 * the cleaning above would print a tab as '?'. */
static void folded(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\t')
			fputs("    ", out);
		else
			fputc(*v, out);
	}
	fputc('\n', out);
}

/* The envelope replayed, each part the replay filled in marked as such. */
static void envelope_text(const struct mp_replay *r, FILE *out)
{
	const struct mp_replay_env *e = &r->env;
	const struct mp_result *res = r->result;
	unsigned d = r->defaults;

	unsigned np = d & (MP_ENV_DEF_CLIENT_NAME | MP_ENV_DEF_CLIENT_PORT);
	fprintf(out, "envelope:\n  client %s [%s] port %u%s\n", e->client_ip, e->client_name,
		e->client_port,
		(d & MP_ENV_DEF_CLIENT_IP) ? " (default: a local client; --client-ip for mail from outside)"
		: np == (MP_ENV_DEF_CLIENT_NAME | MP_ENV_DEF_CLIENT_PORT) ? " (default name and port)"
		: np == MP_ENV_DEF_CLIENT_NAME ? " (default name)"
		: np == MP_ENV_DEF_CLIENT_PORT ? " (default port)" : "");
	fprintf(out, "  helo %s%s%s\n", e->helo, (d & MP_ENV_DEF_HELO) ? " (default)" : "",
		e->tls ? ", tls" : "");
	if (e->auth != NULL)
		fprintf(out, "  auth %s\n", e->auth);
	fprintf(out, "  from <%s>%s\n", r->txn ? mp_txn_from(r->txn) : "",
		(d & MP_ENV_DEF_FROM) ? " (from the message's From:; --from to choose)" : "");
	fprintf(out, "  rcpt");
	for (size_t i = 0; res != NULL && i < res->n_rcpts; i++)
		fprintf(out, "%s <%s>", i ? "," : "", res->rcpts[i].addr);
	/* refused before RCPT: the recipients given, never sent */
	for (size_t i = 0; (res == NULL || res->n_rcpts == 0) && e->rcpts && e->rcpts[i]; i++)
		fprintf(out, "%s <%s>", i ? "," : "", e->rcpts[i]);
	if ((res == NULL || res->n_rcpts == 0) && e->rcpts && e->rcpts[0])
		fprintf(out, " (not reached)");
	fprintf(out, "%s\n\n", (d & MP_ENV_DEF_RCPT) ? " (from the message's To:/Cc:; --rcpt to choose)" : "");
}

/* Each rule evaluated, stage by stage, with what it added to the score and
 * whether it decided; then the thresholds compared at the end. */
static void trace_text(const struct mp_replay *r, FILE *out)
{
	size_t n;
	const struct mp_trace *tr = mp_txn_trace(r->txn, &n);
	char name[96], sc[64], cmp[96];
	int last = -1;

	for (size_t i = 0; i < n; i++) {
		const struct mp_trace *e = &tr[i];
		if ((int)e->stage != last) {
			fprintf(out, "%s:\n", mp_stage_name(e->stage));
			last = (int)e->stage;
		}
		if (e->rule == NULL) {
			score_str(e->threshold, sc, sizeof(sc));
			snprintf(name, sizeof(name), "threshold %s", sc);
			score_str(e->score, sc, sizeof(sc));
			snprintf(cmp, sizeof(cmp), " score %s %s", sc, e->value ? ">=" : "<");
			score_str(e->threshold, sc, sizeof(sc));
			fprintf(out, "  %-5s %-30s [%s]%s %s%s\n", e->value ? "true" : "false", name,
				e->scope, cmp, sc, e->decided ? ", decides" : "");
			continue;
		}
		sc[0] = '\0';
		if (e->score != 0) {
			snprintf(sc, sizeof(sc), " score %s", e->score > 0 ? "+" : "");
			score_str(e->score, sc + strlen(sc), sizeof(sc) - strlen(sc));
		}
		fprintf(out, "  %-5s %-30s [%s]%s%s%s\n", e->value ? "true" : "false", e->rule,
			e->scope, sc, e->dry_run ? " dry-run" : "", e->decided ? " decides" : "");
	}
	if (n > 0)
		fputc('\n', out);
}

/* The changes the daemon would ask of the MTA, in its order. */
static void edits_text(const struct mp_replay *r, FILE *out)
{
	const struct mp_edit *e;
	size_t n;

	if (mp_txn_edits(r->txn, &e, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		switch (e[i].kind) {
		case MP_EDIT_HEADER_DELETE:
			fprintf(out, "remove header: %s (number %d)\n", e[i].name, e[i].index);
			break;
		case MP_EDIT_HEADER_INSERT:
			fprintf(out, "insert header: %s: ", e[i].name);
			folded(out, e[i].value);
			break;
		case MP_EDIT_HEADER_CHANGE:
			fprintf(out, "change header: %s: ", e[i].name);
			folded(out, e[i].value);
			break;
		case MP_EDIT_HEADER_ADD:
			fprintf(out, "add header: %s: ", e[i].name);
			folded(out, e[i].value);
			break;
		case MP_EDIT_RCPT_DELETE:
			fprintf(out, "delete recipient: %s\n", e[i].value);
			break;
		case MP_EDIT_RCPT_ADD:
			fprintf(out, "add recipient: %s\n", e[i].value);
			break;
		case MP_EDIT_QUARANTINE:
			fprintf(out, "quarantine (hold): %s\n", e[i].value);
			break;
		}
	}
}

/* One record as the daemon writes it (SPEC §6), with the queue id (or
 * "test") for id=: printed to out, or added to the JSON array arr. */
static void log_record(const struct mp_replay *r, const struct mp_logrec *rec, bool summary,
		       FILE *out, json_object *arr)
{
	struct mp_logline l;

	mp_logline_init(&l);
	mp_logline_add(&l, "id", r->env.queue_id ? r->env.queue_id : "test");
	for (size_t i = 0; i < rec->n; i++)
		mp_logline_add(&l, rec->fields[i].key, rec->fields[i].value);
	if (summary)
		mp_logline_add(&l, "ms", "0");
	const char *text = mp_logline_text(&l);
	if (text != NULL && out != NULL)
		fprintf(out, "log line: %s\n", text);
	else if (text != NULL)
		json_object_array_add(arr, jstr(text));
	mp_logline_free(&l);
}

/* The lines the daemon would log for this transaction: to out, or into
 * the JSON array arr. */
static void log_lines(const struct mp_replay *r, FILE *out, json_object *arr)
{
	struct mp_logrec rec = { 0 };
	const struct mp_result *res = r->result;

	for (size_t i = 0; i < res->n_rcpts; i++) {
		const struct mp_rcpt_info *ri = &res->rcpts[i];
		if (ri->outcome == MP_O_ACCEPT || ri->would)
			continue;
		struct mp_verdict v = { .outcome = ri->outcome, .stage = MP_STAGE_RCPT,
					.rule = ri->rule, .reply = ri->reply, .split = ri->split };
		char arg[MP_TEXT_MAX + 3];
		snprintf(arg, sizeof(arg), "<%s>", ri->addr);
		rec.n = 0;
		if (mp_txn_log_rcpt(r->txn, arg, &v, &rec) == 0)
			log_record(r, &rec, false, out, arr);
	}
	size_t n = mp_txn_log_n_extras(r->txn);
	for (size_t i = 0; i < n; i++) {
		rec.n = 0;
		if (mp_txn_log_extra(r->txn, i, &rec) == 0)
			log_record(r, &rec, false, out, arr);
	}
	rec.n = 0;
	if (mp_txn_log_summary(r->txn, NULL, MP_STAGE_EOM, &rec) == 0)
		log_record(r, &rec, true, out, arr);
	mp_logrec_free(&rec);
}

static void report_text(const struct mp_replay *r, FILE *out)
{
	const struct mp_result *res = r->result;
	char buf[MP_TEXT_MAX + 64];

	envelope_text(r, out);
	trace_text(r, out);
	const struct mp_verdict *v = &res->v;
	fprintf(out, "decision: %s at %s", mp_verdict_action(v), mp_stage_name(v->stage));
	if (v->rule != NULL) {
		fprintf(out, " (rule %s)", v->rule);
	} else if (v->by_threshold) {
		score_str(v->threshold, buf, sizeof(buf));
		fprintf(out, " (threshold %s, ", buf);
		score_str(res->score, buf, sizeof(buf));
		fprintf(out, "score %s)", buf);
	} else if (res->decided && res->limit != NULL) {
		fprintf(out, " (on_limit: safety limit %s)", res->limit);
	} else if (v->outcome == MP_O_NONE) {
		fprintf(out, " (no rule decided)");
	}
	fputc('\n', out);
	if (mp_verdict_refuses(v)) {
		mp_reply_format(&v->reply, buf, sizeof(buf));
		fprintf(out, "reply: %s\n", buf);
	}
	if (res->quarantine != NULL)
		fprintf(out, "quarantine: %s\n", res->quarantine);
	if (res->dry_run_mode) {
		fprintf(out, "mode: dry-run (nothing is refused or changed)\n");
		if (res->would_v.outcome != MP_O_NONE) {
			fprintf(out, "would: %s at %s", mp_outcome_name(res->would_v.outcome),
				mp_stage_name(res->would_v.stage));
			if (mp_verdict_refuses(&res->would_v)) {
				mp_reply_format(&res->would_v.reply, buf, sizeof(buf));
				fprintf(out, " with %s", buf);
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "policy: %s\n", res->policy);
	fprintf(out, "rules:");
	for (size_t i = 0; i < res->n_rules; i++)
		fprintf(out, " %s", res->rules[i]);
	fprintf(out, "%s\n", res->n_rules ? "" : " (none)");
	score_str(res->score, buf, sizeof(buf));
	fprintf(out, "score: %s\n", buf);
	fprintf(out, "spf: %s%s  spf.helo: %s%s  dkim: %s%s\n", mp_auth_result_name(res->spf),
		res->spf_done ? "" : " (not checked)", mp_auth_result_name(res->spf_helo),
		res->spf_helo_done ? "" : " (not checked)", mp_auth_result_name(res->dkim),
		res->dkim_done ? "" : " (not checked)");
	if (res->dmarc_done)
		fprintf(out, "dmarc: %s  dmarc.policy: %s  dmarc.domain: %s\n",
			mp_auth_result_name(res->dmarc), res->dmarc_policy,
			res->dmarc_domain[0] ? res->dmarc_domain : "(none)");
	for (size_t i = 0; i < res->n_sigs; i++) {
		const struct mp_dkim_sig *s = &res->sigs[i];
		fprintf(out, "  dkim signature: %s d=%s s=%s %s", mp_auth_result_name(s->result), s->domain,
			s->selector, s->algorithm);
		if (s->bits)
			fprintf(out, " %u bits", s->bits);
		fputc('\n', out);
	}
	if (res->n_rcpts > 0)
		fprintf(out, "recipients:\n");
	for (size_t i = 0; i < res->n_rcpts; i++) {
		const struct mp_rcpt_info *ri = &res->rcpts[i];
		fprintf(out, "  <%s> %s%s (policy %s)", ri->addr, ri->would ? "accept, would " : "",
			rcpt_action(ri), ri->policy);
		if (ri->outcome != MP_O_ACCEPT) {
			mp_reply_format(&ri->reply, buf, sizeof(buf));
			fprintf(out, ": %s", buf);
		}
		fputc('\n', out);
	}
	edits_text(r, out);
	for (size_t i = 0; i < res->n_would; i++) {
		const struct mp_would *w = &res->would[i];
		if (w->rule != NULL)
			fprintf(out, "dry-run rule %s would: %s (at %s)\n", w->rule, w->what,
				mp_stage_name(w->stage));
		else
			fprintf(out, "would: %s\n", w->what);
	}
	if (res->limit != NULL)
		fprintf(out, "limit: %s\n", res->limit);
	mp_report_mime_text(r, out);
	for (size_t i = 0; i < res->n_logs; i++)
		fprintf(out, "log: %s\n", res->logs[i]);
	log_lines(r, out, NULL);
}

static json_object *reply_obj(const struct mp_reply *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "code", jstr(r->code));
	json_object_object_add(o, "xcode", jstr(r->xcode));
	json_object_object_add(o, "text", jstr(r->text));
	return o;
}

/* Scores print in shortest form (9, 4.5), as in the log line. */
static json_object *number(double d)
{
	char buf[64];

	score_str(d, buf, sizeof(buf));
	return json_object_new_double_s(d, buf);
}

/* The one shape of a decision, for the message, each recipient and what
 * dry-run mode would have done: action, stage, the rule or threshold that
 * decided (both null: nothing did), the reply as an object or null, the
 * quarantine reason or null. */
static json_object *decision_obj(const char *action, enum mp_stage stage, const char *rule,
				 const double *threshold, const struct mp_reply *reply,
				 const char *quarantine, bool decided)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "action", jstr(action));
	json_object_object_add(o, "stage", jstr(mp_stage_name(stage)));
	json_object_object_add(o, "rule", rule ? jstr(rule) : NULL);
	json_object_object_add(o, "threshold", threshold ? number(*threshold) : NULL);
	json_object_object_add(o, "reply", reply ? reply_obj(reply) : NULL);
	json_object_object_add(o, "quarantine", quarantine ? jstr(quarantine) : NULL);
	json_object_object_add(o, "decided", json_object_new_boolean(decided));
	return o;
}

static json_object *verdict_obj(const struct mp_verdict *v, const char *quarantine,
				bool decided)
{
	bool refused = mp_verdict_refuses(v);

	return decision_obj(mp_verdict_action(v), v->stage, v->rule,
			    v->by_threshold ? &v->threshold : NULL, refused ? &v->reply : NULL,
			    v->outcome == MP_O_QUARANTINE ? quarantine : NULL, decided);
}

/* A recipient's decision at RCPT (only refusals are kept per recipient),
 * or what dry-run mode would have done. */
static json_object *rcpt_decision_obj(const struct mp_rcpt_info *ri, bool would)
{
	bool refused = ri->outcome != MP_O_ACCEPT && (would || !ri->would);

	return decision_obj(refused ? rcpt_action(ri) : "accept", MP_STAGE_RCPT,
			    refused ? ri->rule : NULL, NULL, refused ? &ri->reply : NULL, NULL,
			    refused);
}

static json_object *envelope_obj(const struct mp_replay *r)
{
	static const struct {
		unsigned bit;
		const char *name;
	} parts[] = { { MP_ENV_DEF_CLIENT_IP, "client_ip" }, { MP_ENV_DEF_CLIENT_NAME, "client_name" },
		      { MP_ENV_DEF_CLIENT_PORT, "client_port" }, { MP_ENV_DEF_HELO, "helo" },
		      { MP_ENV_DEF_FROM, "from" }, { MP_ENV_DEF_RCPT, "rcpt" } };
	const struct mp_replay_env *e = &r->env;
	json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();

	json_object_object_add(o, "client_ip", jstr(e->client_ip));
	json_object_object_add(o, "client_name", jstr(e->client_name));
	json_object_object_add(o, "client_port", json_object_new_int((int)e->client_port));
	json_object_object_add(o, "helo", jstr(e->helo));
	json_object_object_add(o, "tls", json_object_new_boolean(e->tls));
	json_object_object_add(o, "auth", e->auth ? jstr(e->auth) : NULL);
	json_object_object_add(o, "from", jstr(r->txn ? mp_txn_from(r->txn) : ""));
	for (size_t i = 0; r->result != NULL && i < r->result->n_rcpts; i++)
		json_object_array_add(a, jstr(r->result->rcpts[i].addr));
	/* refused before RCPT: the recipients given, never sent */
	for (size_t i = 0; (r->result == NULL || r->result->n_rcpts == 0) && e->rcpts && e->rcpts[i]; i++)
		json_object_array_add(a, jstr(e->rcpts[i]));
	json_object_object_add(o, "rcpt", a);
	a = json_object_new_array();
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (r->defaults & parts[i].bit)
			json_object_array_add(a, jstr(parts[i].name));
	}
	json_object_object_add(o, "defaults", a);
	return o;
}

static json_object *edits_arr(const struct mp_replay *r)
{
	static const char *const kinds[] = { "header_delete", "header_insert", "header_change",
					     "header_add", "rcpt_delete", "rcpt_add", "quarantine" };
	const struct mp_edit *e;
	size_t n;
	json_object *a = json_object_new_array();

	if (mp_txn_edits(r->txn, &e, &n) < 0)
		return a;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "kind", jstr(kinds[e[i].kind]));
		json_object_object_add(o, "name", e[i].name ? jstr(e[i].name) : NULL);
		json_object_object_add(o, "index", json_object_new_int(e[i].index));
		json_object_object_add(o, "value", e[i].value ? jstr(e[i].value) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *trace_arr(const struct mp_replay *r)
{
	size_t n;
	const struct mp_trace *tr = mp_txn_trace(r->txn, &n);
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		const struct mp_trace *e = &tr[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "stage", jstr(mp_stage_name(e->stage)));
		json_object_object_add(o, "scope", jstr(e->scope));
		json_object_object_add(o, "rule", e->rule ? jstr(e->rule) : NULL);
		json_object_object_add(o, "threshold", e->rule ? NULL : number(e->threshold));
		json_object_object_add(o, "value", json_object_new_boolean(e->value));
		json_object_object_add(o, "score", number(e->score));
		json_object_object_add(o, "dry_run", json_object_new_boolean(e->dry_run));
		json_object_object_add(o, "decided", json_object_new_boolean(e->decided));
		json_object_array_add(a, o);
	}
	return a;
}

int mp_report_json(const struct mp_replay *r, FILE *out)
{
	const struct mp_result *res = r->result;
	const struct mp_verdict *v = &res->v;
	json_object *o = json_object_new_object();
	json_object *a;
	char buf[MP_TEXT_MAX + 64];

	json_object_object_add(o, "version", json_object_new_int(MP_REPORT_JSON_VERSION));
	json_object_object_add(o, "action", jstr(mp_verdict_action(v)));
	json_object_object_add(o, "stage", jstr(mp_stage_name(v->stage)));
	json_object_object_add(o, "decided", json_object_new_boolean(res->decided));
	json_object_object_add(o, "rule", v->rule ? jstr(v->rule) : NULL);
	json_object_object_add(o, "threshold", v->by_threshold ? number(v->threshold) : NULL);
	json_object_object_add(o, "reply", mp_verdict_refuses(v)
						   ? reply_obj(&v->reply) : NULL);
	json_object_object_add(o, "decision", verdict_obj(v, res->quarantine, res->decided));
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_rules; i++)
		json_object_array_add(a, jstr(res->rules[i]));
	json_object_object_add(o, "rules", a);
	json_object_object_add(o, "score", number(res->score));
	json_object_object_add(o, "limit", res->limit ? jstr(res->limit) : NULL);
	json_object_object_add(o, "policy", jstr(res->policy));
	json_object_object_add(o, "spf", jstr(mp_auth_result_name(res->spf)));
	json_object_object_add(o, "spf_helo", jstr(mp_auth_result_name(res->spf_helo)));
	json_object_object_add(o, "dkim", jstr(mp_auth_result_name(res->dkim)));
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_sigs; i++) {
		const struct mp_dkim_sig *s = &res->sigs[i];
		json_object *so = json_object_new_object();
		json_object_object_add(so, "result", jstr(mp_auth_result_name(s->result)));
		json_object_object_add(so, "domain", jstr(s->domain));
		json_object_object_add(so, "selector", jstr(s->selector));
		json_object_object_add(so, "algorithm", jstr(s->algorithm));
		json_object_object_add(so, "bits", json_object_new_int((int)s->bits));
		json_object_array_add(a, so);
	}
	json_object_object_add(o, "dkim_signatures", a);
	if (res->dmarc_done) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "result", jstr(mp_auth_result_name(res->dmarc)));
		json_object_object_add(d, "policy", jstr(res->dmarc_policy));
		json_object_object_add(d, "domain", jstr(res->dmarc_domain));
		json_object_object_add(o, "dmarc", d);
	} else {
		json_object_object_add(o, "dmarc", NULL);
	}
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_rcpts; i++) {
		const struct mp_rcpt_info *ri = &res->rcpts[i];
		json_object *ro = json_object_new_object();
		json_object_object_add(ro, "address", jstr(ri->addr));
		json_object_object_add(ro, "policy", jstr(ri->policy));
		bool refused = ri->outcome != MP_O_ACCEPT && !ri->would;
		json_object_object_add(ro, "action",
				       jstr(ri->would ? "accept" : rcpt_action(ri)));
		/* "reply" is the reply line here (SPEC §2); "decision" has the
		 * same shape as the message's */
		if (refused)
			mp_reply_format(&ri->reply, buf, sizeof(buf));
		json_object_object_add(ro, "reply", refused ? jstr(buf) : NULL);
		json_object_object_add(ro, "rule", refused && ri->rule ? jstr(ri->rule) : NULL);
		json_object_object_add(ro, "decision", rcpt_decision_obj(ri, false));
		json_object_object_add(ro, "would", ri->would ? rcpt_decision_obj(ri, true) : NULL);
		json_object_array_add(a, ro);
	}
	json_object_object_add(o, "recipients", a);
	json_object_object_add(o, "envelope", envelope_obj(r));
	json_object_object_add(o, "trace", trace_arr(r));
	a = json_object_new_array();
	/* inserted at the top: Authentication-Results above Received-SPF */
	const char *top[][2] = { { "Authentication-Results", res->auth_results },
				 { "Received-SPF", res->received_spf } };
	for (size_t i = 0; i < 2; i++) {
		if (top[i][1] == NULL)
			continue;
		json_object *h = json_object_new_object();
		json_object_object_add(h, "name", jstr(top[i][0]));
		json_object_object_add(h, "value", jstr(top[i][1]));
		json_object_array_add(a, h);
	}
	for (size_t i = 0; i < res->n_add; i++) {
		json_object *h = json_object_new_object();
		json_object_object_add(h, "name", jstr(res->add[i].name));
		json_object_object_add(h, "value", jstr(res->add[i].value));
		json_object_array_add(a, h);
	}
	if (res->subject_added && res->subject_raw != NULL) {
		json_object *h = json_object_new_object();
		json_object_object_add(h, "name", jstr("Subject"));
		json_object_object_add(h, "value", jstr(res->subject_raw));
		json_object_array_add(a, h);
	}
	json_object_object_add(o, "headers_added", a);
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_remove; i++)
		json_object_array_add(a, jstr(res->remove[i]));
	for (size_t i = 0; i < res->n_ar_delete; i++) {
		char name[64];
		snprintf(name, sizeof(name), "Authentication-Results[%d]", res->ar_delete[i]);
		json_object_array_add(a, jstr(name));
	}
	json_object_object_add(o, "headers_removed", a);
	json_object_object_add(o, "subject",
			       res->subject ? jstr(res->subject) : NULL);
	json_object_object_add(o, "subject_changed",
			       json_object_new_boolean(res->subject_raw != NULL));
	json_object_object_add(o, "quarantine",
			       res->quarantine ? jstr(res->quarantine) : NULL);
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_bcc; i++)
		json_object_array_add(a, jstr(res->bcc[i]));
	json_object_object_add(o, "bcc", a);
	json_object_object_add(o, "redirect",
			       res->redirect ? jstr(res->redirect) : NULL);
	json_object_object_add(o, "mode",
			       jstr(res->dry_run_mode ? "dry-run" : "enforce"));
	if (res->dry_run_mode) {
		json_object_object_add(o, "would_decision",
				       verdict_obj(&res->would_v, res->would_quarantine,
						   res->would_v.outcome != MP_O_NONE));
	}
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_would; i++) {
		json_object *w = json_object_new_object();
		json_object_object_add(w, "rule", res->would[i].rule
					   ? jstr(res->would[i].rule) : NULL);
		json_object_object_add(w, "stage",
				       jstr(mp_stage_name(res->would[i].stage)));
		json_object_object_add(w, "what", jstr(res->would[i].what));
		json_object_array_add(a, w);
	}
	json_object_object_add(o, "would", a);
	a = json_object_new_array();
	for (size_t i = 0; i < res->n_logs; i++)
		json_object_array_add(a, jstr(res->logs[i]));
	json_object_object_add(o, "log", a);
	json_object_object_add(o, "edits", edits_arr(r));
	json_object_object_add(o, "mime", mp_report_mime_json(r));
	json_object_object_add(o, "body", mp_report_body_json(r));
	a = json_object_new_array();
	log_lines(r, NULL, a);
	json_object_object_add(o, "log_lines", a);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = s ? 0 : -1;
	if (s)
		fprintf(out, "%s\n", s);
	json_object_put(o);
	return rc;
}
