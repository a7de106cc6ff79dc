/* Unit tests: ${field} substitution and sanitising (engine/text.c, SPEC
 * §4.5): no control character survives, replies are ASCII, headers keep
 * valid UTF-8, everything is capped at 512 bytes on a character boundary. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_text_sanitising(void **state)
{
	/* cap at 512 bytes on a character boundary */
	static char big[2000];
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	struct mp_ruleset *rs = th_global("rule \"a\" { add header \"X-Long\" \"z${helo}\" }\n");
	struct th_msg m;
	struct th_run r;
	th_msg_init(&m);
	m.helo = big;
	th_run(rs, &m, &r);
	assert_int_equal(strlen(r.res->add[0].value), 511);
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

/* A hostile HELO in a reply and in a header: CR, LF, NUL-free control
 * bytes dropped; a reply turns non-ASCII into '?', a header keeps valid
 * UTF-8 and turns a stray byte into '?'. */
static void test_reply_and_header(void **state)
{
	struct mp_ruleset *rs = th_global(
		"rule \"h\" { add header \"X-Helo\" \"<${helo}>\" }\n"
		"rule \"r\" { when helo ~ /evil/ reject 550 5.7.1 \"no ${helo} here\" }\n");
	struct th_msg m;
	struct th_run r;

	(void)state;
	th_msg_init(&m);
	m.helo = "evil\r\n250 ok\x01\tcaf\xc3\xa9\xff";
	th_run(rs, &m, &r);
	assert_int_equal(r.res->v.outcome, MP_O_REJECT);
	assert_string_equal(r.res->v.reply.text, "no evil250 okcaf??? here");
	th_run_free(&r);
	mp_ruleset_unref(rs);

	rs = th_global("rule \"h\" { add header \"X-Helo\" \"<${helo}>\" }\n");
	th_run(rs, &m, &r);
	assert_int_equal(r.res->n_add, 1);
	assert_string_equal(r.res->add[0].value, "<evil250 okcaf\xc3\xa9?>");
	th_run_free(&r);
	mp_ruleset_unref(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_sanitising),
		cmocka_unit_test(test_reply_and_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
