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
void mp_buf_addc(struct mp_buf *b, char c);
void mp_buf_printf(struct mp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mp_buf_vprintf(struct mp_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hands the string to the caller (never NULL unless oom) and resets b. */
char *mp_buf_steal(struct mp_buf *b);

#endif
