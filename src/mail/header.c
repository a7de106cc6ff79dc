/*
 * header - unfolding and RFC 2047 decoding; see header.h.
 *
 * UTF-8, US-ASCII and ISO-8859-1 are converted inline (most mail); other
 * charsets go through iconv, opened per word because an iconv_t cannot be
 * shared between threads.
 */
#include "mail/header.h"

#include "util/arena.h"
#include "util/buf.h"
#include "util/file.h"

#include <iconv.h>
#include <stdbool.h>
#include <string.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool decode_b(const char *s, size_t n, struct mp_buf *out)
{
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		int v = b64val(s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			mp_buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
	return true;
}

static bool decode_q(const char *s, size_t n, struct mp_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			mp_buf_addc(out, ' ');
		} else if (s[i] == '=') {
			if (i + 2 >= n)
				return false;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return false;
			mp_buf_addc(out, (char)(h * 16 + l));
			i += 2;
		} else {
			mp_buf_addc(out, s[i]);
		}
	}
	return true;
}

/* Appends bytes in charset cs to out as UTF-8. */
static bool to_utf8(const char *cs, const char *s, size_t n, struct mp_buf *out)
{
	if (mp_ascii_ieq(cs, "utf-8") || mp_ascii_ieq(cs, "utf8") || mp_ascii_ieq(cs, "us-ascii")) {
		mp_buf_add(out, s, n);
		return true;
	}
	if (mp_ascii_ieq(cs, "iso-8859-1") || mp_ascii_ieq(cs, "latin1")) {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x80) {
				mp_buf_addc(out, (char)c);
			} else {
				mp_buf_addc(out, (char)(0xc0 | (c >> 6)));
				mp_buf_addc(out, (char)(0x80 | (c & 0x3f)));
			}
		}
		return true;
	}
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return false;
	char tmp[1024];
	char *in = (char *)s;
	size_t inleft = n;
	bool ok = true;
	while (inleft > 0) {
		char *o = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		mp_buf_add(out, tmp, sizeof(tmp) - oleft);
		if (r == (size_t)-1 && o == tmp) {
			ok = false;
			break;
		}
	}
	iconv_close(cd);
	return ok;
}

/* Tries to decode an encoded word at s (starting "=?") into out (empty,
 * the caller's scratch). Returns its length; 0 when s is not a valid
 * encoded word (out then holds nothing the caller uses). */
static size_t encoded_word(const char *s, const char *end, struct mp_buf *out)
{
	const char *cs = s + 2;
	const char *q1 = memchr(cs, '?', (size_t)(end - cs));
	if (q1 == NULL || q1 == cs || q1 - cs > 40 || q1 + 3 > end || q1[2] != '?')
		return 0;
	char enc = q1[1];
	const char *text = q1 + 3;
	const char *stop = NULL;
	for (const char *p = text; p + 1 < end; p++) {
		if (p[0] == '?' && p[1] == '=') {
			stop = p;
			break;
		}
		if (is_wsp(*p))
			return 0;
	}
	if (stop == NULL)
		return 0;
	char charset[41];
	size_t cl = (size_t)(q1 - cs);
	memcpy(charset, cs, cl);
	charset[cl] = '\0';
	char *star = strchr(charset, '*'); /* RFC 2231 language */
	if (star != NULL)
		*star = '\0';
	struct mp_buf raw;
	mp_buf_init(&raw);
	bool ok;
	if (enc == 'B' || enc == 'b')
		ok = decode_b(text, (size_t)(stop - text), &raw);
	else if (enc == 'Q' || enc == 'q')
		ok = decode_q(text, (size_t)(stop - text), &raw);
	else
		ok = false;
	if (raw.oom)
		out->oom = true; /* the caller's failure, not a word left raw */
	if (ok && !raw.oom)
		ok = to_utf8(charset, raw.p ? raw.p : "", raw.len, out);
	mp_buf_free(&raw);
	if (!ok || out->oom)
		return 0;
	/* a NUL from a decoded word would cut the C string short */
	for (size_t i = 0; i < out->len; i++) {
		if (out->p[i] == '\0')
			out->p[i] = ' ';
	}
	return (size_t)(stop + 2 - s);
}

/* mp_header_value without encoded words: the line breaks go, the rest is
 * copied in runs straight into the arena (the value only shrinks). */
static int unfold_plain(const char *p, const char *end, struct mp_arena *arena,
			const char **out_r, size_t *out_len_r)
{
	char *out = mp_arena_alloc(arena, (size_t)(end - p) + 1);
	size_t n = 0;

	if (out == NULL)
		return -1;
	while (p < end) {
		const char *brk = p;
		while (brk < end && *brk != '\r' && *brk != '\n')
			brk++;
		memcpy(out + n, p, (size_t)(brk - p));
		n += (size_t)(brk - p);
		for (p = brk; p < end && (*p == '\r' || *p == '\n'); p++)
			;
	}
	while (n > 0 && is_wsp(out[n - 1]))
		n--;
	out[n] = '\0';
	*out_r = out;
	*out_len_r = n;
	return 0;
}

int mp_header_value(const char *raw, size_t len, struct mp_arena *arena,
		    const char **out_r, size_t *out_len_r)
{
	bool fold = memchr(raw, '\n', len) != NULL || memchr(raw, '\r', len) != NULL;
	bool enc = memmem(raw, len, "=?", 2) != NULL;
	bool edge = len > 0 && (is_wsp(raw[0]) || is_wsp(raw[len - 1]));

	if (!fold && !enc && !edge) {
		*out_r = raw;
		*out_len_r = len;
		return 0;
	}
	const char *p = raw, *end = raw + len;
	while (p < end && (is_wsp(*p) || *p == '\r' || *p == '\n'))
		p++;
	if (!enc)
		return unfold_plain(p, end, arena, out_r, out_len_r);
	struct mp_buf b, word;
	mp_buf_init(&b);
	mp_buf_init(&word);
	bool last_was_word = false;  /* last thing emitted was an encoded word */
	size_t ws_start = 0;         /* where pending whitespace began in b */
	while (p < end) {
		char c = *p;
		if (c == '\r' || c == '\n') {
			/* folding: the line break goes, the whitespace after it stays */
			p++;
			continue;
		}
		if (enc && c == '=' && p + 1 < end && p[1] == '?') {
			/* decoded aside: a word that fails leaves b as it was */
			word.len = 0;
			size_t n = encoded_word(p, end, &word);
			if (n > 0) {
				/* whitespace between two encoded words is dropped (it
				 * is only whitespace: last_was_word says so) */
				if (last_was_word)
					b.len = ws_start;
				mp_buf_add(&b, word.p ? word.p : "", word.len);
				p += n;
				last_was_word = true;
				ws_start = b.len;
				continue;
			}
		}
		if (!is_wsp(c))
			last_was_word = false;
		mp_buf_addc(&b, c);
		p++;
	}
	while (b.len > 0 && is_wsp(b.p[b.len - 1]))
		b.len--;
	if (word.oom)
		b.oom = true;
	mp_buf_free(&word);
	if (b.oom) {
		mp_buf_free(&b);
		return -1;
	}
	char *copy = mp_arena_strndup(arena, b.p ? b.p : "", b.len);
	size_t l = b.len;
	mp_buf_free(&b);
	if (copy == NULL)
		return -1;
	*out_r = copy;
	*out_len_r = l;
	return 0;
}
