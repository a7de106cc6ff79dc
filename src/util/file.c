/*
 * file - whole-file reads and string helpers; see file.h.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *mp_read_file(const char *path, size_t max, size_t *len_r)
{
	return mp_read_file_at(AT_FDCWD, path, max, len_r);
}

char *mp_read_file_at(int dirfd, const char *path, size_t max, size_t *len_r)
{
	struct stat st;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return NULL;
	}
	size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	char *p = malloc(cap + 1);
	size_t len = 0;
	if (p == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(p);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *q = realloc(p, ncap + 1);
			if (q == NULL) {
				free(p);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			p = q;
			cap = ncap;
		}
		ssize_t n = read(fd, p + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(p);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		free(p);
		errno = EFBIG;
		return NULL;
	}
	p[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return p;
}

int mp_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int mp_read_exact(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static char file_as[96];

void mp_file_set_user(const char *user)
{
	if (user == NULL || user[0] == '\0')
		file_as[0] = '\0';
	else
		snprintf(file_as, sizeof(file_as), " as user %s", user);
}

const char *mp_file_as(void)
{
	return file_as;
}

char *mp_path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || dir == NULL || dir[0] == '\0')
		return strdup(rel);
	size_t dl = strlen(dir), rl = strlen(rel);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	char *p = malloc(dl + 1 + rl + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, rel, rl + 1);
	return p;
}

void mp_ascii_lower(char *s)
{
	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool mp_ascii_ieqn(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	}
	return true;
}

bool mp_ascii_ieq(const char *a, const char *b)
{
	return mp_ascii_ieqn(a, strlen(a), b, strlen(b));
}
