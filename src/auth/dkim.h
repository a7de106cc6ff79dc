/*
 * dkim - DKIM verification (RFC 6376) through libopendkim, streamed:
 * header fields as they arrive, end of header, body chunks, end of message.
 * A struct mp_dkim holds the library handle, created once before any
 * thread verifies and shared by all; a struct mp_dkim_msg is one message's
 * verification and lives from mp_dkim_begin to mp_dkim_msg_free. Keys come
 * through the project's DNS module (the message holds a reference to the
 * DNS object it started with).
 */
#ifndef MP_DKIM_H
#define MP_DKIM_H

#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>

/* One verified signature, as a check reports it. */
struct mp_dkim_sig {
	enum mp_auth_result result;
	const char *domain;
	const char *selector;
	const char *b;              /* signature, for header.b */
	const char *algorithm;
	unsigned bits;
};

struct mp_dns;
struct mp_dkim;
struct mp_dkim_msg;

/* NULL when the library cannot be set up. */
struct mp_dkim *mp_dkim_new(void);
void mp_dkim_free(struct mp_dkim *k);

/* A message's verification; at most max_sigs signatures are verified, the
 * others are reported as policy. NULL on no memory. */
struct mp_dkim_msg *mp_dkim_begin(struct mp_dkim *k, struct mp_dns *dns, unsigned max_sigs);
/* value: everything after the colon as in the message, folds as LF or CRLF. */
void mp_dkim_header(struct mp_dkim_msg *m, const char *name, const char *value);
/* false when the message carries no signature: no body is needed. */
bool mp_dkim_eoh(struct mp_dkim_msg *m);
void mp_dkim_body(struct mp_dkim_msg *m, const void *p, size_t n);
/* Whether memory ran out along the way: the results mean nothing. */
bool mp_dkim_failed(const struct mp_dkim_msg *m);
/* Whether the message carried more than max_sigs DKIM-Signature fields:
 * only the first max_sigs were given to libopendkim (SPEC §8). */
bool mp_dkim_over_limit(const struct mp_dkim_msg *m);
/* The signatures with their results, in header order; valid until
 * mp_dkim_msg_free. */
size_t mp_dkim_end(struct mp_dkim_msg *m, const struct mp_dkim_sig **sigs_r);
void mp_dkim_msg_free(struct mp_dkim_msg *m);

/* dkim_keys.c: the cache of decoded public keys libopendkim's
 * verifications share. Init finds OpenSSL's decoder (mp_dkim_new calls
 * it); stats count the decodings saved and made since start. */
void mp_dkim_keys_init(void);
/* Every decoding goes to OpenSSL (the benchmark's "off"); before threads. */
void mp_dkim_keys_disable(void);
void mp_dkim_keys_stats(unsigned long *hits_r, unsigned long *misses_r);
void mp_dkim_keys_clear(void);

#endif
