/*
 * Fuzz target: HTML to text (mail/html.c), the input fed whole and split
 * at every position given by its first byte: the same text either way
 * (the state carries across chunks), never longer than 3 bytes of output
 * per input byte, nothing leaks.
 */
#include "mail/html.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_html h;
	struct mp_buf a, b;
	const char *s = (const char *)data;
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;

	mp_buf_init(&a);
	mp_buf_init(&b);
	mp_html_init(&h);
	mp_html_feed(&h, s, size, &a);
	mp_html_end(&h, &a);
	mp_html_feed(&h, s, cut, &b);
	mp_html_feed(&h, s + cut, size - cut, &b);
	mp_html_end(&h, &b);
	if (a.len != b.len || (a.len > 0 && memcmp(a.p, b.p, a.len) != 0))
		abort();
	if (a.len > 3 * size + 8)
		abort();
	mp_buf_free(&a);
	mp_buf_free(&b);
	return 0;
}
