/* Unit tests: what a rule set was loaded from, and when it changed
 * (rules/stamps.c), as automatic reload asks; one load reads one version
 * of a rules directory swapped by a symbolic link (rules/ruleset.c). */
#include "helpers.h"

#include "rules/stamps.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path_of(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static void test_list_rules(void **state)
{
	const char *files[] = { "global.rules", "rule \"a\" { accept }\n", "b.example.rules", "",
				"a.example.rules", "", "notes.txt", "", "x.rule", "", NULL };
	char *dir = th_mkdir(files);
	char **names;
	size_t n;

	(void)state;
	assert_int_equal(mp_stamps_list_rules(dir, &names, &n), 0);
	assert_int_equal(n, 3);
	/* sorted; only *.rules */
	assert_string_equal(names[0], "a.example.rules");
	assert_string_equal(names[1], "b.example.rules");
	assert_string_equal(names[2], "global.rules");
	mp_stamps_free_names(names, n);
	assert_int_equal(mp_stamps_list_rules("/nonexistent-dir-here", &names, &n), -1);
	th_rmdir(dir);
}

static void test_changes(void **state)
{
	const char *files[] = { "global.rules", "rule \"a\" { accept }\n", "list.txt", "a\n", NULL };
	char *dir = th_mkdir(files);
	char *g = path_of(dir, "global.rules"), *l = path_of(dir, "list.txt");

	(void)state;
	struct mp_stamps *s = mp_stamps_new(dir);
	assert_non_null(s);
	mp_stamps_add(s, g);
	mp_stamps_add(s, l);
	mp_stamps_add(s, l); /* once */
	mp_stamps_scan_dir(s);
	assert_true(mp_stamps_has(s, l));
	assert_false(mp_stamps_has(s, "/etc/passwd"));
	assert_false(mp_stamps_changed(s));
	/* a new size */
	th_write_file(dir, "list.txt", "a\nb\n");
	assert_true(mp_stamps_changed(s));
	/* stamped again: quiet until the next change */
	struct mp_stamps *now = mp_stamps_now(s);
	assert_non_null(now);
	assert_false(mp_stamps_changed(now));
	/* a new top-level file is a change; another kind of file is not */
	th_write_file(dir, "notes.txt", "x");
	assert_false(mp_stamps_changed(now));
	th_write_file(dir, "c.example.rules", "");
	assert_true(mp_stamps_changed(now));
	mp_stamps_free(now);
	/* a file that goes away is a change */
	now = mp_stamps_now(s);
	assert_int_equal(unlink(l), 0);
	assert_true(mp_stamps_changed(now));
	mp_stamps_free(now);
	mp_stamps_free(s);
	mp_stamps_free(NULL);
	free(g);
	free(l);
	th_rmdir(dir);
}

/* Points dir/rules.d at target the way a deployment does: a new link
 * renamed over the old one (atomic). */
static void point(const char *dir, const char *target)
{
	char tmp[4096], link[4096];

	snprintf(tmp, sizeof(tmp), "%s/rules.d.new", dir);
	snprintf(link, sizeof(link), "%s/rules.d", dir);
	unlink(tmp);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(rename(tmp, link), 0);
}

struct swapper {
	const char *dir;
	atomic_bool stop;
	atomic_ulong swaps;
};

static void *swap_loop(void *arg)
{
	struct swapper *sw = arg;

	for (unsigned long i = 0; !atomic_load(&sw->stop); i++) {
		point(sw->dir, i % 2 ? "r1" : "r2");
		atomic_fetch_add(&sw->swaps, 1);
	}
	return NULL;
}

static size_t load_count(const char *rules_dir, struct mp_ruleset **rs_r)
{
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;

	mp_diags_init(&d);
	assert_int_equal(mp_conf_set_rules_dir(c, rules_dir), 0);
	struct mp_ruleset *rs = mp_ruleset_load(c, &d);
	if (rs == NULL)
		mp_diags_print(&d, stderr);
	assert_non_null(rs);
	mp_diags_free(&d);
	mp_conf_free(c);
	size_t n = mp_ruleset_n_rules(rs);
	if (rs_r != NULL)
		*rs_r = rs;
	else
		mp_ruleset_unref(rs);
	return n;
}

/* rules_dir a symbolic link swapped between two releases during loads:
 * every load is one release (6 or 9 rules, never a mix such as 7 or 8),
 * and a rule set loaded before a swap sees it as a change. */
