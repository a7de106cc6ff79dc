/*
 * compile - the prefilter, the value index and the guards (compile.c);
 * internal to src/rules.
 */
#ifndef MP_RULES_COMPILE_H
#define MP_RULES_COMPILE_H

#include "rules/loader.h"

/* Header keys, the prefilter, the value index (index: false to
 * build neither) and every rule's guard. */
void mp_compile_index(struct mp_loader *ld, struct vec *order, bool index);
/* The envelope fields the prefilter has a key for, after the header keys. */
size_t mp_compile_n_env_fields(void);
enum mp_field_id mp_compile_env_field(size_t i);

#endif
