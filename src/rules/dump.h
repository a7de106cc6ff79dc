/*
 * dump - the readable listing of a loaded rule set for `check --dump`.
 */
#ifndef MP_DUMP_H
#define MP_DUMP_H

#include "rules/ruleset.h"

#include <stdio.h>

void mp_ruleset_dump(const struct mp_ruleset *rs, FILE *out);

#endif
