/*
 * mime_leaf - one leaf's content, decoded in one pass; see mime_leaf.h.
 *
 * Malformed content (SPEC §11): a Content-Transfer-Encoding GMime does not
 * know, and base64 with bytes outside its alphabet (GMime skips them
 * silently). Text parts without a charset, or with one iconv does not
 * know, keep their bytes; every byte that is not UTF-8 becomes U+FFFD.
 */
#include "mail/mime_leaf.h"

#include "mail/archive.h"
#include "mail/html.h"
#include "mail/sniff.h"
#include "mail/spool.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct leaf {
	struct mp_mime *m;
	struct mp_mime_part *p;
	const struct mp_mime_limits *lim;
	struct mp_mime_scratch *sc;
	size_t head_n;
	bool decided;           /* whether it is an archive is known */
	struct mp_spool spool;  /* an archive's content */
	bool text, html;
	GMimeFilter *charset;
	struct mp_html h;
	struct mp_buf raw;      /* this part's text before UTF-8 repair */
};

static bool base64_clean(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n' || c == ' ' ||
		      c == '\t'))
			return false;
	}
	return true;
}

/* Text that still fits the budget of the `text` field. */
static void text_add(struct leaf *l, char *p, size_t n)
{
	size_t used = l->m->text.len + l->raw.len;

	if (l->m->text_full || used >= l->lim->text_max)
		return;
	if (l->charset != NULL) {
		size_t outlen, pre;
		char *out;
		g_mime_filter_filter(l->charset, p, n, 0, &out, &outlen, &pre);
		p = out;
		n = outlen;
	}
	if (l->html)
		mp_html_feed(&l->h, p, n, &l->raw);
	else
		mp_buf_add(&l->raw, p, n);
}

/* Decoded bytes, in order. */
static void consume(struct leaf *l, char *p, size_t n)
{
	l->p->size += n;
	if (l->text) {
		text_add(l, p, n);
		return;
	}
	if (!l->p->attachment || (!l->lim->sniff && !l->lim->archives))
		return;
	size_t room = sizeof(l->sc->head) - l->head_n;
	size_t k = n < room ? n : room;
	memcpy(l->sc->head + l->head_n, p, k);
	l->head_n += k;
	if (!l->decided && l->head_n == sizeof(l->sc->head)) {
		l->decided = true;
		l->p->is_archive = l->lim->archives && mp_archive_magic(l->sc->head, l->head_n);
		if (l->p->is_archive)
			mp_spool_add(&l->spool, l->sc->head, l->head_n);
		p += k;
		n -= k;
	}
	if (l->decided && l->p->is_archive && n > 0)
		mp_spool_add(&l->spool, p, n);
}

static void finish_text(struct leaf *l)
{
	struct mp_buf *t = &l->m->text;

	if (l->charset != NULL) {
		size_t outlen, pre;
		char *out;
		g_mime_filter_complete(l->charset, (char *)"", 0, 0, &out, &outlen, &pre);
		if (l->html)
			mp_html_feed(&l->h, out, outlen, &l->raw);
		else
			mp_buf_add(&l->raw, out, outlen);
	}
	if (l->html)
		mp_html_end(&l->h, &l->raw);
	if (l->m->text_full || l->raw.len == 0)
		goto out;
	if (t->len > 0)
		mp_buf_addc(t, '\n'); /* between parts */
	size_t start = t->len;
	mp_utf8_clean(t, l->raw.p ? l->raw.p : "", l->raw.len, 0);
	if (t->len >= l->lim->text_max)
		l->m->text_full = true;
	if (t->len > l->lim->text_max) {
		/* cut at a character boundary within the budget */
		size_t cut = l->lim->text_max;
		while (cut > start && ((unsigned char)t->p[cut] & 0xC0) == 0x80)
			cut--;
		t->len = cut;
		t->p[cut] = '\0';
	}
out:
	if (l->raw.oom || t->oom)
		l->m->failed = true;
}

