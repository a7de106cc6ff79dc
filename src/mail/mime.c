/*
 * mime - the MIME walk over GMime 3; see mime.h.
 *
 * Why GMime (libgmime-3.0, Debian's): a maintained parser that decodes
 * base64 and quoted-printable, RFC 2231 parameters (continuations,
 * charsets) and RFC 2047 words, and that reports the structural problems
 * it works around (warnings), which mime.malformed is made of. Fenced:
 * GMime is initialised once per process; every object of one walk is the
 * walk's own (GMime objects are not shared between threads); the walk
 * stops at mime_max_parts and mime_max_depth itself, before GMime's own
 * nesting guard; GMime builds an object per entity before the walk
 * counts them, so it is never given more than MP_MIME_DASH_LINES(max_parts)
 * lines that begin with "--" (each entity needs one): past that the
 * message is cut there and mime_parts is reached; content is decoded in
 * blocks (mime_leaf.c), never whole into memory.
 */
#include "mail/mime.h"

#include "mail/mime_leaf.h"
#include "util/file.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_setup(void)
{
	g_mime_init();
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer arg)
{
	struct mp_mime *m = arg;

	(void)offset;
	(void)item;
	switch (code) {
	case GMIME_WARN_INVALID_CONTENT_TYPE:
	case GMIME_WARN_MALFORMED_MULTIPART:
	case GMIME_WARN_TRUNCATED_MESSAGE:
	case GMIME_WARN_MALFORMED_MESSAGE:
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
	case GMIME_CRIT_NESTING_OVERFLOW:
	case GMIME_WARN_PART_WITHOUT_CONTENT:
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		m->malformed = true;
		break;
	default:
		break;
	}
}

/* A copy of a parameter, NULL when it is absent or empty (failed set
 * when the copy could not be made). */
static char *dup_or_null(struct mp_mime *m, const char *s)
{
	char *c = s != NULL && *s != '\0' ? strdup(s) : NULL;

	if (s != NULL && *s != '\0' && c == NULL)
		m->failed = true;
	return c;
}

static struct mp_mime_part *add_part(struct mp_mime *m, unsigned depth, int parent,
				     GMimeObject *obj)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mp_mime_part *v = realloc(m->parts, cap * sizeof(*v));
		if (v == NULL) {
			m->failed = true;
			return NULL;
		}
		m->parts = v;
		m->cap = cap;
	}
	struct mp_mime_part *p = &m->parts[m->n++];
	memset(p, 0, sizeof(*p));
	p->depth = depth;
	p->parent = parent;
	p->start = p->end = -1;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	p->type = strdup(type ? type : "text/plain");
	g_free(type);
	if (p->type == NULL) {
		m->failed = true;
		return NULL;
	}
	mp_ascii_lower(p->type);
	p->ct_name = dup_or_null(m, g_mime_object_get_content_type_parameter(obj, "name"));
	p->cd_filename = dup_or_null(m, g_mime_object_get_content_disposition_parameter(obj, "filename"));
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	if (hl != NULL && g_mime_header_list_get_count(hl) > 0) {
		p->has_headers = true;
		p->start = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0));
	}
	if (depth > m->depth)
		m->depth = depth;
	return p;
}

/* Where a leaf's content ends (and starts, for one without headers). */
static void content_bounds(struct mp_mime_part *p, GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *s = w != NULL ? g_mime_data_wrapper_get_stream(w) : NULL;

	if (s == NULL || s->bound_end < 0)
		return;
	if (!p->has_headers)
		p->start = s->bound_start;
	p->end = s->bound_end;
}

struct walk {
	struct mp_mime *m;
	const struct mp_mime_limits *lim;
	struct mp_mime_scratch *sc;
};

static void walk(struct walk *w, GMimeObject *obj, unsigned depth, int parent)
{
	struct mp_mime *m = w->m;

	if (m->limit != NULL || m->failed || obj == NULL)
		return;
	if (depth > w->lim->max_depth) {
		m->limit = "mime_depth";
		return;
	}
	if (m->n >= w->lim->max_parts) {
		m->limit = "mime_parts";
		return;
	}
	struct mp_mime_part *p = add_part(m, depth, parent, obj);
	if (p == NULL)
		return;
	int self = (int)(m->n - 1);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		p->boundary = dup_or_null(m, g_mime_multipart_get_boundary(mp));
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1, self);
		return;
	}
	p->leaf = true;
	const char *disp = g_mime_object_get_disposition(obj);
	bool named = p->ct_name != NULL || p->cd_filename != NULL;
	bool disp_attach = disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0;
	if (GMIME_IS_MESSAGE_PART(obj)) {
		/* an attached message: one attachment, and its own parts */
		p->message = true;
		p->attachment = true;
		m->n_attachments++;
		p->detected = strdup("message/rfc822");
		if (p->detected == NULL)
			m->failed = true;
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner != NULL)
			walk(w, g_mime_message_get_mime_part(inner), depth + 1, self);
		return;
	}
	p->attachment = named || disp_attach || strncmp(p->type, "text/", 5) != 0;
	if (p->attachment)
		m->n_attachments++;
	if (GMIME_IS_PART(obj)) {
		content_bounds(p, GMIME_PART(obj));
		mp_mime_leaf(m, p, GMIME_PART(obj), w->lim, w->sc);
	}
}

