/*
 * open - a `state =` value (SPEC §12; parsed by conf/state_spec.c, so the
 * configuration says what is wrong with one without opening anything) to
 * a store.
 */
#include "state/store.h"

#include "conf/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mp_state *mp_state_open(const char *spec, const struct mp_state_opts *o, char *err,
			       size_t errlen)
{
	struct mp_state_spec sp;
	const char *why = mp_state_spec_parse(spec, &sp);
	struct mp_state *st = NULL;

	if (why != NULL) {
		snprintf(err, errlen, "state = %s: %s", spec, why);
		return NULL;
	}
	switch (sp.kind) {
	case MP_STATE_MEMORY:
		st = mp_state_memory_new(o->max_entries);
		if (st == NULL)
			snprintf(err, errlen, "out of memory");
		break;
	case MP_STATE_LMDB:
		st = mp_state_lmdb_open(sp.where, o->max_entries, err, errlen);
		break;
	case MP_STATE_REDIS:
		st = mp_state_redis_new(sp.where, sp.port, NULL, sp.db, o, err, errlen);
		break;
	case MP_STATE_UNIX:
		st = mp_state_redis_new(NULL, 0, sp.where, sp.db, o, err, errlen);
		break;
	}
	return st;
}
