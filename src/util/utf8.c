/*
 * utf8 - see utf8.h.
 */
#include "util/utf8.h"

#include "util/buf.h"

#include <stdbool.h>

size_t mp_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	unsigned cp = c & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void mp_utf8_clean(struct mp_buf *b, const char *s, size_t len, int controls)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0; /* start of the bytes that go out as they are */

	for (size_t i = 0; i < len;) {
		/* plain ASCII is the common case: no decoding */
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			i++;
			continue;
		}
		size_t n = mp_utf8_len(u + i, len - i);
		bool ctl = n == 1 && (u[i] < 0x20 || u[i] == 0x7f) && u[i] != '\n';
		if (n != 0 && !(controls && ctl)) {
			i += n;
			continue;
		}
		mp_buf_add(b, s + run, i - run);
		if (n == 0)
			mp_buf_add(b, "\xef\xbf\xbd", 3);
		else
			mp_buf_addc(b, '?');
		i++;
		run = i;
	}
	mp_buf_add(b, s + run, len - run);
}
