/* Unit tests: reply texts as libmilter must be given them. */
#include "helpers.h"

#include "daemon/reply.h"

#include <string.h>

static void test_percent_doubled(void **state)
{
	char out[64];

	(void)state;
	mp_milter_reply_text("100% sure %%", out, sizeof(out));
	assert_string_equal(out, "100%% sure %%%%");
	mp_milter_reply_text("", out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_cut_not_split(void **state)
{
	char out[6];

	(void)state;
	/* "ab%%c" fits in 5 + NUL; a '%' never loses its twin */
	mp_milter_reply_text("ab%cdef", out, sizeof(out));
	assert_string_equal(out, "ab%%c");
	mp_milter_reply_text("abcd%", out, sizeof(out));
	assert_string_equal(out, "abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percent_doubled),
		cmocka_unit_test(test_cut_not_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
