/*
 * utf8 - validating UTF-8, and making arbitrary bytes safe to show.
 */
#ifndef MP_UTF8_H
#define MP_UTF8_H

#include <stddef.h>

struct mp_buf;

/* Length of the valid UTF-8 sequence at s (1 for ASCII), 0 when invalid
 * (overlong, surrogate, out of range or cut short by avail). */
size_t mp_utf8_len(const unsigned char *s, size_t avail);
/* Appends s to b with each invalid byte replaced by U+FFFD; with
 * controls set, control characters other than newline become '?' too. */
void mp_utf8_clean(struct mp_buf *b, const char *s, size_t len, int controls);

#endif
