/* Unit tests: the stores (state/memory.c, state/lmdb.c), each test on
 * both: the window arithmetic
 * (never an event of the window missed, at most one bucket more), expiry,
 * the entry bound with LRU eviction, greylisting (delay left, pass after
 * the delay, remembered, forgotten after the expiry), and exact totals
 * under 16 threads x 10,000 increments, on one key and on many. */
#include "helpers.h"

#include "state/state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A new store of the kind the test runs with (its state: "memory" or
 * "lmdb"); an lmdb file is unlinked once open (the map stays). */
static struct mp_state *new_store(void **state, size_t max)
{
	const char *kind = *state;
	if (strcmp(kind, "memory") == 0)
		return mp_state_memory_new(max);
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

static void test_greylist(void **state)
{
	struct mp_state *st = new_store(state, 1000);
	const char *t = "192.0.2.0/24\x1f" "a@b.example\x1f" "c@d.example";
	bool pass;
	unsigned left;

	assert_int_equal(mp_state_greylist(st, t, strlen(t), 1000, 300, 86400 * 36, &pass, &left), 0);
	assert_false(pass);
	assert_int_equal(left, 300);
	mp_state_greylist(st, t, strlen(t), 1299, 300, 86400 * 36, &pass, &left);
	assert_false(pass);
	assert_int_equal(left, 1);
	mp_state_greylist(st, t, strlen(t), 1300, 300, 86400 * 36, &pass, &left);
	assert_true(pass);
	/* remembered for the expiry from the last pass */
	mp_state_greylist(st, t, strlen(t), 1300 + 86400 * 30, 300, 86400 * 36, &pass, &left);
	assert_true(pass);
	mp_state_greylist(st, t, strlen(t), 1300 + 86400 * 67, 300, 86400 * 36, &pass, &left);
	assert_false(pass); /* forgotten: new again */
	assert_int_equal(left, 300);
	/* a triplet that never came back is forgotten after a day */
	const char *u = "198.51.100.0/24\x1fx@y\x1fz@w";
	mp_state_greylist(st, u, strlen(u), 0, 300, 86400 * 36, &pass, &left);
	mp_state_greylist(st, u, strlen(u), 86400 + 1, 300, 86400 * 36, &pass, &left);
	assert_false(pass);
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

int main(void)
{
	static const char *const memory = "memory", *const lmdb = "lmdb";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_window, (void *)memory),
		cmocka_unit_test_prestate(test_expiry_and_bound, (void *)memory),
		cmocka_unit_test_prestate(test_greylist, (void *)memory),
		cmocka_unit_test_prestate(test_threads, (void *)memory),
		cmocka_unit_test_prestate(test_window, (void *)lmdb),
		cmocka_unit_test_prestate(test_expiry_and_bound, (void *)lmdb),
		cmocka_unit_test_prestate(test_greylist, (void *)lmdb),
		cmocka_unit_test_prestate(test_threads, (void *)lmdb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
