/*
 * arena - bump allocator for data that lives and dies together.
 *
 * A rule set allocates all its compiled structures from one arena and frees
 * them with one call. Allocations are 16-byte aligned and never freed one by
 * one. Out of memory returns NULL; callers report it as an internal error.
 */
#ifndef MP_ARENA_H
#define MP_ARENA_H

#include <stddef.h>

struct mp_arena_block;

struct mp_arena {
	struct mp_arena_block *head;
	size_t total;
};

void mp_arena_init(struct mp_arena *a);
void mp_arena_release(struct mp_arena *a);
void *mp_arena_alloc(struct mp_arena *a, size_t n);
void *mp_arena_zalloc(struct mp_arena *a, size_t n);
char *mp_arena_strdup(struct mp_arena *a, const char *s);
char *mp_arena_strndup(struct mp_arena *a, const char *s, size_t n);
void *mp_arena_memdup(struct mp_arena *a, const void *p, size_t n);

#endif
