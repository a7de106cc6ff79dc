/*
 * values - the value of each field in a given evaluation context.
 *
 * Callers check the stage first (mp_val_known); the getters assume the data
 * of that stage is there. SPF is computed on first use and cached in the
 * transaction. Organisational domains: mail/orgdomain.c.
 */
#include "engine/internal.h"

#include "mail/orgdomain.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool mp_val_known(const struct mp_ctx *x, enum mp_field_id f)
{
	return x->stage >= mp_field_info(f)->stage;
}

struct mp_envelope mp_val_envelope(struct mp_txn *t)
{
	struct mp_conn *c = t->conn;

	return (struct mp_envelope){
		.client_ip = c->ip,
		.ip = c->ip_ok ? &c->ipbin : NULL,
		.helo = c->helo,
		.mail_from = t->from ? t->from : "",
		.mail_domain = t->from ? t->from + t->from_dom : "",
		.dkim_max_signatures = t->set->dkim_max_signatures,
		.dns_timeout_ms = t->set->dns_timeout_ms,
	};
}

enum mp_auth_result mp_val_spf(struct mp_txn *t)
{
	if (!t->spf.done) {
		struct mp_envelope env = mp_val_envelope(t);
		const struct mp_checks *ck = t->conn->checks;
		char received[MP_RECEIVED_SPF_MAX];
		struct mp_check_note note = { NULL, false };
		t->spf.done = true;
		t->spf.r = t->set->spf && ck && ck->spf_mailfrom
				   ? ck->spf_mailfrom(ck->arg, &env, received, sizeof(received), &note)
				   : MP_AR_NONE;
		if (note.limit != NULL)
			mp_txn_limit(t, note.limit);
		if (note.failed)
			t->oom = true; /* an internal error, never a made-up result */
		if (t->set->spf && ck && ck->spf_mailfrom && !note.failed && received[0] != '\0')
			t->received_spf = mp_txn_strdup(t, received);
	}
	return t->spf.r;
}

/* The From domain DMARC evaluates: that of every From address when they
 * agree; several domains, or an address without one, conflict. */
static void dmarc_from(struct mp_txn *t, struct mp_dmarc_in *in)
{
	size_t stored = t->n_from < MP_FROM_MAX ? t->n_from : MP_FROM_MAX;
	const char *d = NULL;
	size_t dl = 0;

	if (t->n_from > stored) {
		in->from_conflict = true;
		return;
	}
	for (size_t i = 0; i < stored; i++) {
		const struct mp_mailbox *m = &t->from_boxes[i];
		const char *dom = m->addr + m->domain;
		size_t len = m->domain < m->len ? m->len - m->domain : 0;
		if (len == 0 || (d != NULL && (len != dl || strncasecmp(d, dom, len) != 0))) {
			in->from_conflict = true;
			return;
		}
		d = dom;
		dl = len;
	}
	if (d != NULL && (in->from_domain = mp_arena_strndup(&t->arena, d, dl)) == NULL)
		t->oom = true;
}

const struct mp_dmarc_out *mp_val_dmarc(struct mp_txn *t)
{
	const struct mp_checks *ck = t->conn->checks;

	if (t->dmarc_done)
		return &t->dmarc;
	t->dmarc_done = true;
	memset(&t->dmarc, 0, sizeof(t->dmarc));
	t->dmarc.result = MP_AR_NONE;
	if (!t->set->dmarc || ck == NULL || ck->dmarc == NULL)
		return &t->dmarc;
	struct mp_dmarc_in in;
	struct mp_check_note note = { NULL, false };
	memset(&in, 0, sizeof(in));
	dmarc_from(t, &in);
	in.spf = mp_val_spf(t);
	in.spf_domain = t->spf_domain;
	in.sigs = t->dkim_done ? t->sigs : NULL;
	in.n_sigs = t->dkim_done ? t->n_sigs : 0;
	ck->dmarc(ck->arg, &in, &t->dmarc, &note);
	t->dmarc_from = in.from_domain;
	if (note.failed)
		t->oom = true; /* an internal error, never a made-up result */
	return &t->dmarc;
}

static enum mp_auth_result mp_val_spf_helo(struct mp_txn *t)
{
	if (!t->spf_helo.done) {
		struct mp_envelope env = mp_val_envelope(t);
		const struct mp_checks *ck = t->conn->checks;
		struct mp_check_note note = { NULL, false };
		t->spf_helo.done = true;
		t->spf_helo.r = t->set->spf_helo && ck && ck->spf_helo
					? ck->spf_helo(ck->arg, &env, &note) : MP_AR_NONE;
		if (note.limit != NULL)
			mp_txn_limit(t, note.limit);
		if (note.failed)
			t->oom = true;
	}
	return t->spf_helo.r;
}

/* Whether domain shares its organisational domain with the From domain.
 * Only a message with exactly one From address can be aligned. */
