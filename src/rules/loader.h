/*
 * loader - state shared by the parser and the rule-set builder while one
 * rule set is being loaded (internal to src/rules).
 *
 * The loader owns nothing itself: parsed files, lists and regexes belong to
 * the rule set under construction and die with it when loading fails.
 */
#ifndef MP_LOADER_H
#define MP_LOADER_H

#include "rules/program.h"
#include "util/strmap.h"

#include <stddef.h>

struct mp_arena;
struct mp_diags;
struct mp_list;
struct mp_regex;
struct mp_ruleset;

enum mp_item_kind { MP_ITEM_RULE, MP_ITEM_INCLUDE, MP_ITEM_THRESHOLD };

struct mp_item {
	enum mp_item_kind kind;
	struct mp_rule *rule;
	struct mp_threshold *th;
	const char *include;   /* path as written */
	int line, col;
};

/* One parsed rule file. */
struct mp_rfile {
	const char *path;      /* as shown in diagnostics */
	struct mp_item *items;
	size_t n_items;
	struct mp_expr **list_refs; /* tests naming a list, resolved after parsing */
	size_t n_list_refs;
	bool linking;          /* on the include stack right now */
	unsigned linked_in;    /* the last policy (struct linkstate gen) it was linked into */
};

struct mp_list_decl {
	struct mp_list *list;
	const char *file;
	int line, col;
};

struct mp_loader {
	struct mp_ruleset *rs;
	struct mp_arena *arena;
	struct mp_diags *diags;
	const char *dir;            /* rules_dir */
	struct mp_strmap files;     /* display path -> struct mp_rfile */
	struct mp_strmap lists;     /* name -> struct mp_list_decl */
	unsigned link_gen;          /* policies linked so far */
};

/* Parses one file (already read) into an mp_rfile. Errors go to ld->diags;
 * the result is returned even when some of it was bad. NULL: no memory. */
struct mp_rfile *mp_parse_file(struct mp_loader *ld, const char *path,
			       const char *text, size_t len);

/* Called by the parser; implemented in ruleset.c. */
int mp_loader_add_list(struct mp_loader *ld, struct mp_list *l, const char *file,
		       int line, int col);
int mp_loader_keep_regex(struct mp_loader *ld, struct mp_regex *re);
int mp_loader_keep_list(struct mp_loader *ld, struct mp_list *l);
void mp_loader_stamp(struct mp_loader *ld, const char *path);

#endif
