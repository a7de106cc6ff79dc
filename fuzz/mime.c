/*
 * Fuzz target: the MIME walk (mail/mime.c over GMime) on any message -
 * the input up to its first blank line is the header, the rest the body.
 * Checks what the fields will rely on: the walk ends, stays within its
 * limits (a limit named when reached), every entity has a lower-case
 * type and a depth within the deepest level, and nothing leaks (ASan).
 */
#include "mail/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const struct mp_mime_limits lim = { 8, 64 };
	struct mp_mime m;
	size_t hl = size;

	for (size_t i = 0; i + 1 < size; i++) {
		if (s[i] == '\n' && s[i + 1] == '\n') {
			hl = i + 2;
			break;
		}
	}
	mp_mime_parse(s, hl, -1, s + hl, size - hl, &lim, &m);
	if (m.n > lim.max_parts || m.depth > lim.max_depth)
		abort();
	for (size_t i = 0; i < m.n; i++) {
		if (m.parts[i].type == NULL || m.parts[i].depth == 0 || m.parts[i].depth > m.depth)
			abort();
		for (const char *c = m.parts[i].type; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
	}
	mp_mime_free(&m);
	return 0;
}
