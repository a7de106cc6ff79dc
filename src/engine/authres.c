/*
 * authres - the transaction's Authentication-Results and Received-SPF
 * values: its results handed to the builders of mail/authres.c.
 */
#include "engine/internal.h"

#include "mail/authres.h"

/* Our Authentication-Results value, or NULL when nothing was computed. */
const char *mp_authres_value(struct mp_txn *t, bool quarantined)
{
	struct mp_authres in = { .authserv_id = t->set->authserv_id, .spf = t->spf.done,
				 .spf_result = t->spf.r, .mailfrom = t->from,
				 .helo = t->conn->helo, .dkim = t->dkim_done };
	struct mp_buf b;

	/* dmarc = no: no dmarc= at all */
	if (t->dmarc_done && t->set->dmarc) {
		const struct mp_dmarc_out *d = &t->dmarc;
		in.dmarc = true;
		in.dmarc_result = d->result;
		in.dmarc_policy = d->has_record ? mp_dmarc_policy_name(d->policy) : NULL;
		in.dmarc_disposition = quarantined ? "quarantine" : "none";
		in.header_from = t->dmarc_from;
	}

	if (t->dkim_done && t->n_sigs > 0) {
		struct mp_authres_dkim *s = mp_arena_alloc(&t->arena, t->n_sigs * sizeof(*s));
		if (s == NULL) {
			t->oom = true;
			return NULL;
		}
		for (size_t i = 0; i < t->n_sigs; i++)
			s[i] = (struct mp_authres_dkim){ t->sigs[i].result, t->sigs[i].domain,
							 t->sigs[i].selector, t->sigs[i].b };
		in.sigs = s;
		in.n_sigs = t->n_sigs;
	}
	mp_buf_init(&b);
	bool any = mp_authres_build(&in, &b);
	if (any && b.oom)
		t->oom = true; /* an internal error, never a header left out */
	const char *v = any && !b.oom ? mp_txn_strdup(t, b.p) : NULL;
	mp_buf_free(&b);
	return v;
}

/* Received-SPF: libspf2's value with anything from the message made safe. */
const char *mp_received_spf_value(struct mp_txn *t)
{
	char out[MP_TEXT_MAX * 2 + 1];

	if (!t->spf.done || t->received_spf == NULL || *t->received_spf == '\0')
		return NULL;
	mp_received_spf_clean(t->received_spf, out, sizeof(out));
	return mp_txn_strdup(t, out);
}
