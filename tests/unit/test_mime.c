/* Unit tests: the body spool (mail/spool.c: memory, then an unlinked
 * file) and the MIME walk (mail/mime.c over GMime): entities in order,
 * depth, attachment names from both parameters (RFC 2231 continued and
 * charset-encoded, RFC 2047), decoded sizes, attached messages, malformed
 * structure, the part and depth limits, and the same result whether the
 * body is in memory or in the file. */
#include "helpers.h"

#include "mail/archive.h"
#include "mail/html.h"
#include "mail/mime.h"
#include "mail/spool.h"
#include "util/buf.h"

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

/* HTML to text, fed one byte at a time and whole: the same text. */
static void html_text(const char *in, const char *want)
{
	struct mp_html h;
	struct mp_buf a, b;

	mp_buf_init(&a);
	mp_buf_init(&b);
	mp_html_init(&h);
	mp_html_feed(&h, in, strlen(in), &a);
	mp_html_end(&h, &a);
	for (size_t i = 0; in[i]; i++)
		mp_html_feed(&h, in + i, 1, &b);
	mp_html_end(&h, &b);
	assert_string_equal(a.p ? a.p : "", want);
	assert_string_equal(b.p ? b.p : "", want);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

static void test_html(void **state)
{
	(void)state;
	html_text("<p>Hello <b>world</b></p>", " Hello  world  ");
	html_text("a<script type=\"x\">var s = '</p>';</script>b", "a  b");
	html_text("a<STYLE>p { x: 1 }</STYLE >b<!-- hidden -- still -->c", "a  b c");
	html_text("&amp;&lt;&gt;&quot;&#65;&#x42;&euro;&nbsp;", "&<>\"AB\xe2\x82\xac ");
	html_text("fish &chips; R&D &#xZZ; &#0; 3 < 4", "fish &chips; R&D &#xZZ; \xef\xbf\xbd 3 < 4");
	html_text("<a title=\"x>y\">link</a>", " link ");
	html_text("<!DOCTYPE html><?xml x?>t", "  t");
	html_text("cut &am", "cut &am");
}

/* A stored zip of the given names (no compression, no data). */
static size_t zip_of(const char *const *names, size_t n, unsigned char *out)
{
	size_t len = 0, cd_start, cd_len;
	size_t offs[16];

	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		offs[i] = len;
		unsigned char lh[30] = { 'P', 'K', 3, 4, 10, 0 };
		lh[26] = (unsigned char)nl;
		memcpy(out + len, lh, 30);
		memcpy(out + len + 30, names[i], nl);
		len += 30 + nl;
	}
	cd_start = len;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		unsigned char ch[46] = { 'P', 'K', 1, 2, 20, 0, 10, 0 };
		ch[28] = (unsigned char)nl;
		ch[42] = (unsigned char)(offs[i] & 0xff);
		ch[43] = (unsigned char)(offs[i] >> 8);
		memcpy(out + len, ch, 46);
		memcpy(out + len + 46, names[i], nl);
		len += 46 + nl;
	}
	cd_len = len - cd_start;
	unsigned char eo[22] = { 'P', 'K', 5, 6 };
	eo[8] = eo[10] = (unsigned char)n;
	eo[12] = (unsigned char)cd_len;
	eo[13] = (unsigned char)(cd_len >> 8);
	eo[16] = (unsigned char)cd_start;
	eo[17] = (unsigned char)(cd_start >> 8);
	memcpy(out + len, eo, 22);
	return len + 22;
}

static void test_archive(void **state)
{
	static const char *const names[] = { "a.txt", "dir/b.exe", "c.pdf" };
	unsigned char zip[2048];
	struct mp_archive a;

	(void)state;
	size_t n = zip_of(names, 3, zip);
	assert_true(mp_archive_magic(zip, n));
	mp_archive_list(-1, zip, n, 1000, &a);
	assert_false(a.malformed || a.limit || a.failed || a.encrypted);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.names[1], "dir/b.exe");
	mp_archive_free(&a);
	/* the entry limit: what came before it is kept */
	mp_archive_list(-1, zip, n, 2, &a);
	assert_true(a.limit);
	assert_int_equal(a.n, 2);
	mp_archive_free(&a);
	/* cut short: unreadable */
	mp_archive_list(-1, zip, 40, 1000, &a);
	assert_true(a.malformed);
	mp_archive_free(&a);
	/* not an archive by content, whatever it is called */
	assert_false(mp_archive_magic((const unsigned char *)"%PDF-1.4", 8));
}

/* The text field: charsets converted, HTML stripped, attachments left
 * out, the budget kept at a character boundary. */
static void test_text(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=\"B\"\n\n"
		"--B\nContent-Type: text/plain; charset=iso-8859-1\n"
		"Content-Transfer-Encoding: quoted-printable\n\ncaf=E9\n"
		"--B\nContent-Type: text/html; charset=utf-8\n\n<p>r&eacute;sum&#233;</p>\n"
		"--B\nContent-Type: text/plain; name=\"notes.txt\"\n\nattached text\n"
		"--B--\n";
	struct mp_mime m;
	struct mp_mime_limits lim = LIM;

	(void)state;
	parse(msg, -1, NULL, &m);
	assert_non_null(strstr(m.text.p, "caf\xc3\xa9"));
	assert_non_null(strstr(m.text.p, "r&eacute;sum\xc3\xa9"));
	assert_null(strstr(m.text.p, "<p>"));
	assert_null(strstr(m.text.p, "attached text"));
	assert_int_equal(m.n_attachments, 1);
	mp_mime_free(&m);
	lim.text_max = 4; /* "caf" and half of the e-acute: cut before it */
	parse(msg, -1, &lim, &m);
	assert_string_equal(m.text.p, "caf");
	mp_mime_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_spool),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
