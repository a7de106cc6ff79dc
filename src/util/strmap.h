/*
 * strmap - open-addressing hash map from byte strings to pointers.
 *
 * The map does not own its keys: they must outlive it (rule sets keep them in
 * their arena). Lookups take a length so callers can probe a suffix of a
 * larger string without copying. Keys compare byte for byte; callers that
 * want case-insensitivity lowercase both sides.
 */
#ifndef MP_STRMAP_H
#define MP_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_strmap_slot {
	const char *key;
	size_t len;
	uint64_t hash;
	void *val;
};

struct mp_strmap {
	struct mp_strmap_slot *slots;
	size_t cap, n;
};

void mp_strmap_init(struct mp_strmap *m);
void mp_strmap_free(struct mp_strmap *m);
/* 0 added, 1 already present (value left alone, *old_r set), -1 no memory. */
int mp_strmap_put(struct mp_strmap *m, const char *key, size_t len, void *val,
		  void **old_r);
bool mp_strmap_getn(const struct mp_strmap *m, const char *key, size_t len,
		    void **val_r);
bool mp_strmap_get(const struct mp_strmap *m, const char *key, void **val_r);

#endif
