/*
 * verdict - small questions about a verdict that every caller of the engine
 * asks (the daemon, `test`, the benchmark, the tests): does it refuse, does
 * it end the transaction, its action name, its reply line.
 */
#include "engine/engine.h"

#include <stdio.h>

bool mp_verdict_refuses(const struct mp_verdict *v)
{
	return v->outcome == MP_O_REJECT || v->outcome == MP_O_TEMPFAIL;
}

bool mp_verdict_ends(const struct mp_verdict *v)
{
	return mp_verdict_refuses(v) || v->outcome == MP_O_DISCARD;
}

const char *mp_verdict_action(const struct mp_verdict *v)
{
	return v->outcome == MP_O_NONE ? "accept" : mp_outcome_name(v->outcome);
}

void mp_reply_format(const struct mp_reply *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s", r->code, r->xcode, r->text);
}
