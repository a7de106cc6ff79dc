/*
 * parse - rule language grammar (SPEC §4.2) -> rules, thresholds, includes
 * and list declarations of one file.
 *
 * Recursive descent over the lexer's tokens. Syntax errors are reported and
 * the parser skips to the end of the statement (brace-balanced) or the next
 * top-level keyword, so one run reports every error in a file. Semantic
 * checks that need only the statement itself happen here too (field and
 * operator types, reply codes, regex compilation, templates); list names are
 * resolved by the rule-set builder once every file is parsed.
 *
 *   file      := stmt*
 *   stmt      := 'version' NUMBER | 'include' STRING
 *              | 'list' NAME ('file' STRING | '{' items '}')
 *              | 'rule' STRING ['dry-run'] '{' ['when' expr] action+ '}'
 *              | 'threshold' NUMBER '{' action+ '}'
 *   expr      := and ('or' and)*      and := unary ('and' unary)*
 *   unary     := 'not' unary | '(' expr ')' | test
 *   test      := FIELD [op operand] | 'header' STRING op operand
 *              | 'rawheader' STRING op operand | 'exists' 'header' STRING
 *              | 'count' 'header' STRING op NUMBER
 */
#include "rules/loader.h"
#include "rules/parse.h"

#include "match/lists.h"
#include "match/regex.h"
#include "rules/lex.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/suggest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 100
#define MAX_FILE_ERRORS 50
#define MAX_TEXT 512

struct parser {
	struct mp_loader *ld;
	struct mp_lexer lx;
	struct mp_token tok;
	struct mp_token ahead;
	bool has_ahead;
	const char *file;
	struct mp_rfile *rf;
	int depth;       /* brace depth */
	int nest;        /* expression nesting */
	size_t errors0;  /* diagnostics before this file */
	bool give_up;    /* too many errors in this file */
	bool seen_stmt;
	bool bad_syntax; /* a syntax error in the current statement */
	/* growable arrays, copied into the arena at the end */
	struct mp_item *items;
	size_t n_items, cap_items;
	struct mp_expr **refs;
	size_t n_refs, cap_refs;
};

static void perror_at(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perror_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mp_diags_add(p->ld->diags, p->file, line, col, "%s", msg);
	if (mp_diags_count(p->ld->diags) - p->errors0 >= MAX_FILE_ERRORS && !p->give_up) {
		p->give_up = true;
		mp_diags_add(p->ld->diags, p->file, line, col,
			     "too many errors in this file; not reading further");
	}
}

static void advance(struct parser *p)
{
	if (p->tok.t == T_LBRACE)
		p->depth++;
	else if (p->tok.t == T_RBRACE && p->depth > 0)
		p->depth--;
	if (p->has_ahead) {
		p->tok = p->ahead;
		p->has_ahead = false;
	} else {
		mp_lex_next(&p->lx, &p->tok);
	}
	if (p->give_up)
		p->tok.t = T_EOF;
}

static const struct mp_token *peek(struct parser *p)
{
	if (!p->has_ahead) {
		mp_lex_next(&p->lx, &p->ahead);
		p->has_ahead = true;
	}
	return &p->ahead;
}

static bool is_kw(const struct mp_token *t, const char *kw)
{
	return t->t == T_IDENT && strcmp(t->s, kw) == 0;
}

/* Reports "expected X, found Y" at the current token, unless the lexer has
 * already reported it. */
static void expected(struct parser *p, const char *what)
{
	char buf[96];

	p->bad_syntax = true;
	if (p->tok.t == T_ERROR)
		return;
	perror_at(p, p->tok.line, p->tok.col, "expected %s, found %s", what,
		  mp_tok_describe(&p->tok, buf, sizeof(buf)));
}

static bool accept_tok(struct parser *p, enum mp_tok t)
{
	if (p->tok.t != t)
		return false;
	advance(p);
	return true;
}

static bool expect(struct parser *p, enum mp_tok t, const char *what)
{
	if (accept_tok(p, t))
		return true;
	expected(p, what);
	return false;
}

static bool top_keyword(const struct mp_token *t)
{
	return is_kw(t, "rule") || is_kw(t, "list") || is_kw(t, "threshold") ||
	       is_kw(t, "include") || is_kw(t, "version");
}

/* A block that reaches the end of the file or a top-level keyword was never
 * closed: says so where the block started (not where the parser noticed),
 * and lets sync() resume at the keyword. */
static bool unclosed(struct parser *p, const char *what, int line, int col)
{
	char buf[96];

	if (p->tok.t != T_EOF && !top_keyword(&p->tok))
		return false;
	p->bad_syntax = true;
	if (p->tok.t == T_EOF)
		perror_at(p, line, col, "%s has no closing '}' (reached the end of the file)",
			  what);
	else
		perror_at(p, line, col, "%s has no closing '}' (reached %s at line %d)", what,
			  mp_tok_describe(&p->tok, buf, sizeof(buf)), p->tok.line);
	p->depth = 0;
	return true;
}

/* Skips the rest of a bad statement: to the '}' that closes the block the
 * statement opened (depth back to 0), or to the next top-level keyword. */
