/*
 * addr-dump - prints what the From parser (mail/address.c) finds in each
 * of a list of values, for tests/from-differential.py: values come on
 * stdin separated by NUL bytes; for each, one line: the addresses found,
 * each followed by "!" when malformed, separated by tabs.
 */
#include "mail/address.h"
#include "util/arena.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	struct mp_buf in;
	char chunk[65536];
	size_t n;

	mp_buf_init(&in);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		mp_buf_add(&in, chunk, n);
	if (in.oom)
		return 2;
	const char *p = in.p ? in.p : "", *end = p + in.len;
	while (p < end) {
		size_t len = strlen(p);
		struct mp_arena a;
		struct mp_mailbox mb[64];
		mp_arena_init(&a);
		int k = mp_addr_parse_list(p, len, &a, mb, 64);
		for (int i = 0; i < k && i < 64; i++)
			printf("%s%s%s", i ? "\t" : "", mb[i].addr,
			       (mb[i].flags & MP_MB_MALFORMED) ? "!" : "");
		putchar('\n');
		mp_arena_release(&a);
		p += len + 1;
	}
	mp_buf_free(&in);
	return 0;
}
