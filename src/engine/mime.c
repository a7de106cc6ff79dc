/*
 * engine/mime - the MIME side of a transaction (SPEC §11): the body
 * spooled from the end of the header when a policy needs a MIME field or
 * strips attachments, the parse at the end of the message, the values of
 * the attachment, archive, mime.* and text fields, and strip attachment
 * (which parts a rule's condition holds for, and the new body).
 *
 * The spool holds the message's MIME header fields (MIME-Version and
 * Content-*, as received), a blank line and the body, so GMime sees one
 * source and every offset it gives is an offset into the spool; body
 * offsets are those minus the header's length. The spool, the parse and
 * the strip list live as long as the transaction.
 */
#include "engine/internal.h"

#include "util/file.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Body bytes kept in memory before the spool becomes a file; the same for
 * an archive's decoded content. */
#define SPOOL_MEM (512 * 1024)

static const char *spool_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d != NULL && *d == '/' ? d : "/tmp";
}

/* The fields GMime needs to read the top entity. */
static bool mime_header(const char *name)
{
	return strcasecmp(name, "mime-version") == 0 || strncasecmp(name, "content-", 8) == 0;
}

/* What the open evaluations need of the MIME parse (MP_NEED_*). */
static unsigned wanted(const struct mp_txn *t)
{
	unsigned need = 0;

	for (size_t i = 0; i < t->n_msg; i++) {
		if (t->msg[i]->outcome == MP_O_NONE)
			need |= t->msg[i]->pol->need;
	}
	return need & MP_NEED_MIME ? need : 0;
}

void mp_mime_txn_start(struct mp_txn *t)
{
	if (t->spool_on || t->v.outcome != MP_O_NONE || !wanted(t))
		return;
	t->spool_on = true;
	mp_spool_init(&t->spool, spool_dir(), SPOOL_MEM, SIZE_MAX);
	struct mp_buf b;
	mp_buf_init(&b);
	for (size_t i = 0; i < t->n_hdrs; i++) {
		const struct mp_hdr *h = &t->hdrs[i];
		if (!mime_header(h->name))
			continue;
		mp_buf_adds(&b, h->name);
		mp_buf_addc(&b, ':');
		for (size_t k = 0; k < h->raw_len; k++) {
			if (h->raw[k] == '\n')
				mp_buf_addc(&b, '\r');
			mp_buf_addc(&b, h->raw[k]);
		}
		mp_buf_adds(&b, "\r\n");
	}
	mp_buf_adds(&b, "\r\n");
	if (b.oom)
		t->oom = true;
	else
		mp_spool_add(&t->spool, b.p, b.len);
	t->spool_head = t->spool.size;
	mp_buf_free(&b);
}

void mp_mime_txn_body(struct mp_txn *t, const void *p, size_t n)
{
	if (t->spool_on)
		mp_spool_add(&t->spool, p, n);
}

/* The lower-case extension of a file name: after its last dot, trailing
 * dots and spaces dropped first (Windows drops them too: "a.exe." runs as
 * an exe). NULL when it has none. */
static const char *extension(struct mp_txn *t, const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == '.' || name[n - 1] == ' '))
		n--;
	size_t dot = n;
	while (dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/' && name[dot - 1] != '\\')
		dot--;
	if (dot == 0 || name[dot - 1] != '.' || dot == n)
		return NULL;
	char *e = mp_arena_strndup(&t->arena, name + dot, n - dot);
	if (e == NULL) {
		t->oom = true;
		return NULL;
	}
	mp_ascii_lower(e);
	return e;
}

/* The attachments with their names and extensions, once parsed. */
static void index_attachments(struct mp_txn *t)
{
	struct mp_mime *m = &t->mime;

	t->atts = m->n_attachments ? mp_arena_zalloc(&t->arena, m->n_attachments * sizeof(*t->atts))
				   : NULL;
	if (m->n_attachments && t->atts == NULL) {
		t->oom = true;
		return;
	}
	for (size_t i = 0; i < m->n && t->n_atts < m->n_attachments; i++) {
		const struct mp_mime_part *p = &m->parts[i];
		if (!p->attachment)
			continue;
		struct mp_att *a = &t->atts[t->n_atts++];
		a->part = i;
		if (p->cd_filename != NULL)
			a->names[a->n_names++] = p->cd_filename;
		if (p->ct_name != NULL && (p->cd_filename == NULL || strcmp(p->ct_name, p->cd_filename) != 0))
			a->names[a->n_names++] = p->ct_name;
		for (size_t k = 0; k < a->n_names; k++) {
			const char *e = extension(t, a->names[k]);
			if (e != NULL && (a->n_exts == 0 || strcmp(a->exts[0], e) != 0))
				a->exts[a->n_exts++] = e;
		}
	}
}