static void sync(struct parser *p)
{
	while (p->tok.t != T_EOF) {
		if (p->depth == 0 && top_keyword(&p->tok))
			return;
		bool closes = p->tok.t == T_RBRACE && p->depth == 1;
		advance(p);
		if (closes)
			return;
	}
}

static void *grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return *v;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, ncap * size);
	if (nv == NULL)
		return NULL;
	*v = nv;
	*cap = ncap;
	return nv;
}

static void *zalloc(struct parser *p, size_t n)
{
	void *v = mp_arena_zalloc(p->ld->arena, n);

	if (v == NULL)
		perror_at(p, p->tok.line, p->tok.col, "out of memory");
	return v;
}

/* ---- templates ------------------------------------------------------ */

/* Splits "text ${field} text" into segments. The string token's column is
 * used to point at a bad reference (exact when the string has no escapes). */
static struct mp_template *parse_template(struct parser *p, const struct mp_token *t)
{
	struct mp_template *tp = zalloc(p, sizeof(*tp));
	const char *s = t->s;
	size_t cap = 0;

	if (tp == NULL)
		return NULL;
	tp->src = s;
	for (size_t i = 0; i < t->len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			perror_at(p, t->line, t->col + 1 + (int)i,
				  "control character in text");
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
				perror_at(p, t->line, col, "unterminated ${...} in text");
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
				perror_at(p, t->line, col, "unknown field '${%.*s}' in text",
					  (int)(nl > 60 ? 60 : nl), name);
				return NULL;
			}
			i = (size_t)(close - s) + 1;
		}
		if (tp->n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct mp_seg *v = mp_arena_alloc(p->ld->arena, ncap * sizeof(*v));
			if (v == NULL)
				return NULL;
			if (tp->n > 0)
				memcpy(v, tp->segs, tp->n * sizeof(*v));
			tp->segs = v;
			cap = ncap;
		}
		tp->segs[tp->n++] = seg;
	}
	return tp;
}

/* ---- expressions ------------------------------------------------------ */

struct rhs {
	enum mp_op op;
	struct mp_token val;     /* operand token; T_EOF when an inline list */
	struct mp_list *inline_list;
	int line, col;           /* of the operator */
};

static struct mp_list *parse_inline_list(struct parser *p, const char *name)
{
	struct mp_list *l = mp_list_new(name);

	if (l == NULL || mp_loader_keep_list(p->ld, l) < 0) {
		mp_list_free(l);
		perror_at(p, p->tok.line, p->tok.col, "out of memory");
		return NULL;
	}
	int line = p->tok.line, col = p->tok.col;
	char what[96];
	if (name[0] != '\0')
		snprintf(what, sizeof(what), "list '%s'", name);
	else
		snprintf(what, sizeof(what), "the list");
	if (!expect(p, T_LBRACE, "'{'"))
		return NULL;
	while (p->tok.t != T_RBRACE) {
		if (p->tok.t == T_EOF || (top_keyword(&p->tok) && peek(p)->t != T_COMMA &&
					   peek(p)->t != T_RBRACE)) {
			unclosed(p, what, line, col);
			return NULL;
		}
		if (p->tok.t != T_STRING && p->tok.t != T_WORD && p->tok.t != T_NUMBER &&
		    p->tok.t != T_IDENT) {
			expected(p, "a list item");
			return NULL;
		}
		const char *why;
		if (mp_list_add(l, p->tok.s, p->tok.len, &why) < 0)
			perror_at(p, p->tok.line, p->tok.col, "%s", why);
		advance(p);
		if (!accept_tok(p, T_COMMA) && p->tok.t != T_RBRACE) {
			if (unclosed(p, what, line, col))
				return NULL;
			expected(p, "',' or '}'");
			/* recover as if the list ended here, so that sync() stops at
			 * the end of the enclosing block rather than the one after */
			if (p->depth > 0)
				p->depth--;
			return NULL;
		}
	}
	advance(p);
	mp_list_finish(l);
	return l;
}

static bool parse_rhs(struct parser *p, struct rhs *r)
{
	memset(r, 0, sizeof(*r));
	r->line = p->tok.line;
	r->col = p->tok.col;
	switch (p->tok.t) {
	case T_EQ: r->op = MP_OP_EQ; break;
	case T_NE: r->op = MP_OP_NE; break;
	case T_MATCH: r->op = MP_OP_MATCH; break;
	case T_NMATCH: r->op = MP_OP_NMATCH; break;
	case T_LT: r->op = MP_OP_LT; break;
	case T_LE: r->op = MP_OP_LE; break;
	case T_GT: r->op = MP_OP_GT; break;
	case T_GE: r->op = MP_OP_GE; break;
	case T_IDENT:
		if (is_kw(&p->tok, "in")) {
			r->op = MP_OP_IN;
			break;
		}
		if (is_kw(&p->tok, "not") && is_kw(peek(p), "in")) {
			advance(p);
			r->op = MP_OP_NIN;
			break;
		}
		/* fall through */
	default:
		expected(p, "a comparison (==, !=, ~, !~, in, not in, <, <=, >, >=)");
		return false;
	}
	advance(p);
	if (r->op == MP_OP_MATCH || r->op == MP_OP_NMATCH) {
		if (p->tok.t != T_REGEX) {
			expected(p, "a regex /.../");
			return false;
		}
	} else if (r->op == MP_OP_IN || r->op == MP_OP_NIN) {
		if (p->tok.t == T_LBRACE) {
			r->val.t = T_EOF;
			r->val.line = p->tok.line;
			r->val.col = p->tok.col;
			r->inline_list = parse_inline_list(p, "");
			return r->inline_list != NULL;
		}
		if (p->tok.t != T_IDENT && p->tok.t != T_WORD && p->tok.t != T_NUMBER &&
		    p->tok.t != T_STRING) {
			expected(p, "a list name, '{' or a CIDR");
			return false;
		}
	} else if (p->tok.t != T_STRING && p->tok.t != T_NUMBER && p->tok.t != T_WORD &&
		   p->tok.t != T_IDENT) {
		expected(p, "a value");
		return false;
	}
	r->val = p->tok;
	advance(p);
	return true;
}

