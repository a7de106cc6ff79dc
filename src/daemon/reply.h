/*
 * reply - a reply text as libmilter must be given it.
 */
#ifndef MP_REPLY_H
#define MP_REPLY_H

#include <stddef.h>

/* Doubles every '%' (smfi_setreply treats the text as a format) into out,
 * cut short rather than overflowing; outlen 2 * MP_TEXT_MAX + 1 holds any
 * engine reply. */
void mp_milter_reply_text(const char *in, char *out, size_t outlen);

#endif
