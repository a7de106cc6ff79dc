/*
 * arena - bump allocator; see arena.h. Blocks are chained newest first and
 * released together.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 65536

struct mp_arena_block {
	struct mp_arena_block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

void mp_arena_init(struct mp_arena *a)
{
	a->head = NULL;
	a->total = 0;
}

void mp_arena_release(struct mp_arena *a)
{
	struct mp_arena_block *b = a->head, *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->total = 0;
}

void *mp_arena_alloc(struct mp_arena *a, size_t n)
{
	struct mp_arena_block *b = a->head;
	size_t need = (n + 15) & ~(size_t)15;

	if (need < n)
		return NULL;
	if (b == NULL || b->size - b->used < need) {
		size_t size = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;

		if (size > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->size = size;
		b->used = 0;
		if (size == need && a->head != NULL) {
			/* a big one-off: keep the current block open for small ones */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
		a->total += size;
	}
	void *p = b->data + b->used;
	b->used += need;
	return p;
}

void *mp_arena_zalloc(struct mp_arena *a, size_t n)
{
	void *p = mp_arena_alloc(a, n);

	if (p != NULL)
		memset(p, 0, n);
	return p;
}

void *mp_arena_memdup(struct mp_arena *a, const void *src, size_t n)
{
	void *p = mp_arena_alloc(a, n ? n : 1);

	if (p != NULL && n > 0)
		memcpy(p, src, n);
	return p;
}

char *mp_arena_strndup(struct mp_arena *a, const char *s, size_t n)
{
	char *p = mp_arena_alloc(a, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *mp_arena_strdup(struct mp_arena *a, const char *s)
{
	return mp_arena_strndup(a, s, strlen(s));
}