static const char *ops_for(const struct mp_field_info *f)
{
	if (f->id == MP_F_BODY)
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

static bool op_allowed(const struct mp_field_info *f, enum mp_op op)
{
	if (f->id == MP_F_BODY)
		return op == MP_OP_MATCH || op == MP_OP_NMATCH;
	switch (f->type) {
	case MP_T_IP:
		return op == MP_OP_EQ || op == MP_OP_NE || op == MP_OP_IN ||
		       op == MP_OP_NIN || op == MP_OP_MATCH || op == MP_OP_NMATCH;
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

static void note_list_ref(struct parser *p, struct mp_expr *e)
{
	if (grow((void **)&p->refs, &p->cap_refs, p->n_refs, sizeof(*p->refs)) == NULL) {
		perror_at(p, e->line, e->col, "out of memory");
		return;
	}
	p->refs[p->n_refs++] = e;
}

/* Fills e (field already set) from the operator and operand; reports type
 * errors. Returns false on an error (the node is then not used). */
static bool check_test(struct parser *p, struct mp_expr *e, const struct mp_field_info *f,
		       struct rhs *r)
{
	const struct mp_token *v = &r->val;
	char desc[96];
	const char *fname = f->id == MP_F_RAWHEADER ? "rawheader"
			    : f->id == MP_F_HEADER ? "header" : f->name;

	if (!op_allowed(f, r->op)) {
		if (f->type == MP_T_BOOL)
			perror_at(p, r->line, r->col,
				  "'%s' is true or false: write '%s' or 'not %s'", fname,
				  fname, fname);
		else
			perror_at(p, r->line, r->col, "'%s' cannot be used with '%s' (it takes %s)",
				  fname, mp_op_name(r->op), ops_for(f));
		return false;
	}
	e->op = r->op;
	e->line = v->line;
	e->col = v->col;
	switch (r->op) {
	case MP_OP_MATCH:
	case MP_OP_NMATCH: {
		char err[256];
		size_t off;
		e->re = mp_regex_compile(v->s, v->len, v->flags, err, sizeof(err), &off);
		if (e->re == NULL) {
			perror_at(p, v->line, v->col + 1 + (int)off,
				  "bad regex: %s (at offset %zu)", err, off);
			return false;
		}
		if (mp_loader_keep_regex(p->ld, e->re) < 0) {
			mp_regex_free(e->re);
			e->re = NULL;
			perror_at(p, v->line, v->col, "out of memory");
			return false;
		}
		return true;
	}
	case MP_OP_IN:
	case MP_OP_NIN:
		if (r->inline_list != NULL) {
			e->list = r->inline_list;
			if (f->type == MP_T_IP && mp_list_count_ip(e->list) != mp_list_count(e->list)) {
				perror_at(p, v->line, v->col,
					  "'%s' is an IP address: every item of the list must be an IP or CIDR",
					  fname);
				return false;
			}
			return true;
		}
		if (v->t == T_IDENT) {
			e->list_name = v->s;
			note_list_ref(p, e);
			return true;
		}
		if (f->type != MP_T_IP) {
			perror_at(p, v->line, v->col,
				  "expected a list name or '{' after '%s' ('%s' is not an IP field)",
				  mp_op_name(r->op), fname);
			return false;
		}
		/* one CIDR */
		__attribute__((fallthrough));
	case MP_OP_EQ:
	case MP_OP_NE:
		if (f->type == MP_T_IP) {
			const char *why;
			e->list = mp_list_new("");
			if (e->list == NULL || mp_loader_keep_list(p->ld, e->list) < 0) {
				mp_list_free(e->list);
				e->list = NULL;
				perror_at(p, v->line, v->col, "out of memory");
				return false;
			}
			struct mp_ip ip;
			int prefix;
			if (mp_cidr_parse(v->s, v->len, &ip, &prefix, &why) < 0 ||
			    mp_list_add(e->list, v->s, v->len, &why) < 0) {
				perror_at(p, v->line, v->col, "%s: %s", why,
					  mp_tok_describe(v, desc, sizeof(desc)));
				return false;
			}
			if ((r->op == MP_OP_EQ || r->op == MP_OP_NE) &&
			    memchr(v->s, '/', v->len) != NULL) {
				perror_at(p, v->line, v->col,
					  "use 'in' to compare '%s' with a CIDR", fname);
				return false;
			}
			mp_list_finish(e->list);
			e->op = r->op == MP_OP_EQ || r->op == MP_OP_IN ? MP_OP_IN : MP_OP_NIN;
			return true;
		}
		if (f->type == MP_T_RESULT) {
			int res = v->t == T_IDENT || v->t == T_STRING ? mp_auth_result_parse(v->s) : -1;
			if (res < 0 || (res == MP_AR_POLICY && f->id != MP_F_DKIM)) {
				static const char *const results[] = { "pass", "fail", "softfail", "neutral",
								       "none", "temperror", "permerror" };
				const char *near = res < 0 && (v->t == T_IDENT || v->t == T_STRING)
							   ? mp_suggest(v->s, results, 7) : NULL;
				char hint[48] = "";
				if (near != NULL)
					snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
				perror_at(p, v->line, v->col,
					  "'%s' is compared with pass, fail, softfail, neutral, none, temperror or permerror%s, not %s%s",
					  fname, f->id == MP_F_DKIM ? " (or policy)" : "",
					  mp_tok_describe(v, desc, sizeof(desc)), hint);
				return false;
			}
			e->result = res;
			return true;
		}
		if (f->type == MP_T_NUM) {
			if (!number_value(v, &e->num)) {
				perror_at(p, v->line, v->col, "'%s' is a number; found %s", fname,
					  mp_tok_describe(v, desc, sizeof(desc)));
				return false;
			}
			return true;
		}
		if (v->t != T_STRING) {
			perror_at(p, v->line, v->col, "expected a quoted string after '%s', found %s",
				  mp_op_name(r->op), mp_tok_describe(v, desc, sizeof(desc)));
			return false;
		}
		e->str = v->s;
		return true;
	default:
		if (!number_value(v, &e->num)) {
			perror_at(p, v->line, v->col, "'%s' is a number; found %s", fname,
				  mp_tok_describe(v, desc, sizeof(desc)));
			return false;
		}
		return true;
	}
}

static struct mp_expr *new_test(struct parser *p, const struct mp_field_info *f,
				int line, int col)
{
	struct mp_expr *e = zalloc(p, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->kind = MP_E_TEST;
	e->depth = 1;
	e->field = f->id;
	e->stage = e->min_stage = (uint8_t)f->stage;
	e->need = f->need;
	e->line = line;
	e->col = col;
	return e;
}

static bool header_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 200)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == ':')
			return false;
	}
	return true;
}

