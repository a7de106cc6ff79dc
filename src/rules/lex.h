/*
 * lex - tokens of the rule language, each with its FILE:LINE:COL.
 *
 * The lexer reads a whole file held in memory. String and regex tokens are
 * unescaped into the caller's arena, so tokens stay valid as long as the
 * rule set that is being built. A '/' right after `~` or `!~` starts a
 * regex. A lexical error goes to the error record and yields T_ERROR, which
 * the parser treats as already reported; the next call carries on after it.
 * A NUL byte ends the file (after an error).
 */
#ifndef MP_LEX_H
#define MP_LEX_H

#include <stdbool.h>
#include <stddef.h>

struct mp_arena;
struct mp_diags;

enum mp_tok {
	T_EOF,
	T_ERROR,
	T_IDENT,   /* words: keywords, fields, list names, bare domains */
	T_STRING,  /* "..." */
	T_NUMBER,  /* 12, -3, 0.5 */
	T_WORD,    /* other digit-led or IPv6 words: 5.7.1, 10.0.0.0/8, ::1, 1M */
	T_REGEX,   /* /.../flags */
	T_LBRACE,
	T_RBRACE,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_EQ,
	T_NE,
	T_MATCH,
	T_NMATCH,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
};

struct mp_token {
	enum mp_tok t;
	int line, col;
	const char *s;   /* NUL-terminated text (unescaped for strings, pattern for regexes) */
	size_t len;
	double num;
	unsigned flags;  /* regex flags */
};

struct mp_lexer {
	const char *file;
	const char *p, *end, *line_start;
	int line;
	enum mp_tok last;
	struct mp_arena *arena;
	struct mp_diags *diags;
	bool stop;       /* a NUL byte: nothing after it is read */
};

void mp_lex_init(struct mp_lexer *lx, const char *file, const char *text, size_t len,
		 struct mp_arena *arena, struct mp_diags *diags);
void mp_lex_next(struct mp_lexer *lx, struct mp_token *tok);
const char *mp_tok_describe(const struct mp_token *tok, char *buf, size_t len);

#endif
