/*
 * internal - engine state shared by eval.c, values.c, text.c, txn.c and
 * result.c (not for use outside src/engine).
 *
 * A struct mp_eval is the evaluation of one policy: a tri-state per rule,
 * the running score and the rules decided true. The transaction keeps one
 * for the global rules until RCPT ("pre"), a throwaway one per recipient at
 * RCPT, and one per distinct recipient policy afterwards ("msg").
 * Per-transaction strings live in the transaction's arena.
 */
#ifndef MP_ENGINE_INTERNAL_H
#define MP_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "mail/address.h"
#include "mail/mime.h"
#include "mail/spool.h"
#include "match/prefilter.h"
#include "match/regex.h"
#include "rules/ruleset.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/ip.h"
#include "util/strmap.h"

#include <stdint.h>

enum { RS_UNDECIDED = 0, RS_TRUE = 1, RS_FALSE = 2 };
/* Prefilter state of a header key in a transaction. */
enum { PF_UNSCANNED = 0, PF_SCANNED = 1, PF_ALL = 2 };
enum { TV_FALSE = 0, TV_TRUE = 1, TV_UNKNOWN = 2 };

#define MP_FROM_MAX 64          /* From mailboxes kept (more are counted) */
#define MP_HEADERS_MAX 10000    /* header fields kept for rules */
#define MP_HEADER_VALUE_MAX (256 * 1024)
#define MP_HEADER_BYTES_MAX (8 * 1024 * 1024)

/* What the prefilter and the value index have answered so far, for one
 * connection (its connect and HELO fields) or one transaction; in its
 * arena. */
struct mp_gstate {
	uint8_t *pf_bits;        /* regexes that may match */
	uint8_t *pf_state;       /* per prefilter key: PF_* */
	uint8_t *v_bits;         /* literal and list tests that hold */
	uint64_t v_done;         /* fields whose v_bits are in */
};

struct mp_eval {
	const struct mp_policy *pol;
	uint8_t *st;             /* per rule of pol */
	double score;
	uint32_t *hits;          /* rules decided true (not dry-run), in order */
	size_t n_hits;
	enum mp_outcome outcome; /* set by a terminal rule */
	enum mp_stage stage;
	int rule;                /* index of the deciding rule, -1 */
	const struct mp_threshold *threshold; /* the deciding threshold, or NULL */
	struct mp_reply reply;
	const char *quarantine;
	int rcpt;                /* >= 0: one recipient (at RCPT); -1: the accepted set */
	const char *scope;       /* for the trace */
	/* rules evaluated and still unknown, ascending; stages before
	 * next_stage have had their new rules (pol->by_stage) taken */
	uint32_t *pending, *cand;
	uint32_t *fired;         /* scratch: rules whose guard holds (pol->g_start) */
	void *block;             /* st, hits, pending, cand and fired live in it */
	size_t n_pending;
	int next_stage;
};

/* Counts of rate() (engine/state.c) by rate id, sized for one rule set:
 * the value and whether it was counted (CS_* there). */
struct mp_counts {
	uint64_t *v;
	uint8_t *st;
};

struct mp_state;

/* A count a case file puts in the store before the rate is first counted. */
struct mp_preload {
	const char *name;        /* the rate's canonical name */
	uint64_t n;
	bool done;
};

struct mp_conn {
	struct mp_ruleset *rs;
	const struct mp_checks *checks;
	struct mp_matcher *matcher;  /* for rules decided at connect and HELO */
	struct mp_gstate gs;         /* for the connect and HELO fields */
	struct mp_arena arena;
	const char *ip;          /* "" when unknown */
	struct mp_ip ipbin;
	bool ip_ok;
	const char *name;
	unsigned port;
	const char *helo;        /* helo_buf, or "" */
	char *helo_buf;          /* the latest HELO name: one buffer, reused */
	size_t helo_cap;
	bool tls, connected, helo_seen;
	struct mp_eval ev;       /* global rules at connect and HELO */
	struct mp_verdict v;
	unsigned long n_txn;
	/* shared state (engine/state.c) */
	struct mp_state *state;  /* a reference, or NULL: every state call fails */
	bool state_ro;           /* test --state URL: read, never written */
	struct mp_counts cnt;    /* connection rates, for rs */
	struct mp_preload *preload; /* case files' state: lines (test) */
	size_t n_preload;
	int grey_ago;            /* case files: triplets first seen this long ago; -1 */
	char state_err[256];     /* the latest store failure */
	bool state_err_new;
	unsigned long state_errors;
};

