/*
 * guards - the engine's side of the regex prefilter and the value index
 * (src/prefilter.c, src/lindex.c): per connection or transaction, the
 * answers for a key or field are computed once, on first need, into a
 * struct mp_gstate in its arena, and read as bits afterwards. Connect and
 * HELO fields are answered on the connection (its evaluation has no
 * transaction), the rest on the transaction. Vectorscan scratch is per
 * thread and per rule set: each thread keeps one, for the rule set it last
 * used, until it ends.
 */
#include "engine/internal.h"

#include "match/lindex.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct pf_tls {
	struct mp_ruleset *rs;
	struct mp_pf_scratch *s;
};

static pthread_key_t pf_key;
static pthread_once_t pf_once = PTHREAD_ONCE_INIT;
static bool pf_key_ok;

static void pf_tls_free(void *p)
{
	struct pf_tls *tls = p;

	mp_pf_scratch_free(tls->s);
	mp_ruleset_unref(tls->rs);
	free(tls);
}

static void pf_key_init(void)
{
	pf_key_ok = pthread_key_create(&pf_key, pf_tls_free) == 0;
}

static struct mp_pf_scratch *pf_scratch(struct mp_ruleset *rs)
{
	pthread_once(&pf_once, pf_key_init);
	if (!pf_key_ok)
		return NULL;
	struct pf_tls *tls = pthread_getspecific(pf_key);
	if (tls == NULL) {
		tls = calloc(1, sizeof(*tls));
		if (tls == NULL || pthread_setspecific(pf_key, tls) != 0) {
			free(tls);
			return NULL;
		}
	}
	if (tls->rs != rs) {
		mp_pf_scratch_free(tls->s);
		mp_ruleset_unref(tls->rs);
		tls->s = mp_pf_scratch_new(mp_ruleset_prefilter(rs));
		tls->rs = tls->s ? mp_ruleset_ref(rs) : NULL;
	}
	return tls->s;
}

/* The state and arena for field stage s (a header key: the transaction). */
static struct mp_gstate *state(struct mp_ctx *x, enum mp_stage s, struct mp_arena **arena_r,
			       struct mp_ruleset **rs_r)
{
	/* a transaction under another rule set than its connection's (a
	 * reload in between) keeps all of its answers itself */
	if (x->txn != NULL && (s >= MP_STAGE_MAIL || x->txn->rs != x->conn->rs)) {
		*arena_r = &x->txn->arena;
		*rs_r = x->txn->rs;
		return &x->txn->gs;
	}
	if (x->txn == NULL && s >= MP_STAGE_MAIL)
		return NULL;
	*arena_r = &x->conn->arena;
	*rs_r = x->conn->rs;
	return &x->conn->gs;
}

/* The values of field f, as the evaluator sees them. */
static bool next_value(struct mp_ctx *x, enum mp_field_id f, struct mp_viter *it, const char **s,
		       size_t *len)
{
	struct mp_expr e;

	memset(&e, 0, sizeof(e));
	e.kind = MP_E_TEST;
	e.field = f;
	e.hid = e.pf = e.pfkey = e.vid = -1;
	return mp_val_next(x, &e, it, s, len);
}

static void pf_scan(struct mp_ctx *x, struct mp_gstate *gs, struct mp_ruleset *rs, int key)
{
	const struct mp_prefilter *pf = mp_ruleset_prefilter(rs);
	struct mp_pf_scratch *scratch = pf_scratch(rs);
	int field = mp_ruleset_pfkey_field(rs, key);

	gs->pf_state[key] = PF_SCANNED;
	if (field < 0) {
		struct mp_txn *t = x->txn;
		const struct mp_hslot *slot = t->slot_by_hid ? t->slot_by_hid[key] : NULL;
		for (int i = slot ? slot->first : -1; i >= 0; i = t->hdrs[i].next) {
			const struct mp_hdr *h = &t->hdrs[i];
			if (mp_prefilter_scan(pf, scratch, (unsigned)key, h->value, h->value_len,
					      gs->pf_bits) < 0) {
				gs->pf_state[key] = PF_ALL;
				return;
			}
		}
		return;
	}
	struct mp_viter it = { 0, 0 };
	const char *s;
	size_t len;
	while (next_value(x, (enum mp_field_id)field, &it, &s, &len)) {
		if (mp_prefilter_scan(pf, scratch, (unsigned)key, s, len, gs->pf_bits) < 0) {
			gs->pf_state[key] = PF_ALL;
			return;
		}
	}
}

/* The guard state holding prefilter key `key`, the key scanned in it; NULL
 * when there is none (no prefilter, no transaction for it, no memory):
 * the regexes must then be asked. */