static bool mp_val_aligned(struct mp_txn *t, const char *domain)
{
	char a[256], b[256];

	if (t->n_from != 1 || domain == NULL || *domain == '\0')
		return false;
	const struct mp_mailbox *m = &t->from_boxes[0];
	if (m->domain >= m->len || (m->flags & MP_MB_MALFORMED))
		return false;
	const char *oa = mp_org_domain(domain, a, sizeof(a));
	const char *ob = mp_org_domain(m->addr + m->domain, b, sizeof(b));
	return oa && ob && strcmp(oa, ob) == 0;
}

enum mp_auth_result mp_val_result(struct mp_ctx *x, enum mp_field_id f)
{
	switch (f) {
	case MP_F_SPF:
		return mp_val_spf(x->txn);
	case MP_F_SPF_HELO:
		return mp_val_spf_helo(x->txn);
	case MP_F_DKIM:
		return x->txn->dkim;
	case MP_F_DMARC:
		return mp_val_dmarc(x->txn)->result;
	case MP_F_DMARC_POLICY:
		/* compared with the policy the rule names (check.c) */
		return (enum mp_auth_result)mp_val_dmarc(x->txn)->policy;
	default:
		return MP_AR_NONE;
	}
}

static bool mp_val_rcpt_in_scope(const struct mp_ctx *x, size_t i)
{
	const struct mp_rcpt *r = &x->txn->rcpts[i];

	if (x->ev->rcpt >= 0)
		return (size_t)x->ev->rcpt == i;
	return r->info.outcome == MP_O_ACCEPT && r->pol == x->ev->pol;
}

/* The slot of the header a named field reads, NULL when none came. */
static const struct mp_hslot *hslot(const struct mp_txn *t, const struct mp_expr *e)
{
	void *v;

	if (e->hid >= 0)
		return t->slot_by_hid ? t->slot_by_hid[e->hid] : NULL;
	if (e->hkey == NULL || !mp_strmap_get(&t->hindex, e->hkey, &v))
		return NULL;
	return v;
}

static int header_first(const struct mp_txn *t, const struct mp_expr *e)
{
	const struct mp_hslot *h = hslot(t, e);

	return h ? h->first : -1;
}

bool mp_val_bool(struct mp_ctx *x, const struct mp_expr *e)
{
	struct mp_txn *t = x->txn;

	switch (e->field) {
	case MP_F_TLS:
		return x->conn->tls;
	case MP_F_AUTH:
		return t->auth_user != NULL && *t->auth_user != '\0';
	case MP_F_EXISTS_HEADER:
		return hslot(t, e) != NULL;
	case MP_F_DKIM_ALIGNED:
		for (size_t i = 0; i < t->n_sigs; i++) {
			if (t->sigs[i].result == MP_AR_PASS && mp_val_aligned(t, t->sigs[i].domain))
				return true;
		}
		return false;
	case MP_F_SPF_ALIGNED:
		return mp_val_spf(t) == MP_AR_PASS && mp_val_aligned(t, t->spf_domain);
	case MP_F_DMARC_ALIGNED_SPF:
		return mp_val_dmarc(t)->aligned_spf;
	case MP_F_DMARC_ALIGNED_DKIM:
		return mp_val_dmarc(t)->aligned_dkim;
	case MP_F_LIMIT_EXCEEDED:
		return t->limit != NULL;
	case MP_F_ARCHIVE_ENCRYPTED:
	case MP_F_MIME_MALFORMED:
		return mp_val_mime_bool(x, e);
	default:
		return false;
	}
}

double mp_val_number(struct mp_ctx *x, const struct mp_expr *e)
{
	struct mp_txn *t = x->txn;

	switch (e->field) {
	case MP_F_CLIENT_PORT:
		return x->conn->port;
	case MP_F_RCPT_COUNT:
		return (double)t->n_accepted + (x->ev->rcpt >= 0 ? 1 : 0);
	case MP_F_COUNT_HEADER: {
		const struct mp_hslot *h = hslot(t, e);
		return h ? (double)h->count : 0;
	}
	case MP_F_HEADER_FROM_COUNT:
		return (double)t->n_from;
	case MP_F_MESSAGE_SIZE:
		return (double)t->header_bytes + 2 + (double)t->body_bytes;
	case MP_F_SCORE:
		return x->ev->score;
	case MP_F_ATTACHMENT_SIZE:
	case MP_F_ATTACHMENT_COUNT:
	case MP_F_MIME_PARTS:
	case MP_F_MIME_DEPTH:
		return mp_val_mime_number(x, e);
	default:
		return 0;
	}
}

