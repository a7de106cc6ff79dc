/*
 * probe - the lookups that decide whether a value is in a set of names or
 * networks, written once for the lists (lists.c: one list, first hit wins)
 * and the value index (lindex.c: every list at once).
 *
 * A name value is probed as SPEC §4.3 says: the whole value among exact
 * strings; for an address, its domain (after the last '@'); for a domain,
 * itself among domains and each parent ("a.b.example": "b.example",
 * "example") among ".domain" entries. An IP address is probed once per
 * prefix length the set holds, longest first, with the address masked to
 * it. The caller owns the tables and does each lookup in fn; a true from
 * fn stops the probing.
 */
#ifndef MP_PROBE_H
#define MP_PROBE_H

#include "util/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a field's values meet a set (rules/program.h has the same values). */
enum mp_probe_kind { MP_PROBE_IP = 1, MP_PROBE_ADDRESS, MP_PROBE_DOMAIN, MP_PROBE_STRING };

enum mp_probe_table {
	MP_PT_STRING,     /* exact strings (and addresses) */
	MP_PT_DOMAIN,     /* "domain" entries: that name exactly */
	MP_PT_PARENT,     /* ".domain" entries: any name below it */
};

typedef bool (*mp_probe_name_fn)(void *arg, enum mp_probe_table table, const char *key,
				 size_t len);
typedef bool (*mp_probe_ip_fn)(void *arg, int prefix, const struct mp_ip *masked);

/* Keys are at most this long (MP_LIST_ITEM_MAX). */
#define MP_PROBE_KEY_MAX 1024

/* Probes value (any case: keys reach fn lowercased, and a key longer than
 * MP_PROBE_KEY_MAX is not probed). Returns true when fn did. */
bool mp_probe_name(int kind, const char *value, size_t len, mp_probe_name_fn fn, void *arg);

/* The prefix lengths a set holds: bit p of lens4 (0..32), of lens6 (0..128). */
struct mp_probe_lens {
	uint64_t v4;
	uint64_t v6[3];
};
void mp_probe_lens_add(struct mp_probe_lens *l, bool v6, int prefix);
bool mp_probe_ip(const struct mp_probe_lens *l, const struct mp_ip *ip, mp_probe_ip_fn fn,
		 void *arg);

#endif
