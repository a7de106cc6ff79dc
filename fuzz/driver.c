/*
 * A stand-alone driver for libFuzzer-style targets, for ctest and for
 * machines without libFuzzer: runs every corpus file, then mutations of
 * them from a fixed seed (byte flips, inserts of dictionary tokens,
 * deletions, duplications, splices of two inputs). No coverage feedback:
 * it replays and shakes the corpus; real fuzzing is the MP_LIBFUZZER build.
 * Usage: driver [-runs N] [-seed S] [-dict FILE] FILE|DIR...
 * Each input lives only for its call.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT 8192

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob *corpus, *dict;
static size_t n_corpus, n_dict;
static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t below(size_t n)
{
	return n ? (size_t)(next() % n) : 0;
}

static void add(struct blob **v, size_t *n, uint8_t *p, size_t len)
{
	struct blob *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (nv == NULL) {
		perror("driver");
		exit(2);
	}
	*v = nv;
	(*v)[(*n)++] = (struct blob){ p, len };
}

static int read_file(const char *path, uint8_t **p, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	*p = malloc(DRIVER_MAX_INPUT);
	*len = *p ? fread(*p, 1, DRIVER_MAX_INPUT, f) : 0;
	fclose(f);
	return *p ? 0 : -1;
}

static void load(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		exit(2);
	}
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int n = scandir(path, &ents, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			if (ents[i]->d_name[0] != '.') {
				char sub[4096];
				snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
				load(sub);
			}
			free(ents[i]);
		}
		free(ents);
		return;
	}
	uint8_t *p;
	size_t len;
	if (read_file(path, &p, &len) != 0) {
		perror(path);
		exit(2);
	}
	add(&corpus, &n_corpus, p, len);
}

/* A libFuzzer dictionary: lines of "..." with \\, \" and \xNN escapes. */
static void load_dict(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		char *q = strchr(line, '"');
		if (line[0] == '#' || q == NULL)
			continue;
		uint8_t *tok = malloc(sizeof(line));
		size_t n = 0;
		for (q++; *q && *q != '"'; q++) {
			if (*q == '\\' && q[1] == 'x' && q[2] && q[3]) {
				char hex[3] = { q[2], q[3], 0 };
				tok[n++] = (uint8_t)strtoul(hex, NULL, 16);
				q += 3;
			} else if (*q == '\\' && q[1]) {
				tok[n++] = (uint8_t)*++q;
			} else {
				tok[n++] = (uint8_t)*q;
			}
		}
		add(&dict, &n_dict, tok, n);
	}
	fclose(f);
}

/* One random mutation of buf (len bytes, room for DRIVER_MAX_INPUT); new length. */
static size_t mutate(uint8_t *buf, size_t len)
{
	size_t at = below(len + 1);
	switch (below(6)) {
	case 0: /* flip a byte */
		if (len)
			buf[below(len)] ^= (uint8_t)(1u << below(8));
		break;
	case 1: /* a random byte in */
		if (len < DRIVER_MAX_INPUT) {
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = (uint8_t)next();
			len++;
		}
		break;
	case 2: /* a dictionary token in */
		if (n_dict) {
			struct blob *t = &dict[below(n_dict)];
			if (len + t->n <= DRIVER_MAX_INPUT) {
				memmove(buf + at + t->n, buf + at, len - at);
				memcpy(buf + at, t->p, t->n);
				len += t->n;
			}
		}
		break;
	case 3: /* a range out */
		if (at < len) {
			size_t n = 1 + below(len - at);
			memmove(buf + at, buf + at + n, len - at - n);
			len -= n;
		}
		break;
	case 4: /* a range doubled */
		if (at < len) {
			size_t n = 1 + below(len - at);
			if (len + n <= DRIVER_MAX_INPUT) {
				memmove(buf + at + n, buf + at, len - at);
				len += n;
			}
		}
		break;
	default: { /* the tail of another input spliced in */
		struct blob *o = &corpus[below(n_corpus)];
		size_t from = below(o->n + 1), n = o->n - from;
		if (at + n > DRIVER_MAX_INPUT)
			n = DRIVER_MAX_INPUT - at;
		memcpy(buf + at, o->p + from, n);
		len = at + n;
		break;
	}
	}
	return len;
}

int main(int argc, char **argv)
{
	long runs = 1000;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-runs") == 0)
			runs = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-seed") == 0)
			rng = strtoull(argv[i + 1], NULL, 10) * 2654435761ULL + 1;
		else if (strcmp(argv[i], "-dict") == 0)
			load_dict(argv[i + 1]);
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [-runs N] [-seed S] [-dict FILE] FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++)
		load(argv[i]);
	if (n_corpus == 0) {
		fprintf(stderr, "empty corpus\n");
		return 2;
	}
	for (size_t c = 0; c < n_corpus; c++)
		LLVMFuzzerTestOneInput(corpus[c].p, corpus[c].n);
	uint8_t *buf = malloc(DRIVER_MAX_INPUT);
	for (long r = 0; r < runs && buf; r++) {
		struct blob *b = &corpus[below(n_corpus)];
		memcpy(buf, b->p, b->n);
		size_t len = b->n;
		for (size_t m = 1 + below(4); m > 0; m--)
			len = mutate(buf, len);
		/* libFuzzer hands the target a buffer of exactly its size */
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	printf("%zu corpus inputs, %ld mutations: no crash\n", n_corpus, runs);
	free(buf);
	for (size_t c = 0; c < n_corpus; c++)
		free(corpus[c].p);
	for (size_t c = 0; c < n_dict; c++)
		free(dict[c].p);
	free(corpus);
	free(dict);
	return 0;
}
