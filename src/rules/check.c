/*
 * check - the meaning of a syntax tree (syntax.h): field names, operators
 * and operand types, header names, reply codes, addresses, texts and the
 * ${field} references in them, the stage each condition needs. Turns a
 * file's tree into the program nodes of program.h (allocated from the rule
 * set's arena); what needs building (regexes, lists) is compile_file.c's.
 * Then, across the whole directory: every list name a test uses is
 * declared somewhere (one namespace), and its items suit the field.
 */
#include "rules/loader.h"
#include "rules/check.h"
#include "rules/syntax.h"

#include "auth/dmarc.h"
#include "conf/conf.h"
#include "match/lists.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/ip.h"
#include "util/suggest.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 512
#define MAX_ACTIONS 64

struct checker {
	struct mp_loader *ld;
	const char *file;
	size_t errors0;  /* errors on record before the file was parsed */
	bool give_up;    /* too many errors in this file */
};

static void error_at(struct checker *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void error_at(struct checker *c, int line, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->give_up)
		return;
	mp_diags_add(c->ld->diags, c->file, line, col, "%s", msg);
	if (mp_diags_count(c->ld->diags) - c->errors0 >= MP_FILE_MAX_ERRORS) {
		c->give_up = true;
		mp_diags_add(c->ld->diags, c->file, line, col,
			     "too many errors in this file; not reading further");
	}
}

static void *zalloc(struct checker *c, size_t n, int line, int col)
{
	void *v = mp_arena_zalloc(c->ld->arena, n);

	if (v == NULL)
		error_at(c, line, col, "out of memory");
	return v;
}

/* ---- tests ------------------------------------------------------------ */

static const char *ops_for(const struct mp_field_info *f)
{
	if (f->id == MP_F_BODY || f->id == MP_F_TEXT)
		return "~ and !~";
	switch (f->type) {
	case MP_T_IP: return "==, !=, in, not in, ~ and !~";
	case MP_T_STR: return "==, !=, ~, !~, in and not in";
	case MP_T_NUM: return "==, !=, <, <=, >, >=";
	case MP_T_RESULT: return "== and !=";
	case MP_T_BOOL: return "nothing";
	}
	return "?";
}

static bool op_allowed(const struct mp_field_info *f, enum mp_op op)
{
	if (f->id == MP_F_BODY || f->id == MP_F_TEXT)
		return op == MP_OP_MATCH || op == MP_OP_NMATCH;
	switch (f->type) {
	case MP_T_IP:
	case MP_T_STR:
		return op == MP_OP_EQ || op == MP_OP_NE || op == MP_OP_IN ||
		       op == MP_OP_NIN || op == MP_OP_MATCH || op == MP_OP_NMATCH;
	case MP_T_NUM:
		return op == MP_OP_EQ || op == MP_OP_NE || op >= MP_OP_LT;
	case MP_T_RESULT:
		return op == MP_OP_EQ || op == MP_OP_NE;
	case MP_T_BOOL:
		return false;
	}
	return false;
}

/* A number with an optional k or M suffix. */
static bool number_value(const struct mp_token *t, double *v)
{
	if (t->t == T_NUMBER) {
		*v = t->num;
		return true;
	}
	if (t->t != T_WORD || t->len < 2)
		return false;
	char unit = t->s[t->len - 1];
	double mult = unit == 'k' || unit == 'K' ? 1024.0 : unit == 'M' ? 1048576.0 : 0;
	if (mult == 0)
		return false;
	char *end;
	double n = strtod(t->s, &end);
	if (end != t->s + t->len - 1 || end == t->s)
		return false;
	*v = n * mult;
	return true;
}

static bool header_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 200)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch >= 0x7f || ch == ':')
			return false;
	}
	return true;
}

/* The field a test names; NULL (reported) when there is none. */
static const struct mp_field_info *test_field(struct checker *c, const struct mp_syn_test *t)
{
	if (t->form >= 0)
		return mp_field_info((enum mp_field_id)t->form);
	const struct mp_field_info *f = mp_field_by_name(t->field.s, t->field.len);
	if (f != NULL && !f->named)
		return f;
	const char *names[MP_F_COUNT];
	size_t nn = 0;
	for (int i = 0; i < MP_F_COUNT; i++)
		if (!mp_field_info((enum mp_field_id)i)->named)
			names[nn++] = mp_field_info((enum mp_field_id)i)->name;
	const char *near = mp_suggest(t->field.s, names, nn);
	if (near != NULL)
		error_at(c, t->line, t->col, "unknown field '%s' (did you mean '%s'?)", t->field.s,
			 near);
	else
		error_at(c, t->line, t->col, "unknown field '%s'", t->field.s);
	return NULL;
}

/* A result operand: pass, fail, ... (policy for dkim only; dmarc has no
 * softfail or neutral); for dmarc.policy none, quarantine or reject. */