static void test_symlink_swap(void **state)
{
	/* r1: 2 + 4 rules (one in an included file, two through a list file);
	 * r2: 3 + 3 + 3 */
	const char *files[] = {
		"r1/global.rules", "rule \"g1\" { when mail.from == \"a@1\" reject }\n"
				   "rule \"g2\" { when mail.from in l1 reject }\n"
				   "list l1 file \"l.txt\"\n",
		"r1/l.txt", "x@1\n",
		"r1/a.example.rules", "include \"inc.inc\"\n"
				      "rule \"a1\" { when mail.from == \"a@1\" reject }\n"
				      "rule \"a2\" { when mail.from == \"b@1\" reject }\n"
				      "rule \"a3\" { when mail.from == \"c@1\" reject }\n",
		"r1/inc.inc", "rule \"i1\" { when mail.from == \"d@1\" reject }\n",
		"r2/global.rules", "rule \"g1\" { when mail.from == \"a@2\" reject }\n"
				   "rule \"g2\" { when mail.from in l1 reject }\n"
				   "rule \"g3\" { when mail.from == \"c@2\" reject }\n"
				   "list l1 file \"l.txt\"\n",
		"r2/l.txt", "x@2\n",
		"r2/a.example.rules", "include \"inc.inc\"\n"
				      "rule \"a1\" { when mail.from == \"a@2\" reject }\n"
				      "rule \"a2\" { when mail.from == \"b@2\" reject }\n",
		"r2/inc.inc", "rule \"i1\" { when mail.from == \"d@2\" reject }\n",
		"r2/b.example.rules", "rule \"b1\" { when mail.from == \"a@2\" reject }\n"
				      "rule \"b2\" { when mail.from == \"b@2\" reject }\n"
				      "rule \"b3\" { when mail.from == \"c@2\" reject }\n",
		NULL
	};
	char *dir = th_mkdir(files);
	char link[4096];
	struct swapper sw = { .dir = dir };
	pthread_t t;
	size_t seen[2] = { 0, 0 };

	(void)state;
	snprintf(link, sizeof(link), "%s/rules.d", dir);
	point(dir, "r1");
	assert_int_equal(load_count(link, NULL), 6);
	point(dir, "r2");
	assert_int_equal(load_count(link, NULL), 9);

	atomic_init(&sw.stop, false);
	atomic_init(&sw.swaps, 0);
	assert_int_equal(pthread_create(&t, NULL, swap_loop, &sw), 0);
	for (int i = 0; i < 300; i++) {
		size_t n = load_count(link, NULL);
		if (n != 6 && n != 9)
			fail_msg("load %d: %zu rules, a mix of the two releases", i, n);
		seen[n == 9]++;
	}
	atomic_store(&sw.stop, true);
	pthread_join(t, NULL);
	/* the loop did swap under the loads */
	assert_true(atomic_load(&sw.swaps) > 300);

	/* loaded, then swapped: a change, even to a release of the same names */
	struct mp_ruleset *rs;
	point(dir, "r1");
	assert_int_equal(load_count(link, &rs), 6);
	assert_false(mp_ruleset_changed(rs));
	point(dir, "r1");
	assert_false(mp_ruleset_changed(rs));
	point(dir, "r2");
	assert_true(mp_ruleset_changed(rs));
	mp_ruleset_unref(rs);
	printf("symlink swap: %zu loads of release 1, %zu of release 2, %lu swaps\n", seen[0],
	       seen[1], atomic_load(&sw.swaps));

	unlink(link);
	th_rmdir(dir);
}

/* The directory's identity alone: two empty releases list the same. */
static void test_dir_identity(void **state)
{
	const char *files[] = { "e1/x.txt", "", "e2/x.txt", "", NULL };
	char *dir = th_mkdir(files);
	char link[4096];

	(void)state;
	snprintf(link, sizeof(link), "%s/rules.d", dir);
	point(dir, "e1");
	struct mp_stamps *s = mp_stamps_new(link);
	int fd = open(link, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	mp_stamps_scan_dir(s);
	mp_stamps_set_dir(s, fd);
	close(fd);
	assert_false(mp_stamps_changed(s));
	point(dir, "e2");
	assert_true(mp_stamps_changed(s));
	struct mp_stamps *now = mp_stamps_now(s);
	assert_false(mp_stamps_changed(now));
	point(dir, "e1");
	assert_true(mp_stamps_changed(now));
	mp_stamps_free(now);
	mp_stamps_free(s);
	unlink(link);
	th_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_rules),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_symlink_swap),
		cmocka_unit_test(test_dir_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
