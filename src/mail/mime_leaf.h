/*
 * mime_leaf - reading one leaf entity's content for mime.c (not for use
 * elsewhere): decoding its transfer encoding once, in blocks, into what
 * the fields need: the decoded size, the first bytes for libmagic, the
 * archive listing, and for body text parts the text (charset converted to
 * UTF-8, HTML stripped) up to the text budget.
 */
#ifndef MP_MIME_LEAF_H
#define MP_MIME_LEAF_H

#include "mail/mime.h"

#include <gmime/gmime.h>

/* Scratch space of one parse (the first bytes of a part). */
struct mp_mime_scratch {
	unsigned char head[64 * 1024];
	char block[64 * 1024];
};

void mp_mime_leaf(struct mp_mime *m, struct mp_mime_part *p, GMimePart *part,
		  const struct mp_mime_limits *lim, struct mp_mime_scratch *sc);

#endif