/* header "Name" after the keyword; fills hname/hkey. */
static bool parse_header_name(struct parser *p, struct mp_expr *e)
{
	if (p->tok.t != T_STRING) {
		expected(p, "a quoted header name");
		return false;
	}
	if (!header_name_ok(p->tok.s, p->tok.len)) {
		perror_at(p, p->tok.line, p->tok.col,
			  "bad header name (printable ASCII without spaces or ':')");
		advance(p);
		return true; /* keep parsing; the error is recorded */
	}
	e->hname = p->tok.s;
	char *k = mp_arena_strdup(p->ld->arena, p->tok.s);
	if (k != NULL)
		mp_ascii_lower(k);
	e->hkey = k;
	advance(p);
	return true;
}

static struct mp_expr *parse_expr(struct parser *p);
static bool is_action_kw(const struct mp_token *t);

static struct mp_expr *parse_test(struct parser *p)
{
	int line = p->tok.line, col = p->tok.col;
	const struct mp_field_info *f;
	struct rhs r;
	bool ok = true;

	if (is_kw(&p->tok, "exists") || is_kw(&p->tok, "count")) {
		bool exists = is_kw(&p->tok, "exists");
		advance(p);
		if (!is_kw(&p->tok, "header")) {
			expected(p, "'header'");
			return NULL;
		}
		advance(p);
		f = mp_field_info(exists ? MP_F_EXISTS_HEADER : MP_F_COUNT_HEADER);
		struct mp_expr *e = new_test(p, f, line, col);
		if (e == NULL || !parse_header_name(p, e))
			return NULL;
		if (exists) {
			e->op = MP_OP_TRUTH;
			return e;
		}
		if (!parse_rhs(p, &r))
			return NULL;
		return check_test(p, e, f, &r) ? e : NULL;
	}
	if (is_kw(&p->tok, "header") || is_kw(&p->tok, "rawheader")) {
		f = mp_field_info(is_kw(&p->tok, "header") ? MP_F_HEADER : MP_F_RAWHEADER);
		advance(p);
		struct mp_expr *e = new_test(p, f, line, col);
		if (e == NULL || !parse_header_name(p, e))
			return NULL;
		if (!parse_rhs(p, &r))
			return NULL;
		return check_test(p, e, f, &r) ? e : NULL;
	}
	if (p->tok.t != T_IDENT) {
		expected(p, "a condition");
		return NULL;
	}
	f = mp_field_by_name(p->tok.s, p->tok.len);
	if (f == NULL && (is_action_kw(&p->tok) || top_keyword(&p->tok))) {
		expected(p, "a condition");
		return NULL;
	}
	if (f == NULL || f->named) {
		const char *names[MP_F_COUNT];
		size_t nn = 0;
		for (int i = 0; i < MP_F_COUNT; i++)
			if (!mp_field_info((enum mp_field_id)i)->named)
				names[nn++] = mp_field_info((enum mp_field_id)i)->name;
		const char *near = mp_suggest(p->tok.s, names, nn);
		if (near != NULL)
			perror_at(p, line, col, "unknown field '%s' (did you mean '%s'?)", p->tok.s, near);
		else
			perror_at(p, line, col, "unknown field '%s'", p->tok.s);
		ok = false;
		f = mp_field_info(MP_F_HELO); /* parse on as a string test */
	}
	advance(p);
	struct mp_expr *e = new_test(p, f, line, col);
	if (e == NULL)
		return NULL;
	if (f->type == MP_T_BOOL && ok) {
		/* alone; an operator after it is a type error, reported by check_test */
		if (p->tok.t == T_EQ || p->tok.t == T_NE || p->tok.t == T_MATCH ||
		    p->tok.t == T_NMATCH || p->tok.t == T_LT || p->tok.t == T_LE ||
		    p->tok.t == T_GT || p->tok.t == T_GE || is_kw(&p->tok, "in") ||
		    (is_kw(&p->tok, "not") && is_kw(peek(p), "in"))) {
			if (!parse_rhs(p, &r))
				return NULL;
			check_test(p, e, f, &r);
			return NULL;
		}
		e->op = MP_OP_TRUTH;
		return e;
	}
	if (!parse_rhs(p, &r))
		return NULL;
	if (!ok)
		return NULL;
	return check_test(p, e, f, &r) ? e : NULL;
}

