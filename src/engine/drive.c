/*
 * drive - one message through a transaction in the order and shape an MTA
 * delivers it: MAIL FROM, each RCPT TO, DATA (when a recipient is left),
 * the header fields, end of header, the body in chunks, end of message.
 *
 * Like the MTA it stops at a verdict that ends the transaction (a refusal or
 * a discard), and stops sending the body once the engine no longer wants
 * it (the daemon answers SMFIS_SKIP there). `test`, the benchmark and the
 * unit tests drive messages with it; the daemon is driven by the MTA
 * itself, stage by stage, with the same rules.
 */
#include "engine/engine.h"

#include <string.h>

#define DEFAULT_CHUNK 65536

int mp_drive_message(struct mp_txn *t, const struct mp_drive_msg *m, struct mp_verdict *v)
{
	struct mp_verdict rv;

	memset(v, 0, sizeof(*v));
	if (mp_txn_mail(t, m->from, m->auth, v) < 0)
		return -1;
	if (mp_verdict_ends(v))
		return 0;
	for (size_t i = 0; m->rcpts != NULL && m->rcpts[i] != NULL; i++) {
		struct mp_verdict *out = m->rcpt_v != NULL ? &m->rcpt_v[i] : &rv;
		if (mp_txn_rcpt(t, m->rcpts[i], out) < 0)
			return -1;
	}
	/* with every recipient refused the MTA never sends DATA */
	if (mp_txn_n_accepted(t) == 0 && mp_txn_verdict(t)->outcome == MP_O_NONE)
		return 0;
	if (mp_txn_data(t, v) < 0)
		return -1;
	for (size_t i = 0; !mp_verdict_ends(v) && i < m->n_hdrs; i++) {
		if (mp_txn_header(t, m->hdrs[i].name, m->hdrs[i].value) < 0)
			return -1;
	}
	if (mp_verdict_ends(v))
		return 0;
	if (mp_txn_eoh(t, v) < 0)
		return -1;
	size_t chunk = m->chunk ? m->chunk : DEFAULT_CHUNK;
	for (size_t off = 0; !mp_verdict_ends(v) && off < m->body_len && mp_txn_wants_body(t);
	     off += chunk) {
		size_t n = m->body_len - off < chunk ? m->body_len - off : chunk;
		if (mp_txn_body(t, m->body + off, n) < 0)
			return -1;
	}
	if (mp_verdict_ends(v))
		return 0;
	return mp_txn_eom(t, v);
}