static struct mp_gstate *pf_ready(struct mp_ctx *x, int key)
{
	struct mp_ruleset *rs = x->txn ? x->txn->rs : x->conn->rs;

	if (key < 0 || mp_ruleset_prefilter(rs) == NULL)
		return NULL;
	int field = mp_ruleset_pfkey_field(rs, key);
	enum mp_stage s = field >= 0 ? mp_field_info((enum mp_field_id)field)->stage : MP_STAGE_HEADER;
	struct mp_arena *arena;
	struct mp_gstate *gs = state(x, s, &arena, &rs);
	if (gs == NULL)
		return NULL;
	if (gs->pf_state == NULL) {
		gs->pf_state = mp_arena_zalloc(arena, mp_ruleset_n_pfkeys(rs));
		gs->pf_bits = mp_arena_zalloc(arena, (mp_prefilter_n_ids(mp_ruleset_prefilter(rs)) + 7) / 8);
		if (gs->pf_state == NULL || gs->pf_bits == NULL) {
			gs->pf_state = NULL;
			return NULL;
		}
	}
	if (gs->pf_state[key] == PF_UNSCANNED)
		pf_scan(x, gs, rs, key);
	return gs;
}

bool mp_guard_pf(struct mp_ctx *x, int pf, int key)
{
	struct mp_gstate *gs = pf < 0 ? NULL : pf_ready(x, key);

	if (gs == NULL || gs->pf_state[key] == PF_ALL)
		return true;
	return (gs->pf_bits[pf >> 3] >> (pf & 7)) & 1;
}

const uint8_t *mp_guard_pf_bits(struct mp_ctx *x, int key)
{
	struct mp_gstate *gs = pf_ready(x, key);

	return gs != NULL && gs->pf_state[key] == PF_SCANNED ? gs->pf_bits : NULL;
}

static int val_bit(struct mp_ctx *x, int vid, enum mp_field_id f)
{
	struct mp_arena *arena;
	struct mp_ruleset *rs;
	struct mp_gstate *gs = state(x, mp_field_info(f)->stage, &arena, &rs);
	const struct mp_lindex *ix = gs ? mp_ruleset_lindex(rs, f) : NULL;

	if (ix == NULL)
		return -1;
	if (gs->v_bits == NULL) {
		gs->v_bits = mp_arena_zalloc(arena, (mp_ruleset_n_vids(rs) + 7) / 8);
		if (gs->v_bits == NULL)
			return -1;
	}
	if (!(gs->v_done >> f & 1)) {
		gs->v_done |= 1ULL << f;
		if (f == MP_F_CLIENT_IP) {
			/* `in` reads the parsed address, `==` the text */
			if (x->conn->ip_ok)
				mp_lindex_match_ip(ix, &x->conn->ipbin, gs->v_bits);
			mp_lindex_match(ix, MP_M_NONE, x->conn->ip, strlen(x->conn->ip), gs->v_bits);
		} else {
			struct mp_viter it = { 0, 0 };
			const char *s;
			size_t len;
			while (next_value(x, f, &it, &s, &len))
				mp_lindex_match(ix, mp_field_info(f)->match, s, len, gs->v_bits);
		}
	}
	return (gs->v_bits[vid >> 3] >> (vid & 7)) & 1;
}

int mp_guard_val(struct mp_ctx *x, int vid, enum mp_field_id f)
{
	return val_bit(x, vid, f);
}

const uint8_t *mp_guard_val_bits(struct mp_ctx *x, enum mp_field_id f)
{
	struct mp_arena *arena;
	struct mp_ruleset *rs;

	if (val_bit(x, 0, f) < 0)
		return NULL;
	struct mp_gstate *gs = state(x, mp_field_info(f)->stage, &arena, &rs);
	return gs != NULL ? gs->v_bits : NULL;
}

bool mp_guard_holds(struct mp_ctx *x, const struct mp_guard *g)
{
	switch (g->kind) {
	case MP_G_PF:
		return mp_guard_pf(x, g->id, g->key);
	case MP_G_VAL:
		return mp_guard_val(x, g->id, (enum mp_field_id)g->key) != 0;
	default:
		return true;
	}
}

void mp_guard_reset(struct mp_conn *c)
{
	if (c->gs.pf_state != NULL) {
		memset(c->gs.pf_state, 0, mp_ruleset_n_pfkeys(c->rs));
		memset(c->gs.pf_bits, 0, (mp_prefilter_n_ids(mp_ruleset_prefilter(c->rs)) + 7) / 8);
	}
	if (c->gs.v_bits != NULL)
		memset(c->gs.v_bits, 0, (mp_ruleset_n_vids(c->rs) + 7) / 8);
	c->gs.v_done = 0;
}
