/*
 * types - the few values every layer shares: the SMTP stages, the result of
 * an SPF or DKIM check, how a field's values meet a set, and what a check
 * says besides its result. With their names; nothing else lives here, so
 * anything may include it.
 */
#ifndef MP_TYPES_H
#define MP_TYPES_H

#include <stdbool.h>

enum mp_stage {
	MP_STAGE_CONNECT,
	MP_STAGE_HELO,
	MP_STAGE_MAIL,
	MP_STAGE_RCPT,
	MP_STAGE_HEADER,
	MP_STAGE_EOM,
	MP_STAGE_COUNT
};

const char *mp_stage_name(enum mp_stage s);

/* SPF/DKIM result values, also the bare words of the rule language. */
enum mp_auth_result {
	MP_AR_NONE,
	MP_AR_PASS,
	MP_AR_FAIL,
	MP_AR_SOFTFAIL,
	MP_AR_NEUTRAL,
	MP_AR_TEMPERROR,
	MP_AR_PERMERROR,
	MP_AR_POLICY,
	MP_AR_COUNT
};

const char *mp_auth_result_name(enum mp_auth_result r);
/* -1 when s is not a result word. */
int mp_auth_result_parse(const char *s);

/* How a field's values meet a list (SPEC §4.3). */
enum mp_fmatch { MP_M_NONE, MP_M_IP, MP_M_ADDRESS, MP_M_DOMAIN, MP_M_STRING };

/* What an SPF or DKIM check says besides its result. */
struct mp_check_note {
	const char *limit;  /* a safety limit it reached (SPEC §8), static, or NULL */
	bool failed;        /* an internal error (no memory): the result means nothing */
};

#endif
