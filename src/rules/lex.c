/*
 * lex - rule language tokenizer; see lex.h.
 */
#include "rules/lex.h"

#include "match/regex.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX (64 * 1024)
#define IDENT_MAX 256

void mp_lex_init(struct mp_lexer *lx, const char *file, const char *text, size_t len,
		 struct mp_arena *arena, struct mp_diags *diags)
{
	memset(lx, 0, sizeof(*lx));
	lx->file = file;
	lx->p = lx->line_start = text;
	lx->end = text + len;
	lx->line = 1;
	lx->last = T_EOF;
	lx->arena = arena;
	lx->diags = diags;
}

static int col_of(const struct mp_lexer *lx, const char *p)
{
	return (int)(p - lx->line_start) + 1;
}

static void lex_error(struct mp_lexer *lx, const char *at, const char *msg)
{
	mp_diags_add(lx->diags, lx->file, lx->line, col_of(lx, at), "%s", msg);
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_word(char c)
{
	return is_ident(c) || c == ':' || c == '/' || c == '[' || c == ']';
}

static void skip_space(struct mp_lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->p++;
			lx->line++;
			lx->line_start = lx->p;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\0')
				lx->p++;
		} else {
			break;
		}
	}
}

static void lex_string(struct mp_lexer *lx, struct mp_token *tok)
{
	const char *start = lx->p++;
	struct mp_buf b;

	mp_buf_init(&b);
	for (;;) {
		if (lx->p >= lx->end || *lx->p == '\n' || *lx->p == '\0') {
			lex_error(lx, start, "unterminated string");
			tok->t = T_ERROR;
			mp_buf_free(&b);
			return;
		}
		char c = *lx->p;
		if (c == '"') {
			lx->p++;
			break;
		}
		if (c == '\\') {
			char n = lx->p + 1 < lx->end ? lx->p[1] : '\0';
			if (n != '"' && n != '\\') {
				lex_error(lx, lx->p, "unknown escape in string (only \\\" and \\\\)");
				tok->t = T_ERROR;
			}
			mp_buf_addc(&b, n);
			lx->p += n == '\0' || n == '\n' ? 1 : 2;
			continue;
		}
		mp_buf_addc(&b, c);
		lx->p++;
	}
	if (tok->t == T_ERROR) {
		mp_buf_free(&b);
		return;
	}
	if (b.len > TOKEN_MAX) {
		lex_error(lx, start, "string longer than 65536 bytes");
		tok->t = T_ERROR;
		mp_buf_free(&b);
		return;
	}
	tok->t = T_STRING;
	tok->len = b.len;
	tok->s = mp_arena_strndup(lx->arena, b.p ? b.p : "", b.len);
	if (b.oom || tok->s == NULL) {
		lex_error(lx, start, "out of memory");
		tok->t = T_ERROR;
	}
	mp_buf_free(&b);
}

static void lex_regex(struct mp_lexer *lx, struct mp_token *tok)
{
	const char *start = lx->p++;
	const char *pat = lx->p;

	while (lx->p < lx->end && *lx->p != '/') {
		if (*lx->p == '\n' || *lx->p == '\0') {
			lex_error(lx, start, "unterminated regex (missing closing '/')");
			tok->t = T_ERROR;
			return;
		}
		if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n')
			lx->p++;
		lx->p++;
	}
	if (lx->p >= lx->end) {
		lex_error(lx, start, "unterminated regex (missing closing '/')");
		tok->t = T_ERROR;
		return;
	}
	size_t len = (size_t)(lx->p - pat);
	lx->p++;
	unsigned flags = 0;
	tok->t = T_REGEX;
	while (lx->p < lx->end && is_ident(*lx->p)) {
		switch (*lx->p) {
		case 'i': flags |= MP_RE_I; break;
		case 'm': flags |= MP_RE_M; break;
		case 's': flags |= MP_RE_S; break;
		case 'x': flags |= MP_RE_X; break;
		default: {
			char msg[64];
			snprintf(msg, sizeof(msg), "unknown regex flag '%c' (use i, m, s, x)",
				 *lx->p);
			lex_error(lx, lx->p, msg);
			tok->t = T_ERROR;
		}
		}
		lx->p++;
	}
	if (len > TOKEN_MAX) {
		lex_error(lx, start, "regex longer than 65536 bytes");
		tok->t = T_ERROR;
		return;
	}
	/* "\/" stands for '/': PCRE2 reads it as a literal '/' too */
	tok->s = mp_arena_strndup(lx->arena, pat, len);
	tok->len = len;
	tok->flags = flags;
	if (tok->s == NULL) {
		lex_error(lx, start, "out of memory");
		tok->t = T_ERROR;
	}
}

/* Digit-led words, IPv6 and words with a unit: numbers when they read as one. */
static void lex_word(struct mp_lexer *lx, struct mp_token *tok)
{
	const char *start = lx->p;

	if (*lx->p == '-')
		lx->p++;
	while (lx->p < lx->end && is_word(*lx->p))
		lx->p++;
	size_t len = (size_t)(lx->p - start);
	if (len > IDENT_MAX) {
		lex_error(lx, start, "word longer than 256 characters");
		tok->t = T_ERROR;
		return;
	}
	tok->s = mp_arena_strndup(lx->arena, start, len);
	tok->len = len;
	if (tok->s == NULL) {
		lex_error(lx, start, "out of memory");
		tok->t = T_ERROR;
		return;
	}
	/* -?[0-9]+(\.[0-9]+)? */
	const char *q = tok->s;
	if (*q == '-')
		q++;
	bool num = is_digit(*q);
	while (is_digit(*q))
		q++;
	if (*q == '.') {
		q++;
		num = num && is_digit(*q);
		while (is_digit(*q))
			q++;
	}
	if (num && *q == '\0') {
		tok->t = T_NUMBER;
		tok->num = strtod(tok->s, NULL);
	} else {
		tok->t = T_WORD;
	}
}

