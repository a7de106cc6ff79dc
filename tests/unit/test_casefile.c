/* Unit tests: test-case files (replay/casefile.c): a passing case, a
 * failing one with what it got, a case file that does not parse (where),
 * and the summary line. */
#include "helpers.h"

#include "conf/conf.h"
#include "replay/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_cases(void **state)
{
	const char *files[] = {
		"rules/global.rules",
		"rule \"blocked\" { when mail.from.domain == \"spam.example\"\n"
		"    reject 550 5.7.1 \"Go away\" }\n",
		"pass.case",
		"rules: rules\nclient-ip: 198.51.100.7\nmail-from: a@spam.example\n"
		"rcpt-to: b@example.com\nexpect-action: reject\nexpect-stage: mail\n"
		"expect-reply: 550 5.7.1 Go away\nexpect-rule: blocked\n---\nFrom: a@spam.example\n\nhi\n",
		"fail.case",
		"rules: rules\nclient-ip: 198.51.100.7\nmail-from: a@ok.example\n"
		"rcpt-to: b@example.com\nexpect-action: reject\n---\nFrom: a@ok.example\n\nhi\n",
		"bad.case",
		"rules: rules\nclient-port: 0\n---\n",
		NULL,
	};
	char *dir = th_mkdir(files);
	char *paths[3];
	const char *names[] = { "pass.case", "fail.case", "bad.case" };
	char *out = NULL;
	size_t len = 0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		paths[i] = malloc(strlen(dir) + 32);
		sprintf(paths[i], "%s/%s", dir, names[i]);
	}
	struct mp_conf *c = mp_conf_new();
	FILE *f = open_memstream(&out, &len);
	assert_int_equal(mp_cases_run(c, NULL, NULL, paths, 3, f), 2);
	fclose(f);
	assert_non_null(strstr(out, "expect-action: wanted reject, got accept"));
	assert_null(strstr(out, "pass.case"));
	assert_non_null(strstr(out, "bad.case:2: client-port: expected a port, 1 to 65535"));
	assert_non_null(strstr(out, "1 passed, 2 failed\n"));
	free(out);
	mp_conf_free(c);
	for (int i = 0; i < 3; i++)
		free(paths[i]);
	th_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
