/*
 * check - the checks across the whole directory (check.c); internal to
 * src/rules.
 */
#ifndef MP_RULES_CHECK_H
#define MP_RULES_CHECK_H

#include "rules/loader.h"

/* List names resolved and checked against the fields' types. */
void mp_check_lists(struct mp_loader *ld, struct vec *order);

#endif