static bool check_result(struct checker *c, struct mp_expr *e, const struct mp_field_info *f,
			 const char *fname, const struct mp_token *v)
{
	char desc[96];
	bool word = v->t == T_IDENT || v->t == T_STRING;

	if (f->id == MP_F_DMARC_POLICY) {
		static const char *const policies[] = { "none", "quarantine", "reject" };
		int p = word ? mp_dmarc_policy_parse(v->s, v->len) : -1;
		if (p >= 0) {
			e->result = p;
			return true;
		}
		const char *near = word ? mp_suggest(v->s, policies, 3) : NULL;
		char hint[48] = "";
		if (near != NULL)
			snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
		error_at(c, v->line, v->col, "'%s' is compared with none, quarantine or reject, not %s%s",
			 fname, mp_tok_describe(v, desc, sizeof(desc)), hint);
		return false;
	}
	int res = word ? mp_auth_result_parse(v->s) : -1;
	bool dmarc = f->id == MP_F_DMARC;
	bool ok = res >= 0 && (res != MP_AR_POLICY || f->id == MP_F_DKIM) &&
		  (!dmarc || (res != MP_AR_SOFTFAIL && res != MP_AR_NEUTRAL && res != MP_AR_POLICY));
	if (ok) {
		e->result = res;
		return true;
	}
	static const char *const results[] = { "pass", "fail", "softfail", "neutral",
					       "none", "temperror", "permerror" };
	const char *near = res < 0 && word ? mp_suggest(v->s, results, 7) : NULL;
	char hint[48] = "";
	if (near != NULL)
		snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
	if (dmarc)
		error_at(c, v->line, v->col,
			 "'%s' is compared with pass, fail, none, temperror or permerror, not %s%s", fname,
			 mp_tok_describe(v, desc, sizeof(desc)), hint);
	else
		error_at(c, v->line, v->col,
			 "'%s' is compared with pass, fail, softfail, neutral, none, temperror or permerror%s, not %s%s",
			 fname, f->id == MP_F_DKIM ? " (or policy)" : "",
			 mp_tok_describe(v, desc, sizeof(desc)), hint);
	return false;
}

/* An IP field compared with one address or CIDR (as a one-item list). */
static bool check_cidr(struct checker *c, struct mp_expr *e, const char *fname,
		       const struct mp_token *v)
{
	char desc[96];
	struct mp_ip ip;
	int prefix;
	const char *why;

	if (mp_cidr_parse(v->s, v->len, &ip, &prefix, &why) < 0) {
		error_at(c, v->line, v->col, "%s: %s", why, mp_tok_describe(v, desc, sizeof(desc)));
		return false;
	}
	if ((e->op == MP_OP_EQ || e->op == MP_OP_NE) && memchr(v->s, '/', v->len) != NULL) {
		error_at(c, v->line, v->col, "use 'in' to compare '%s' with a CIDR", fname);
		return false;
	}
	e->op = e->op == MP_OP_EQ || e->op == MP_OP_IN ? MP_OP_IN : MP_OP_NIN;
	return true;
}

/* The operand of e (op set) suits field f. */
static bool check_operand(struct checker *c, struct mp_expr *e, const struct mp_field_info *f,
			  const char *fname, const struct mp_syn_test *t)
{
	const struct mp_token *v = &t->val;
	char desc[96];

	switch (e->op) {
	case MP_OP_MATCH:
	case MP_OP_NMATCH:
		return true; /* compiled by compile_file.c */
	case MP_OP_IN:
	case MP_OP_NIN:
		if (v->t == T_EOF)
			return true; /* an inline list: its items are compile_file.c's */
		if (v->t == T_IDENT) {
			e->list_name = v->s;
			return true;
		}
		if (f->type != MP_T_IP) {
			error_at(c, v->line, v->col,
				 "expected a list name or '{' after '%s' ('%s' is not an IP field)",
				 mp_op_name(e->op), fname);
			return false;
		}
		return check_cidr(c, e, fname, v);
	case MP_OP_EQ:
	case MP_OP_NE:
		if (f->type == MP_T_IP)
			return check_cidr(c, e, fname, v);
		if (f->type == MP_T_RESULT)
			return check_result(c, e, f, fname, v);
		if (f->type == MP_T_NUM)
			break;
		if (v->t != T_STRING) {
			error_at(c, v->line, v->col, "expected a quoted string after '%s', found %s",
				 mp_op_name(e->op), mp_tok_describe(v, desc, sizeof(desc)));
			return false;
		}
		e->str = v->s;
		return true;
	default:
		break;
	}
	if (!number_value(v, &e->num)) {
		error_at(c, v->line, v->col, "'%s' is a number; found %s", fname,
			 mp_tok_describe(v, desc, sizeof(desc)));
		return false;
	}
	return true;
}

