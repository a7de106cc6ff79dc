/*
 * link - files and includes into policies (link.c); internal to src/rules.
 */
#ifndef MP_RULES_LINK_H
#define MP_RULES_LINK_H

#include "rules/loader.h"

/* Builds a policy from the global rules (base, may be NULL) and a
 * top-level file, includes read on the way (order gets each file read). */
void mp_link_policy(struct mp_loader *ld, struct vec *order, struct mp_policy *pol,
		    const struct mp_policy *base, struct mp_rfile *rf);

#endif
