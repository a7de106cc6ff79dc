/*
 * syntax - the syntax tree of one rule file; internal to src/rules.
 *
 * parse.c builds it from tokens and knows only the grammar; check.c turns
 * it into program nodes (names, types, stages, templates); compile_file.c
 * builds what those nodes need (regexes, lists, list files). Nodes live in
 * the loader's scratch arena and die when loading ends; the token texts
 * they point at live in the rule set's arena and stay.
 */
#ifndef MP_RULES_SYNTAX_H
#define MP_RULES_SYNTAX_H

#include "rules/lex.h"
#include "rules/program.h"

#include <stdbool.h>
#include <stddef.h>

struct mp_list_decl;

/* Errors reported in one file before the rest of it is passed over. */
#define MP_FILE_MAX_ERRORS 50

/* One test: FIELD [op operand], or one of the header forms. */
struct mp_syn_test {
	int line, col;             /* of the test */
	struct mp_token field;     /* field name (T_IDENT) for a plain test */
	int form;                  /* MP_F_HEADER, MP_F_RAWHEADER, MP_F_EXISTS_HEADER,
				    * MP_F_COUNT_HEADER, or -1 for a plain field */
	struct mp_token hname;     /* "Name" of the header forms */
	bool has_op;
	enum mp_op op;
	int op_line, op_col;
	struct mp_token val;       /* operand; T_EOF for an inline list */
	struct mp_token *items;    /* { inline, list } items */
	size_t n_items;
	struct mp_token next;      /* what follows a test without an operator */
	struct mp_token *rate_args; /* rate(KEY..., WINDOW): its keys, then the window */
	size_t n_rate_args;
	struct mp_expr *e;         /* the checked test (check.c); NULL: wrong */
};

enum mp_syn_kind { MP_SYN_TEST, MP_SYN_AND, MP_SYN_OR, MP_SYN_NOT };

struct mp_syn_expr {
	enum mp_syn_kind kind;
	unsigned depth;            /* height, at most MP_EXPR_MAX_DEPTH */
	struct mp_syn_expr *a, *b;
	struct mp_syn_test *test;  /* MP_SYN_TEST */
};

/* An action as written; absent parts are T_EOF tokens. */
struct mp_syn_action {
	enum mp_act kind;
	struct mp_token kw;
	struct mp_token code, xcode; /* reject, tempfail */
	struct mp_token text;        /* reply text, reason, prefix, value, log */
	struct mp_token arg;         /* header name or address */
	struct mp_token num;         /* score */
	struct mp_token delay, expiry; /* greylist */
};

enum mp_syn_stmt_kind {
	MP_SYN_VERSION,
	MP_SYN_INCLUDE,
	MP_SYN_LIST,
	MP_SYN_RULE,
	MP_SYN_THRESHOLD,
};

/* A statement that parsed completely. */
struct mp_syn_stmt {
	enum mp_syn_stmt_kind kind;
	struct mp_token kw;
	struct mp_token name;      /* rule or list name, include path, version,
				    * threshold score */
	bool dry_run;
	struct mp_syn_expr *when;  /* NULL: none */
	struct mp_syn_action *actions;
	size_t n_actions;
	struct mp_token file;      /* list NAME file "path"; T_EOF when inline */
	struct mp_token *items;    /* list NAME { items } */
	size_t n_items;
	struct mp_list_decl *decl; /* the declared list (check.c) */
};

struct mp_syn_file {
	const char *path;          /* as shown in diagnostics */
	size_t errors0;            /* errors on record before this file */
	struct mp_syn_stmt *stmts;
	size_t n_stmts;
	/* every test read, also those of statements that broke off later,
	 * so that each is checked and compiled once */
	struct mp_syn_test **tests;
	size_t n_tests;
};

#endif