void mp_mime_txn_parse(struct mp_txn *t)
{
	if (!t->spool_on || t->mime_done)
		return;
	t->mime_done = true;
	if (t->spool.failed) {
		t->oom = true; /* the body could not be held: an internal error */
		return;
	}
	const struct mp_settings *s = t->set;
	struct mp_mime_limits lim = {
		.max_depth = s->mime_max_depth,
		.max_parts = s->mime_max_parts,
		.max_entries = s->archive_max_entries,
		.text_max = s->body_scan_limit,
		.spool_dir = spool_dir(),
		.spool_mem = SPOOL_MEM,
	};
	/* libmagic and archive listing only for rules that read them (a
	 * trace, for `test`, shows everything) */
	unsigned need = wanted(t);
	lim.sniff = t->trace_on || (need & MP_NEED_SNIFF);
	lim.archives = t->trace_on || (need & MP_NEED_ARCHIVE);
	int fd = mp_spool_open(&t->spool, false);
	if (fd < 0 && t->spool.fd >= 0) {
		t->oom = true;
		return;
	}
	mp_mime_parse(fd, t->spool.mem, t->spool.len, &lim, &t->mime);
	if (fd >= 0)
		close(fd);
	if (t->mime.failed) {
		t->oom = true;
		return;
	}
	index_attachments(t);
	if (t->mime.limit != NULL)
		mp_txn_limit_found(t, t->mime.limit);
}

void mp_mime_txn_free(struct mp_txn *t)
{
	mp_mime_free(&t->mime);
	if (t->spool_on)
		mp_spool_free(&t->spool);
}

/* ---- values ------------------------------------------------------------ */

/* The attachments a per-part field reads: all, or the one in focus. */
static bool att_range(const struct mp_ctx *x, size_t *from, size_t *to)
{
	const struct mp_txn *t = x->txn;

	if (x->part1 > 0) {
		for (size_t i = 0; i < t->n_atts; i++) {
			if (t->atts[i].part + 1 == (size_t)x->part1) {
				*from = i;
				*to = i + 1;
				return true;
			}
		}
		*from = *to = 0;
		return false;
	}
	*from = 0;
	*to = t->n_atts;
	return true;
}

bool mp_val_mime_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it,
		      const char **s_r, size_t *len_r)
{
	struct mp_txn *t = x->txn;
	const struct mp_mime *m = &t->mime;
	size_t from, to;

	if (!t->mime_done)
		return false;
	switch (e->field) {
	case MP_F_MIME_TYPE:
		if (it->i >= m->n)
			return false;
		*s_r = m->parts[it->i++].type;
		*len_r = strlen(*s_r);
		return true;
	case MP_F_TEXT:
		if (it->i++ > 0)
			return false;
		*s_r = m->text.p ? m->text.p : "";
		*len_r = m->text.len;
		return true;
	default:
		break;
	}
	att_range(x, &from, &to);
	/* it->i: attachment (from `from`), it->h: value within it */
	for (size_t i = from + it->i; i < to; i++, it->i++, it->h = 0) {
		const struct mp_att *a = &t->atts[i];
		const struct mp_mime_part *p = &m->parts[a->part];
		const char *s = NULL;
		size_t k = (size_t)it->h;
		switch (e->field) {
		case MP_F_ATTACHMENT_NAME:
			s = k < a->n_names ? a->names[k] : NULL;
			break;
		case MP_F_ATTACHMENT_EXT:
			s = k < a->n_exts ? a->exts[k] : NULL;
			break;
		case MP_F_ATTACHMENT_TYPE:
			s = k == 0 ? p->type : NULL;
			break;
		case MP_F_ATTACHMENT_DETECTED:
			s = k == 0 ? p->detected : NULL;
			break;
		case MP_F_ARCHIVE_NAME:
			s = k < p->arch.n ? p->arch.names[k] : NULL;
			break;
		default:
			return false;
		}
		if (s != NULL) {
			it->h++;
			*s_r = s;
			*len_r = strlen(s);
			return true;
		}
	}
	return false;
}

