/*
 * link - files and includes into policies (link.c); internal to src/rules.
 */
#ifndef MP_RULES_LINK_H
#define MP_RULES_LINK_H

#include "rules/loader.h"

/* Reads and parses a file once (NULL, errno
 * set, when it cannot be read); builds a policy from the global rules
 * (base, may be NULL) and a top-level file. order gets every file parsed. */
struct mp_rfile *mp_load_file(struct mp_loader *ld, struct vec *order, const char *path);
void mp_link_policy(struct mp_loader *ld, struct vec *order, struct mp_policy *pol,
		    const struct mp_policy *base, struct mp_rfile *rf);

#endif
