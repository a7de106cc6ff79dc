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
 * nesting guard; sizes are counted by writing decoded content to a null
 * stream, never into memory.
 */
#include "mail/mime.h"

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

static char *dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

static struct mp_mime_part *add_part(struct mp_mime *m, unsigned depth, GMimeObject *obj)
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
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	p->type = strdup(type ? type : "text/plain");
	g_free(type);
	if (p->type == NULL) {
		m->failed = true;
		return NULL;
	}
	for (char *c = p->type; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	p->ct_name = dup_or_null(g_mime_object_get_content_type_parameter(obj, "name"));
	p->cd_filename = dup_or_null(g_mime_object_get_content_disposition_parameter(obj, "filename"));
	if (depth > m->depth)
		m->depth = depth;
	return p;
}

/* Decoded bytes of a leaf's content. */
static uint64_t decoded_size(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	if (content == NULL)
		return 0;
	GMimeStream *null = g_mime_stream_null_new();
	g_mime_data_wrapper_write_to_stream(content, null);
	uint64_t n = GMIME_STREAM_NULL(null)->written;
	g_object_unref(null);
	return n;
}

static void walk(struct mp_mime *m, GMimeObject *obj, unsigned depth,
		 const struct mp_mime_limits *lim)
{
	if (m->limit != NULL || m->failed || obj == NULL)
		return;
	if (depth > lim->max_depth) {
		m->limit = "mime_depth";
		return;
	}
	if (m->n >= lim->max_parts) {
		m->limit = "mime_parts";
		return;
	}
	struct mp_mime_part *p = add_part(m, depth, obj);
	if (p == NULL)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			walk(m, g_mime_multipart_get_part(mp, i), depth + 1, lim);
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
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner != NULL)
			walk(m, g_mime_message_get_mime_part(inner), depth + 1, lim);
		return;
	}
	p->attachment = named || disp_attach || strncmp(p->type, "text/", 5) != 0;
	if (GMIME_IS_PART(obj))
		p->size = decoded_size(GMIME_PART(obj));
}

void mp_mime_parse(const char *head, size_t head_len, int body_fd, const char *body,
		   size_t body_len, const struct mp_mime_limits *lim, struct mp_mime *out)
{
	memset(out, 0, sizeof(*out));
	pthread_once(&gmime_once, gmime_setup);

	GMimeStream *cat = g_mime_stream_cat_new();
	GMimeStream *h = g_mime_stream_mem_new_with_buffer(head, head_len);
	GMimeStream *b = NULL;
	if (body_fd >= 0) {
		int fd = dup(body_fd);
		if (fd >= 0)
			b = g_mime_stream_fs_new(fd); /* owns fd */
	} else {
		b = g_mime_stream_mem_new_with_buffer(body ? body : "", body_len);
	}
	if (cat == NULL || h == NULL || b == NULL) {
		out->failed = true;
		goto out;
	}
	g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), h);
	g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), b);

	GMimeParserOptions *opts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_warning_callback(opts, on_warning, out);
	GMimeParser *parser = g_mime_parser_new_with_stream(cat);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	if (msg == NULL) {
		out->malformed = true;
	} else {
		walk(out, g_mime_message_get_mime_part(msg), 1, lim);
		g_object_unref(msg);
	}
	g_object_unref(parser);
	g_mime_parser_options_free(opts);
out:
	if (h != NULL)
		g_object_unref(h);
	if (b != NULL)
		g_object_unref(b);
	if (cat != NULL)
		g_object_unref(cat);
}

void mp_mime_free(struct mp_mime *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->parts[i].type);
		free(m->parts[i].ct_name);
		free(m->parts[i].cd_filename);
	}
	free(m->parts);
	memset(m, 0, sizeof(*m));
}
