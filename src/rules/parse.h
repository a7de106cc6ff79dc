/*
 * parse - one rule file into its items (parse.c); internal to src/rules.
 */
#ifndef MP_RULES_PARSE_H
#define MP_RULES_PARSE_H

#include "rules/loader.h"

/* Parses one file (already read) into an mp_rfile. Errors go to ld->diags;
 * the result is returned even when some of it was bad. NULL: no memory. */
struct mp_rfile *mp_parse_file(struct mp_loader *ld, const char *path,
			       const char *text, size_t len);

#endif
