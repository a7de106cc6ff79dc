/*
 * parse - one rule file into its syntax tree (parse.c); internal to
 * src/rules.
 */
#ifndef MP_RULES_PARSE_H
#define MP_RULES_PARSE_H

#include <stddef.h>

struct mp_arena;
struct mp_diags;
struct mp_syn_file;

/* Parses one file (already read). Token texts go to arena (they outlive
 * loading), syntax nodes to scratch; errors to diags. The tree holds the
 * statements that parsed completely. NULL: no memory. */
struct mp_syn_file *mp_parse_file(const char *path, const char *text, size_t len,
				  struct mp_arena *arena, struct mp_arena *scratch,
				  struct mp_diags *diags);

#endif
