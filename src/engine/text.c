/*
 * text - ${field} substitution and the sanitising of SPEC §4.5.
 *
 * Substituted values lose CR, LF and every other control character; reply
 * texts are ASCII only (other bytes become '?'), header texts keep valid
 * UTF-8 and turn invalid bytes into '?'. The result is capped at
 * MP_TEXT_MAX bytes on a character boundary. '%' is doubled only by the
 * daemon (daemon/reply.c), right before libmilter sees a reply.
 */
#include "engine/internal.h"

#include "util/utf8.h"

#include <stdio.h>
#include <string.h>

struct out {
	char *p;
	size_t n;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (o->n + n > MP_TEXT_MAX) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void put_clean(struct out *o, const char *s, size_t len, bool reply)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len && !o->full;) {
		unsigned char c = u[i];
		if (c < 0x20 || c == 0x7f) {
			i++;
			continue;
		}
		if (c < 0x80) {
			put(o, s + i, 1);
			i++;
			continue;
		}
		size_t n = reply ? 0 : mp_utf8_len(u + i, len - i);
		if (n == 0) {
			put(o, "?", 1);
			i++;
		} else {
			put(o, s + i, n);
			i += n;
		}
	}
}

void mp_text_expand(struct mp_ctx *x, const struct mp_template *t, const char *rule,
		    bool reply, char *buf)
{
	struct out o = { buf, 0, false };
	char num[64];

	for (size_t i = 0; i < t->n && !o.full; i++) {
		const struct mp_seg *sg = &t->segs[i];
		const char *s = "";
		size_t len = 0;
		switch (sg->kind) {
		case MP_SEG_TEXT:
			s = sg->text;
			len = sg->len;
			break;
		case MP_SEG_FIELD:
			s = mp_val_scalar(x, sg->field, num, sizeof(num), &len);
			break;
		case MP_SEG_RULE:
			s = rule ? rule : "";
			len = strlen(s);
			break;
		case MP_SEG_SCORE:
			snprintf(num, sizeof(num), "%.6g", x->ev ? x->ev->score : 0.0);
			s = num;
			len = strlen(s);
			break;
		case MP_SEG_QUEUE_ID:
			s = x->txn && x->txn->queue_id ? x->txn->queue_id : "NOQUEUE";
			len = strlen(s);
			break;
		}
		put_clean(&o, s, len, reply);
	}
	buf[o.n] = '\0';
}

const char *mp_text_describe(struct mp_ctx *x, const struct mp_rule *r)
{
	struct mp_buf b;
	char text[MP_TEXT_MAX + 1];

	mp_buf_init(&b);
	if (r->terminal >= 0) {
		const struct mp_action *a = &r->actions[r->terminal];
		mp_buf_adds(&b, mp_act_name(a->kind));
		if (a->kind == MP_A_REJECT || a->kind == MP_A_TEMPFAIL) {
			mp_buf_printf(&b, " %s %s", a->code, a->xcode);
			if (a->text != NULL) {
				mp_text_expand(x, a->text, r->name, true, text);
				mp_buf_printf(&b, " %s", text);
			}
		} else if (a->kind == MP_A_QUARANTINE && a->text != NULL) {
			mp_text_expand(x, a->text, r->name, false, text);
			mp_buf_printf(&b, " %s", text);
		}
	}
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct mp_action *a = &r->actions[i];
		if (mp_act_terminal(a->kind))
			continue;
		if (b.len > 0)
			mp_buf_adds(&b, ", ");
		mp_buf_adds(&b, mp_act_name(a->kind));
		if (a->kind == MP_A_ADD_HEADER || a->kind == MP_A_REMOVE_HEADER ||
		    a->kind == MP_A_BCC || a->kind == MP_A_REDIRECT)
			mp_buf_printf(&b, " %s", a->arg);
		else if (a->kind == MP_A_SCORE)
			mp_buf_printf(&b, " %.6g", a->score);
	}
	if (b.oom) {
		x->txn->oom = true;
		mp_buf_free(&b);
		return NULL;
	}
	const char *s = mp_txn_strdup(x->txn, b.p ? b.p : "");
	mp_buf_free(&b);
	return s;
}
