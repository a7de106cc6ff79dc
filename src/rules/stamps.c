/*
 * stamps - file change detection for reloads; see stamps.h.
 */
#include "rules/stamps.h"

#include "util/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 6 || strcmp(de->d_name + l - 6, ".rules") != 0)
			continue;
		char *path = mp_path_join(dir, de->d_name);
		struct stat st;
		if (path == NULL)
			goto oom; /* never a listing with a file left out */
		bool reg = stat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
		if (!reg)
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
			goto oom;
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

void mp_stamps_scan_dir(struct mp_stamps *s)
{
	mp_stamps_free_names(s->top, s->n_top);
	s->top = NULL;
	s->n_top = 0;
	s->scanned = mp_stamps_list_rules(s->dir, &s->top, &s->n_top) == 0;
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
	return now;
}

bool mp_stamps_changed(const struct mp_stamps *s)
{
	char **names;
	size_t n;

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
