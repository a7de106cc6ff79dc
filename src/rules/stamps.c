/*
 * stamps - file change detection for reloads; see stamps.h.
 */
#include "rules/stamps.h"

#include "util/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stamp {
	char *path;
	bool exists;
	struct timespec mtime;
	off_t size;
	ino_t ino;
};

struct mp_stamps {
	char *dir;
	struct stamp *v;
	size_t n, cap;
	char **top;
	size_t n_top;
	bool scanned;
	bool dir_known;      /* the directory a load read, whatever a link now names */
	dev_t dir_dev;
	ino_t dir_ino;
};

struct mp_stamps *mp_stamps_new(const char *rules_dir)
{
	struct mp_stamps *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->dir = strdup(rules_dir);
	if (s->dir == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void mp_stamps_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void mp_stamps_free(struct mp_stamps *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	mp_stamps_free_names(s->top, s->n_top);
	free(s->dir);
	free(s);
}

static void fill(struct stamp *st)
{
	struct stat sb;

	st->exists = stat(st->path, &sb) == 0;
	if (st->exists) {
		st->mtime = sb.st_mtim;
		st->size = sb.st_size;
		st->ino = sb.st_ino;
	}
}

void mp_stamps_add(struct mp_stamps *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].path, path) == 0)
			return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct stamp *v = realloc(s->v, cap * sizeof(*v));
		if (v == NULL)
			return;
		s->v = v;
		s->cap = cap;
	}
	struct stamp *st = &s->v[s->n];
	memset(st, 0, sizeof(*st));
	st->path = strdup(path);
	if (st->path == NULL)
		return;
	fill(st);
	s->n++;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_stamps_list_rules(const char *dir, char ***names_r, size_t *n_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	int rc = mp_stamps_list_rules_at(fd, names_r, n_r);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int mp_stamps_list_rules_at(int dirfd, char ***names_r, size_t *n_r)
{
	/* a descriptor of its own: closedir closes it */
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	/* the duplicate shares the offset of dirfd, which an earlier listing
	 * may have left at the end */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 6 || strcmp(de->d_name + l - 6, ".rules") != 0)
			continue;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL)
				goto oom;
			v = nv;
			cap = nc;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto oom; /* never a listing with a file left out */
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(char *), cmp_names);
	*names_r = v;
	*n_r = n;
	return 0;
oom:
	closedir(d);
	mp_stamps_free_names(v, n);
	errno = ENOMEM;
	return -1;
}

void mp_stamps_set_dir(struct mp_stamps *s, int dirfd)
{
	struct stat sb;

	s->dir_known = fstat(dirfd, &sb) == 0;
	if (s->dir_known) {
		s->dir_dev = sb.st_dev;
		s->dir_ino = sb.st_ino;
	}
}

void mp_stamps_scan_dir(struct mp_stamps *s)
{
	mp_stamps_free_names(s->top, s->n_top);
	s->top = NULL;
	s->n_top = 0;
	s->scanned = mp_stamps_list_rules(s->dir, &s->top, &s->n_top) == 0;
}

size_t mp_stamps_count(const struct mp_stamps *s)
{
	return s->n;
}

const char *mp_stamps_path(const struct mp_stamps *s, size_t i)
{
	return s->v[i].path;
}

bool mp_stamps_has(const struct mp_stamps *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].path, path) == 0)
			return true;
	}
	return false;
}

struct mp_stamps *mp_stamps_now(const struct mp_stamps *s)
{
	struct mp_stamps *now = mp_stamps_new(s->dir);

	if (now == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		mp_stamps_add(now, s->v[i].path);
	mp_stamps_scan_dir(now);
	struct stat sb;
	if (s->dir_known && stat(s->dir, &sb) == 0) {
		now->dir_known = true;
		now->dir_dev = sb.st_dev;
		now->dir_ino = sb.st_ino;
	}
	return now;
}

bool mp_stamps_changed(const struct mp_stamps *s)
{
	char **names;
	size_t n;
	struct stat sb;

	/* rules_dir swapped to another directory (a symbolic link moved) */
	if (s->dir_known && (stat(s->dir, &sb) != 0 || sb.st_dev != s->dir_dev ||
			     sb.st_ino != s->dir_ino))
		return true;
	for (size_t i = 0; i < s->n; i++) {
		struct stamp now = { .path = s->v[i].path };
		fill(&now);
		const struct stamp *was = &s->v[i];
		if (now.exists != was->exists)
			return true;
		if (now.exists && (now.mtime.tv_sec != was->mtime.tv_sec ||
				   now.mtime.tv_nsec != was->mtime.tv_nsec || now.size != was->size ||
				   now.ino != was->ino))
			return true;
	}
	if (mp_stamps_list_rules(s->dir, &names, &n) < 0)
		return s->scanned;
	bool changed = !s->scanned || n != s->n_top;
	for (size_t i = 0; !changed && i < n; i++)
		changed = strcmp(names[i], s->top[i]) != 0;
	mp_stamps_free_names(names, n);
	return changed;
}