/* The values of a string field, one per call. */
bool mp_val_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it,
		 const char **s_r, size_t *len_r)
{
	struct mp_txn *t = x->txn;
	struct mp_conn *c = x->conn;
	const char *s = NULL;
	size_t len = 0;

	switch (e->field) {
	case MP_F_RCPT_TO:
	case MP_F_RCPT_TO_LOCAL:
	case MP_F_RCPT_TO_DOMAIN:
		while (it->i < t->n_rcpts && !mp_val_rcpt_in_scope(x, it->i))
			it->i++;
		if (it->i >= t->n_rcpts)
			return false;
		{
			const struct mp_rcpt *r = &t->rcpts[it->i++];
			size_t at = r->dom < r->len ? r->dom - 1 : r->len;
			if (e->field == MP_F_RCPT_TO) {
				*s_r = r->addr;
				*len_r = r->len;
			} else if (e->field == MP_F_RCPT_TO_LOCAL) {
				*s_r = r->addr;
				*len_r = at;
			} else {
				*s_r = r->addr + r->dom;
				*len_r = r->len - r->dom;
			}
		}
		return true;
	case MP_F_HEADER:
	case MP_F_RAWHEADER:
		if (it->i == 0) {
			it->h = header_first(t, e);
			it->i = 1;
		}
		if (it->h < 0)
			return false;
		{
			const struct mp_hdr *h = &t->hdrs[it->h];
			it->h = h->next;
			if (e->field == MP_F_HEADER) {
				*s_r = h->value;
				*len_r = h->value_len;
			} else {
				*s_r = h->raw;
				*len_r = h->raw_len;
			}
		}
		return true;
	case MP_F_HEADER_FROM:
	case MP_F_HEADER_FROM_DOMAIN: {
		size_t stored = t->n_from < MP_FROM_MAX ? t->n_from : MP_FROM_MAX;
		if (it->i >= stored)
			return false;
		const struct mp_mailbox *m = &t->from_boxes[it->i++];
		if (e->field == MP_F_HEADER_FROM) {
			*s_r = m->addr;
			*len_r = m->len;
		} else {
			*s_r = m->addr + m->domain;
			*len_r = m->len - m->domain;
		}
		return true;
	}
	case MP_F_ATTACHMENT_NAME:
	case MP_F_ATTACHMENT_EXT:
	case MP_F_ATTACHMENT_TYPE:
	case MP_F_ATTACHMENT_DETECTED:
	case MP_F_ARCHIVE_NAME:
	case MP_F_MIME_TYPE:
	case MP_F_TEXT:
		return mp_val_mime_next(x, e, it, s_r, len_r);
	case MP_F_DKIM_DOMAINS:
		while (it->i < t->n_sigs && t->sigs[it->i].result != MP_AR_PASS)
			it->i++;
		if (it->i >= t->n_sigs)
			return false;
		*s_r = t->sigs[it->i].domain;
		*len_r = strlen(*s_r);
		it->i++;
		return true;
	default:
		break;
	}
	if (it->i++ > 0)
		return false;
	switch (e->field) {
	case MP_F_CLIENT_IP: s = c->ip; break;
	case MP_F_CLIENT_NAME: s = c->name; break;
	case MP_F_HELO: s = c->helo; break;
	case MP_F_MAIL_FROM: s = t->from; len = t->from_len; break;
	case MP_F_MAIL_FROM_LOCAL:
		s = t->from;
		len = t->from_dom < t->from_len ? t->from_dom - 1 : t->from_len;
		break;
	case MP_F_MAIL_FROM_DOMAIN:
		s = t->from + t->from_dom;
		len = t->from_len - t->from_dom;
		break;
	case MP_F_AUTH_USER: s = t->auth_user ? t->auth_user : ""; break;
	case MP_F_SPF_DOMAIN: s = t->spf_domain; break;
	case MP_F_LIMIT_NAME: s = t->limit ? t->limit : ""; break;
	case MP_F_DMARC_DOMAIN: s = mp_val_dmarc(t)->domain; break;
	case MP_F_BODY:
		s = t->body.p ? t->body.p : "";
		len = t->body.len;
		break;
	default: return false;
	}
	if (s == NULL)
		s = "";
	if (len == 0 && e->field != MP_F_BODY && e->field != MP_F_MAIL_FROM_LOCAL &&
	    e->field != MP_F_MAIL_FROM_DOMAIN && e->field != MP_F_MAIL_FROM)
		len = strlen(s);
	*s_r = s;
	*len_r = len;
	return true;
}

/* Shortest form of a number: 9, 4.5, -0.25. */
static void fmt_number(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.6g", v);
}

const char *mp_val_scalar(struct mp_ctx *x, enum mp_field_id f, char *buf, size_t len,
			  size_t *len_r)
{
	const struct mp_field_info *fi = mp_field_info(f);
	struct mp_expr e;
	const char *s = "";
	size_t sl = 0;

	memset(&e, 0, sizeof(e));
	e.field = f;
	if (!mp_val_known(x, f) || (x->txn == NULL && fi->stage > MP_STAGE_HELO)) {
		*len_r = 0;
		return "";
	}
	switch (fi->type) {
	case MP_T_BOOL:
		s = mp_val_bool(x, &e) ? "yes" : "no";
		sl = strlen(s);
		break;
	case MP_T_NUM:
		fmt_number(mp_val_number(x, &e), buf, len);
		s = buf;
		sl = strlen(s);
		break;
	case MP_T_RESULT:
		s = f == MP_F_DMARC_POLICY
			    ? mp_dmarc_policy_name((enum mp_dmarc_policy)mp_val_result(x, f))
			    : mp_auth_result_name(mp_val_result(x, f));
		sl = strlen(s);
		break;
	default: {
		struct mp_viter it = { 0, 0 };
		if (!mp_val_next(x, &e, &it, &s, &sl)) {
			s = "";
			sl = 0;
		}
	}
	}
	*len_r = sl;
	return s;
}