/* A duration token: 30s, 10m, 1h, 1d, or a number of seconds; 1 s to max. */
static bool duration(const struct mp_token *t, unsigned max, unsigned *secs)
{
	return (t->t == T_NUMBER || t->t == T_WORD) && mp_parse_duration_s(t->s, max, secs) == 0;
}

#define RATE_WINDOW_MAX (366u * 86400)

/* A field rate() can count by: an envelope or From field with one value
 * per event. */
static bool rate_key_ok(const struct mp_field_info *f)
{
	return !f->named && (f->type == MP_T_STR || f->type == MP_T_IP) &&
	       f->stage <= MP_STAGE_HEADER && !(f->need & (MP_NEED_BODY | MP_NEED_MIME));
}

/* rate(KEY..., WINDOW): the shared struct of the rule set for those keys
 * and that window (made on first sight); NULL (reported). */
static const struct mp_rate *check_rate(struct checker *c, const struct mp_syn_test *t)
{
	const struct mp_token *w = &t->rate_args[t->n_rate_args - 1];
	struct mp_rate r = { 0 };
	char name[512], desc[96];
	size_t nl;
	bool ok = true;

	if (t->n_rate_args < 2) {
		error_at(c, w->line, w->col, "rate() takes one or more fields and a window, as in rate(client.ip, 1m)");
		return NULL;
	}
	if (t->n_rate_args - 1 > MP_RATE_MAX_KEYS) {
		error_at(c, t->rate_args[MP_RATE_MAX_KEYS].line, t->rate_args[MP_RATE_MAX_KEYS].col,
			 "rate() counts by at most %d fields", MP_RATE_MAX_KEYS);
		return NULL;
	}
	nl = (size_t)snprintf(name, sizeof(name), "rate(");
	for (size_t i = 0; i + 1 < t->n_rate_args; i++) {
		const struct mp_token *k = &t->rate_args[i];
		size_t len = k->len;
		bool ip128 = len > 4 && memcmp(k->s + len - 4, "/128", 4) == 0;
		if (ip128)
			len -= 4;
		const struct mp_field_info *f =
			k->t == T_NUMBER ? NULL : mp_field_by_name(k->s, len);
		if (f == NULL || !rate_key_ok(f) || (ip128 && f->id != MP_F_CLIENT_IP)) {
			if (ip128 && f != NULL && f->id != MP_F_CLIENT_IP)
				error_at(c, k->line, k->col, "only client.ip takes /128 in rate()");
			else if (f != NULL)
				error_at(c, k->line, k->col,
					 "rate() cannot count by '%s' (it counts by envelope fields, spf.domain, header.from and header.from.domain)",
					 f->name);
			else if (i + 2 == t->n_rate_args && duration(k, RATE_WINDOW_MAX, &r.window))
				error_at(c, w->line, w->col, "rate() ends with its window: %s is one too many",
					 mp_tok_describe(w, desc, sizeof(desc)));
			else
				error_at(c, k->line, k->col, "expected a field in rate(), found %s",
					 mp_tok_describe(k, desc, sizeof(desc)));
			ok = false;
			continue;
		}
		r.keys[r.n_keys++] = f->id;
		r.ip128 |= ip128;
		if (f->stage > r.stage)
			r.stage = (uint8_t)f->stage;
		nl += (size_t)snprintf(name + nl, sizeof(name) - nl, "%s%s%s", i ? "," : "", f->name,
				       ip128 ? "/128" : "");
	}
	if (!duration(w, RATE_WINDOW_MAX, &r.window)) {
		error_at(c, w->line, w->col,
			 "expected a window such as 30s, 10m, 1h or 1d (up to 366d) as rate()'s last argument, found %s",
			 mp_tok_describe(w, desc, sizeof(desc)));
		ok = false;
	}
	if (!ok)
		return NULL;
	snprintf(name + nl, sizeof(name) - nl, ",%us)", r.window);
	struct mp_ruleset *rs = c->ld->rs;
	void *found;
	if (mp_strmap_get(&rs->rates, name, &found))
		return found;
	struct mp_rate *nr = zalloc(c, sizeof(*nr), t->line, t->col);
	char *copy = mp_arena_strdup(c->ld->arena, name);
	if (nr == NULL || copy == NULL)
		return NULL;
	*nr = r;
	nr->name = copy;
	nr->src = copy;
	nr->id = (uint32_t)rs->n_rates;
	if (mp_strmap_put(&rs->rates, copy, strlen(copy), nr, NULL) < 0) {
		error_at(c, t->line, t->col, "out of memory");
		return NULL;
	}
	rs->n_rates++;
	return nr;
}

