/*
 * types - the names of the shared values; see types.h.
 */
#include "types/types.h"

#include <string.h>

const char *mp_stage_name(enum mp_stage s)
{
	static const char *names[] = { "connect", "helo", "mail", "rcpt", "header", "eom" };

	return (unsigned)s < MP_STAGE_COUNT ? names[s] : "?";
}

static const char *results[MP_AR_COUNT] = {
	"none", "pass", "fail", "softfail", "neutral", "temperror", "permerror", "policy",
};

const char *mp_auth_result_name(enum mp_auth_result r)
{
	return (unsigned)r < MP_AR_COUNT ? results[r] : "?";
}

int mp_auth_result_parse(const char *s)
{
	for (int i = 0; i < MP_AR_COUNT; i++) {
		if (strcmp(s, results[i]) == 0)
			return i;
	}
	return -1;
}