/* attachment.size, one value per call. */
bool mp_val_mime_size_next(struct mp_ctx *x, struct mp_viter *it, double *v)
{
	struct mp_txn *t = x->txn;
	size_t from, to;

	if (!t->mime_done)
		return false;
	att_range(x, &from, &to);
	if (from + it->i >= to)
		return false;
	*v = (double)t->mime.parts[t->atts[from + it->i++].part].size;
	return true;
}

double mp_val_mime_number(struct mp_ctx *x, const struct mp_expr *e)
{
	struct mp_txn *t = x->txn;
	struct mp_viter it = { 0, 0 };
	double v = 0;

	switch (e->field) {
	case MP_F_ATTACHMENT_SIZE:
		return mp_val_mime_size_next(x, &it, &v) ? v : 0;
	case MP_F_ATTACHMENT_COUNT:
		return (double)t->n_atts;
	case MP_F_MIME_PARTS:
		return (double)t->mime.n;
	case MP_F_MIME_DEPTH:
		return (double)t->mime.depth;
	default:
		return 0;
	}
}

bool mp_val_mime_bool(struct mp_ctx *x, const struct mp_expr *e)
{
	struct mp_txn *t = x->txn;
	size_t from, to;

	if (e->field == MP_F_MIME_MALFORMED)
		return t->mime.malformed;
	att_range(x, &from, &to);
	for (size_t i = from; i < to; i++) {
		if (t->mime.parts[t->atts[i].part].arch.encrypted)
			return true;
	}
	return false;
}

/* ---- strip attachment ----------------------------------------------- */

/* The entity that goes for part k: an attached message's own top entity
 * shares its header with the message, so the message goes. */
static size_t strip_target(const struct mp_mime *m, size_t k)
{
	int parent = m->parts[k].parent;

	if (parent >= 0 && m->parts[parent].message)
		return (size_t)parent;
	return k;
}

static bool covered(const struct mp_txn *t, size_t part)
{
	for (int p = (int)part; p >= 0; p = t->mime.parts[p].parent) {
		for (size_t i = 0; i < t->n_strips; i++) {
			if (t->strips[i].part == (size_t)p)
				return true;
		}
	}
	return false;
}

void mp_strip_plan(struct mp_ctx *x, const struct mp_rule *r, const struct mp_action *a)
{
	struct mp_txn *t = x->txn;
	const struct mp_mime *m = &t->mime;
	char reason[MP_TEXT_MAX + 1];

	if (r == NULL || t == NULL || !t->mime_done || x->stage < MP_STAGE_EOM)
		return;
	for (size_t i = 0; i < t->n_atts; i++) {
		const struct mp_att *att = &t->atts[i];
		struct mp_ctx fx = *x;
		fx.part1 = (int)att->part + 1;
		fx.rule = r;
		if (r->when != NULL && mp_eval_cond(&fx, r->when) != TV_TRUE)
			continue;
		size_t target = strip_target(m, att->part);
		if (covered(t, target))
			continue;
		if (a->text != NULL)
			mp_text_expand(&fx, a->text, r->name, false, reason);
		else
			reason[0] = '\0';
		struct mp_strip *slot = mp_txn_push(t, (void **)&t->strips, &t->n_strips,
						    &t->cap_strips, sizeof(*slot));
		if (slot == NULL)
			return;
		const struct mp_mime_part *p = &m->parts[target];
		const char *name = p->cd_filename ? p->cd_filename : p->ct_name;
		if (name == NULL && target != att->part)
			name = att->n_names ? att->names[0] : NULL;
		*slot = (struct mp_strip){
			.part = target,
			.name = name ? name : "",
			.type = p->type,
			.reason = mp_txn_strdup(t, reason),
			.rule = r->name,
		};
	}
}

/* The text/plain part that stands where an attachment was. */
static void note(const struct mp_strip *s, bool headers, struct mp_buf *b)
{
	if (headers)
		mp_buf_adds(b, "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n"
			       "Content-Disposition: inline\r\n\r\n");
	mp_buf_adds(b, "The attachment ");
	if (*s->name != '\0') {
		mp_buf_addc(b, '"');
		mp_utf8_clean(b, s->name, strlen(s->name), 1);
		mp_buf_adds(b, "\" ");
	}
	mp_buf_printf(b, "(%s) was removed", s->type);
	if (s->reason != NULL && *s->reason != '\0') {
		mp_buf_adds(b, ": ");
		mp_utf8_clean(b, s->reason, strlen(s->reason), 1);
	}
	mp_buf_adds(b, ".");
}

