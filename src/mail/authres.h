/*
 * authres - Authentication-Results and Received-SPF values (authres.c).
 */
#ifndef MP_MAIL_AUTHRES_H
#define MP_MAIL_AUTHRES_H

#include "types/types.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether an Authentication-Results value carries authserv_id as its
 * authserv-id (a field a client forged in our name). */
bool mp_authres_is_ours(const char *value, const char *authserv_id);

struct mp_authres_dkim {
	enum mp_auth_result result;
	const char *domain, *selector, *b;  /* NULL or "": left out */
};

/* What our field reports. */
struct mp_authres {
	const char *authserv_id;
	bool spf;                        /* an SPF result was computed */
	enum mp_auth_result spf_result;
	const char *mailfrom;            /* the envelope sender; NULL or "": the HELO */
	const char *helo;
	bool dkim;                       /* DKIM was checked (no signature: dkim=none) */
	const struct mp_authres_dkim *sigs;
	size_t n_sigs;
	bool dmarc;                      /* DMARC was evaluated */
	enum mp_auth_result dmarc_result;
	const char *dmarc_policy;        /* p=; NULL: no record applied, no comment */
	const char *dmarc_disposition;   /* dis= */
	const char *header_from;         /* the From domain; NULL or "": left out */
};

/* Appends our field's value to out (folded with "\n\t"); false, out left
 * alone, when nothing was computed. A failed allocation shows as out->oom. */
bool mp_authres_build(const struct mp_authres *in, struct mp_buf *out);

/* libspf2's Received-SPF value made safe: printable ASCII kept, other
 * bytes from 0x80 up as '?', controls dropped. Returns the length. */
size_t mp_received_spf_clean(const char *raw, char *out, size_t size);

#endif
