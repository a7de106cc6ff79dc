/*
 * file - reading whole files and small string helpers shared by the loaders.
 */
#ifndef MP_FILE_H
#define MP_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Reads a whole regular file of at most max bytes. Returns a malloc'd,
 * NUL-terminated buffer (the file may itself hold NULs: use *len_r), or NULL
 * with errno set (EFBIG when too large). */
char *mp_read_file(const char *path, size_t max, size_t *len_r);
/* Joins dir and a relative path; an absolute path is returned as is. */
char *mp_path_join(const char *dir, const char *rel);
void mp_ascii_lower(char *s);
bool mp_ascii_ieq(const char *a, const char *b);
bool mp_ascii_ieqn(const char *a, size_t alen, const char *b, size_t blen);

#endif
