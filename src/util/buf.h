/*
 * buf - growable byte buffer, always NUL-terminated.
 *
 * A failed allocation sets `oom` and makes every later append a no-op, so a
 * caller can build a whole string and check once at the end.
 */
#ifndef MP_BUF_H
#define MP_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct mp_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void mp_buf_init(struct mp_buf *b);
void mp_buf_free(struct mp_buf *b);
void mp_buf_add(struct mp_buf *b, const void *data, size_t n);
void mp_buf_adds(struct mp_buf *b, const char *s);
void mp_buf_addc_slow(struct mp_buf *b, char c);
/* Appends one byte; inline, as the per-header paths append byte by byte. */
static inline void mp_buf_addc(struct mp_buf *b, char c)
{
	if (!b->oom && b->len + 2 <= b->cap) {
		b->p[b->len++] = c;
		b->p[b->len] = '\0';
	} else {
		mp_buf_addc_slow(b, c);
	}
}
/* Empties b and keeps its memory for the next string. */
static inline void mp_buf_reset(struct mp_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}
void mp_buf_printf(struct mp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mp_buf_vprintf(struct mp_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hands the string to the caller (never NULL unless oom) and resets b. */
char *mp_buf_steal(struct mp_buf *b);

#endif