/* An attached message ends where its parent's next delimiter starts (or
 * the source does): the last byte of its last part would leave the
 * inner multipart's close delimiter and epilogue behind. */
static void message_ends(struct mp_mime *m, GMimeStream *src, int64_t src_len)
{
	for (size_t i = 0; i < m->n; i++) {
		struct mp_mime_part *p = &m->parts[i];
		if (!p->message || p->start < 0)
			continue;
		const char *b = p->parent >= 0 ? m->parts[p->parent].boundary : NULL;
		p->end = src_len;
		if (b != NULL) {
			size_t bl = strlen(b);
			char *pat = g_strdup_printf("\n--%s", b);
			char buf[8192];
			int64_t pos = p->start;
			size_t keep = 0, plen = bl + 3;
			/* a window that carries plen - 1 bytes across reads */
			while (g_mime_stream_seek(src, pos, GMIME_STREAM_SEEK_SET) >= 0) {
				ssize_t n = g_mime_stream_read(src, buf + keep, sizeof(buf) - keep);
				if (n <= 0)
					break;
				size_t have = keep + (size_t)n;
				char *hit = memmem(buf, have, pat, plen);
				if (hit != NULL) {
					int64_t at = pos - (int64_t)keep + (hit - buf);
					/* the line break before the delimiter belongs to it */
					if (hit > buf && hit[-1] == '\r')
						at--;
					p->end = at;
					break;
				}
				keep = have < plen - 1 ? have : plen - 1;
				memmove(buf, buf + have - keep, keep);
				pos += n;
			}
			g_free(pat);
		}
		p->size = p->end > p->start ? (uint64_t)(p->end - p->start) : 0;
	}
}

/* Where the line that begins with "--" number max + 1 starts in the
 * source, or -1 when there are not that many. */
static int64_t dash_cut(GMimeStream *src, uint64_t max, char *buf, size_t bufsize)
{
	uint64_t lines = 0;
	int64_t pos = 0;
	int state = 1; /* 1: at a line start, 2: "-" read there, 0: elsewhere */
	ssize_t n;

	if (g_mime_stream_reset(src) != 0)
		return -1;
	while ((n = g_mime_stream_read(src, buf, bufsize)) > 0) {
		ssize_t i = 0;
		while (i < n) {
			if (state == 1 || state == 2) {
				if (buf[i] == '-') {
					if (state == 2 && ++lines > max)
						return pos + i - 1;
					state = state == 1 ? 2 : 0;
					i++;
					continue;
				}
				state = 0;
			}
			/* elsewhere: on to the next line */
			const char *nl = memchr(buf + i, '\n', (size_t)(n - i));
			if (nl == NULL)
				break;
			i = nl - buf + 1;
			state = 1;
		}
		pos += n;
	}
	return -1;
}

void mp_mime_parse(int fd, const char *mem, size_t len, const struct mp_mime_limits *lim,
		   struct mp_mime *out)
{
	memset(out, 0, sizeof(*out));
	mp_buf_init(&out->text);
	pthread_once(&gmime_once, gmime_setup);

	GMimeStream *src = NULL;
	int64_t src_len = (int64_t)len;
	if (fd >= 0) {
		int own = dup(fd);
		src_len = own >= 0 ? lseek(own, 0, SEEK_END) : -1;
		if (own >= 0 && src_len >= 0 && lseek(own, 0, SEEK_SET) == 0)
			src = g_mime_stream_fs_new(own); /* owns it */
		else if (own >= 0)
			close(own);
	} else {
		src = g_mime_stream_mem_new_with_buffer(mem ? mem : "", len);
	}
	struct mp_mime_scratch *sc = malloc(sizeof(*sc));
	if (src == NULL || sc == NULL) {
		out->failed = true;
		goto done;
	}
	GMimeParserOptions *opts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_warning_callback(opts, on_warning, out);
	GMimeStream *in = src;
	int64_t cut = dash_cut(src, MP_MIME_DASH_LINES((uint64_t)lim->max_parts), sc->block,
			       sizeof(sc->block));
	g_mime_stream_reset(src);
	if (cut >= 0) {
		in = g_mime_stream_substream(src, 0, cut);
		out->limit = "mime_parts";
	}
	GMimeParser *parser = g_mime_parser_new_with_stream(in);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	g_mime_parser_set_persist_stream(parser, TRUE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	if (msg == NULL) {
		out->malformed = true;
	} else {
		struct walk w = { out, lim, sc };
		const char *cut_limit = out->limit;
		out->limit = NULL;
		walk(&w, g_mime_message_get_mime_part(msg), 1, -1);
		if (out->limit == NULL)
			out->limit = cut_limit;
		message_ends(out, src, src_len);
		g_object_unref(msg);
	}
	g_object_unref(parser);
	g_mime_parser_options_free(opts);
	if (in != src)
		g_object_unref(in);
done:
	free(sc);
	if (src != NULL)
		g_object_unref(src);
}

void mp_mime_free(struct mp_mime *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct mp_mime_part *p = &m->parts[i];
		free(p->type);
		free(p->ct_name);
		free(p->cd_filename);
		free(p->boundary);
		free(p->detected);
		mp_archive_free(&p->arch);
	}
	free(m->parts);
	mp_buf_free(&m->text);
	memset(m, 0, sizeof(*m));
}
