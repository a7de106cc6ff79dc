/*
 * report_mime - what `test` shows of the MIME walk (SPEC §11): the tree
 * of entities it saw with their attachment and archive fields, the field
 * values rules read, the attachments strip attachment removed and the
 * body as delivered. Text for people, JSON for scripts; both from the
 * transaction's result.
 */
#include "replay/replay.h"

#include "engine/engine.h"
#include "mail/mime.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* Body bytes the text report shows (the JSON has all of it). */
#define TEXT_BODY_MAX (64 * 1024)

static json_object *jstrn(const char *s, size_t n)
{
	struct mp_buf b;
	json_object *o;

	mp_buf_init(&b);
	mp_utf8_clean(&b, s, n, 0);
	o = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
	mp_buf_free(&b);
	return o;
}

struct collect {
	json_object *arr;       /* multi-valued fields */
	json_object *one;       /* the others */
	enum mp_ftype type;
};

static void collect_value(void *arg, const char *s, size_t len, double num)
{
	struct collect *c = arg;
	json_object *v;

	if (c->type == MP_T_BOOL)
		v = json_object_new_boolean(num != 0);
	else if (c->type == MP_T_NUM)
		v = json_object_new_int64((int64_t)num);
	else
		v = jstrn(s, len);
	if (c->arr != NULL)
		json_object_array_add(c->arr, v);
	else {
		json_object_put(c->one);
		c->one = v;
	}
}

json_object *mp_report_mime_json(const struct mp_replay *r)
{
	const struct mp_result *res = r->result;
	const struct mp_mime *m = res->mime;

	if (!res->mime_done || m == NULL)
		return NULL;
	json_object *o = json_object_new_object();
	/* every field the MIME walk fills, in the field table's order */
	for (int id = 0; id < MP_F_COUNT; id++) {
		const struct mp_field_info *f = mp_field_info((enum mp_field_id)id);
		if (!(f->need & MP_NEED_MIME))
			continue;
		struct collect c = { f->multi ? json_object_new_array() : NULL, NULL, f->type };
		if (f->type == MP_T_BOOL)
			c.one = json_object_new_boolean(0);
		else if (f->type == MP_T_STR && !f->multi)
			c.one = json_object_new_string("");
		mp_txn_mime_values(r->txn, f->id, collect_value, &c);
		json_object_object_add(o, f->name, c.arr != NULL ? c.arr : c.one);
	}
	json_object *tree = json_object_new_array();
	for (size_t i = 0; i < m->n; i++) {
		const struct mp_mime_part *p = &m->parts[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "depth", json_object_new_int((int)p->depth));
		json_object_object_add(e, "type", json_object_new_string(p->type));
		json_object_object_add(e, "attachment", json_object_new_boolean(p->attachment));
		json_object_object_add(e, "filename", p->cd_filename ? jstrn(p->cd_filename, strlen(p->cd_filename)) : NULL);
		json_object_object_add(e, "name", p->ct_name ? jstrn(p->ct_name, strlen(p->ct_name)) : NULL);
		json_object_object_add(e, "detected", p->detected ? json_object_new_string(p->detected) : NULL);
		json_object_object_add(e, "size", p->leaf ? json_object_new_int64((int64_t)p->size) : NULL);
		if (p->is_archive) {
			json_object *a = json_object_new_object(), *names = json_object_new_array();
			for (size_t k = 0; k < p->arch.n; k++)
				json_object_array_add(names, jstrn(p->arch.names[k], strlen(p->arch.names[k])));
			json_object_object_add(a, "names", names);
			json_object_object_add(a, "encrypted", json_object_new_boolean(p->arch.encrypted));
			json_object_object_add(a, "malformed", json_object_new_boolean(p->arch.malformed));
			json_object_object_add(e, "archive", a);
		} else {
			json_object_object_add(e, "archive", NULL);
		}
		json_object_array_add(tree, e);
	}
	json_object_object_add(o, "tree", tree);
	json_object *st = json_object_new_array();
	for (size_t i = 0; i < res->n_strips; i++) {
		const struct mp_strip *s = &res->strips[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", jstrn(s->name, strlen(s->name)));
		json_object_object_add(e, "type", json_object_new_string(s->type));
		json_object_object_add(e, "rule", json_object_new_string(s->rule));
		json_object_object_add(e, "reason", jstrn(s->reason ? s->reason : "", s->reason ? strlen(s->reason) : 0));
		json_object_array_add(st, e);
	}
	json_object_object_add(o, "stripped", st);
	return o;
}

json_object *mp_report_body_json(const struct mp_replay *r)
{
	return r->new_body != NULL ? jstrn(r->new_body, r->new_body_len) : NULL;
}

void mp_report_mime_text(const struct mp_replay *r, FILE *out)
{
	const struct mp_result *res = r->result;
	const struct mp_mime *m = res->mime;

	if (!res->mime_done || m == NULL)
		return;
	fprintf(out, "mime: %zu part%s, depth %u%s\n", m->n, m->n == 1 ? "" : "s", m->depth,
		m->malformed ? ", malformed" : "");
	for (size_t i = 0; i < m->n; i++) {
		const struct mp_mime_part *p = &m->parts[i];
		fprintf(out, "  %*s%s", (int)(p->depth - 1) * 2, "", p->type);
		if (p->cd_filename != NULL)
			fprintf(out, " filename \"%s\"", p->cd_filename);
		if (p->ct_name != NULL && (p->cd_filename == NULL || strcmp(p->ct_name, p->cd_filename) != 0))
			fprintf(out, " name \"%s\"", p->ct_name);
		if (p->attachment) {
			fprintf(out, " attachment");
			if (p->detected != NULL)
				fprintf(out, ", detected %s", p->detected);
		}
		if (p->leaf)
			fprintf(out, ", %llu bytes", (unsigned long long)p->size);
		fprintf(out, "\n");
		if (p->is_archive) {
			fprintf(out, "  %*s  archive%s%s:", (int)(p->depth - 1) * 2, "",
				p->arch.encrypted ? " (encrypted)" : "",
				p->arch.malformed ? " (unreadable)" : "");
			for (size_t k = 0; k < p->arch.n; k++)
				fprintf(out, "%s %s", k ? "," : "", p->arch.names[k]);
			fprintf(out, "%s\n", p->arch.n ? "" : " (no names)");
		}
	}
	if (m->text.len > 0)
		fprintf(out, "text: %zu bytes\n", m->text.len);
	for (size_t i = 0; i < res->n_strips; i++) {
		const struct mp_strip *s = &res->strips[i];
		fprintf(out, "stripped: \"%s\" (%s) by rule %s: %s\n", s->name, s->type, s->rule,
			s->reason ? s->reason : "");
	}
	if (r->new_body != NULL) {
		size_t n = r->new_body_len < TEXT_BODY_MAX ? r->new_body_len : TEXT_BODY_MAX;
		fprintf(out, "new body:\n");
		/* line ends as the rest of the report has them */
		for (size_t i = 0; i < n; i++) {
			if (!(r->new_body[i] == '\r' && i + 1 < n && r->new_body[i + 1] == '\n'))
				fputc(r->new_body[i], out);
		}
		if (n < r->new_body_len)
			fprintf(out, "\n(%zu more bytes)", r->new_body_len - n);
		fprintf(out, "\n");
	}
}