int mp_rate_canonical(const char *text, char *out, size_t len, const char **why)
{
	char buf[512];
	size_t n = strlen(text), o = 0;
	int nargs = 0;
	bool ip128 = false;

	*why = "expected rate(KEY..., WINDOW), as in rate(client.ip, 1m)";
	if (n < 7 || n >= sizeof(buf) || strncmp(text, "rate(", 5) != 0 || text[n - 1] != ')')
		return -1;
	memcpy(buf, text + 5, n - 6);
	buf[n - 6] = '\0';
	char *args[MP_RATE_MAX_KEYS + 1];
	for (char *p = buf, *save = NULL, *a; (a = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		while (*a == ' ')
			a++;
		size_t al = strlen(a);
		while (al > 0 && a[al - 1] == ' ')
			a[--al] = '\0';
		if (nargs == MP_RATE_MAX_KEYS + 1)
			return -1;
		args[nargs++] = a;
	}
	if (nargs < 2)
		return -1;
	o += (size_t)snprintf(out + o, len - o, "rate(");
	for (int i = 0; i + 1 < nargs; i++) {
		size_t al = strlen(args[i]);
		ip128 = al > 4 && strcmp(args[i] + al - 4, "/128") == 0;
		const struct mp_field_info *f = mp_field_by_name(args[i], ip128 ? al - 4 : al);
		if (f == NULL || !rate_key_ok(f) || (ip128 && f->id != MP_F_CLIENT_IP)) {
			*why = "rate() counts by envelope fields, spf.domain, header.from and header.from.domain";
			return -1;
		}
		if (o < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s%s", i ? "," : "", f->name,
					      ip128 ? "/128" : "");
	}
	unsigned secs;
	if (mp_parse_duration_s(args[nargs - 1], RATE_WINDOW_MAX, &secs) < 0) {
		*why = "expected a window such as 30s, 10m, 1h or 1d as rate()'s last argument";
		return -1;
	}
	if (o >= len || (size_t)snprintf(out + o, len - o, ",%us)", secs) >= len - o) {
		*why = "too long";
		return -1;
	}
	return 0;
}

/* The program node of one test, or NULL (reported). */
static struct mp_expr *check_test(struct checker *c, const struct mp_syn_test *t)
{
	const struct mp_field_info *f =
		t->rate_args != NULL ? mp_field_info(MP_F_RATE) : test_field(c, t);
	char desc[96];

	if (f == NULL)
		return NULL;
	const char *fname = f->id == MP_F_RAWHEADER ? "rawheader"
			    : f->id == MP_F_HEADER ? "header" : f->name;
	bool ok = true;
	if (t->form >= 0 && !header_name_ok(t->hname.s, t->hname.len)) {
		error_at(c, t->hname.line, t->hname.col,
			 "bad header name (printable ASCII without spaces or ':')");
		ok = false;
	}
	if (!t->has_op) {
		if (f->type != MP_T_BOOL && t->form != MP_F_EXISTS_HEADER) {
			/* said as the parser would, at what came instead */
			if (t->next.t != T_ERROR)
				error_at(c, t->next.line, t->next.col,
					 "expected a comparison (==, !=, ~, !~, in, not in, <, <=, >, >=), found %s",
					 mp_tok_describe(&t->next, desc, sizeof(desc)));
			return NULL;
		}
	} else if (!op_allowed(f, t->op)) {
		if (f->type == MP_T_BOOL)
			error_at(c, t->op_line, t->op_col,
				 "'%s' is true or false: write '%s' or 'not %s'", fname, fname, fname);
		else
			error_at(c, t->op_line, t->op_col, "'%s' cannot be used with '%s' (it takes %s)",
				 fname, mp_op_name(t->op), ops_for(f));
		return NULL;
	}
	struct mp_expr *e = zalloc(c, sizeof(*e), t->line, t->col);
	if (e == NULL)
		return NULL;
	e->kind = MP_E_TEST;
	e->depth = 1;
	e->field = f->id;
	e->stage = e->min_stage = (uint8_t)f->stage;
	e->need = f->need;
	e->line = t->line;
	e->col = t->col;
	e->hid = e->pf = e->pfkey = e->vid = -1;
	if (t->form >= 0) {
		e->hname = t->hname.s;
		char *k = mp_arena_strdup(c->ld->arena, t->hname.s);
		if (k == NULL) {
			error_at(c, t->line, t->col, "out of memory");
			return NULL;
		}
		mp_ascii_lower(k);
		e->hkey = k;
	}
	if (t->rate_args != NULL) {
		e->rate = check_rate(c, t);
		if (e->rate == NULL)
			ok = false;
		else
			e->stage = e->min_stage = e->rate->stage;
	}
	if (!t->has_op) {
		e->op = MP_OP_TRUTH;
		return ok ? e : NULL;
	}
	e->op = t->op;
	e->line = t->val.line;
	e->col = t->val.col;
	return check_operand(c, e, f, fname, t) && ok ? e : NULL;
}

/* The program form of a checked condition; NULL when a test in it is
 * wrong (reported when it was checked). */
static struct mp_expr *lower(struct checker *c, const struct mp_syn_expr *s)
{
	if (s->kind == MP_SYN_TEST)
		return s->test->e;
	struct mp_expr *a = lower(c, s->a);
	struct mp_expr *b = s->b != NULL ? lower(c, s->b) : NULL;
	if (a == NULL || (s->b != NULL && b == NULL))
		return NULL;
	struct mp_expr *e = zalloc(c, sizeof(*e), a->line, a->col);
	if (e == NULL)
		return NULL;
	e->kind = s->kind == MP_SYN_AND ? MP_E_AND : s->kind == MP_SYN_OR ? MP_E_OR : MP_E_NOT;
	e->depth = s->depth;
	e->a = a;
	e->b = b;
	e->stage = a->stage;
	e->min_stage = a->min_stage;
	e->need = a->need;
	if (b != NULL) {
		if (b->stage > e->stage)
			e->stage = b->stage;
		if (b->min_stage < e->min_stage)
			e->min_stage = b->min_stage;
		e->need |= b->need;
	}
	e->line = a->line;
	e->col = a->col;
	return e;
}

/* ---- actions ---------------------------------------------------------- */

/* Splits "text ${field} text" into segments. The string token's column is
 * used to point at a bad reference (exact when the string has no escapes). */
static struct mp_template *check_template(struct checker *c, const struct mp_token *t)
{
	struct mp_template *tp = zalloc(c, sizeof(*tp), t->line, t->col);
	const char *s = t->s;
	size_t cap = 0;

	if (tp == NULL)
		return NULL;
	tp->src = s;
	for (size_t i = 0; i < t->len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			error_at(c, t->line, t->col + 1 + (int)i, "control character in text");
			return NULL;
		}
	}
	for (size_t i = 0; i < t->len;) {
		struct mp_seg seg = { MP_SEG_TEXT, s + i, 0, 0 };
		const char *ref = strstr(s + i, "${");
		if (ref == NULL || ref > s + t->len) {
			seg.len = t->len - i;
			i = t->len;
		} else if (ref > s + i) {
			seg.len = (size_t)(ref - (s + i));
			i += seg.len;
		} else {
			const char *close = strchr(ref, '}');
			int col = t->col + 1 + (int)(ref - s);
			if (close == NULL) {
				error_at(c, t->line, col, "unterminated ${...} in text");
				return NULL;
			}
			const char *name = ref + 2;
			size_t nl = (size_t)(close - name);
			const struct mp_field_info *f = mp_field_by_name(name, nl);
			if (nl == 4 && memcmp(name, "rule", 4) == 0) {
				seg.kind = MP_SEG_RULE;
			} else if (nl == 5 && memcmp(name, "score", 5) == 0) {
				seg.kind = MP_SEG_SCORE;
			} else if (nl == 8 && memcmp(name, "queue_id", 8) == 0) {
				seg.kind = MP_SEG_QUEUE_ID;
			} else if (f != NULL && f->subst) {
				seg.kind = MP_SEG_FIELD;
				seg.field = f->id;
			} else {
				error_at(c, t->line, col, "unknown field '${%.*s}' in text",
					 (int)(nl > 60 ? 60 : nl), name);
				return NULL;
			}
			i = (size_t)(close - s) + 1;
		}
		if (tp->n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct mp_seg *v = mp_arena_alloc(c->ld->arena, ncap * sizeof(*v));
			if (v == NULL) {
				error_at(c, t->line, t->col, "out of memory");
				return NULL;
			}
			if (tp->n > 0)
				memcpy(v, tp->segs, tp->n * sizeof(*v));
			tp->segs = v;
			cap = ncap;
		}
		tp->segs[tp->n++] = seg;
	}
	return tp;
}