static struct mp_expr *combine(struct parser *p, enum mp_expr_kind k, struct mp_expr *a,
			       struct mp_expr *b)
{
	unsigned depth = 1 + (b != NULL && b->depth > a->depth ? b->depth : a->depth);

	if (depth > MP_EXPR_MAX_DEPTH) {
		/* a chain of thousands of terms: said once, at the term that
		 * passes the bound */
		p->bad_syntax = true;
		perror_at(p, b != NULL ? b->line : a->line, b != NULL ? b->col : a->col,
			  "condition has more than %d levels of and/or/not (use a list)",
			  MP_EXPR_MAX_DEPTH);
		return NULL;
	}
	struct mp_expr *e = zalloc(p, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->depth = depth;
	e->kind = k;
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

static struct mp_expr *parse_unary(struct parser *p)
{
	if (++p->nest > MAX_NEST) {
		p->bad_syntax = true;
		if (p->nest == MAX_NEST + 1)
			perror_at(p, p->tok.line, p->tok.col,
				  "condition nested more than %d levels deep", MAX_NEST);
		p->nest--;
		return NULL;
	}
	struct mp_expr *e = NULL;
	if (is_kw(&p->tok, "not")) {
		advance(p);
		struct mp_expr *a = parse_unary(p);
		e = a ? combine(p, MP_E_NOT, a, NULL) : NULL;
	} else if (p->tok.t == T_LPAREN) {
		advance(p);
		e = parse_expr(p);
		if (e != NULL && !expect(p, T_RPAREN, "')'"))
			e = NULL;
	} else {
		e = parse_test(p);
	}
	p->nest--;
	return e;
}

/* A chain of terms joined by one operator, as a balanced tree: a chain of
 * 100,000 terms is 17 levels deep, so no walk over it recurses far. The
 * terms keep their order (and and or are associative). */
static struct mp_expr *balance(struct parser *p, enum mp_expr_kind k, struct mp_expr **v,
			       size_t lo, size_t hi)
{
	if (hi - lo == 1)
		return v[lo];
	size_t mid = lo + (hi - lo) / 2;
	struct mp_expr *a = balance(p, k, v, lo, mid);
	struct mp_expr *b = a ? balance(p, k, v, mid, hi) : NULL;
	return a && b ? combine(p, k, a, b) : NULL;
}

/* Parses sub (joined by the keyword op) terms; both sides are always
 * parsed so every error is seen. */
static struct mp_expr *parse_chain(struct parser *p, const char *op, enum mp_expr_kind k,
				   struct mp_expr *(*sub)(struct parser *))
{
	struct mp_expr *first = sub(p), **v = NULL;
	size_t n = 0, cap = 0;
	bool ok = first != NULL;

	while (is_kw(&p->tok, op) && p->nest <= MAX_NEST) {
		advance(p);
		struct mp_expr *b = sub(p);
		if (b == NULL && p->tok.t == T_EOF) {
			free(v);
			return NULL;
		}
		if (!ok || b == NULL) {
			ok = false;
			continue;
		}
		if (n + 2 > cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct mp_expr **nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				perror_at(p, p->tok.line, p->tok.col, "out of memory");
				free(v);
				return NULL;
			}
			v = nv;
			cap = nc;
		}
		if (n == 0)
			v[n++] = first;
		v[n++] = b;
	}
	struct mp_expr *e = !ok ? NULL : n == 0 ? first : balance(p, k, v, 0, n);
	free(v);
	return e;
}

static struct mp_expr *parse_and(struct parser *p)
{
	return parse_chain(p, "and", MP_E_AND, parse_unary);
}

static struct mp_expr *parse_expr(struct parser *p)
{
	return parse_chain(p, "or", MP_E_OR, parse_and);
}

/* ---- actions ---------------------------------------------------------- */

static bool is_action_kw(const struct mp_token *t)
{
	static const char *kws[] = { "accept", "reject", "tempfail", "discard", "quarantine",
				     "tag", "add", "remove", "bcc", "redirect", "score", "log" };

	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (is_kw(t, kws[i]))
			return true;
	}
	return false;
}

