/* Unit tests: the stores (state/memory.c, state/lmdb.c, state/redis.c
 * against a real redis-server this test starts on loopback, by TCP with a
 * password and by its Unix socket), each test on every store: the window
 * arithmetic
 * (never an event of the window missed, at most one bucket more), expiry,
 * the entry bound with LRU eviction, greylisting (delay left, pass after
 * the delay, remembered, forgotten after the expiry), and exact totals
 * under 16 threads x 10,000 increments, on one key and on many. */
#include "helpers.h"

#include "conf/conf.h"
#include "state/state.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A new store of the kind the test runs with (its state: "memory" or
 * "lmdb"); an lmdb file is unlinked once open (the map stays). */
static pid_t redis_pid;
static int redis_port;
static char redis_dir[] = "/tmp/mp-redis-test-XXXXXX";
static char redis_sock[128];
#define REDIS_PASSWORD "test-secret"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A fresh redis-server (Debian's) on loopback and a socket, no persistence. */
static int start_redis(void **state)
{
	(void)state;
	char port[16];
	if (mkdtemp(redis_dir) == NULL)
		return -1;
	redis_port = free_port();
	snprintf(port, sizeof(port), "%d", redis_port);
	snprintf(redis_sock, sizeof(redis_sock), "%s/redis.sock", redis_dir);
	redis_pid = fork();
	if (redis_pid == 0) {
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--unixsocket", redis_sock, "--save", "", "--appendonly", "no",
		       "--requirepass", REDIS_PASSWORD, "--loglevel", "warning", "--dir", redis_dir,
		       (char *)NULL);
		perror("redis-server");
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		redisContext *c = redisConnect("127.0.0.1", redis_port);
		bool up = c != NULL && !c->err;
		redisFree(c);
		if (up)
			return 0;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "redis-server did not start\n");
	return -1;
}

static int stop_redis(void **state)
{
	(void)state;
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	unlink(redis_sock);
	rmdir(redis_dir);
	return 0;
}

/* Empties the server between tests. */
static void flush_redis(void)
{
	redisContext *c = redisConnect("127.0.0.1", redis_port);
	assert_true(c != NULL && !c->err);
	freeReplyObject(redisCommand(c, "AUTH %s", REDIS_PASSWORD));
	redisReply *r = redisCommand(c, "FLUSHALL");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	redisFree(c);
}

static bool is_redis(void **state)
{
	return strncmp(*state, "redis", 5) == 0;
}

static struct mp_state *new_store(void **state, size_t max)
{
	const char *kind = *state;
	if (strcmp(kind, "memory") == 0)
		return mp_state_memory_new(max);
	if (is_redis(state)) {
		char spec[256], err[256];
		struct mp_state_opts o = { max, 2000, REDIS_PASSWORD };
		flush_redis();
		if (strcmp(kind, "redis") == 0)
			snprintf(spec, sizeof(spec), "redis://127.0.0.1:%d/3", redis_port);
		else
			snprintf(spec, sizeof(spec), "redis+unix:%s?db=4", redis_sock);
		struct mp_state *st = mp_state_open(spec, &o, err, sizeof(err));
		if (st == NULL)
			fail_msg("%s", err);
		assert_string_equal(mp_state_kind(st), "redis");
		return st;
	}
	char path[] = "/tmp/mp-state-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	char err[256];
	struct mp_state *st = mp_state_lmdb_open(path, max, err, sizeof(err));
	if (st == NULL)
		fail_msg("%s", err);
	unlink(path);
	char lock[64];
	snprintf(lock, sizeof(lock), "%s-lock", path);
	unlink(lock);
	return st;
}

static bool is_memory(void **state)
{
	return strcmp(*state, "memory") == 0;
}

static uint64_t incr(struct mp_state *st, const char *key, unsigned w, time_t now)
{
	uint64_t n = 0;
	assert_int_equal(mp_state_incr(st, key, strlen(key), w, now, &n), 0);
	return n;
}

static uint64_t peek(struct mp_state *st, const char *key, unsigned w, time_t now)
{
	uint64_t n = 0;
	assert_int_equal(mp_state_peek(st, key, strlen(key), w, now, &n), 0);
	return n;
}

static void test_window(void **state)
{
	struct mp_state *st = new_store(state, 1000);

	assert_int_equal(incr(st, "k", 60, 1000), 1);
	assert_int_equal(incr(st, "k", 60, 1000), 2);
	assert_int_equal(incr(st, "k", 60, 1030), 3);
	/* every event of the last 60 s counts, 59 s later too */
	assert_int_equal(peek(st, "k", 60, 1059), 3);
	/* one bucket (6 s) past the window at most */
	assert_int_equal(peek(st, "k", 60, 1000 + 60 + 6 + 1), 1);
	assert_int_equal(peek(st, "k", 60, 1030 + 60 + 6 + 1), 0);
	/* windows are separate counters; so are keys */
	assert_int_equal(incr(st, "k", 3600, 1000), 1);
	assert_int_equal(incr(st, "other", 60, 1000), 1);
	/* a window under MP_STATE_BUCKETS seconds counts in 1 s buckets */
	assert_int_equal(incr(st, "short", 5, 2000), 1);
	assert_int_equal(peek(st, "short", 5, 2005), 1);
	assert_int_equal(peek(st, "short", 5, 2006), 0);
	mp_state_free(st);
}