static void check_text(struct checker *c, struct mp_action *a, const struct mp_token *t,
		       bool reply)
{
	if (t->t == T_EOF)
		return;
	if (t->len > MAX_TEXT) {
		error_at(c, t->line, t->col, "text longer than %d bytes", MAX_TEXT);
	} else if (reply) {
		for (size_t i = 0; i < t->len; i++) {
			if ((unsigned char)t->s[i] >= 0x80) {
				error_at(c, t->line, t->col + 1 + (int)i, "reply text must be ASCII");
				break;
			}
		}
	}
	a->text = check_template(c, t);
}

static bool xcode_ok(const char *s, char cls)
{
	if (s[0] != cls || s[1] != '.')
		return false;
	s += 2;
	for (int part = 0; part < 2; part++) {
		int n = 0;
		while (*s >= '0' && *s <= '9' && n < 4) {
			s++;
			n++;
		}
		if (n == 0 || n > 3)
			return false;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

static bool address_ok(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 254)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= ' ' || ch >= 0x7f || strchr("<>()[],;:\\\"", ch) != NULL)
			return false;
	}
	return true;
}

static void check_reply(struct checker *c, struct mp_action *a, const struct mp_syn_action *s)
{
	char cls = a->kind == MP_A_REJECT ? '5' : '4';
	const char *name = mp_act_name(a->kind);

	if (s->code.t != T_EOF) {
		const char *v = s->code.s;
		if (strlen(v) != 3 || v[0] != cls || v[1] < '0' || v[1] > '5' || v[2] < '0' ||
		    v[2] > '9')
			error_at(c, s->code.line, s->code.col,
				 "reply code %s does not match %s (use %cxx)", v, name, cls);
		a->code = v;
	}
	if (s->xcode.t != T_EOF) {
		if (!xcode_ok(s->xcode.s, cls))
			error_at(c, s->xcode.line, s->xcode.col,
				 "extended code %s does not match %s (use %c.x.x)", s->xcode.s, name,
				 cls);
		a->xcode = s->xcode.s;
	}
	if (a->code == NULL)
		a->code = a->kind == MP_A_REJECT ? "550" : "451";
	if (a->xcode == NULL)
		a->xcode = a->kind == MP_A_REJECT ? "5.7.1" : "4.7.1";
	check_text(c, a, &s->text, true);
}

