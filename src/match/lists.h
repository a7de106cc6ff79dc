/*
 * lists - the sets behind `in`: CIDR prefixes (v4/v6), exact addresses,
 * domains (`domain`, `@domain`) and subdomain suffixes (`.domain`).
 *
 * A list is filled with mp_list_add (or a whole file), sealed with
 * mp_list_finish, and then read-only: lookups from many threads are safe.
 * A list owns all of its memory; mp_list_free accepts NULL.
 */
#ifndef MP_LISTS_H
#define MP_LISTS_H

#include "types/types.h"
#include "util/ip.h"

#include <stdbool.h>
#include <stddef.h>

struct mp_diags;
struct mp_list;

#define MP_LIST_ITEM_MAX 1024

struct mp_list *mp_list_new(const char *name);
void mp_list_free(struct mp_list *l);
const char *mp_list_name(const struct mp_list *l);
/* Adds one item. 0, or -1 with a static reason in *why_r. */
int mp_list_add(struct mp_list *l, const char *item, size_t len, const char **why_r);
/* Adds every line of a list file (path relative to the directory dirfd, or
 * AT_FDCWD); bad items go to d as PATH:LINE:COL (shown under display_path).
 * 0, -1 (bad items) or -2 when the file cannot be read (errno set, nothing
 * reported). */
int mp_list_load_file(struct mp_list *l, int dirfd, const char *path, const char *display_path,
		      struct mp_diags *d);
/* Sorts the prefix tables; call once after the last add. 0 or -1. */
int mp_list_finish(struct mp_list *l);

size_t mp_list_count(const struct mp_list *l);
size_t mp_list_count_ip(const struct mp_list *l);

bool mp_list_match_ip(const struct mp_list *l, const struct mp_ip *ip);
/* Matches a string field the way its kind says (SPEC §4.2). */
bool mp_list_match(const struct mp_list *l, enum mp_fmatch how, const char *value,
		   size_t len);

/* The parts of a list as mp_list_match reads them (keys lowercased). */
enum mp_list_part {
	MP_LP_STRING,      /* the item as written: exact strings and addresses */
	MP_LP_DOMAIN,      /* `domain` and `@domain` */
	MP_LP_SUBDOMAIN,   /* `.domain`: strict subdomains */
	MP_LP_V4,          /* key: the masked address, big-endian */
	MP_LP_V6,
};
struct mp_list_item {
	enum mp_list_part part;
	const char *key;
	size_t len;
	int prefix;
	uint32_t v4;
	uint64_t v6hi, v6lo;
};
/* Calls fn for every part of every item; stops at fn's first non-zero. */
int mp_list_each(const struct mp_list *l, int (*fn)(void *arg, const struct mp_list_item *it),
		 void *arg);

#endif
