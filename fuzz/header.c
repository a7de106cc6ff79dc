/*
 * Fuzz target: header values as rules see them: unfolding and RFC 2047
 * decoding (mail/header.c). The input is a raw value. The decoded value
 * must hold no NUL within its length and be NUL-terminated.
 */
#include "mail/header.h"
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_arena a;
	const char *out;
	size_t len;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	size_t raw_len = strlen(s); /* values reach the engine as C strings */
	mp_arena_init(&a);
	if (mp_header_value(s, raw_len, &a, &out, &len) < 0)
		abort();
	if (strlen(out) != len)
		abort();
	mp_arena_release(&a);
	free(s);
	return 0;
}