static void finish_attachment(struct leaf *l)
{
	struct mp_mime_part *p = l->p;
	char type[128];

	if (!l->decided)
		p->is_archive = l->lim->archives && mp_archive_magic(l->sc->head, l->head_n);
	if (l->lim->sniff) {
		mp_sniff(l->sc->head, l->head_n, type, sizeof(type));
		if ((p->detected = strdup(type)) == NULL)
			l->m->failed = true;
	}
	if (!p->is_archive)
		return;
	if (!l->decided) {
		mp_archive_list(-1, l->sc->head, l->head_n, l->lim->max_entries, &p->arch);
	} else if (l->spool.failed) {
		l->m->failed = true;
		return;
	} else {
		int fd = mp_spool_open(&l->spool, false);
		if (fd >= 0) {
			mp_archive_list(fd, NULL, 0, l->lim->max_entries, &p->arch);
			close(fd);
		} else {
			mp_archive_list(-1, l->spool.mem, l->spool.len, l->lim->max_entries, &p->arch);
		}
	}
	if (p->arch.failed)
		l->m->failed = true;
	if (p->arch.malformed)
		l->m->malformed = true;
	if (p->arch.limit && l->m->limit == NULL)
		l->m->limit = "archive_entries";
}

void mp_mime_leaf(struct mp_mime *m, struct mp_mime_part *p, GMimePart *part,
		  const struct mp_mime_limits *lim, struct mp_mime_scratch *sc)
{
	struct leaf l;
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);

	memset(&l, 0, sizeof(l));
	l.m = m;
	l.p = p;
	l.lim = lim;
	l.sc = sc;
	mp_buf_init(&l.raw);
	mp_spool_init(&l.spool, lim->spool_dir, lim->spool_mem, SIZE_MAX);
	l.text = !p->attachment &&
		 (strcmp(p->type, "text/plain") == 0 || strcmp(p->type, "text/html") == 0);
	l.html = l.text && strcmp(p->type, "text/html") == 0;
	mp_html_init(&l.h);
	if (g_mime_object_get_header(GMIME_OBJECT(part), "Content-Transfer-Encoding") != NULL &&
	    enc == GMIME_CONTENT_ENCODING_DEFAULT)
		m->malformed = true; /* an encoding nobody can undo */
	if (l.text) {
		const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
		if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
		    g_ascii_strcasecmp(cs, "us-ascii") != 0)
			l.charset = g_mime_filter_charset_new(cs, "UTF-8");
	}
	GMimeStream *raw = w != NULL ? g_mime_data_wrapper_get_stream(w) : NULL;
	GMimeFilter *dec = NULL;
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE)
		dec = g_mime_filter_basic_new(enc, FALSE);
	if (raw != NULL && g_mime_stream_reset(raw) == 0) {
		ssize_t n;
		while ((n = g_mime_stream_read(raw, sc->block, sizeof(sc->block))) > 0) {
			if (enc == GMIME_CONTENT_ENCODING_BASE64 && !base64_clean(sc->block, (size_t)n))
				m->malformed = true;
			if (dec != NULL) {
				char *out;
				size_t outlen, pre;
				g_mime_filter_filter(dec, sc->block, (size_t)n, 0, &out, &outlen, &pre);
				consume(&l, out, outlen);
			} else {
				consume(&l, sc->block, (size_t)n);
			}
		}
		/* GMime's file stream says -1 at the end of a part */
		if (n < 0 && !g_mime_stream_eos(raw))
			m->failed = true;
		if (dec != NULL) {
			char *out;
			size_t outlen, pre;
			g_mime_filter_complete(dec, (char *)"", 0, 0, &out, &outlen, &pre);
			consume(&l, out, outlen);
		}
	}
	if (l.text)
		finish_text(&l);
	else if (p->attachment)
		finish_attachment(&l);
	if (dec != NULL)
		g_object_unref(dec);
	if (l.charset != NULL)
		g_object_unref(l.charset);
	mp_buf_free(&l.raw);
	mp_spool_free(&l.spool);
}
