/*
 * compile - what the checked program needs built: per file, its regexes
 * and lists (compile_file.c); per rule set, the prefilter, the value index
 * and the guards (compile.c). Internal to src/rules.
 */
#ifndef MP_RULES_COMPILE_H
#define MP_RULES_COMPILE_H

#include "rules/loader.h"

struct mp_syn_file;

/* Compiles the regexes and builds the lists of a checked file. */
void mp_compile_file(struct mp_loader *ld, struct mp_syn_file *sf);
/* Header keys, the prefilter, the value index (index: false to
 * build neither) and every rule's guard. */
void mp_compile_index(struct mp_loader *ld, struct vec *order, bool index);
/* The envelope fields the prefilter has a key for, after the header keys. */
size_t mp_compile_n_env_fields(void);
enum mp_field_id mp_compile_env_field(size_t i);

#endif