/* Per header name: the stored fields (a chain through mp_hdr.next) and
 * how many fields of that name came, stored or not. */
struct mp_hslot {
	const char *key;         /* lowercased name */
	int first, last;
	size_t count;
	int hid;                 /* the rule set's id for key, -1 */
};

struct mp_hdr {
	const char *name, *key;  /* key: the slot's lowercased name, "" when not indexed */
	const char *raw, *value;
	size_t raw_len, value_len;
	int next;                /* next field of the same name, -1 */
};

struct mp_rcpt {
	const char *arg;         /* as the MTA gave it, for MP_EDIT_RCPT_DELETE */
	const char *addr;
	size_t len, dom;
	const struct mp_policy *pol;
	struct mp_rcpt_info info;
	struct mp_counts cnt;    /* recipient rates */
	bool grey_done;          /* greylisting asked for it already */
};

/* An attachment of the MIME walk, with its names and their extensions. */
struct mp_att {
	size_t part;
	const char *names[2];    /* Content-Disposition filename, Content-Type name */
	size_t n_names;
	const char *exts[2];
	size_t n_exts;
};

struct lazy {
	bool done;
	enum mp_auth_result r;
};

struct mp_txn {
	struct mp_edit *edits;       /* mp_txn_edits, built once */
	size_t n_edits, cap_edits;
	bool edits_done;
	struct mp_conn *conn;
	struct mp_ruleset *rs;
	const struct mp_settings *set;
	struct mp_arena arena;
	struct mp_matcher *matcher;
	const char *queue_id;
	bool oom;

	const char *from;
	size_t from_len, from_dom;
	const char *auth_user;
	bool mail_seen;
	struct lazy spf, spf_helo;
	const char *spf_domain;
	const char *received_spf;    /* libspf2's Received-SPF value, raw */

	void *dkim_st;
	bool dkim_started, dkim_done;
	bool dkim_body;             /* signed: DKIM wants the body */
	const struct mp_dkim_sig *sigs;
	size_t n_sigs;
	enum mp_auth_result dkim;

	bool dmarc_done;            /* evaluated (at end of message, on first use) */
	struct mp_dmarc_out dmarc;
	const char *dmarc_from;     /* the From domain it evaluated, or NULL */

	struct mp_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts, n_accepted;
	const struct mp_policy *first_pol;

	struct mp_hdr *hdrs;
	size_t n_hdrs, cap_hdrs, header_bytes, n_hdrs_seen;
	struct mp_strmap hindex;     /* lowercased name -> struct mp_hslot */
	struct mp_hslot **slot_by_hid; /* by the rule set's header key ids */
	struct mp_gstate gs;
	size_t n_ar;                 /* Authentication-Results fields seen */
	int *ar_ours;                /* their 1-based indexes that carry our authserv-id */
	size_t n_ar_ours, cap_ar_ours;
	struct mp_mailbox from_boxes[MP_FROM_MAX];
	size_t n_from;
	bool eoh_seen;

	struct mp_buf body;
	bool collect_body;
	size_t body_bytes;

	/* MIME (engine/mime.c) */
	bool spool_on, mime_done;
	struct mp_spool spool;
	size_t spool_head;           /* bytes of header in the spool */
	struct mp_mime mime;
	struct mp_att *atts;
	size_t n_atts;
	struct mp_strip *strips;
	size_t n_strips, cap_strips;

