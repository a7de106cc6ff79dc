/*
 * prefilter_helper - compiling the Vectorscan databases in a helper
 * process (prefilter_helper.c), and the pieces of prefilter.c it needs.
 * Internal to src/match and main.c.
 */
#ifndef MP_PREFILTER_HELPER_H
#define MP_PREFILTER_HELPER_H

#include "match/prefilter.h"

#include <hs/hs.h>
#include <stdbool.h>
#include <stddef.h>

/* The argument that makes the program the helper (main.c). */
#define MP_PF_HELPER_ARG "__prefilter-compile"

/* Compile in a helper: the program exe run with MP_PF_HELPER_ARG. NULL
 * (the default): in this process. Set before the first load. */
void mp_prefilter_set_helper(const char *exe);
/* With a helper set: builds through it; NULL with *failed when the helper
 * could not (then the caller compiles here), NULL without it when no
 * pattern was taken. Without one: NULL, *failed set. */
struct mp_prefilter *mp_pf_helper_build(struct mp_pf_pattern *pats, size_t n, size_t n_keys,
					bool *failed);
/* Builds the helper has made (tests: that a build did not fall back). */
unsigned long mp_prefilter_helper_builds(void);
/* The helper's side: patterns from fd in, databases to fd out. Exit code. */
int mp_prefilter_helper_main(int in, int out);

/* prefilter.c: the build in this process; a prefilter from databases
 * (per key, NULL: none; dbs is taken, freed on failure); its parts. */
struct mp_prefilter *mp_prefilter_build_here(struct mp_pf_pattern *pats, size_t n, size_t n_keys);
struct mp_prefilter *mp_prefilter_assemble(hs_database_t **dbs, size_t n_keys, size_t n_ids);
hs_database_t *mp_prefilter_db(const struct mp_prefilter *pf, size_t key);

#endif
