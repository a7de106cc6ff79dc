/*
 * Fuzz target: envelope addresses and From: address lists (SPEC §8:
 * addresses from the raw value). The input is a header value (and an
 * envelope argument). Checks what every caller relies on: every stored
 * mailbox has its domain offset within it, a copy no longer than the
 * stated length and MP_ADDR_MAX, and a cut one is marked malformed.
 */
#include "mail/address.h"
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_arena a;
	struct mp_mailbox mb[8];
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	mp_arena_init(&a);
	int n = mp_addr_parse_list(s, size, &a, mb, 8);
	if (n < 0)
		abort();
	for (int i = 0; i < n && i < 8; i++) {
		if (mb[i].domain > mb[i].len || strlen(mb[i].addr) > mb[i].len)
			abort();
		/* a cut address is marked (an address of MP_ADDR_MAX - 1 bytes
		 * may be whole) */
		if (mb[i].len >= MP_ADDR_MAX)
			abort();
		if ((mb[i].flags & MP_MB_TOO_LONG) && !(mb[i].flags & MP_MB_MALFORMED))
			abort();
	}
	/* the same bytes as an envelope argument (up to the first NUL) */
	size_t len;
	const char *e = mp_addr_envelope(s, &len);
	if (e < s || e + len > s + strlen(s))
		abort();
	mp_arena_release(&a);
	free(s);
	return 0;
}