static bool parse_text(struct parser *p, struct mp_action *a, bool reply)
{
	if (p->tok.t != T_STRING) {
		expected(p, "a quoted text");
		return false;
	}
	if (p->tok.len > MAX_TEXT)
		perror_at(p, p->tok.line, p->tok.col, "text longer than %d bytes", MAX_TEXT);
	else if (reply) {
		for (size_t i = 0; i < p->tok.len; i++) {
			if ((unsigned char)p->tok.s[i] >= 0x80) {
				perror_at(p, p->tok.line, p->tok.col + 1 + (int)i,
					  "reply text must be ASCII");
				break;
			}
		}
	}
	a->text = parse_template(p, &p->tok);
	advance(p);
	return true;
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

/* reject|tempfail [CODE [XCODE]] ["text"] */
static bool parse_reply(struct parser *p, struct mp_action *a)
{
	char cls = a->kind == MP_A_REJECT ? '5' : '4';
	const char *name = mp_act_name(a->kind);

	if (p->tok.t == T_NUMBER) {
		const char *s = p->tok.s;
		if (strlen(s) != 3 || s[0] != cls || s[1] < '0' || s[1] > '5' || s[2] < '0' ||
		    s[2] > '9') {
			perror_at(p, p->tok.line, p->tok.col,
				  "reply code %s does not match %s (use %cxx)", s, name, cls);
		}
		a->code = s;
		advance(p);
		if (p->tok.t == T_WORD || p->tok.t == T_NUMBER) {
			if (!xcode_ok(p->tok.s, cls))
				perror_at(p, p->tok.line, p->tok.col,
					  "extended code %s does not match %s (use %c.x.x)",
					  p->tok.s, name, cls);
			a->xcode = p->tok.s;
			advance(p);
		}
	} else if (p->tok.t == T_WORD) {
		perror_at(p, p->tok.line, p->tok.col, "expected a reply code such as %c50 before %s",
			  cls, p->tok.s);
		advance(p);
	}
	if (a->code == NULL)
		a->code = a->kind == MP_A_REJECT ? "550" : "451";
	if (a->xcode == NULL)
		a->xcode = a->kind == MP_A_REJECT ? "5.7.1" : "4.7.1";
	if (p->tok.t == T_STRING)
		return parse_text(p, a, true);
	return true;
}

static bool address_ok(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 254)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c >= 0x7f || strchr("<>()[],;:\\\"", c) != NULL)
			return false;
	}
	return true;
}

static bool parse_action(struct parser *p, struct mp_action *a, bool in_threshold)
{
	struct mp_token kw = p->tok;

	memset(a, 0, sizeof(*a));
	a->line = kw.line;
	a->col = kw.col;
	advance(p);
	if (is_kw(&kw, "accept")) {
		a->kind = MP_A_ACCEPT;
	} else if (is_kw(&kw, "discard")) {
		a->kind = MP_A_DISCARD;
	} else if (is_kw(&kw, "reject") || is_kw(&kw, "tempfail")) {
		a->kind = is_kw(&kw, "reject") ? MP_A_REJECT : MP_A_TEMPFAIL;
		return parse_reply(p, a);
	} else if (is_kw(&kw, "quarantine")) {
		a->kind = MP_A_QUARANTINE;
		if (p->tok.t == T_STRING)
			return parse_text(p, a, false);
	} else if (is_kw(&kw, "tag")) {
		a->kind = MP_A_TAG_SUBJECT;
		if (!is_kw(&p->tok, "subject")) {
			expected(p, "'subject' after 'tag'");
			return false;
		}
		advance(p);
		return parse_text(p, a, false);
	} else if (is_kw(&kw, "add") || is_kw(&kw, "remove")) {
		a->kind = is_kw(&kw, "add") ? MP_A_ADD_HEADER : MP_A_REMOVE_HEADER;
		if (!is_kw(&p->tok, "header")) {
			expected(p, "'header'");
			return false;
		}
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted header name");
			return false;
		}
		if (!header_name_ok(p->tok.s, p->tok.len))
			perror_at(p, p->tok.line, p->tok.col,
				  "bad header name (printable ASCII without spaces or ':')");
		a->arg = p->tok.s;
		advance(p);
		if (a->kind == MP_A_ADD_HEADER)
			return parse_text(p, a, false);
	} else if (is_kw(&kw, "bcc") || is_kw(&kw, "redirect")) {
		a->kind = is_kw(&kw, "bcc") ? MP_A_BCC : MP_A_REDIRECT;
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted address");
			return false;
		}
		if (!address_ok(p->tok.s))
			perror_at(p, p->tok.line, p->tok.col,
				  "expected an address such as user@example.com");
		a->arg = p->tok.s;
		advance(p);
	} else if (is_kw(&kw, "score")) {
		a->kind = MP_A_SCORE;
		if (p->tok.t != T_NUMBER) {
			expected(p, "a number after 'score'");
			return false;
		}
		if (in_threshold)
			perror_at(p, kw.line, kw.col, "'score' cannot be used in a threshold");
		a->score = p->tok.num;
		advance(p);
	} else if (is_kw(&kw, "log")) {
		a->kind = MP_A_LOG;
		return parse_text(p, a, false);
	}
	return true;
}

