/*
 * parse - rule language grammar (SPEC §4.2) -> the syntax tree of one file
 * (syntax.h).
 *
 * Recursive descent over the lexer's tokens; it knows the grammar and
 * nothing else: what a field name means, whether a value suits it, what a
 * text refers to and what a list holds are for check.c and compile_file.c.
 * Syntax errors are reported and the parser skips to the end of the
 * statement (brace-balanced) or the next top-level keyword, so one run
 * reports every error in a file; a statement that broke off is left out,
 * the tests read before the break are kept for checking.
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
 *              | 'count' 'header' STRING op operand
 */
#include "rules/parse.h"

#include "rules/lex.h"
#include "rules/syntax.h"
#include "util/arena.h"
#include "util/diag.h"
#include "util/suggest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 100

struct parser {
	struct mp_diags *diags;
	struct mp_arena *scratch; /* syntax nodes */
	struct mp_lexer lx;
	struct mp_token tok;
	struct mp_token ahead;
	bool has_ahead;
	const char *file;
	int depth;       /* brace depth */
	int nest;        /* expression nesting */
	size_t errors0;  /* diagnostics before this file */
	bool give_up;    /* too many errors in this file */
	bool seen_stmt;
	bool bad_syntax; /* a syntax error in the current statement */
	/* growable arrays, copied into the scratch arena at the end */
	struct mp_syn_stmt *stmts;
	size_t n_stmts, cap_stmts;
	struct mp_syn_test **tests;
	size_t n_tests, cap_tests;
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
	mp_diags_add(p->diags, p->file, line, col, "%s", msg);
	if (mp_diags_count(p->diags) - p->errors0 >= MP_FILE_MAX_ERRORS && !p->give_up) {
		p->give_up = true;
		mp_diags_add(p->diags, p->file, line, col,
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
	void *v = mp_arena_zalloc(p->scratch, n);

	if (v == NULL)
		perror_at(p, p->tok.line, p->tok.col, "out of memory");
	return v;
}

/* Copies a growable array into the scratch arena (NULL when empty). */
static void *keep(struct parser *p, const void *v, size_t n, size_t size)
{
	if (n == 0)
		return NULL;
	void *c = mp_arena_memdup(p->scratch, v, n * size);
	if (c == NULL)
		perror_at(p, p->tok.line, p->tok.col, "out of memory");
	return c;
}

static const struct mp_token no_token = { .t = T_EOF };

/* ---- expressions ------------------------------------------------------ */

static bool is_item_token(const struct mp_token *t)
{
	return t->t == T_STRING || t->t == T_WORD || t->t == T_NUMBER || t->t == T_IDENT;
}

/* '{' item (',' item)* '}' of an inline list; what names the list in an
 * error about its end. */
static bool parse_items(struct parser *p, const char *what, struct mp_token **items_r,
			size_t *n_r)
{
	int line = p->tok.line, col = p->tok.col;
	struct mp_token *v = NULL;
	size_t n = 0, cap = 0;

	*items_r = NULL;
	*n_r = 0;
	if (!expect(p, T_LBRACE, "'{'"))
		return false;
	while (p->tok.t != T_RBRACE) {
		if (p->tok.t == T_EOF || (top_keyword(&p->tok) && peek(p)->t != T_COMMA &&
					   peek(p)->t != T_RBRACE)) {
			unclosed(p, what, line, col);
			goto fail;
		}
		if (!is_item_token(&p->tok)) {
			expected(p, "a list item");
			goto fail;
		}
		if (grow((void **)&v, &cap, n, sizeof(*v)) == NULL) {
			perror_at(p, p->tok.line, p->tok.col, "out of memory");
			goto fail;
		}
		v[n++] = p->tok;
		advance(p);
		if (!accept_tok(p, T_COMMA) && p->tok.t != T_RBRACE) {
			if (unclosed(p, what, line, col))
				goto fail;
			expected(p, "',' or '}'");
			/* recover as if the list ended here, so that sync() stops at
			 * the end of the enclosing block rather than the one after */
			if (p->depth > 0)
				p->depth--;
			goto fail;
		}
	}
	advance(p);
	*items_r = keep(p, v, n, sizeof(*v));
	*n_r = n;
	free(v);
	return n == 0 || *items_r != NULL;
fail:
	free(v);
	return false;
}

static bool is_operator(struct parser *p)
{
	switch (p->tok.t) {
	case T_EQ: case T_NE: case T_MATCH: case T_NMATCH:
	case T_LT: case T_LE: case T_GT: case T_GE:
		return true;
	default:
		return is_kw(&p->tok, "in") || (is_kw(&p->tok, "not") && is_kw(peek(p), "in"));
	}
}

static bool is_action_kw(const struct mp_token *t);

/* Whether the token can follow a complete test. */
static bool ends_test(const struct mp_token *t)
{
	return t->t == T_RPAREN || t->t == T_RBRACE || t->t == T_EOF || t->t == T_ERROR ||
	       is_kw(t, "and") || is_kw(t, "or") || is_action_kw(t) || top_keyword(t);
}

/* op operand, into the test. */
static bool parse_rhs(struct parser *p, struct mp_syn_test *t)
{
	t->op_line = p->tok.line;
	t->op_col = p->tok.col;
	switch (p->tok.t) {
	case T_EQ: t->op = MP_OP_EQ; break;
	case T_NE: t->op = MP_OP_NE; break;
	case T_MATCH: t->op = MP_OP_MATCH; break;
	case T_NMATCH: t->op = MP_OP_NMATCH; break;
	case T_LT: t->op = MP_OP_LT; break;
	case T_LE: t->op = MP_OP_LE; break;
	case T_GT: t->op = MP_OP_GT; break;
	case T_GE: t->op = MP_OP_GE; break;
	case T_IDENT:
		if (is_kw(&p->tok, "in")) {
			t->op = MP_OP_IN;
			break;
		}
		if (is_kw(&p->tok, "not") && is_kw(peek(p), "in")) {
			advance(p);
			t->op = MP_OP_NIN;
			break;
		}
		/* fall through */
	default:
		expected(p, "a comparison (==, !=, ~, !~, in, not in, <, <=, >, >=)");
		return false;
	}
	t->has_op = true;
	advance(p);
	if (t->op == MP_OP_MATCH || t->op == MP_OP_NMATCH) {
		if (p->tok.t != T_REGEX) {
			expected(p, "a regex /.../");
			return false;
		}
	} else if (t->op == MP_OP_IN || t->op == MP_OP_NIN) {
		if (p->tok.t == T_LBRACE) {
			t->val = no_token;
			t->val.line = p->tok.line;
			t->val.col = p->tok.col;
			return parse_items(p, "the list", &t->items, &t->n_items);
		}
		if (!is_item_token(&p->tok)) {
			expected(p, "a list name, '{' or a CIDR");
			return false;
		}
	} else if (!is_item_token(&p->tok)) {
		expected(p, "a value");
		return false;
	}
	t->val = p->tok;
	advance(p);
	return true;
}

static struct mp_syn_expr *new_node(struct parser *p, enum mp_syn_kind k, unsigned depth)
{
	struct mp_syn_expr *e = zalloc(p, sizeof(*e));

	if (e != NULL) {
		e->kind = k;
		e->depth = depth;
	}
	return e;
}

/* A test read completely: kept for the checker, wrapped as a leaf. */
static struct mp_syn_expr *test_node(struct parser *p, struct mp_syn_test *t)
{
	if (grow((void **)&p->tests, &p->cap_tests, p->n_tests, sizeof(*p->tests)) == NULL) {
		perror_at(p, t->line, t->col, "out of memory");
		return NULL;
	}
	p->tests[p->n_tests++] = t;
	struct mp_syn_expr *e = new_node(p, MP_SYN_TEST, 1);
	if (e != NULL)
		e->test = t;
	return e;
}

static struct mp_syn_expr *parse_expr(struct parser *p);

/* '(' KEY {',' KEY} ',' WINDOW ')' after `rate`; the checker gives them
 * meaning. */
static bool parse_rate(struct parser *p, struct mp_syn_test *t)
{
	struct mp_token *v = NULL;
	size_t n = 0, cap = 0;

	if (p->tok.t != T_LPAREN) {
		expected(p, "'(' after rate, as in rate(client.ip, 1m)");
		return false;
	}
	advance(p);
	for (;;) {
		if (p->tok.t != T_IDENT && p->tok.t != T_WORD && p->tok.t != T_NUMBER) {
			expected(p, n == 0 ? "a field, as in rate(client.ip, 1m)"
				    : "a field or a window such as 1m");
			goto fail;
		}
		if (grow((void **)&v, &cap, n, sizeof(*v)) == NULL) {
			perror_at(p, p->tok.line, p->tok.col, "out of memory");
			goto fail;
		}
		v[n++] = p->tok;
		advance(p);
		if (p->tok.t == T_RPAREN)
			break;
		if (!accept_tok(p, T_COMMA)) {
			expected(p, "',' or ')'");
			goto fail;
		}
	}
	advance(p);
	t->rate_args = keep(p, v, n, sizeof(*v));
	t->n_rate_args = n;
	free(v);
	return t->rate_args != NULL;
fail:
	free(v);
	return false;
}

static struct mp_syn_expr *parse_test(struct parser *p)
{
	struct mp_syn_test *t = zalloc(p, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->line = p->tok.line;
	t->col = p->tok.col;
	t->form = -1;
	t->field = t->hname = t->val = t->next = no_token;
	if (is_kw(&p->tok, "exists") || is_kw(&p->tok, "count")) {
		t->form = is_kw(&p->tok, "exists") ? MP_F_EXISTS_HEADER : MP_F_COUNT_HEADER;
		advance(p);
		if (!is_kw(&p->tok, "header")) {
			expected(p, "'header'");
			return NULL;
		}
	} else if (is_kw(&p->tok, "header") || is_kw(&p->tok, "rawheader")) {
		t->form = is_kw(&p->tok, "header") ? MP_F_HEADER : MP_F_RAWHEADER;
	}
	if (t->form >= 0) {
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted header name");
			return NULL;
		}
		t->hname = p->tok;
		advance(p);
		if (t->form == MP_F_EXISTS_HEADER)
			return test_node(p, t);
		return parse_rhs(p, t) ? test_node(p, t) : NULL;
	}
	if (is_kw(&p->tok, "rate")) {
		t->field = p->tok;
		advance(p);
		if (!parse_rate(p, t))
			return NULL;
		if (!is_operator(p)) {
			expected(p, "a comparison after rate(...) (==, !=, <, <=, >, >=)");
			return NULL;
		}
		return parse_rhs(p, t) ? test_node(p, t) : NULL;
	}
	/* 'score' is a field as well as an action */
	if (p->tok.t != T_IDENT || (is_action_kw(&p->tok) && !is_kw(&p->tok, "score")) ||
	    top_keyword(&p->tok)) {
		expected(p, "a condition");
		return NULL;
	}
	t->field = p->tok;
	advance(p);
	if (is_operator(p))
		return parse_rhs(p, t) ? test_node(p, t) : NULL;
	if (p->tok.t == T_STRING || p->tok.t == T_NUMBER || p->tok.t == T_WORD ||
	    p->tok.t == T_REGEX) {
		expected(p, "a comparison (==, !=, ~, !~, in, not in, <, <=, >, >=)");
		return NULL;
	}
	/* a field alone: right for a true/false field, for the checker to
	 * say; a word that cannot follow a test is the caller's error, and
	 * the checker says nothing more (T_ERROR) */
	t->next = p->tok;
	if (!ends_test(&p->tok))
		t->next.t = T_ERROR;
	return test_node(p, t);
}

/* One node over a and b (b NULL for not); a condition higher than
 * MP_EXPR_MAX_DEPTH is refused here, once, at the term that passes it. */
static struct mp_syn_expr *combine(struct parser *p, enum mp_syn_kind k, struct mp_syn_expr *a,
				   struct mp_syn_expr *b, int line, int col)
{
	unsigned depth = 1 + (b != NULL && b->depth > a->depth ? b->depth : a->depth);

	if (depth > MP_EXPR_MAX_DEPTH) {
		p->bad_syntax = true;
		perror_at(p, line, col, "condition has more than %d levels of and/or/not (use a list)",
			  MP_EXPR_MAX_DEPTH);
		return NULL;
	}
	struct mp_syn_expr *e = new_node(p, k, depth);

	if (e != NULL) {
		e->a = a;
		e->b = b;
	}
	return e;
}

/* Where a subtree starts: its first test. */
static const struct mp_syn_test *first_test(const struct mp_syn_expr *e)
{
	while (e->kind != MP_SYN_TEST)
		e = e->a;
	return e->test;
}

static struct mp_syn_expr *parse_unary(struct parser *p)
{
	if (++p->nest > MAX_NEST) {
		p->bad_syntax = true;
		if (p->nest == MAX_NEST + 1)
			perror_at(p, p->tok.line, p->tok.col,
				  "condition nested more than %d levels deep", MAX_NEST);
		p->nest--;
		return NULL;
	}
	struct mp_syn_expr *e = NULL;
	if (is_kw(&p->tok, "not")) {
		advance(p);
		struct mp_syn_expr *a = parse_unary(p);
		const struct mp_syn_test *at = a ? first_test(a) : NULL;
		e = a ? combine(p, MP_SYN_NOT, a, NULL, at->line, at->col) : NULL;
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
static struct mp_syn_expr *balance(struct parser *p, enum mp_syn_kind k, struct mp_syn_expr **v,
				   size_t lo, size_t hi)
{
	if (hi - lo == 1)
		return v[lo];
	size_t mid = lo + (hi - lo) / 2;
	struct mp_syn_expr *a = balance(p, k, v, lo, mid);
	struct mp_syn_expr *b = a ? balance(p, k, v, mid, hi) : NULL;
	const struct mp_syn_test *bt = b ? first_test(b) : NULL;
	return a && b ? combine(p, k, a, b, bt->line, bt->col) : NULL;
}

/* Parses sub (joined by the keyword op) terms; both sides are always
 * parsed so every error is seen. */
static struct mp_syn_expr *parse_chain(struct parser *p, const char *op, enum mp_syn_kind k,
				       struct mp_syn_expr *(*sub)(struct parser *))
{
	struct mp_syn_expr *first = sub(p), **v = NULL;
	size_t n = 0, cap = 0;
	bool ok = first != NULL;

	while (is_kw(&p->tok, op) && p->nest <= MAX_NEST) {
		advance(p);
		struct mp_syn_expr *b = sub(p);
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
			struct mp_syn_expr **nv = realloc(v, nc * sizeof(*nv));
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
	struct mp_syn_expr *e = !ok ? NULL : n == 0 ? first : balance(p, k, v, 0, n);
	free(v);
	return e;
}

static struct mp_syn_expr *parse_and(struct parser *p)
{
	return parse_chain(p, "and", MP_SYN_AND, parse_unary);
}

static struct mp_syn_expr *parse_expr(struct parser *p)
{
	return parse_chain(p, "or", MP_SYN_OR, parse_and);
}

/* ---- actions ---------------------------------------------------------- */

static const char *const action_kws[] = { "accept", "reject", "tempfail", "discard",
					   "quarantine", "tag", "add", "remove", "bcc",
					   "redirect", "score", "log", "strip", "greylist" };
#define N_ACTION_KWS (sizeof(action_kws) / sizeof(action_kws[0]))

static bool is_action_kw(const struct mp_token *t)
{
	for (size_t i = 0; i < N_ACTION_KWS; i++) {
		if (is_kw(t, action_kws[i]))
			return true;
	}
	return false;
}

static bool parse_text(struct parser *p, struct mp_syn_action *a)
{
	if (p->tok.t != T_STRING) {
		expected(p, "a quoted text");
		return false;
	}
	a->text = p->tok;
	advance(p);
	return true;
}

/* reject|tempfail [CODE [XCODE]] ["text"] */
static bool parse_reply(struct parser *p, struct mp_syn_action *a)
{
	if (p->tok.t == T_NUMBER) {
		a->code = p->tok;
		advance(p);
		if (p->tok.t == T_WORD || p->tok.t == T_NUMBER) {
			a->xcode = p->tok;
			advance(p);
		}
	} else if (p->tok.t == T_WORD) {
		perror_at(p, p->tok.line, p->tok.col, "expected a reply code such as %c50 before %s",
			  a->kind == MP_A_REJECT ? '5' : '4', p->tok.s);
		advance(p);
	}
	if (p->tok.t == T_STRING)
		return parse_text(p, a);
	return true;
}

static bool parse_action(struct parser *p, struct mp_syn_action *a)
{
	struct mp_token kw = p->tok;

	a->kw = kw;
	a->code = a->xcode = a->text = a->arg = a->num = a->delay = a->expiry = no_token;
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
			return parse_text(p, a);
	} else if (is_kw(&kw, "tag")) {
		a->kind = MP_A_TAG_SUBJECT;
		if (!is_kw(&p->tok, "subject")) {
			expected(p, "'subject' after 'tag'");
			return false;
		}
		advance(p);
		return parse_text(p, a);
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
		a->arg = p->tok;
		advance(p);
		if (a->kind == MP_A_ADD_HEADER)
			return parse_text(p, a);
	} else if (is_kw(&kw, "bcc") || is_kw(&kw, "redirect")) {
		a->kind = is_kw(&kw, "bcc") ? MP_A_BCC : MP_A_REDIRECT;
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted address");
			return false;
		}
		a->arg = p->tok;
		advance(p);
	} else if (is_kw(&kw, "score")) {
		a->kind = MP_A_SCORE;
		if (p->tok.t != T_NUMBER) {
			expected(p, "a number after 'score'");
			return false;
		}
		a->num = p->tok;
		advance(p);
	} else if (is_kw(&kw, "log")) {
		a->kind = MP_A_LOG;
		return parse_text(p, a);
	} else if (is_kw(&kw, "greylist")) {
		a->kind = MP_A_GREYLIST;
		if (p->tok.t == T_WORD || p->tok.t == T_NUMBER) {
			a->delay = p->tok;
			advance(p);
			if (p->tok.t == T_WORD || p->tok.t == T_NUMBER) {
				a->expiry = p->tok;
				advance(p);
			}
		}
	} else if (is_kw(&kw, "strip")) {
		a->kind = MP_A_STRIP;
		if (!is_kw(&p->tok, "attachment")) {
			expected(p, "'attachment' after 'strip'");
			return false;
		}
		advance(p);
		return parse_text(p, a);
	}
	return true;
}

/* Actions up to the closing '}' of the block (what, at line:col). */
static bool parse_actions(struct parser *p, struct mp_syn_stmt *st, const char *what, int line,
			  int col)
{
	struct mp_syn_action *v = NULL;
	size_t n = 0, cap = 0;

	while (p->tok.t != T_RBRACE) {
		if (unclosed(p, what, line, col))
			goto fail;
		if (!is_action_kw(&p->tok)) {
			const char *near =
				p->tok.t == T_IDENT ? mp_suggest(p->tok.s, action_kws, N_ACTION_KWS) : NULL;
			if (near != NULL) {
				char hint[64];
				snprintf(hint, sizeof(hint), "an action (did you mean '%s'?)", near);
				expected(p, hint);
			} else {
				expected(p, n == 0 ? "an action (accept, reject, tempfail, discard, quarantine, tag, add, remove, bcc, redirect, score, log, strip, greylist)"
					 : "an action or '}'");
			}
			goto fail;
		}
		if (grow((void **)&v, &cap, n, sizeof(*v)) == NULL) {
			perror_at(p, p->tok.line, p->tok.col, "out of memory");
			goto fail;
		}
		if (!parse_action(p, &v[n]))
			goto fail;
		n++;
	}
	if (n == 0) {
		expected(p, "an action");
		goto fail;
	}
	st->actions = keep(p, v, n, sizeof(*v));
	st->n_actions = n;
	free(v);
	return st->actions != NULL;
fail:
	free(v);
	return false;
}

/* ---- statements ------------------------------------------------------- */

static void add_stmt(struct parser *p, const struct mp_syn_stmt *st)
{
	if (grow((void **)&p->stmts, &p->cap_stmts, p->n_stmts, sizeof(*p->stmts)) == NULL) {
		perror_at(p, st->kw.line, st->kw.col, "out of memory");
		return;
	}
	p->stmts[p->n_stmts++] = *st;
}

static void init_stmt(struct mp_syn_stmt *st, enum mp_syn_stmt_kind k, const struct mp_token *kw)
{
	memset(st, 0, sizeof(*st));
	st->kind = k;
	st->kw = *kw;
	st->name = st->file = no_token;
}

static void parse_rule(struct parser *p)
{
	struct mp_syn_stmt st;

	init_stmt(&st, MP_SYN_RULE, &p->tok);
	advance(p);
	if (p->tok.t != T_STRING) {
		expected(p, "a quoted rule name");
		sync(p);
		return;
	}
	st.name = p->tok;
	advance(p);
	if (is_kw(&p->tok, "dry-run")) {
		st.dry_run = true;
		advance(p);
	}
	if (!expect(p, T_LBRACE, "'{'")) {
		sync(p);
		return;
	}
	if (is_kw(&p->tok, "when")) {
		size_t before = mp_diags_count(p->diags);
		advance(p);
		st.when = parse_expr(p);
		if (st.when == NULL && mp_diags_count(p->diags) == before)
			expected(p, "a condition");
		if (st.when == NULL) {
			sync(p);
			return;
		}
	}
	char what[160];
	snprintf(what, sizeof(what), "rule '%s'", st.name.s);
	if (!parse_actions(p, &st, what, st.kw.line, st.kw.col)) {
		sync(p);
		return;
	}
	advance(p); /* '}' */
	add_stmt(p, &st);
}

static void parse_threshold(struct parser *p)
{
	struct mp_syn_stmt st;

	init_stmt(&st, MP_SYN_THRESHOLD, &p->tok);
	advance(p);
	if (p->tok.t != T_NUMBER) {
		expected(p, "a score after 'threshold'");
		sync(p);
		return;
	}
	st.name = p->tok;
	char what[96];
	snprintf(what, sizeof(what), "threshold %s", p->tok.s);
	advance(p);
	if (!expect(p, T_LBRACE, "'{'") || !parse_actions(p, &st, what, st.kw.line, st.kw.col)) {
		sync(p);
		return;
	}
	advance(p); /* '}' */
	add_stmt(p, &st);
}

static void parse_list(struct parser *p)
{
	struct mp_syn_stmt st;

	init_stmt(&st, MP_SYN_LIST, &p->tok);
	advance(p);
	if (p->tok.t != T_IDENT) {
		expected(p, "a list name");
		sync(p);
		return;
	}
	st.name = p->tok;
	advance(p);
	if (is_kw(&p->tok, "file")) {
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted file name");
			sync(p);
			return;
		}
		st.file = p->tok;
		advance(p);
	} else if (p->tok.t == T_LBRACE) {
		char what[96];
		snprintf(what, sizeof(what), "list '%s'", st.name.s);
		if (!parse_items(p, what, &st.items, &st.n_items)) {
			sync(p);
			return;
		}
	} else {
		expected(p, "'file' or '{'");
		sync(p);
		return;
	}
	add_stmt(p, &st);
}

static void parse_stmt(struct parser *p)
{
	struct mp_token t = p->tok;
	struct mp_syn_stmt st;

	p->bad_syntax = false;
	if (is_kw(&t, "version")) {
		init_stmt(&st, MP_SYN_VERSION, &t);
		advance(p);
		if (p->seen_stmt)
			perror_at(p, t.line, t.col, "'version' must come first in the file");
		if (p->tok.t != T_NUMBER) {
			expected(p, "a version number");
			sync(p);
			return;
		}
		st.name = p->tok;
		advance(p);
		add_stmt(p, &st);
	} else if (is_kw(&t, "include")) {
		init_stmt(&st, MP_SYN_INCLUDE, &t);
		advance(p);
		if (p->tok.t != T_STRING) {
			expected(p, "a quoted file name");
			sync(p);
			return;
		}
		st.name = p->tok;
		advance(p);
		add_stmt(p, &st);
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

struct mp_syn_file *mp_parse_file(const char *path, const char *text, size_t len,
				  struct mp_arena *arena, struct mp_arena *scratch,
				  struct mp_diags *diags)
{
	struct parser p;
	struct mp_syn_file *sf = mp_arena_zalloc(scratch, sizeof(*sf));

	if (sf == NULL)
		return NULL;
	memset(&p, 0, sizeof(p));
	p.diags = diags;
	p.scratch = scratch;
	p.file = sf->path = mp_arena_strdup(arena, path);
	if (p.file == NULL)
		return NULL;
	p.errors0 = sf->errors0 = mp_diags_count(diags);
	mp_lex_init(&p.lx, p.file, text, len, arena, diags);
	mp_lex_next(&p.lx, &p.tok);
	while (p.tok.t != T_EOF) {
		if (p.tok.t == T_ERROR) {
			advance(&p);
			sync(&p);
			continue;
		}
		parse_stmt(&p);
	}
	sf->stmts = keep(&p, p.stmts, p.n_stmts, sizeof(*p.stmts));
	sf->n_stmts = sf->stmts ? p.n_stmts : 0;
	sf->tests = keep(&p, p.tests, p.n_tests, sizeof(*p.tests));
	sf->n_tests = sf->tests ? p.n_tests : 0;
	free(p.stmts);
	free(p.tests);
	return sf;
}
