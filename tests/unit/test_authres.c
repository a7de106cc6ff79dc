/* Unit tests: Authentication-Results and Received-SPF values (mail/authres). */
#include "helpers.h"

#include "mail/authres.h"

#include <string.h>

static void test_authres_ours(void **state)
{
	(void)state;
	assert_true(mp_authres_is_ours("mx.test.example; spf=pass", "mx.test.example"));
	assert_true(mp_authres_is_ours("  MX.Test.Example;dkim=none", "mx.test.example"));
	assert_true(mp_authres_is_ours("(c (nested)) mx.test.example 1; none", "mx.test.example"));
	assert_true(mp_authres_is_ours("\n\t\"mx.test.example\"; none", "mx.test.example"));
	assert_false(mp_authres_is_ours("mx.test.example.evil; none", "mx.test.example"));
	assert_false(mp_authres_is_ours("other.example; spf=pass smtp.mailfrom=mx.test.example", "mx.test.example"));
	assert_false(mp_authres_is_ours("", "mx.test.example"));
	assert_false(mp_authres_is_ours("(unterminated", "mx.test.example"));
	/* forms a lenient reader takes for ours are removed too */
	assert_true(mp_authres_is_ours("mx.test.example\x0b; spf=pass", "mx.test.example"));
	assert_true(mp_authres_is_ours("mx.test.example.; spf=pass", "mx.test.example"));
	assert_true(mp_authres_is_ours("(open mx.test.example; spf=pass", "mx.test.example"));
	assert_true(mp_authres_is_ours("( mx.test.example; spf=pass", "mx.test.example"));
	assert_false(mp_authres_is_ours("mx.test.example.evil.; spf=pass", "mx.test.example"));
}

static const char *build(const struct mp_authres *in, struct mp_buf *b)
{
	mp_buf_init(b);
	return mp_authres_build(in, b) ? (b->p ? b->p : "") : NULL;
}

static void test_nothing_computed(void **state)
{
	struct mp_authres in = { .authserv_id = "mx.test.example" };
	struct mp_buf b;

	(void)state;
	assert_null(build(&in, &b));
	assert_int_equal(b.len, 0);
	mp_buf_free(&b);
}

static void test_spf_and_dkim(void **state)
{
	const struct mp_authres_dkim sigs[] = {
		{ MP_AR_PASS, "bank.example", "s1", "abcdefghijkl" },
		{ MP_AR_FAIL, "other.example", "", "ab/+cd=" },
	};
	struct mp_authres in = { .authserv_id = "mx.test.example", .spf = true,
				 .spf_result = MP_AR_SOFTFAIL, .mailfrom = "a@sender.example",
				 .helo = "h.example", .dkim = true, .sigs = sigs, .n_sigs = 2 };
	struct mp_buf b;

	(void)state;
	/* header.b: the first 8 characters; '/', '+' and '=' are atext, so a
	 * dot-atom value stays bare */
	assert_string_equal(build(&in, &b),
			    "mx.test.example;\n\tspf=softfail smtp.mailfrom=a@sender.example;\n"
			    "\tdkim=pass header.d=bank.example header.s=s1 header.b=abcdefgh;\n"
			    "\tdkim=fail header.d=other.example header.b=ab/+cd=");
	mp_buf_free(&b);
}

static void test_null_sender_and_hostile_values(void **state)
{
	struct mp_authres in = { .authserv_id = "mx", .spf = true, .spf_result = MP_AR_PASS,
				 .mailfrom = "", .helo = "bad\r\nX-Forged: yes \"q\"",
				 .dkim = true };
	struct mp_buf b;

	(void)state;
	/* the null sender reports the HELO; controls go, quotes are escaped */
	assert_string_equal(build(&in, &b), "mx;\n\tspf=pass smtp.helo=\"badX-Forged: yes \\\"q\\\"\";\n"
					    "\tdkim=none");
	mp_buf_free(&b);
}

static void test_received_spf_clean(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(mp_received_spf_clean("pass (x\xc3\xa9)\r\n", out, sizeof(out)), 10);
	assert_string_equal(out, "pass (x?" "?)");
	assert_int_equal(mp_received_spf_clean("0123456789abcdefXYZ", out, sizeof(out)), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authres_ours),
		cmocka_unit_test(test_nothing_computed),
		cmocka_unit_test(test_spf_and_dkim),
		cmocka_unit_test(test_null_sender_and_hostile_values),
		cmocka_unit_test(test_received_spf_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
