/*
 * html - HTML to text for the `text` field; see html.h. Not a full HTML5
 * tokeniser: enough that markup, scripts, styles and comments do not reach
 * the rules and that references spell what the reader sees.
 */
#include "mail/html.h"

#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_TEXT, S_LT, S_TAGNAME, S_TAG, S_BANG, S_COMMENT, S_DECL, S_RAW, S_REF };

void mp_html_init(struct mp_html *h)
{
	memset(h, 0, sizeof(*h));
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void put_utf8(struct mp_buf *out, uint32_t cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		mp_buf_addc(out, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		mp_buf_add(out, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		mp_buf_add(out, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		mp_buf_add(out, u, 4);
	}
}

/* A complete reference (the text between '&' and ';'); false when it is
 * not one, and the text goes out as it was. */
static bool reference(const char *r, size_t n, struct mp_buf *out)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
		{ "nbsp", ' ' }, { "shy", 0xAD }, { "copy", 0xA9 }, { "reg", 0xAE },
		{ "euro", 0x20AC }, { "ndash", 0x2013 }, { "mdash", 0x2014 }, { "hellip", 0x2026 },
		{ "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C }, { "rdquo", 0x201D },
		{ "zwnj", 0x200C }, { "zwj", 0x200D },
	};

	if (n >= 2 && r[0] == '#') {
		uint32_t cp = 0;
		bool hex = r[1] == 'x' || r[1] == 'X';
		size_t i = hex ? 2 : 1;
		if (i >= n)
			return false;
		for (; i < n; i++) {
			char c = r[i];
			int d = c >= '0' && c <= '9' ? c - '0'
				: hex && lower(c) >= 'a' && lower(c) <= 'f' ? lower(c) - 'a' + 10 : -1;
			if (d < 0)
				return false;
			cp = cp * (hex ? 16 : 10) + (uint32_t)d;
			if (cp > 0x10FFFF)
				cp = 0x110000; /* stays out of range, no overflow */
		}
		put_utf8(out, cp);
		return true;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == n && memcmp(named[i].name, r, n) == 0) {
			put_utf8(out, named[i].cp);
			return true;
		}
	}
	return false;
}

/* The end of a start or end tag. */
static void tag_done(struct mp_html *h, struct mp_buf *out)
{
	mp_buf_addc(out, ' ');
	h->state = S_TEXT;
	if (!h->closing && (strcmp(h->name, "script") == 0 || strcmp(h->name, "style") == 0)) {
		h->state = S_RAW;
		h->raw_style = h->name[1] == 't';
		h->match = 0;
	}
}

void mp_html_feed(struct mp_html *h, const char *p, size_t n, struct mp_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		switch (h->state) {
		case S_TEXT:
			if (c == '<') {
				h->state = S_LT;
			} else if (c == '&') {
				h->state = S_REF;
				h->name_len = 0;
			} else {
				/* a run of plain text goes out at once */
				size_t j = i;
				while (j < n && p[j] != '<' && p[j] != '&')
					j++;
				mp_buf_add(out, p + i, j - i);
				i = j - 1;
			}
			break;
		case S_LT:
			h->name_len = 0;
			h->name[0] = '\0';
			h->closing = false;
			h->quote = 0;
			if (c == '!') {
				h->state = S_BANG;
				h->dashes = 0;
			} else if (c == '/') {
				h->closing = true;
				h->state = S_TAGNAME;
			} else if (is_alnum(c)) {
				h->state = S_TAGNAME;
				i--; /* read as the name's first byte */
			} else if (c == '?') {
				h->state = S_DECL;
			} else {
				/* "a < b": not markup */
				mp_buf_addc(out, '<');
				h->state = S_TEXT;
				i--;
			}
			break;
		case S_TAGNAME:
			if (is_alnum(c)) {
				if (h->name_len + 1 < sizeof(h->name)) {
					h->name[h->name_len++] = lower(c);
					h->name[h->name_len] = '\0';
				}
				break;
			}
			h->state = S_TAG;
			/* fall through */
		case S_TAG:
			if (h->quote != 0) {
				if (c == h->quote)
					h->quote = 0;
			} else if (c == '"' || c == '\'') {
				h->quote = c;
			} else if (c == '>') {
				tag_done(h, out);
			}
			break;
		case S_BANG:
			/* "<!--" opens a comment; any other "<!" a declaration */
			if (c == '-' && ++h->dashes < 2)
				break;
			if (c == '-') {
				h->state = S_COMMENT;
				h->dashes = 0;
			} else {
				h->state = c == '>' ? S_TEXT : S_DECL;
				if (c == '>')
					mp_buf_addc(out, ' ');
			}
			break;
		case S_COMMENT:
			if (c == '>' && h->dashes >= 2) {
				h->state = S_TEXT;
				mp_buf_addc(out, ' ');
			}
			h->dashes = c == '-' ? h->dashes + 1 : 0;
			break;
		case S_DECL:
			if (c == '>') {
				h->state = S_TEXT;
				mp_buf_addc(out, ' ');
			}
			break;
		case S_RAW: {
			const char *end = h->raw_style ? "</style" : "</script";
			size_t len = strlen(end);
			if (lower(c) == end[h->match]) {
				if (++h->match == len) {
					/* the end tag's rest is read as a tag */
					h->state = S_TAG;
					h->closing = true;
					snprintf(h->name, sizeof(h->name), "%s", end + 2);
					h->quote = 0;
				}
			} else {
				h->match = lower(c) == '<' ? 1 : 0;
			}
			break;
		}
		case S_REF:
			if (c == ';') {
				if (!reference(h->name, h->name_len, out)) {
					mp_buf_addc(out, '&');
					mp_buf_add(out, h->name, h->name_len);
					mp_buf_addc(out, ';');
				}
				h->state = S_TEXT;
			} else if ((is_alnum(c) || (c == '#' && h->name_len == 0)) &&
				   h->name_len + 1 < sizeof(h->name)) {
				h->name[h->name_len++] = c;
			} else {
				/* not a reference after all: the text goes out as it was */
				mp_buf_addc(out, '&');
				mp_buf_add(out, h->name, h->name_len);
				h->state = S_TEXT;
				i--;
			}
			break;
		}
	}
}

void mp_html_end(struct mp_html *h, struct mp_buf *out)
{
	if (h->state == S_REF) {
		mp_buf_addc(out, '&');
		mp_buf_add(out, h->name, h->name_len);
	}
	mp_html_init(h);
}
