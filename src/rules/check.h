/*
 * check - the meaning of a syntax tree, and the checks across the whole
 * directory (check.c); internal to src/rules.
 */
#ifndef MP_RULES_CHECK_H
#define MP_RULES_CHECK_H

#include "rules/loader.h"

struct mp_syn_file;

/* The program of one parsed file: its rules, thresholds and includes, the
 * tests naming a list; list names declared. Errors go to ld->diags; a
 * statement with an error is left out. NULL: no memory. */
struct mp_rfile *mp_check_file(struct mp_loader *ld, struct mp_syn_file *sf);
/* List names resolved and checked against the fields' types. */
void mp_check_lists(struct mp_loader *ld, struct vec *order);

#endif
