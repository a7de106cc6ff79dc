/*
 * header - header field values as rules see them: unfolded, with RFC 2047
 * encoded words decoded to UTF-8.
 */
#ifndef MP_HEADER_H
#define MP_HEADER_H

#include <stddef.h>

struct mp_arena;

/* Unfolds raw (folding as LF or CRLF) and decodes encoded words. When
 * nothing needs changing *out_r is raw itself; otherwise an arena copy.
 * Returns 0, or -1 on no memory. Undecodable words are left as written. */
int mp_header_value(const char *raw, size_t len, struct mp_arena *arena,
		    const char **out_r, size_t *out_len_r);

#endif