static void check_action(struct checker *c, struct mp_action *a, const struct mp_syn_action *s,
			 bool in_threshold)
{
	memset(a, 0, sizeof(*a));
	a->kind = s->kind;
	a->line = s->kw.line;
	a->col = s->kw.col;
	switch (s->kind) {
	case MP_A_REJECT:
	case MP_A_TEMPFAIL:
		check_reply(c, a, s);
		return;
	case MP_A_ADD_HEADER:
	case MP_A_REMOVE_HEADER:
		if (!header_name_ok(s->arg.s, s->arg.len))
			error_at(c, s->arg.line, s->arg.col,
				 "bad header name (printable ASCII without spaces or ':')");
		a->arg = s->arg.s;
		break;
	case MP_A_BCC:
	case MP_A_REDIRECT:
		if (!address_ok(s->arg.s))
			error_at(c, s->arg.line, s->arg.col,
				 "expected an address such as user@example.com");
		a->arg = s->arg.s;
		break;
	case MP_A_STRIP:
		if (in_threshold)
			error_at(c, s->kw.line, s->kw.col,
				 "'strip attachment' cannot be used in a threshold (a rule names the attachments)");
		break;
	case MP_A_GREYLIST: {
		char desc[96];
		a->delay = 300;
		a->expiry = 36 * 86400;
		if (in_threshold)
			error_at(c, s->kw.line, s->kw.col,
				 "'greylist' cannot be used in a threshold (it decides per recipient at RCPT)");
		if (s->delay.t != T_EOF && !duration(&s->delay, 86400, &a->delay))
			error_at(c, s->delay.line, s->delay.col,
				 "expected a delay such as 5m (up to 1d) after greylist, found %s",
				 mp_tok_describe(&s->delay, desc, sizeof(desc)));
		if (s->expiry.t != T_EOF && !duration(&s->expiry, RATE_WINDOW_MAX, &a->expiry))
			error_at(c, s->expiry.line, s->expiry.col,
				 "expected an expiry such as 36d (up to 366d) after the delay, found %s",
				 mp_tok_describe(&s->expiry, desc, sizeof(desc)));
		else if (s->expiry.t != T_EOF && a->expiry <= a->delay)
			error_at(c, s->expiry.line, s->expiry.col,
				 "the expiry must be longer than the delay");
		break;
	}
	case MP_A_SCORE:
		if (in_threshold)
			error_at(c, s->kw.line, s->kw.col, "'score' cannot be used in a threshold");
		a->score = s->num.num;
		break;
	default:
		break;
	}
	check_text(c, a, &s->text, false);
}

/* The actions of a block; *terminal_r the index of its one terminal action
 * or -1. false: no memory. */
static bool check_actions(struct checker *c, const struct mp_syn_stmt *st, bool in_threshold,
			  struct mp_action **acts_r, size_t *n_r, int *terminal_r)
{
	size_t n = st->n_actions;
	struct mp_action *v = zalloc(c, n * sizeof(*v), st->kw.line, st->kw.col);

	*terminal_r = -1;
	if (v == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i == MAX_ACTIONS)
			error_at(c, st->actions[i].kw.line, st->actions[i].kw.col,
				 "more than %d actions in one block", MAX_ACTIONS);
		check_action(c, &v[i], &st->actions[i], in_threshold);
		if (!mp_act_terminal(v[i].kind))
			continue;
		if (*terminal_r >= 0)
			error_at(c, v[i].line, v[i].col,
				 "only one terminal action per block ('%s' at line %d)",
				 mp_act_name(v[*terminal_r].kind), v[*terminal_r].line);
		else
			*terminal_r = (int)i;
	}
	*acts_r = v;
	*n_r = n;
	return true;
}

