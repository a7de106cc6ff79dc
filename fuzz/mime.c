/*
 * Fuzz target: the MIME walk (mail/mime.c over GMime, with the content
 * decoding, HTML text, libmagic and libarchive behind it) on any message.
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
	const struct mp_mime_limits lim = { 8, 64, 32, 4096, "/tmp", 1 << 16, true, true };
	struct mp_mime m;

	mp_mime_parse(-1, s, size, &lim, &m);
	if (m.n > lim.max_parts || m.depth > lim.max_depth)
		abort();
	for (size_t i = 0; i < m.n; i++) {
		if (m.parts[i].type == NULL || m.parts[i].depth == 0 || m.parts[i].depth > m.depth)
			abort();
		if (m.parts[i].start > m.parts[i].end && m.parts[i].end >= 0)
			abort();
		for (const char *c = m.parts[i].type; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
	}
	if (m.text.len > lim.text_max)
		abort();
	mp_mime_free(&m);
	return 0;
}
