/*
 * pipeline - one rule file through parse, check and compile (pipeline.c);
 * internal to src/rules.
 */
#ifndef MP_RULES_PIPELINE_H
#define MP_RULES_PIPELINE_H

#include "rules/loader.h"

/* Reads a file once: parsed, checked, its regexes and lists built; order
 * gets it. rel is read from the rules directory's descriptor, path is how
 * it is shown (the directory joined with rel). The same file again: the
 * first result. NULL (errno set) when it cannot be read. */
struct mp_rfile *mp_load_file(struct mp_loader *ld, struct vec *order, const char *rel,
			      const char *path);

#endif