	struct mp_counts cnt;        /* message rates (and connection ones read under a newer rs) */

	struct mp_eval pre;
	struct mp_eval **msg;
	size_t n_msg;
	bool data_done, eom_done;

	struct mp_verdict v;         /* message-level decision (enforce semantics) */
	const char *v_quarantine;

	bool trace_on;
	struct mp_trace *trace;
	size_t n_trace, cap_trace;
	const char **logs;
	size_t n_logs, cap_logs;
	struct mp_would *would;
	size_t n_would, cap_would;
	const struct mp_rule **limit_rules; /* rules that hit the regex limit */
	size_t n_limit_rules, cap_limit_rules;

	const char *limit;           /* the first safety limit reached (SPEC §8), static */
	bool limit_found;            /* a MIME limit: rules still refuse on what was found */

	struct mp_result result;
	bool result_built;
};

/* Evaluation context: which eval, at which stage. txn is NULL before MAIL. */
struct mp_ctx {
	struct mp_conn *conn;
	struct mp_txn *txn;
	struct mp_eval *ev;
	enum mp_stage stage;
	const struct mp_rule *rule;  /* being evaluated, for notes */
	int part1;                   /* > 0: attachment fields read only entity part1 - 1 */
	bool state_failed;           /* a rate read came from a failed store call */
};

/* eval.c */
int mp_eval_init(struct mp_eval *ev, const struct mp_policy *pol, const struct mp_eval *from,
		 const char *scope);
void mp_eval_release(struct mp_eval *ev);
/* Decides what the stage's data allows; returns 0 or -1 (no memory). */
int mp_eval_stage(struct mp_ctx *x);
/* The value of a condition (TV_*), without the rule loop's bookkeeping. */
int mp_eval_cond(struct mp_ctx *x, const struct mp_expr *e);
/* Applies a terminal action (of a rule, or a threshold: rule_idx -1). */
void mp_eval_terminal(struct mp_ctx *x, const struct mp_action *a, int rule_idx,
		      const char *rule_name);

/* Scalar form of a field for ${...}: first value of a multi-valued one. */
const char *mp_val_scalar(struct mp_ctx *x, enum mp_field_id f, char *buf, size_t len,
			  size_t *len_r);
enum mp_auth_result mp_val_spf(struct mp_txn *t);
/* DMARC, evaluated on first use at end of message (dmarc = no: none). */
const struct mp_dmarc_out *mp_val_dmarc(struct mp_txn *t);
struct mp_envelope mp_val_envelope(struct mp_txn *t);
/* Iterates the values of a (possibly multi-valued) string field. */
struct mp_viter {
	size_t i;
	int h;
};
bool mp_val_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it,
		 const char **s_r, size_t *len_r);
double mp_val_number(struct mp_ctx *x, const struct mp_expr *e);
bool mp_val_bool(struct mp_ctx *x, const struct mp_expr *e);
enum mp_auth_result mp_val_result(struct mp_ctx *x, enum mp_field_id f);
/* guards.c: answers from the prefilter and the value index, valid once the
 * field's stage has come (for headers: all of them). */
/* Whether the regex with prefilter bit pf on key may match some value. */
bool mp_guard_pf(struct mp_ctx *x, int pf, int key);
/* The prefilter bits of the state holding key, the key scanned; NULL when
 * every regex of the key must be asked (no prefilter, no memory, a scan
 * that could not rule anything out). */
const uint8_t *mp_guard_pf_bits(struct mp_ctx *x, int key);
/* The value-index bits of the state holding field f, f's values matched
 * in it; NULL when its tests must be evaluated (no index, no memory). */
const uint8_t *mp_guard_val_bits(struct mp_ctx *x, enum mp_field_id f);
/* Whether the literal or list test with value index bit vid holds: 1 or
 * 0, or -1 when there is no answer (no memory): evaluate it instead. */
