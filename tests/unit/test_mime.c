/* Unit tests: the body spool (mail/spool.c: memory, then an unlinked
 * file) and the MIME walk (mail/mime.c over GMime): entities in order,
 * depth, attachment names from both parameters (RFC 2231 continued and
 * charset-encoded, RFC 2047), decoded sizes, attached messages, malformed
 * structure, the part and depth limits, and the same result whether the
 * body is in memory or in the file. */
#include "helpers.h"

#include "mail/mime.h"
#include "mail/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct mp_mime_limits LIM = { 20, 500, 1000, 1 << 20, "/tmp", 1 << 20, true, true };

static void parse(const char *msg, int fd_body, const struct mp_mime_limits *lim, struct mp_mime *m)
{
	(void)fd_body;
	mp_mime_parse(-1, msg, strlen(msg), lim ? lim : &LIM, m);
	assert_false(m->failed);
}

static const char MIXED[] =
	"From: a@b.example\n"
	"Subject: invoice\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"preamble\n"
	"--XX\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"\n"
	"Hello.\n"
	"--XX\n"
	"Content-Type: application/octet-stream;\n"
	" name*0=\"inv\"; name*1=\"oice.exe\"\n"
	"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.exe\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"TVqQAAMAAAAEAAAA//8AALgAAAA=\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: c@d.example\n"
	"Content-Type: multipart/mixed; boundary=\"YY\"\n"
	"\n"
	"--YY\n"
	"Content-Type: application/pdf; name=\"=?utf-8?q?caf=C3=A9=2Epdf?=\"\n"
	"\n"
	"%PDF-1.4\n"
	"--YY--\n"
	"--XX--\n";

static void test_walk(void **state)
{
	struct mp_mime m;

	(void)state;
	parse(MIXED, -1, NULL, &m);
	assert_false(m.malformed);
	assert_null(m.limit);
	assert_int_equal(m.n, 6);  /* root, text, exe, message, its multipart, pdf */
	assert_string_equal(m.parts[0].type, "multipart/mixed");
	assert_int_equal(m.parts[0].depth, 1);
	assert_false(m.parts[0].leaf);
	assert_string_equal(m.parts[1].type, "text/plain");
	assert_false(m.parts[1].attachment);
	assert_string_equal(m.parts[2].ct_name, "invoice.exe");
	assert_string_equal(m.parts[2].cd_filename, "r\xc3\xa9sum\xc3\xa9.exe");
	assert_true(m.parts[2].attachment);
	assert_int_equal(m.parts[2].size, 20);
	assert_true(m.parts[3].message && m.parts[3].attachment);
	assert_int_equal(m.parts[4].depth, 3);
	assert_string_equal(m.parts[5].ct_name, "caf\xc3\xa9.pdf");
	assert_int_equal(m.parts[5].depth, 4);
	assert_int_equal(m.depth, 4);
	mp_mime_free(&m);

	/* a plain message: one entity, depth 1 */
	parse("From: a@b.example\nSubject: x\n\nhello\n", -1, NULL, &m);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.depth, 1);
	assert_false(m.parts[0].attachment);
	mp_mime_free(&m);
}

static void test_malformed(void **state)
{
	struct mp_mime m;

	(void)state;
	/* a multipart without boundary */
	parse("Content-Type: multipart/mixed\n\nhello\n", -1, NULL, &m);
	assert_true(m.malformed);
	mp_mime_free(&m);
	/* a declared boundary never used */
	parse("Content-Type: multipart/mixed; boundary=ZZ\n\nno parts at all\n", -1, NULL, &m);
	assert_true(m.malformed);
	mp_mime_free(&m);
	/* the same message, well formed */
	parse(MIXED, -1, NULL, &m);
	assert_false(m.malformed);
	mp_mime_free(&m);
}

static void test_limits(void **state)
{
	struct mp_mime m;
	char *msg = malloc(200000);
	size_t n = 0;

	(void)state;
	assert_non_null(msg);
	n += (size_t)sprintf(msg + n, "Content-Type: multipart/mixed; boundary=B\n\n");
	for (int i = 0; i < 30; i++)
		n += (size_t)sprintf(msg + n, "--B\nContent-Type: text/plain\n\npart %d\n", i);
	sprintf(msg + n, "--B--\n");
	struct mp_mime_limits lim = LIM;
	lim.max_parts = 10;
	parse(msg, -1, &lim, &m);
	assert_string_equal(m.limit, "mime_parts");
	assert_int_equal(m.n, 10);  /* what was walked before the limit */
	mp_mime_free(&m);

	/* 30 nested multiparts, a depth limit of 20 */
	n = 0;
	n += (size_t)sprintf(msg + n, "Content-Type: multipart/mixed; boundary=b0\n\n");
	for (int i = 1; i < 30; i++)
		n += (size_t)sprintf(msg + n, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n",
				     i - 1, i);
	n += (size_t)sprintf(msg + n, "--b29\nContent-Type: text/plain\n\ndeep\n");
	for (int i = 29; i >= 0; i--)
		n += (size_t)sprintf(msg + n, "--b%d--\n", i);
	parse(msg, -1, NULL, &m);
	assert_string_equal(m.limit, "mime_depth");
	assert_int_equal(m.depth, 20);
	mp_mime_free(&m);
	free(msg);
}

static void test_spool(void **state)
{
	struct mp_spool s;
	char chunk[1000];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	mp_spool_init(&s, "/tmp", 4096, 10000);
	for (int i = 0; i < 4; i++)
		assert_true(mp_spool_add(&s, chunk, sizeof(chunk)));
	assert_int_equal(s.fd, -1);   /* still in memory */
	assert_int_equal(s.size, 4000);
	assert_true(mp_spool_add(&s, chunk, sizeof(chunk)));
	assert_true(s.fd >= 0);       /* past 4096: the file */
	assert_null(s.mem);
	for (int i = 0; i < 5; i++)
		assert_true(mp_spool_add(&s, chunk, sizeof(chunk)));
	assert_int_equal(s.size, 10000);
	assert_false(mp_spool_add(&s, chunk, 1));  /* past max */
	assert_true(s.over);
	assert_int_equal(s.size, 10000);
	int fd = mp_spool_open(&s, false);
	assert_true(fd >= 0);
	char buf[20000];
	ssize_t r = read(fd, buf, sizeof(buf));
	assert_int_equal(r, 10000);
	close(fd);
	mp_spool_free(&s);

	/* the MIME walk reads the same from memory and from the file */
	mp_spool_init(&s, "/tmp", 16, 1 << 20);
	assert_true(mp_spool_add(&s, MIXED, strlen(MIXED)));
	assert_true(s.fd >= 0);
	fd = mp_spool_open(&s, false);
	assert_true(fd >= 0);
	struct mp_mime a, b;
	mp_mime_parse(fd, NULL, 0, &LIM, &a);
	close(fd);
	parse(MIXED, -1, NULL, &b);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.parts[i].type, b.parts[i].type);
		assert_int_equal(a.parts[i].size, b.parts[i].size);
	}
	mp_mime_free(&a);
	mp_mime_free(&b);
	mp_spool_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_spool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
