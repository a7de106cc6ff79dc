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
/* The same, a relative path taken from the directory dirfd (openat). */
char *mp_read_file_at(int dirfd, const char *path, size_t max, size_t *len_r);
/* Writes all n bytes to fd (EINTR retried). 0, or -1. */
int mp_write_all(int fd, const void *p, size_t n);
/* Reads exactly n bytes from fd. 0, or -1 (an error, or the end first). */
int mp_read_exact(int fd, void *p, size_t n);
/* " as user NAME" once the process has dropped root for NAME, "" before:
 * every "cannot read" names who could not read the file. Set once, before
 * any thread that reads files starts (the daemon, after setuid). */
void mp_file_set_user(const char *user);
const char *mp_file_as(void);
/* Joins dir and a relative path; an absolute path is returned as is. */
char *mp_path_join(const char *dir, const char *rel);
void mp_ascii_lower(char *s);
bool mp_ascii_ieq(const char *a, const char *b);
bool mp_ascii_ieqn(const char *a, size_t alen, const char *b, size_t blen);

#endif
