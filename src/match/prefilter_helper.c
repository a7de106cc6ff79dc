/*
 * prefilter_helper - the Vectorscan databases compiled in a helper process.
 *
 * Compiling 1,000 header regexes runs Vectorscan's compiler: megabytes of
 * its code (and libstdc++'s) paged in, and megabytes of heap that go back to
 * malloc's free lists, not to the system. In the daemon both would stay for
 * its whole life, counted in its memory, for work done once per load. So
 * the daemon (mp_prefilter_set_helper) runs its own program again with
 * MP_PF_HELPER_ARG: the helper reads the patterns on its standard input,
 * compiles them exactly as a build in the daemon would
 * (mp_prefilter_build_here), writes back which pattern got which id and
 * each key's database serialized (hs_serialize_database), and exits; the
 * daemon deserializes them. Nothing else changes: the ids, the databases
 * and so the scans are the same.
 *
 * The helper is the daemon's own binary (/proc/self/exe) under the
 * daemon's user; its answer is still checked (sizes bounded, ids in range,
 * hs_deserialize_database validates each database). Any failure - no
 * process, a crash, a short or malformed answer - is logged and the
 * daemon compiles the patterns itself, as `check` and `test` always do.
 *
 * Wire format, native byte order (one machine, one binary): to the helper
 * "MPF1", n_keys, n, then per pattern key, flags, len (u32 each) and the
 * bytes; back "MPF1", status (0 built, 1 nothing taken), then for 0: n_ids,
 * n ids (i32), and per key a u64 size and that many bytes (0: no database).
 */
#include "match/prefilter_helper.h"

#include "util/buf.h"
#include "util/file.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAGIC 0x3146504dU        /* "MPF1" */
#define PATTERN_MAX (1u << 20)   /* longer than any rule file allows */
#define DB_MAX ((uint64_t)1 << 30)

extern char **environ;

static const char *helper_exe;
static atomic_ulong helper_builds;

void mp_prefilter_set_helper(const char *exe)
{
	helper_exe = exe;
}

unsigned long mp_prefilter_helper_builds(void)
{
	return atomic_load(&helper_builds);
}

static int read_u32(int fd, uint32_t *v)
{
	return mp_read_exact(fd, v, sizeof(*v));
}

/* ---- the helper's side --------------------------------------------------- */