static void test_expiry_and_bound(void **state)
{
	struct mp_state *st = new_store(state, 64 * 4);
	struct mp_state_stats s;
	char key[32];

	incr(st, "old", 10, 0);
	assert_int_equal(peek(st, "old", 10, 100), 0); /* expired */
	if (is_redis(state)) {
		/* the server expires and bounds its keys (maxmemory) itself */
		mp_state_free(st);
		return;
	}
	mp_state_stats(st, &s);
	if (is_memory(state)) {
		/* dropped at once (lmdb: by the next sweep) */
		assert_int_equal(s.entries, 0);
		assert_int_equal(s.expired, 1);
	}
	incr(st, "old", 10, 100);
	assert_int_equal(peek(st, "old", 10, 100), 1); /* new again */
	mp_state_stats(st, &s);
	uint64_t before = s.entries + s.evicted + s.expired;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		incr(st, key, 3600, 1000);
	}
	mp_state_stats(st, &s);
	assert_true(s.entries <= 64 * 4);
	/* every key is held, or was evicted or expired to make room */
	assert_int_equal(s.entries + s.evicted + s.expired, 5000 + before);
	/* the most recent keys are the ones kept */
	assert_int_equal(peek(st, "key4999", 3600, 1000), 1);
	mp_state_free(st);
}

static bool grey(struct mp_state *st, const char *t, const char *net, time_t now,
		 unsigned after, unsigned *left, bool *white)
{
	struct mp_grey_req q = { t, strlen(t), net, strlen(net), 300, 86400 * 36, after, true };
	struct mp_grey_ans a;
	char err[256];

	assert_int_equal(mp_state_greylist(st, &q, now, &a, err, sizeof(err)), 0);
	*left = a.left;
	if (white != NULL)
		*white = a.whitelisted;
	return a.pass;
}

static void test_greylist(void **state)
{
	struct mp_state *st = new_store(state, 1000);
	const char *t = "g:192.0.2.0/24|a@b.example|c@d.example", *net = "w:192.0.2.0/24";
	unsigned left;

	assert_false(grey(st, t, net, 1000, 0, &left, NULL));
	assert_int_equal(left, 300);
	assert_false(grey(st, t, net, 1299, 0, &left, NULL));
	assert_int_equal(left, 1);
	assert_true(grey(st, t, net, 1300, 0, &left, NULL));
	/* remembered for the expiry from the last pass */
	assert_true(grey(st, t, net, 1300 + 86400 * 30, 0, &left, NULL));
	assert_false(grey(st, t, net, 1300 + 86400 * 67, 0, &left, NULL)); /* forgotten */
	assert_int_equal(left, 300);
	/* a triplet that never came back is forgotten after a day */
	const char *u = "g:198.51.100.0/24|x@y|z@w", *unet = "w:198.51.100.0/24";
	grey(st, u, unet, 0, 0, &left, NULL);
	assert_false(grey(st, u, unet, 86400 + 1, 0, &left, NULL));
	/* read-only: what would happen, nothing kept */
	struct mp_grey_req q = { "g:new", 5, "w:new", 5, 300, 86400, 0, false };
	struct mp_grey_ans a;
	char err[256];
	assert_int_equal(mp_state_greylist(st, &q, 5000, &a, err, sizeof(err)), 0);
	assert_false(a.pass);
	assert_int_equal(mp_state_greylist(st, &q, 5400, &a, err, sizeof(err)), 0);
	assert_false(a.pass);
	assert_int_equal(a.left, 300);
	mp_state_free(st);
}

/* A network whose triplets passed whitelist_after times passes at once. */
static void test_whitelist(void **state)
{
	struct mp_state *st = new_store(state, 1000);
	const char *net = "w:203.0.113.0/24";
	char t[64];
	unsigned left;
	bool white;

	for (int i = 0; i < 3; i++) {
		snprintf(t, sizeof(t), "g:203.0.113.0/24|s@x|r%d@y", i);
		assert_false(grey(st, t, net, 1000, 3, &left, &white));
		assert_true(grey(st, t, net, 1400, 3, &left, &white));
		assert_false(white);
	}
	/* three passes: a new triplet of that network passes */
	assert_true(grey(st, "g:203.0.113.0/24|s@x|new@y", net, 1500, 3, &left, &white));
	assert_true(white);
	/* another network does not */
	assert_false(grey(st, "g:192.0.2.0/24|s@x|new@y", "w:192.0.2.0/24", 1500, 3, &left, &white));
	/* 0: no auto-whitelist */
	assert_false(grey(st, "g:203.0.113.0/24|s@x|other@y", net, 1500, 0, &left, &white));
	mp_state_free(st);
}

struct worker {
	struct mp_state *st;
	int id;
	bool shared_key;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char key[32];
	uint64_t n;