/* Parses actions up to the closing '}' into an arena array. */
static bool parse_actions(struct parser *p, struct mp_action **acts_r, size_t *n_r,
			  int *terminal_r, bool in_threshold, const char *what, int line, int col)
{
	struct mp_action buf[64];
	size_t n = 0;

	*terminal_r = -1;
	while (p->tok.t != T_RBRACE) {
		if (unclosed(p, what, line, col))
			return false;
		if (!is_action_kw(&p->tok)) {
			static const char *const kws[] = { "accept", "reject", "tempfail", "discard",
							   "quarantine", "tag", "add", "remove", "bcc",
							   "redirect", "score", "log" };
			const char *near = p->tok.t == T_IDENT ? mp_suggest(p->tok.s, kws, 12) : NULL;
			if (near != NULL) {
				char hint[64];
				snprintf(hint, sizeof(hint), "an action (did you mean '%s'?)", near);
				expected(p, hint);
			} else {
				expected(p, n == 0 ? "an action (accept, reject, tempfail, discard, quarantine, tag, add, remove, bcc, redirect, score, log)"
					 : "an action or '}'");
			}
			return false;
		}
		if (n == sizeof(buf) / sizeof(buf[0])) {
			perror_at(p, p->tok.line, p->tok.col, "more than 64 actions in one block");
			return false;
		}
		if (!parse_action(p, &buf[n], in_threshold))
			return false;
		if (mp_act_terminal(buf[n].kind)) {
			if (*terminal_r >= 0)
				perror_at(p, buf[n].line, buf[n].col,
					  "only one terminal action per block ('%s' at line %d)",
					  mp_act_name(buf[*terminal_r].kind), buf[*terminal_r].line);
			else
				*terminal_r = (int)n;
		}
		n++;
	}
	if (n == 0) {
		expected(p, "an action");
		return false;
	}
	*acts_r = mp_arena_memdup(p->ld->arena, buf, n * sizeof(buf[0]));
	*n_r = n;
	return *acts_r != NULL;
}

/* ---- statements ------------------------------------------------------- */

static bool rule_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_.:/@+", c) != NULL))
			return false;
	}
	return true;
}

static void add_item(struct parser *p, struct mp_item it)
{
	if (grow((void **)&p->items, &p->cap_items, p->n_items, sizeof(*p->items)) == NULL) {
		perror_at(p, it.line, it.col, "out of memory");
		return;
	}
	p->items[p->n_items++] = it;
}

/* ${field} in a text must be known when the rule decides; a rule in a
 * domain file decides at RCPT at the earliest, so only fields of later
 * stages can be checked here. */
static void check_templates(struct parser *p, const struct mp_rule *r)
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
				perror_at(p, r->actions[i].line, r->actions[i].col,
					  "${%s} is not known yet when this rule decides (at %s)",
					  f->name, mp_stage_name(latest));
		}
	}
}

static void parse_rule(struct parser *p)
{
	struct mp_token kw = p->tok;
	struct mp_rule *r = zalloc(p, sizeof(*r));

	advance(p);
	if (r == NULL)
		return;
	r->file = p->file;
	r->line = kw.line;
	r->col = kw.col;
	if (p->tok.t != T_STRING) {
		expected(p, "a quoted rule name");
		sync(p);
		return;
	}
	if (!rule_name_ok(p->tok.s))
		perror_at(p, p->tok.line, p->tok.col,
			  "rule names use letters, digits and - _ . : / @ + (at most 128)");
	r->name = p->tok.s;
	advance(p);
	if (is_kw(&p->tok, "dry-run")) {
		r->dry_run = true;
		advance(p);
	}
	if (!expect(p, T_LBRACE, "'{'")) {
		sync(p);
		return;
	}
	bool bad_when = false;
	if (is_kw(&p->tok, "when")) {
		size_t before = mp_diags_count(p->ld->diags);
		advance(p);
		r->when = parse_expr(p);
		if (r->when == NULL && mp_diags_count(p->ld->diags) == before)
			expected(p, "a condition");
		if (p->bad_syntax) {
			sync(p);
			return;
		}
		/* type errors only: the actions are still worth checking */
		bad_when = r->when == NULL;
	}
	char what[160];
	snprintf(what, sizeof(what), "rule '%s'", r->name);
	if (!parse_actions(p, &r->actions, &r->n_actions, &r->terminal, false, what, kw.line,
			   kw.col)) {
		sync(p);
		return;
	}
	expect(p, T_RBRACE, "'}'");
	if (bad_when)
		return;
	r->stage = r->when ? r->when->stage : MP_STAGE_CONNECT;
	r->min_stage = r->when ? r->when->min_stage : MP_STAGE_CONNECT;
	r->need = r->when ? r->when->need : 0;
	check_templates(p, r);
	add_item(p, (struct mp_item){ .kind = MP_ITEM_RULE, .rule = r, .line = kw.line,
				      .col = kw.col });
}