void mp_lex_next(struct mp_lexer *lx, struct mp_token *tok)
{
	bool want_regex = lx->last == T_MATCH || lx->last == T_NMATCH;

	memset(tok, 0, sizeof(*tok));
	skip_space(lx);
	tok->line = lx->line;
	tok->col = col_of(lx, lx->p);
	if (lx->stop || lx->p >= lx->end) {
		tok->t = T_EOF;
		lx->last = T_EOF;
		return;
	}
	const char *p = lx->p;
	char c = *p;
	char n = p + 1 < lx->end ? p[1] : '\0';
	if (c == '\0') {
		lex_error(lx, p, "NUL byte in rule file");
		lx->stop = true;
		tok->t = T_EOF;
		lx->last = T_EOF;
		return;
	}
	if (want_regex && c == '/') {
		lex_regex(lx, tok);
	} else if (c == '"') {
		lex_string(lx, tok);
	} else if (is_digit(c) || (c == '-' && is_digit(n)) || (c == ':' && n == ':')) {
		lex_word(lx, tok);
	} else if (is_ident_start(c)) {
		while (lx->p < lx->end && is_ident(*lx->p))
			lx->p++;
		if ((lx->p < lx->end && *lx->p == ':') ||
		    (lx->p + 1 < lx->end && *lx->p == '/' && is_digit(lx->p[1]))) {
			/* an IPv6 address that starts with a hex letter, or a
			 * field with a prefix length (rate's client.ip/128) */
			lx->p = p;
			lex_word(lx, tok);
		} else if ((size_t)(lx->p - p) > IDENT_MAX) {
			lex_error(lx, p, "word longer than 256 characters");
			tok->t = T_ERROR;
		} else {
			tok->t = T_IDENT;
			tok->len = (size_t)(lx->p - p);
			tok->s = mp_arena_strndup(lx->arena, p, tok->len);
			if (tok->s == NULL) {
				lex_error(lx, p, "out of memory");
				tok->t = T_ERROR;
			}
		}
	} else {
		lx->p += 2;
		if (c == '=' && n == '=')
			tok->t = T_EQ;
		else if (c == '!' && n == '=')
			tok->t = T_NE;
		else if (c == '!' && n == '~')
			tok->t = T_NMATCH;
		else if (c == '<' && n == '=')
			tok->t = T_LE;
		else if (c == '>' && n == '=')
			tok->t = T_GE;
		else {
			lx->p--;
			switch (c) {
			case '{': tok->t = T_LBRACE; break;
			case '}': tok->t = T_RBRACE; break;
			case '(': tok->t = T_LPAREN; break;
			case ')': tok->t = T_RPAREN; break;
			case ',': tok->t = T_COMMA; break;
			case '~': tok->t = T_MATCH; break;
			case '<': tok->t = T_LT; break;
			case '>': tok->t = T_GT; break;
			case '=':
				lex_error(lx, p, "'=' is not an operator; use '=='");
				tok->t = T_ERROR;
				break;
			case '&':
			case '|': {
				/* C's operators: the rule language's words instead */
				char msg[48];
				bool twice = n == c;
				snprintf(msg, sizeof(msg), "'%.*s' is not an operator; use '%s'",
					 twice ? 2 : 1, p, c == '&' ? "and" : "or");
				lex_error(lx, p, msg);
				if (twice)
					lx->p++;
				tok->t = T_ERROR;
				break;
			}
			case '!':
				lex_error(lx, p, "'!' is not an operator; use 'not' (or '!=', '!~')");
				tok->t = T_ERROR;
				break;
			default: {
				char msg[64];
				if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
					snprintf(msg, sizeof(msg), "unexpected character '%c'", c);
				else
					snprintf(msg, sizeof(msg), "unexpected byte 0x%02x",
						 (unsigned char)c);
				lex_error(lx, p, msg);
				tok->t = T_ERROR;
				/* skip a whole run of junk so it yields one error */
				while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\0' &&
				       *lx->p != ' ' && *lx->p != '"' && *lx->p != '{' &&
				       *lx->p != '}' && !is_ident(*lx->p) &&
				       ((unsigned char)*lx->p < 0x20 || (unsigned char)*lx->p >= 0x7f ||
					strchr("~!=<>(),#", *lx->p) == NULL))
					lx->p++;
			}
			}
		}
	}
	lx->last = tok->t;
}

const char *mp_tok_describe(const struct mp_token *tok, char *buf, size_t len)
{
	switch (tok->t) {
	case T_EOF: return "end of file";
	case T_ERROR: return "error";
	case T_STRING: snprintf(buf, len, "string \"%.40s\"", tok->s); return buf;
	case T_REGEX: return "regex";
	case T_IDENT:
	case T_NUMBER:
	case T_WORD: snprintf(buf, len, "'%.60s'", tok->s); return buf;
	case T_LBRACE: return "'{'";
	case T_RBRACE: return "'}'";
	case T_LPAREN: return "'('";
	case T_RPAREN: return "')'";
	case T_COMMA: return "','";
	case T_EQ: return "'=='";
	case T_NE: return "'!='";
	case T_MATCH: return "'~'";
	case T_NMATCH: return "'!~'";
	case T_LT: return "'<'";
	case T_LE: return "'<='";
	case T_GT: return "'>'";
	case T_GE: return "'>='";
	}
	return "token";
}