/* ${field} in a text must be known when the rule decides; a rule in a
 * domain file decides at RCPT at the earliest, so only fields of later
 * stages can be checked here. */
static void check_templates(struct checker *c, const struct mp_rule *r)
{
	enum mp_stage latest = r->stage > MP_STAGE_RCPT ? r->stage : MP_STAGE_RCPT;

	for (size_t i = 0; i < r->n_actions; i++) {
		const struct mp_template *t = r->actions[i].text;
		if (t == NULL || !mp_act_terminal(r->actions[i].kind))
			continue;
		for (size_t j = 0; j < t->n; j++) {
			if (t->segs[j].kind != MP_SEG_FIELD)
				continue;
			const struct mp_field_info *f = mp_field_info(t->segs[j].field);
			if (f->stage > latest)
				error_at(c, r->actions[i].line, r->actions[i].col,
					 "${%s} is not known yet when this rule decides (at %s)",
					 f->name, mp_stage_name(latest));
		}
	}
}

/* ---- statements ------------------------------------------------------- */

static bool rule_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return false;
	for (; *s; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      strchr("-_.:/@+", ch) != NULL))
			return false;
	}
	return true;
}

static bool list_name_ok(const char *s)
{
	return strlen(s) <= 64 && strchr(s, '.') == NULL;
}

/* The rule of a statement; NULL when its condition is wrong (its actions
 * are checked all the same). */
static struct mp_rule *check_rule(struct checker *c, const struct mp_syn_stmt *st)
{
	struct mp_rule *r = zalloc(c, sizeof(*r), st->kw.line, st->kw.col);

	if (r == NULL)
		return NULL;
	r->file = c->file;
	r->line = st->kw.line;
	r->col = st->kw.col;
	if (!rule_name_ok(st->name.s))
		error_at(c, st->name.line, st->name.col,
			 "rule names use letters, digits and - _ . : / @ + (at most 128)");
	r->name = st->name.s;
	r->dry_run = st->dry_run;
	r->when = st->when != NULL ? lower(c, st->when) : NULL;
	if (!check_actions(c, st, false, &r->actions, &r->n_actions, &r->terminal) ||
	    (st->when != NULL && r->when == NULL))
		return NULL;
	r->stage = r->when ? r->when->stage : MP_STAGE_CONNECT;
	r->min_stage = r->when ? r->when->min_stage : MP_STAGE_CONNECT;
	r->need = r->when ? r->when->need : 0;
	r->greylist = -1;
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct mp_action *a = &r->actions[i];
		if (a->kind == MP_A_STRIP)
			r->need |= MP_NEED_MIME; /* it needs the parts, whatever it tests */
		if (a->kind != MP_A_GREYLIST)
			continue;
		if (r->greylist >= 0)
			error_at(c, a->line, a->col, "only one greylist per rule (also at line %d)",
				 r->actions[r->greylist].line);
		else if (r->terminal >= 0)
			error_at(c, a->line, a->col,
				 "greylist cannot be used with '%s' in one rule (greylisting passes a retry on to the other rules)",
				 mp_act_name(r->actions[r->terminal].kind));
		else if (r->stage > MP_STAGE_RCPT)
			error_at(c, a->line, a->col,
				 "greylist decides at RCPT, but this rule's condition needs %s",
				 mp_stage_name((enum mp_stage)r->stage));
		r->greylist = (int)i;
	}
	check_templates(c, r);
	return r;
}

static struct mp_threshold *check_threshold(struct checker *c, const struct mp_syn_stmt *st)
{
	struct mp_threshold *t = zalloc(c, sizeof(*t), st->kw.line, st->kw.col);

	if (t == NULL)
		return NULL;
	t->file = c->file;
	t->line = st->kw.line;
	t->col = st->kw.col;
	t->score = st->name.num;
	if (!check_actions(c, st, true, &t->actions, &t->n_actions, &t->terminal))
		return NULL;
	return t;
}

/* Declares a list name (one namespace for the directory); the list itself
 * is built by compile_file.c. */
static struct mp_list_decl *declare_list(struct checker *c, const struct mp_syn_stmt *st)
{
	struct mp_loader *ld = c->ld;
	const struct mp_token *name = &st->name;
	struct mp_list_decl *decl = zalloc(c, sizeof(*decl), name->line, name->col);
	void *old;

