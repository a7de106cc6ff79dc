/*
 * spool - a message body in memory, then in an unlinked temporary file;
 * see spool.h. The file is made with O_TMPFILE where the file system has
 * it (no name ever exists), else mkstemp and an immediate unlink.
 */
#include "mail/spool.h"

#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mp_spool_init(struct mp_spool *s, const char *dir, size_t mem_max, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->mem_max = mem_max;
	s->max = max;
	s->fd = -1;
}

/* An unlinked file in dir, or -1. */
static int temp_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	char path[4096];

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/mp-body-XXXXXX", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

bool mp_spool_add(struct mp_spool *s, const void *p, size_t n)
{
	if (s->over || s->failed)
		return false;
	if (s->size + n > s->max) {
		n = (size_t)(s->max - s->size);
		s->over = true;
	}
	if (s->fd < 0 && s->len + n <= s->mem_max) {
		if (s->len + n > s->cap) {
			size_t cap = s->cap ? s->cap : 4096;
			while (cap < s->len + n)
				cap *= 2;
			if (cap > s->mem_max)
				cap = s->mem_max;
			char *m = realloc(s->mem, cap);
			if (m == NULL) {
				s->failed = true;
				return false;
			}
			s->mem = m;
			s->cap = cap;
		}
		if (n > 0)
			memcpy(s->mem + s->len, p, n);
		s->len += n;
	} else {
		/* past the memory bound: everything goes to the file */
		if (s->fd < 0) {
			s->fd = temp_file(s->dir);
			if (s->fd < 0 || mp_write_all(s->fd, s->mem, s->len) < 0) {
				s->failed = true;
				return false;
			}
			free(s->mem);
			s->mem = NULL;
			s->len = s->cap = 0;
		}
		if (mp_write_all(s->fd, p, n) < 0) {
			s->failed = true;
			return false;
		}
	}
	s->size += n;
	return !s->over;
}

int mp_spool_open(struct mp_spool *s, bool as_file)
{
	if (s->fd < 0) {
		if (!as_file) {
			errno = 0;
			return -1;
		}
		int fd = temp_file(s->dir);
		if (fd < 0)
			return -1;
		if (mp_write_all(fd, s->mem, s->len) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	/* the body is complete: the copy may share the file position */
	int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void mp_spool_free(struct mp_spool *s)
{
	if (s == NULL)
		return;
	free(s->mem);
	if (s->fd >= 0)
		close(s->fd);
	mp_spool_init(s, s->dir, s->mem_max, s->max);
}
