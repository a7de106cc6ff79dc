/* Unit tests: what a rule set was loaded from, and when it changed
 * (rules/stamps.c), as automatic reload asks. */
#include "helpers.h"

#include "rules/stamps.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_rules),
		cmocka_unit_test(test_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
