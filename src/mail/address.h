/*
 * address - RFC 5321 envelope addresses and RFC 5322 address lists.
 *
 * Results are written into caller-provided buffers or an arena; nothing here
 * keeps state. Addresses come out as "local@domain" with angle brackets,
 * source routes, comments and display names removed; the null sender is "".
 */
#ifndef MP_ADDRESS_H
#define MP_ADDRESS_H

#include <stddef.h>

struct mp_arena;

/* Longest address kept whole (SPEC §8: a longer one is a limit). */
#define MP_ADDR_MAX 1024

/* The address in an envelope argument ("<a@b>", "a@b", "<>", "<@r:a@b>",
 * "<a@b> SIZE=1"): a span of arg, never cut; *len_r gets its length. */
const char *mp_addr_envelope(const char *arg, size_t *len_r);
/* Offset of the domain (after the last '@' outside quotes) or len when
 * there is none. */
size_t mp_addr_domain_offset(const char *addr, size_t len);

enum { MP_MB_MALFORMED = 1, MP_MB_TOO_LONG = 2 };

struct mp_mailbox {
	const char *addr;   /* arena copy */
	size_t len;
	size_t domain;      /* offset of the domain; len when none */
	unsigned flags;     /* MP_MB_*: a malformed mailbox is never aligned */
};

/* Parses a raw (unfolded or not, never RFC 2047-decoded) From:-style
 * address list: display names, comments, quoted local parts, groups,
 * angle addresses. Appends at most max mailboxes to out; returns how many
 * were found (may exceed what was stored), -1 on no memory. */
int mp_addr_parse_list(const char *value, size_t len, struct mp_arena *arena,
		       struct mp_mailbox *out, size_t max);

#endif
