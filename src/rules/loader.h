/*
 * loader - state shared by the stages of loading one rule set (internal to
 * src/rules): parse.c -> check.c -> compile_file.c per file (pipeline.c),
 * then link.c, the list checks and compile.c over the whole directory.
 *
 * Checked files, lists and regexes belong to the rule set under
 * construction and die with it when loading fails; syntax trees live in
 * the scratch arena, released when loading ends.
 */
#ifndef MP_LOADER_H
#define MP_LOADER_H

#include "rules/program.h"
#include "rules/ruleset.h"
#include "util/arena.h"
#include "util/strmap.h"

#include <stdatomic.h>
#include <stddef.h>

struct mp_diags;
struct mp_lindex;
struct mp_list;
struct mp_prefilter;
struct mp_regex;
struct mp_stamps;

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
	struct mp_expr **list_refs; /* tests naming a list, resolved once all are read */
	size_t n_list_refs;
	bool linking;          /* on the include stack right now */
	unsigned linked_in;    /* the last policy (struct linkstate gen) it was linked into */
};

struct mp_list_decl {
	struct mp_list *list;  /* NULL until built (compile_file.c), or if it failed */
	const char *file;
	int line, col;
};

struct mp_loader {
	struct mp_ruleset *rs;
	struct mp_arena *arena;     /* the rule set's */
	struct mp_arena scratch;    /* syntax trees */
	struct mp_diags *diags;
	const char *dir;            /* rules_dir, as paths are shown */
	int dirfd;                  /* rules_dir, opened once: every file is read
				     * relative to it, so a load sees one
				     * directory however a link to it moves */
	struct mp_strmap files;     /* display path -> struct mp_rfile */
	struct mp_strmap lists;     /* name -> struct mp_list_decl */
	unsigned link_gen;          /* policies linked so far */
};


/* A file the daemon watches for changes (loader.c). */
void mp_loader_stamp(struct mp_loader *ld, const char *path);

/* ---- the rule set under construction (internal to src/rules) ---------- */

/* A growable array of pointers. */
struct vec {
	void **v;
	size_t n, cap;
};

struct mp_ruleset {
	atomic_int refs;
	void *ext;                  /* the caller's (mp_ruleset_set_ext), freed with the set */
	void (*ext_free)(void *ext);
	struct mp_arena arena;
	struct mp_settings set;
	char *dir;
	struct mp_policy global;
	struct mp_policy **pols;
	size_t n_pols;
	struct mp_policy *deflt;
	struct mp_strmap domains;
	struct vec regexes, lists;
	size_t n_named_lists, n_rules;
	struct mp_stamps *stamps;
	char **top;          /* top-level file names, sorted */
	size_t n_top;
	struct mp_strmap hkeys;  /* lowercased header name -> id + 1 */
	struct mp_strmap used;   /* lowercased header names a transaction indexes: those
				  * the rules test or remove, and those results read */
	size_t n_hkeys;
	struct mp_prefilter *pf;
	struct mp_lindex *lindex[MP_F_COUNT]; /* per envelope field, or NULL */
	size_t n_vids;
	struct mp_strmap rates;  /* canonical name -> struct mp_rate (check.c) */
	size_t n_rates;
	bool decides_early;      /* replies.c */
	bool refuses_at_data;
};

int mp_vec_push(struct vec *v, void *p);

/* replies.c: decides_early and refuses_at_data, once the set is linked. */
void mp_replies_analyse(struct mp_ruleset *rs);


#endif
