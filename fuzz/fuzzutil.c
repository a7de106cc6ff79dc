/*
 * fuzzutil - scratch files for the fuzz targets; see fuzzutil.h.
 */
#include "fuzzutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void cleanup(void)
{
	char cmd[sizeof(dir) + 16];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

const char *fz_dir(void)
{
	if (dir[0] != '\0')
		return dir;
	const char *t = getenv("TMPDIR");
	if (t == NULL || *t == '\0' || strlen(t) > sizeof(dir) - 32)
		t = "/tmp";
	snprintf(dir, sizeof(dir), "%s/mp-fuzz-XXXXXX", t);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(cleanup);
	return dir;
}

const char *fz_path(const char *name)
{
	static char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", fz_dir(), name) >= (int)sizeof(path))
		abort();
	return path;
}

void fz_write(const char *name, const void *p, size_t n)
{
	const char *path = fz_path(name);
	const char *slash = strrchr(name, '/');

	if (slash != NULL) {
		char sub[PATH_MAX];
		size_t dl = strlen(fz_dir()), nl = (size_t)(slash - name);
		if (dl + 1 + nl >= sizeof(sub))
			abort();
		memcpy(sub, fz_dir(), dl);
		sub[dl] = '/';
		memcpy(sub + dl + 1, name, nl);
		sub[dl + 1 + nl] = '\0';
		mkdir(sub, 0700);
	}
	FILE *f = fopen(path, "wb");
	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

size_t fz_split(const uint8_t *data, size_t size, const uint8_t **parts, size_t *lens,
		size_t max)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= size && n < max; i++) {
		if (i < size && data[i] != 0)
			continue;
		parts[n] = data + start;
		lens[n++] = i - start;
		start = i + 1;
	}
	/* what is left after max parts joins the last one */
	if (n == max && start <= size)
		lens[n - 1] = (size_t)(data + size - parts[n - 1]);
	return n;
}