int mp_prefilter_helper_main(int in, int out)
{
	uint32_t magic, n_keys, n;
	struct mp_pf_pattern *pats = NULL;
	int rc = 1;

	if (read_u32(in, &magic) < 0 || magic != MAGIC || read_u32(in, &n_keys) < 0 ||
	    read_u32(in, &n) < 0)
		return 1;
	pats = calloc(n ? n : 1, sizeof(*pats));
	if (pats == NULL)
		return 1;
	uint32_t got = 0;
	for (; got < n; got++) {
		uint32_t key, flags, len;
		if (read_u32(in, &key) < 0 || read_u32(in, &flags) < 0 || read_u32(in, &len) < 0 ||
		    len > PATTERN_MAX)
			goto out;
		char *s = malloc(len + 1);
		if (s == NULL || mp_read_exact(in, s, len) < 0) {
			free(s);
			goto out;
		}
		s[len] = '\0';
		pats[got] = (struct mp_pf_pattern){ key, s, len, flags, -1 };
	}
	struct mp_prefilter *pf = mp_prefilter_build_here(pats, n, n_keys);
	uint32_t head[2] = { MAGIC, pf != NULL ? 0 : 1 };
	if (mp_write_all(out, head, sizeof(head)) < 0)
		goto done;
	if (pf == NULL) {
		rc = 0;
		goto done;
	}
	uint32_t n_ids = (uint32_t)mp_prefilter_n_ids(pf);
	if (mp_write_all(out, &n_ids, sizeof(n_ids)) < 0)
		goto done;
	for (uint32_t i = 0; i < n; i++) {
		int32_t id = pats[i].id;
		if (mp_write_all(out, &id, sizeof(id)) < 0)
			goto done;
	}
	for (uint32_t k = 0; k < n_keys; k++) {
		hs_database_t *db = mp_prefilter_db(pf, k);
		char *bytes = NULL;
		size_t len = 0;
		if (db != NULL && hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
			goto done;
		uint64_t size = len;
		int w = mp_write_all(out, &size, sizeof(size));
		if (w == 0 && len > 0)
			w = mp_write_all(out, bytes, len);
		free(bytes);
		if (w < 0)
			goto done;
	}
	rc = 0;
done:
	mp_prefilter_free(pf);
out:
	for (uint32_t i = 0; i < got; i++)
		free((char *)pats[i].pattern);
	free(pats);
	return rc;
}

/* ---- the daemon's side --------------------------------------------------- */

/* The patterns, as the helper reads them. */
static int encode(struct mp_buf *b, const struct mp_pf_pattern *pats, size_t n, size_t n_keys)
{
	uint32_t head[3] = { MAGIC, (uint32_t)n_keys, (uint32_t)n };

	if (n > UINT32_MAX || n_keys > UINT32_MAX)
		return -1;
	mp_buf_add(b, head, sizeof(head));
	for (size_t i = 0; i < n; i++) {
		if (pats[i].len > PATTERN_MAX)
			return -1;
		uint32_t p[3] = { pats[i].key, pats[i].flags, (uint32_t)pats[i].len };
		mp_buf_add(b, p, sizeof(p));
		mp_buf_add(b, pats[i].pattern, pats[i].len);
	}
	return b->oom ? -1 : 0;
}

/* Reads the helper's answer: the prefilter, or NULL with *why (none taken:
 * NULL and *why NULL). */
static struct mp_prefilter *decode(int fd, struct mp_pf_pattern *pats, size_t n, size_t n_keys,
				   const char **why)
{
	uint32_t head[2], n_ids;
	hs_database_t **dbs = NULL;
	int32_t *ids = NULL;
	char *bytes = NULL;

	*why = "a short or malformed answer";
	if (mp_read_exact(fd, head, sizeof(head)) < 0 || head[0] != MAGIC || head[1] > 1)
		return NULL;
	if (head[1] == 1) {
		*why = NULL;
		return NULL;
	}
	if (read_u32(fd, &n_ids) < 0 || n_ids > n)
		return NULL;
	ids = malloc((n ? n : 1) * sizeof(*ids));
	dbs = calloc(n_keys ? n_keys : 1, sizeof(*dbs));
	if (ids == NULL || dbs == NULL) {
		*why = "out of memory";
		goto fail;
	}
	if (n > 0 && mp_read_exact(fd, ids, n * sizeof(*ids)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < -1 || ids[i] >= (int32_t)n_ids)
			goto fail;
	for (size_t k = 0; k < n_keys; k++) {
		uint64_t size;
		if (mp_read_exact(fd, &size, sizeof(size)) < 0 || size > DB_MAX)
			goto fail;
		if (size == 0)
			continue;
		bytes = malloc((size_t)size);
		if (bytes == NULL) {
			*why = "out of memory";
			goto fail;
		}
		if (mp_read_exact(fd, bytes, (size_t)size) < 0)
			goto fail;
		if (hs_deserialize_database(bytes, (size_t)size, &dbs[k]) != HS_SUCCESS) {
			*why = "a database that does not deserialize";
			goto fail;
		}
		free(bytes);
		bytes = NULL;
	}
	struct mp_prefilter *pf = mp_prefilter_assemble(dbs, n_keys, n_ids);
	dbs = NULL; /* taken */
	if (pf == NULL) {
		*why = "no scratch for its databases";
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		pats[i].id = ids[i];
	free(ids);
	return pf;
fail:
	free(bytes);
	if (dbs != NULL) {
		for (size_t k = 0; k < n_keys; k++)
			hs_free_database(dbs[k]);
		free(dbs);
	}
	free(ids);
	return NULL;
}

struct mp_prefilter *mp_pf_helper_build(struct mp_pf_pattern *pats, size_t n, size_t n_keys,
					bool *failed)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	struct mp_buf in;
	pid_t pid = -1;
	const char *why = NULL;
	struct mp_prefilter *pf = NULL;

	*failed = true;
	if (helper_exe == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		pats[i].id = -1;
	mp_buf_init(&in);
	if (encode(&in, pats, n, n_keys) < 0) {
		why = "patterns it cannot take";
		goto out;
	}
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
		why = strerror(errno);
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	posix_spawnattr_init(&attr);
	/* the daemon's threads block its signals; the helper needs none */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	char *argv[] = { (char *)helper_exe, MP_PF_HELPER_ARG, NULL };
	int rc = posix_spawn(&pid, helper_exe, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(to[0]);
	close(from[1]);
	to[0] = from[1] = -1;
	if (rc != 0) {
		pid = -1;
		why = strerror(rc);
		goto out;
	}
	int w = mp_write_all(to[1], in.p, in.len);
	close(to[1]);
	to[1] = -1;
	if (w < 0) {
		why = "it stopped reading";
		goto out;
	}
	pf = decode(from[0], pats, n, n_keys, &why);
out:
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
	}
	mp_buf_free(&in);
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
		if (why == NULL && pf == NULL && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			why = "it failed";
		if (pf != NULL && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			/* an answer, then a failure: not trusted */
			mp_prefilter_free(pf);
			pf = NULL;
			why = "it failed after answering";
		}
	}
	if (pf == NULL && why != NULL) {
		for (size_t i = 0; i < n; i++)
			pats[i].id = -1;
		mp_log(MP_LOG_WARN, "prefilter: the compiling helper %s failed (%s); compiling here",
		       helper_exe, why);
		return NULL;
	}
	*failed = false;
	atomic_fetch_add(&helper_builds, 1);
	if (pf != NULL)
		mp_log(MP_LOG_DEBUG, "prefilter: compiled in a helper process: %zu patterns, %zu taken",
		       n, mp_prefilter_n_ids(pf));
	return pf;
}