static void parse_threshold(struct parser *p)
{
	struct mp_token kw = p->tok;
	struct mp_threshold *t = zalloc(p, sizeof(*t));

	advance(p);
	if (t == NULL)
		return;
	t->file = p->file;
	t->line = kw.line;
	t->col = kw.col;
	if (p->tok.t != T_NUMBER) {
		expected(p, "a score after 'threshold'");
		sync(p);
		return;
	}
	t->score = p->tok.num;
	char what[96];
	snprintf(what, sizeof(what), "threshold %s", p->tok.s);
	advance(p);
	if (!expect(p, T_LBRACE, "'{'") ||
	    !parse_actions(p, &t->actions, &t->n_actions, &t->terminal, true, what, kw.line,
			   kw.col)) {
		sync(p);
		return;
	}
	expect(p, T_RBRACE, "'}'");
	add_item(p, (struct mp_item){ .kind = MP_ITEM_THRESHOLD, .th = t, .line = kw.line,
				      .col = kw.col });
}

static bool list_name_ok(const char *s)
{
	if (strlen(s) > 64 || strchr(s, '.') != NULL)
		return false;
	return true;
}

static void parse_list(struct parser *p)
{
	struct mp_token kw = p->tok;

	advance(p);
	if (p->tok.t != T_IDENT) {
		expected(p, "a list name");
		sync(p);
		return;
	}
	struct mp_token name = p->tok;
	if (!list_name_ok(name.s))
		perror_at(p, name.line, name.col,
			  "list names use letters, digits, - and _ (at most 64)");
	advance(p);
	struct mp_list *l;
	if (is_kw(&p->tok, "file")) {
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted file name");
			sync(p);
			return;
		}
		l = mp_list_new(name.s);
		if (l == NULL || mp_loader_keep_list(p->ld, l) < 0) {
			mp_list_free(l);
			perror_at(p, kw.line, kw.col, "out of memory");
			return;
		}
		char *path = mp_path_join(p->ld->dir, p->tok.s);
		if (path == NULL) {
			perror_at(p, kw.line, kw.col, "out of memory");
			return;
		}
		/* an unreadable file is reported where it is named */
		if (mp_list_load_file(l, path, path, p->ld->diags) == -2)
			perror_at(p, p->tok.line, p->tok.col, "cannot read list file %s: %s",
				  p->tok.s, errno == EFBIG ? "file too large" : strerror(errno));
		mp_loader_stamp(p->ld, path);
		free(path);
		advance(p);
	} else if (p->tok.t == T_LBRACE) {
		l = parse_inline_list(p, name.s);
		if (l == NULL) {
			sync(p);
			return;
		}
	} else {
		expected(p, "'file' or '{'");
		sync(p);
		return;
	}
	mp_list_finish(l);
	mp_loader_add_list(p->ld, l, p->file, name.line, name.col);
}

static void parse_stmt(struct parser *p)
{
	struct mp_token t = p->tok;

	p->bad_syntax = false;
	if (is_kw(&t, "version")) {
		advance(p);
		if (p->seen_stmt)
			perror_at(p, t.line, t.col, "'version' must come first in the file");
		if (p->tok.t != T_NUMBER) {
			expected(p, "a version number");
			sync(p);
			return;
		}
		if (p->tok.num != 1)
			perror_at(p, p->tok.line, p->tok.col,
				  "unsupported rule language version %s (this milter-policy reads version 1)",
				  p->tok.s);
		advance(p);
	} else if (is_kw(&t, "include")) {
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted file name");
			sync(p);
			return;
		}
		add_item(p, (struct mp_item){ .kind = MP_ITEM_INCLUDE, .include = p->tok.s,
					      .line = p->tok.line, .col = p->tok.col });
		advance(p);
	} else if (is_kw(&t, "list")) {
		parse_list(p);
	} else if (is_kw(&t, "rule")) {
		parse_rule(p);
	} else if (is_kw(&t, "threshold")) {
		parse_threshold(p);
	} else {
		expected(p, "'rule', 'list', 'threshold', 'include' or 'version'");
		advance(p);
		sync(p);
	}
	p->seen_stmt = true;
}

struct mp_rfile *mp_parse_file(struct mp_loader *ld, const char *path, const char *text,
			       size_t len)
{
	struct parser p;
	struct mp_rfile *rf = mp_arena_zalloc(ld->arena, sizeof(*rf));

	if (rf == NULL)
		return NULL;
	memset(&p, 0, sizeof(p));
	p.ld = ld;
	p.file = rf->path = mp_arena_strdup(ld->arena, path);
	if (p.file == NULL)
		return NULL;
	p.rf = rf;
	p.errors0 = mp_diags_count(ld->diags);
	mp_lex_init(&p.lx, p.file, text, len, ld->arena, ld->diags);
	mp_lex_next(&p.lx, &p.tok);
	while (p.tok.t != T_EOF) {
		if (p.tok.t == T_ERROR) {
			advance(&p);
			sync(&p);
			continue;
		}
		parse_stmt(&p);
	}
	rf->items = p.n_items ? mp_arena_memdup(ld->arena, p.items, p.n_items * sizeof(*p.items))
			      : NULL;
	rf->n_items = rf->items ? p.n_items : 0;
	rf->list_refs = p.n_refs ? mp_arena_memdup(ld->arena, p.refs, p.n_refs * sizeof(*p.refs))
				 : NULL;
	rf->n_list_refs = rf->list_refs ? p.n_refs : 0;
	free(p.items);
	free(p.refs);
	return rf;
}