	if (!list_name_ok(name->s))
		error_at(c, name->line, name->col,
			 "list names use letters, digits, - and _ (at most 64)");
	if (decl == NULL)
		return NULL;
	*decl = (struct mp_list_decl){ NULL, c->file, name->line, name->col };
	int rc = mp_strmap_put(&ld->lists, name->s, name->len, decl, &old);
	if (rc == 1) {
		struct mp_list_decl *o = old;
		error_at(c, name->line, name->col, "list '%s' is already defined at %s:%d", name->s,
			 o->file, o->line);
		return NULL;
	}
	if (rc < 0) {
		error_at(c, name->line, name->col, "out of memory");
		return NULL;
	}
	ld->rs->n_named_lists++;
	return decl;
}

struct mp_rfile *mp_check_file(struct mp_loader *ld, struct mp_syn_file *sf)
{
	struct checker c = { ld, sf->path, sf->errors0, false };
	struct mp_rfile *rf = mp_arena_zalloc(ld->arena, sizeof(*rf));
	size_t n_refs = 0;

	if (rf == NULL)
		return NULL;
	rf->path = sf->path;
	/* the parser said it gave up */
	c.give_up = mp_diags_count(ld->diags) - c.errors0 >= MP_FILE_MAX_ERRORS;
	for (size_t i = 0; i < sf->n_tests; i++) {
		sf->tests[i]->e = check_test(&c, sf->tests[i]);
		n_refs += sf->tests[i]->e != NULL && sf->tests[i]->e->list_name != NULL;
	}
	rf->items = mp_arena_zalloc(ld->arena, (sf->n_stmts + 1) * sizeof(*rf->items));
	rf->list_refs = mp_arena_zalloc(ld->arena, (n_refs + 1) * sizeof(*rf->list_refs));
	if (rf->items == NULL || rf->list_refs == NULL)
		return NULL;
	for (size_t i = 0; i < sf->n_tests; i++)
		if (sf->tests[i]->e != NULL && sf->tests[i]->e->list_name != NULL)
			rf->list_refs[rf->n_list_refs++] = sf->tests[i]->e;
	for (size_t i = 0; i < sf->n_stmts; i++) {
		struct mp_syn_stmt *st = &sf->stmts[i];
		struct mp_item it = { .line = st->kw.line, .col = st->kw.col };
		switch (st->kind) {
		case MP_SYN_VERSION:
			if (st->name.num != 1)
				error_at(&c, st->name.line, st->name.col,
					 "unsupported rule language version %s (this milter-policy reads version 1)",
					 st->name.s);
			continue;
		case MP_SYN_INCLUDE:
			it.kind = MP_ITEM_INCLUDE;
			it.include = st->name.s;
			it.line = st->name.line;
			it.col = st->name.col;
			break;
		case MP_SYN_LIST:
			st->decl = declare_list(&c, st);
			continue;
		case MP_SYN_RULE:
			it.kind = MP_ITEM_RULE;
			it.rule = check_rule(&c, st);
			if (it.rule == NULL)
				continue;
			break;
		case MP_SYN_THRESHOLD:
			it.kind = MP_ITEM_THRESHOLD;
			it.th = check_threshold(&c, st);
			if (it.th == NULL)
				continue;
			break;
		}
		rf->items[rf->n_items++] = it;
	}
	return rf;
}

/* ---- across the directory -------------------------------------------- */

/* The declared list name closest to a misspelt one, or NULL. */
static const char *suggest_list(const struct mp_loader *ld, const char *name)
{
	const char *names[256];
	size_t n = 0;

	for (size_t i = 0; i < ld->lists.cap && n < 256; i++) {
		if (ld->lists.slots[i].key != NULL)
			names[n++] = ld->lists.slots[i].key;
	}
	return mp_suggest(name, names, n);
}

void mp_check_lists(struct mp_loader *ld, struct vec *order)
{
	for (size_t i = 0; i < order->n; i++) {
		struct mp_rfile *rf = (struct mp_rfile *)order->v[i];
		for (size_t j = 0; j < rf->n_list_refs; j++) {
			struct mp_expr *e = rf->list_refs[j];
			void *found;
			if (!mp_strmap_get(&ld->lists, e->list_name, &found)) {
				const char *near = suggest_list(ld, e->list_name);
				if (near != NULL)
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s' (did you mean '%s'?)", e->list_name,
						     near);
				else
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s'", e->list_name);
				continue;
			}
			struct mp_list_decl *decl = found;
			if (decl->list == NULL)
				continue; /* it could not be built, and said why */
			const struct mp_field_info *f = mp_field_info(e->field);
			size_t n = mp_list_count(decl->list), nip = mp_list_count_ip(decl->list);
			if (f->type == MP_T_IP && nip != n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) has items that are not IP addresses; '%s' needs IPs or CIDRs",
					     e->list_name, decl->file, decl->line, f->name);
			else if (f->type != MP_T_IP && n > 0 && nip == n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) holds only IP addresses; '%s' is not an IP field",
					     e->list_name, decl->file, decl->line,
					     f->id == MP_F_HEADER ? "header" : f->name);
			e->list = decl->list;
		}
	}
}
