/*
 * sniff - the media type of content by its bytes (attachment.detected,
 * SPEC §11), through libmagic. One magic handle per thread, loaded on
 * first use and closed when the thread ends (libmagic handles are not
 * thread-safe). Only the first MP_SNIFF_BYTES of a part are looked at.
 */
#ifndef MP_SNIFF_H
#define MP_SNIFF_H

#include <stddef.h>

#define MP_SNIFF_BYTES (16 * 1024)

/* The media type of p[0..n) ("application/x-dosexec"), lower case, into
 * out; "application/octet-stream" when libmagic cannot tell; -1 when
 * libmagic could not be loaded (out is then "application/octet-stream"). */
int mp_sniff(const void *p, size_t n, char *out, size_t outlen);

#endif
