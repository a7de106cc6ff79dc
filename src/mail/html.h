/*
 * html - the text of an HTML document, for the `text` field (SPEC §11):
 * tags become a space, the contents of script and style elements and
 * comments are dropped, character references are decoded. Fed in chunks
 * of any size (a tag or a reference may straddle two); the state is a few
 * bytes, so the cost is linear in the input and memory does not grow.
 */
#ifndef MP_HTML_H
#define MP_HTML_H

#include <stdbool.h>
#include <stddef.h>

struct mp_buf;

struct mp_html {
	int state;
	char name[12];      /* tag name or reference being read, lower case */
	size_t name_len;
	bool closing;       /* the tag is an end tag */
	char quote;         /* inside an attribute value quoted with this */
	size_t match;       /* bytes of "</script" or "</style" matched */
	bool raw_style;     /* raw text ends at </style (else </script) */
	int dashes;         /* in a comment: '-' seen in a row */
};

void mp_html_init(struct mp_html *h);
/* Appends the text of p[0..n) to out. */
void mp_html_feed(struct mp_html *h, const char *p, size_t n, struct mp_buf *out);
/* The input has ended: what a cut-off reference held goes out as text. */
void mp_html_end(struct mp_html *h, struct mp_buf *out);

#endif