static int cmp_start(const void *a, const void *b)
{
	int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];

	return x < y ? -1 : x > y;
}

/* Copies spool bytes [from, to) to put. */
static int copy(struct mp_txn *t, int fd, int64_t from, int64_t to,
		int (*put)(void *, const void *, size_t), void *arg)
{
	char buf[64 * 1024];

	if (fd < 0)
		return to > from ? put(arg, t->spool.mem + from, (size_t)(to - from)) : 0;
	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || put(arg, buf, (size_t)n) < 0)
			return -1;
		from += n;
	}
	return 0;
}

int mp_txn_new_body(struct mp_txn *t, int (*put)(void *arg, const void *p, size_t n), void *arg)
{
	const struct mp_result *r = mp_txn_result(t);

	if (r == NULL)
		return -1;
	if (r->n_strips == 0)
		return 0;
	struct mp_buf b;
	mp_buf_init(&b);
	int rc = 1;
	/* the whole message was the attachment: the body is the note */
	for (size_t i = 0; i < t->n_strips; i++) {
		if (t->mime.parts[t->strips[i].part].parent >= 0)
			continue;
		note(&t->strips[i], false, &b);
		mp_buf_adds(&b, "\r\n");
		rc = b.oom || put(arg, b.p, b.len) < 0 ? -1 : 1;
		mp_buf_free(&b);
		return rc;
	}
	/* (start, end, strip) in document order; one inside another is moot */
	int64_t (*spans)[3] = calloc(t->n_strips, sizeof(*spans));
	if (spans == NULL)
		return -1;
	for (size_t i = 0; i < t->n_strips; i++) {
		const struct mp_mime_part *p = &t->mime.parts[t->strips[i].part];
		spans[i][0] = p->start;
		spans[i][1] = p->end;
		spans[i][2] = (int64_t)i;
	}
	qsort(spans, t->n_strips, sizeof(*spans), cmp_start);
	int fd = mp_spool_open(&t->spool, false);
	if (fd < 0 && t->spool.fd >= 0) {
		free(spans);
		return -1;
	}
	int64_t pos = (int64_t)t->spool_head, end = (int64_t)t->spool.size;
	for (size_t i = 0; i < t->n_strips && rc > 0; i++) {
		int64_t s = spans[i][0], e = spans[i][1];
		if (s < pos || e < s || e > end || s < (int64_t)t->spool_head)
			continue; /* inside one already replaced, or unknown */
		b.len = 0;
		note(&t->strips[spans[i][2]], t->mime.parts[t->strips[spans[i][2]].part].has_headers, &b);
		if (copy(t, fd, pos, s, put, arg) < 0 || b.oom || put(arg, b.p, b.len) < 0)
			rc = -1;
		pos = e;
	}
	if (rc > 0 && copy(t, fd, pos, end, put, arg) < 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(spans);
	mp_buf_free(&b);
	return rc;
}

void mp_txn_mime_values(struct mp_txn *t, enum mp_field_id f,
			void (*cb)(void *arg, const char *s, size_t len, double num), void *arg)
{
	struct mp_eval ev;
	struct mp_ctx x = { .conn = t->conn, .txn = t, .ev = &ev, .stage = MP_STAGE_EOM };
	struct mp_expr e;
	struct mp_viter it = { 0, 0 };
	const struct mp_field_info *fi = mp_field_info(f);
	const char *s;
	size_t len;
	double v;

	memset(&ev, 0, sizeof(ev));
	memset(&e, 0, sizeof(e));
	e.field = f;
	e.hid = e.pf = e.pfkey = e.vid = -1;
	if (!t->mime_done || !(fi->need & MP_NEED_MIME))
		return;
	if (f == MP_F_ATTACHMENT_SIZE) {
		while (mp_val_mime_size_next(&x, &it, &v))
			cb(arg, NULL, 0, v);
	} else if (fi->type == MP_T_NUM) {
		cb(arg, NULL, 0, mp_val_mime_number(&x, &e));
	} else if (fi->type == MP_T_BOOL) {
		cb(arg, NULL, 0, mp_val_mime_bool(&x, &e) ? 1 : 0);
	} else {
		while (mp_val_mime_next(&x, &e, &it, &s, &len))
			cb(arg, s, len, 0);
	}
}