int mp_guard_val(struct mp_ctx *x, int vid, enum mp_field_id f);
bool mp_guard_holds(struct mp_ctx *x, const struct mp_guard *g);
/* Forgets the connection's answers (its HELO name changed). */
void mp_guard_reset(struct mp_conn *c);

/* text.c */
/* Expands t into out (MP_TEXT_MAX + 1 bytes), sanitised. reply: ASCII only. */
void mp_text_expand(struct mp_ctx *x, const struct mp_template *t, const char *rule,
		    bool reply, char *out);
/* Describes an action for dry-run logs ("reject 550 5.7.1 text"). */
const char *mp_text_describe(struct mp_ctx *x, const struct mp_rule *r);

/* txn.c helpers used by the others */
const char *mp_txn_strdup(struct mp_txn *t, const char *s);
void mp_txn_log(struct mp_txn *t, const char *s);
/* Room for one more element of a growing array (*v, *n, *cap): its
 * address, or NULL with t->oom set. */
void *mp_txn_push(struct mp_txn *t, void **v, size_t *n, size_t *cap, size_t size);
/* The regex match limit (or JIT stack, jit) was reached in rule r. */
void mp_txn_note_limit(struct mp_txn *t, const struct mp_rule *r, bool jit);
/* A safety limit was reached: from now on only rules that test limit.*
 * decide, and on_limit decides the message if none does. name: static. */
void mp_txn_limit(struct mp_txn *t, const char *name);
/* A MIME limit (SPEC §11): the fields hold what was parsed before it, and a
 * rule that refuses, discards or quarantines on it still decides. */
void mp_txn_limit_found(struct mp_txn *t, const char *name);
void mp_txn_add_trace(struct mp_ctx *x, const struct mp_rule *r, bool value);
void mp_txn_add_would(struct mp_ctx *x, const struct mp_rule *r);

/* mime.c */
void mp_mime_txn_start(struct mp_txn *t);   /* end of header */
void mp_mime_txn_body(struct mp_txn *t, const void *p, size_t n);
void mp_mime_txn_parse(struct mp_txn *t);   /* end of message, before its rules */
void mp_mime_txn_free(struct mp_txn *t);
bool mp_val_mime_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it,
		      const char **s_r, size_t *len_r);
bool mp_val_mime_size_next(struct mp_ctx *x, struct mp_viter *it, double *v);
double mp_val_mime_number(struct mp_ctx *x, const struct mp_expr *e);
bool mp_val_mime_bool(struct mp_ctx *x, const struct mp_expr *e);
/* strip attachment of rule r: the attachments its condition holds for. */
void mp_strip_plan(struct mp_ctx *x, const struct mp_rule *r, const struct mp_action *a);

/* state.c: rate() and greylist (SPEC §12) */
/* Counts the rates of pol known by stage upto that this scope (the
 * connection, the transaction t, recipient rcpt >= 0) has not counted,
 * in one store call; a failure is noted and reads as on_state_error
 * says. 0, or -1 (no memory). */
int mp_rates_count(struct mp_conn *c, struct mp_txn *t, int rcpt, const struct mp_policy *pol,
		   enum mp_stage upto);
/* The counts rate test e reads (several after RCPT: one per recipient). */
bool mp_val_rate_next(struct mp_ctx *x, const struct mp_expr *e, struct mp_viter *it, double *v);
/* Greylists x->ev->rcpt for rule r (its greylist action): a refusal or a
 * store failure (on_state_error = tempfail) decides x->ev. */
void mp_greylist_rcpt(struct mp_ctx *x, const struct mp_rule *r, int rule_idx);
/* x->ev tempfails with 451 4.3.0 (on_state_error = tempfail). */
void mp_state_fail(struct mp_ctx *x, int rule_idx);

/* result.c */
int mp_result_build(struct mp_txn *t);

/* authres.c */
const char *mp_authres_value(struct mp_txn *t, bool quarantined);
const char *mp_received_spf_value(struct mp_txn *t);

#endif