	for (int i = 0; i < 10000; i++) {
		if (w->shared_key)
			snprintf(key, sizeof(key), "shared");
		else
			snprintf(key, sizeof(key), "t%d-k%d", w->id, i % 100);
		if (mp_state_incr(w->st, key, strlen(key), 86400, 5000, &n) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct mp_state *st = new_store(state, 100000);
	pthread_t th[16];
	struct worker w[16];
	uint64_t n;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 16; i++) {
			w[i] = (struct worker){ st, i, pass == 0 };
			assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
		}
		for (int i = 0; i < 16; i++) {
			void *rc;
			pthread_join(th[i], &rc);
			assert_null(rc);
		}
	}
	/* one key: every increment of every thread, exactly */
	assert_int_equal(mp_state_peek(st, "shared", 6, 86400, 5000, &n), 0);
	assert_int_equal(n, 160000);
	/* many keys: each of its 100 increments */
	uint64_t total = 0;
	for (int t = 0; t < 16; t++) {
		for (int k = 0; k < 100; k++) {
			char key[32];
			snprintf(key, sizeof(key), "t%d-k%d", t, k);
			assert_int_equal(mp_state_peek(st, key, strlen(key), 86400, 5000, &n), 0);
			assert_int_equal(n, 100);
			total += n;
		}
	}
	assert_int_equal(total, 160000);
	mp_state_free(st);
}

/* A wrong password, a server that is not there: -1 with the reason,
 * within the timeout, and then at once for the backoff. */
static void test_redis_errors(void **state)
{
	(void)state;
	char spec[128], err[256];
	struct mp_state_opts o = { 1000, 300, "wrong" };
	uint64_t n;

	snprintf(spec, sizeof(spec), "redis://127.0.0.1:%d", redis_port);
	struct mp_state *st = mp_state_open(spec, &o, err, sizeof(err));
	assert_non_null(st);
	struct mp_state_req r = { "k", 1, 60, true, 0 };
	assert_int_equal(mp_state_counters(st, &r, 1, 1000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AUTH"));
	mp_state_free(st);

	snprintf(spec, sizeof(spec), "redis://127.0.0.1:%d/0", free_port());
	o.password = NULL;
	st = mp_state_open(spec, &o, err, sizeof(err));
	assert_non_null(st);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(mp_state_incr(st, "k", 1, 60, 1000, &n), -1);
	assert_int_equal(mp_state_counters(st, &r, 1, 1000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "next try in"));
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 300);
	mp_state_free(st);

	/* values the configuration refuses */
	struct mp_state_spec sp;
	assert_null(mp_state_spec_parse("memory", &sp));
	assert_null(mp_state_spec_parse("redis://[::1]:6380/2", &sp));
	assert_string_equal(sp.where, "::1");
	assert_int_equal(sp.port, 6380);
	assert_int_equal(sp.db, 2);
	assert_null(mp_state_spec_parse("redis://localhost", &sp));
	assert_int_equal(sp.port, 6379);
	assert_null(mp_state_spec_parse("redis+unix:/run/redis.sock?db=1", &sp));
	assert_string_equal(sp.where, "/run/redis.sock");
	assert_int_equal(sp.db, 1);
	assert_non_null(mp_state_spec_parse("redis://h:0/1", &sp));
	assert_non_null(mp_state_spec_parse("redis://user:pw@h/1", &sp));
	assert_non_null(mp_state_spec_parse("lmdb:relative", &sp));
	assert_non_null(mp_state_spec_parse("mysql://x", &sp));
}

int main(void)
{
	static const char *const memory = "memory", *const lmdb = "lmdb", *const redis = "redis",
			  *const redis_unix = "redis+unix";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_window, (void *)memory),
		cmocka_unit_test_prestate(test_expiry_and_bound, (void *)memory),
		cmocka_unit_test_prestate(test_greylist, (void *)memory),
		cmocka_unit_test_prestate(test_whitelist, (void *)memory),
		cmocka_unit_test_prestate(test_threads, (void *)memory),
		cmocka_unit_test_prestate(test_window, (void *)lmdb),
		cmocka_unit_test_prestate(test_expiry_and_bound, (void *)lmdb),
		cmocka_unit_test_prestate(test_greylist, (void *)lmdb),
		cmocka_unit_test_prestate(test_whitelist, (void *)lmdb),
		cmocka_unit_test_prestate(test_threads, (void *)lmdb),
		cmocka_unit_test_prestate(test_window, (void *)redis),
		cmocka_unit_test_prestate(test_expiry_and_bound, (void *)redis),
		cmocka_unit_test_prestate(test_greylist, (void *)redis),
		cmocka_unit_test_prestate(test_whitelist, (void *)redis),
		cmocka_unit_test_prestate(test_threads, (void *)redis),
		cmocka_unit_test_prestate(test_window, (void *)redis_unix),
		cmocka_unit_test_prestate(test_greylist, (void *)redis_unix),
		cmocka_unit_test(test_redis_errors),
	};
	return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
