/* Unit tests: the util layer (buffers, maps, UTF-8, IP addresses, paths,
 * diagnostics' positions, suggestions) and log lines. */
#include "helpers.h"

#include "util/buf.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/ip.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/suggest.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

static void test_buf(void **state)
{
	struct mp_buf b;

	(void)state;
	mp_buf_init(&b);
	mp_buf_adds(&b, "a");
	mp_buf_addc(&b, 'b');
	mp_buf_printf(&b, "%d%s", 12, "c");
	assert_string_equal(b.p, "ab12c");
	assert_int_equal(b.len, 5);
	char *s = mp_buf_steal(&b);
	assert_string_equal(s, "ab12c");
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	free(s);
	/* an empty buffer steals as "" */
	s = mp_buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_strmap(void **state)
{
	struct mp_strmap m;
	void *v = NULL;
	static char keys[1000][16]; /* the map does not own its keys */

	(void)state;
	mp_strmap_init(&m);
	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%d", i);
		assert_int_equal(mp_strmap_put(&m, keys[i], strlen(keys[i]), (void *)(intptr_t)(i + 1),
					       NULL), 0);
	}
	assert_int_equal(m.n, 1000);
	assert_true(mp_strmap_get(&m, "key567", &v));
	assert_int_equal((intptr_t)v, 568);
	assert_false(mp_strmap_get(&m, "key1000", NULL));
	/* the first len bytes are the key: "key12" */
	assert_true(mp_strmap_getn(&m, "key12345", 5, &v));
	assert_int_equal((intptr_t)v, 13);
	/* present: the old value stays and is handed back */
	void *old = NULL;
	assert_int_equal(mp_strmap_put(&m, "key1", 4, (void *)99, &old), 1);
	assert_int_equal((intptr_t)old, 2);
	assert_true(mp_strmap_get(&m, "key1", &v));
	assert_int_equal((intptr_t)v, 2);
	mp_strmap_free(&m);
}

static const char *clean(const char *s, size_t len, int controls, struct mp_buf *b)
{
	mp_buf_init(b);
	mp_utf8_clean(b, s, len, controls);
	return b->p ? b->p : "";
}

static void test_utf8(void **state)
{
	struct mp_buf b;

	(void)state;
	assert_int_equal(mp_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	assert_int_equal(mp_utf8_len((const unsigned char *)"\xc3", 1), 0);
	assert_int_equal(mp_utf8_len((const unsigned char *)"\xc0\xaf", 2), 0); /* overlong */
	assert_string_equal(clean("caf\xc3\xa9", 5, 0, &b), "caf\xc3\xa9");
	mp_buf_free(&b);
	/* an invalid byte becomes U+FFFD */
	assert_string_equal(clean("a\xffz", 3, 0, &b), "a\xef\xbf\xbdz");
	mp_buf_free(&b);
	/* controls: kept with 0, '?' with 1 (newline kept) */
	assert_string_equal(clean("a\x1b[1m\n", 6, 0, &b), "a\x1b[1m\n");
	mp_buf_free(&b);
	assert_string_equal(clean("a\x1b[1m\n", 6, 1, &b), "a?[1m\n");
	mp_buf_free(&b);
}

static void test_ip(void **state)
{
	struct mp_ip ip;
	char buf[64];
	int prefix;
	const char *why;

	(void)state;
	assert_int_equal(mp_ip_parse("192.0.2.7", 9, &ip), 0);
	assert_false(ip.v6);
	mp_ip_mask(&ip, 24);
	mp_ip_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0");
	assert_int_equal(mp_ip_parse("2001:DB8:0:0::9", 15, &ip), 0);
	mp_ip_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::9");
	assert_int_equal(mp_ip_parse("192.0.2", 7, &ip), -1);
	assert_int_equal(mp_ip_parse("1.2.3.4 ", 8, &ip), -1);
	assert_int_equal(mp_cidr_parse("10.0.0.0/8", 10, &ip, &prefix, &why), 0);
	assert_int_equal(prefix, 8);
	assert_int_equal(mp_cidr_parse("10.0.0.0/33", 11, &ip, &prefix, &why), -1);
	assert_non_null(why);
}

static void test_paths_and_case(void **state)
{
	(void)state;
	char *p = mp_path_join("/etc/mp", "lists/a.txt");
	assert_string_equal(p, "/etc/mp/lists/a.txt");
	free(p);
	p = mp_path_join("/etc/mp", "/abs/b.txt");
	assert_string_equal(p, "/abs/b.txt");
	free(p);
	assert_true(mp_ascii_ieq("Received-SPF", "received-spf"));
	assert_false(mp_ascii_ieq("From", "Fro"));
	assert_true(mp_ascii_ieqn("FROMx", 4, "from", 4));
}

static void test_diag_where_and_suggest(void **state)
{
	struct mp_diag g = { "f.rules", 3, 7, "m" };
	char where[64];
	static const char *const cands[] = { "mail.from.domain", "rcpt.to.domain", "helo" };

	(void)state;
	mp_diag_where(&g, where, sizeof(where));
	assert_string_equal(where, "f.rules:3:7");
	g.col = 0;
	mp_diag_where(&g, where, sizeof(where));
	assert_string_equal(where, "f.rules:3");
	g.line = 0;
	mp_diag_where(&g, where, sizeof(where));
	assert_string_equal(where, "f.rules");
	assert_string_equal(mp_suggest("mail.form.domain", cands, 3), "mail.from.domain");
	/* a message quoting a file's text cannot drive a terminal or split a line */
	struct mp_diags d;
	mp_diags_init(&d);
	mp_diags_add(&d, "f.rules", 1, 1, "rule '%s' has no closing '}'", "a\x1b[31m\nb\x7f");
	assert_string_equal(d.v[0].msg, "rule 'a?[31m?b?' has no closing '}'");
	mp_diags_free(&d);
	assert_null(mp_suggest("zzzzzz", cands, 3));
}

/* Nothing from a message can forge or split a log line. */
static void test_logline(void **state)
{
	struct mp_logline l;

	(void)state;
	mp_logline_init(&l);
	mp_logline_add(&l, "id", "Q1");
	mp_logline_add(&l, "from", "<a@b.example>");
	mp_logline_add(&l, "subject", "hi there");
	mp_logline_add(&l, "evil", "x\ny=1 \"q\" \\ \xff");
	mp_logline_add(&l, "empty", "");
	mp_logline_add(&l, "none", NULL);
	mp_logline_addf(&l, "score", "%.6g", 4.5);
	assert_string_equal(mp_logline_text(&l),
			    "id=Q1 from=<a@b.example> subject=\"hi there\" "
			    "evil=\"x\\x0ay=1 \\\"q\\\" \\\\ \\xff\" empty=\"\" score=4.5");
	mp_logline_free(&l);
	/* a long value is cut, and says so */
	static char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	mp_logline_init(&l);
	mp_logline_add(&l, "v", big);
	const char *t = mp_logline_text(&l);
	assert_true(strlen(t) < 1100);
	assert_non_null(strstr(t, "...\""));
	mp_logline_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_strmap),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_paths_and_case),
		cmocka_unit_test(test_diag_where_and_suggest),
		cmocka_unit_test(test_logline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
