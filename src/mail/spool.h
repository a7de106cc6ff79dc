/*
 * spool - a message body held for MIME parsing (SPEC §11): in memory up
 * to mem_max bytes, then in an unlinked temporary file in dir (nothing is
 * left behind, whatever happens to the process), up to max bytes in all.
 * One per transaction; not shared between threads.
 */
#ifndef MP_SPOOL_H
#define MP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_spool {
	const char *dir;            /* where the file goes; the caller's string */
	size_t mem_max, max;
	char *mem;                  /* the body while it fits in memory */
	size_t len, cap;
	int fd;                     /* the file once it does not, else -1 */
	uint64_t size;              /* bytes held */
	bool over;                  /* more than max came: the rest was dropped */
	bool failed;                /* no memory, or the file could not be written */
};

void mp_spool_init(struct mp_spool *s, const char *dir, size_t mem_max, size_t max);
/* Appends; false once over max or failed (see the flags). */
bool mp_spool_add(struct mp_spool *s, const void *p, size_t n);
/* Once the body is complete: a new descriptor at the start of what is
 * held, for reading (a memory body is written to a temporary file first
 * when as_file; otherwise -1 for a memory body: read s->mem). It shares
 * the file position with the spool's own. -1 with errno on failure. */
int mp_spool_open(struct mp_spool *s, bool as_file);
void mp_spool_free(struct mp_spool *s);

#endif
