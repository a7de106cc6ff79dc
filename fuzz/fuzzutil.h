/*
 * fuzzutil - what the file-based fuzz targets share: one scratch
 * directory per process (made on first use, under TMPDIR or /tmp, removed
 * at exit) and writing an input's parts into it.
 */
#ifndef MP_FUZZUTIL_H
#define MP_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The scratch directory (aborts when it cannot be made). */
const char *fz_dir(void);
/* Writes n bytes to fz_dir()/name (making its directory); aborts on error. */
void fz_write(const char *name, const void *p, size_t n);
/* The path fz_dir()/name, in a static buffer. */
const char *fz_path(const char *name);
/* Splits data at NUL bytes into at most max parts; returns how many. */
size_t fz_split(const uint8_t *data, size_t size, const uint8_t **parts, size_t *lens,
		size_t max);

#endif
