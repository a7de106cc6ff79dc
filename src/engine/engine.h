/*
 * engine - one SMTP connection and its transactions, fed stage by stage.
 *
 * This is the whole decision logic of milter-policy, with no knowledge of
 * libmilter: the daemon's callbacks and `milter-policy test` call the same
 * functions in the same order. A struct mp_conn lives from connect to close
 * and holds a reference to the rule set it started with; a struct mp_txn
 * lives from MAIL FROM to end of message or abort and holds its own
 * reference, so a reload never changes the rules under a message in flight.
 * Neither is thread-safe: one caller at a time (libmilter guarantees that
 * for one connection). Strings in verdicts and results stay valid until the
 * transaction (or connection, for connect/HELO verdicts) is freed.
 *
 * Every stage function returns 0, or -1 on an internal error (out of
 * memory), after which the caller applies on_internal_error.
 */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include "auth/checks.h"
#include "rules/program.h"

#include <stdbool.h>
#include <stddef.h>

struct mp_ruleset;
struct mp_mime;
struct mp_state;
struct mp_conn;
struct mp_txn;

#define MP_TEXT_MAX 512

/* Ordered by severity, for recipient_policy = strictest. */
enum mp_outcome {
	MP_O_NONE,       /* not decided: go on */
	MP_O_ACCEPT,
	MP_O_DISCARD,
	MP_O_QUARANTINE,
	MP_O_TEMPFAIL,
	MP_O_REJECT,
};

const char *mp_outcome_name(enum mp_outcome o);

struct mp_reply {
	char code[4];
	char xcode[16];
	char text[MP_TEXT_MAX + 1];
};

struct mp_verdict {
	enum mp_outcome outcome;
	enum mp_stage stage;
	const char *rule;        /* deciding rule, NULL for none or a threshold */
	bool by_threshold;       /* decided by the threshold at score `threshold` */
	double threshold;
	struct mp_reply reply;   /* set for reject and tempfail */
	bool split;              /* a recipient deferred by recipient_policy = split */
};

struct mp_header_op {
	const char *name;
	const char *value;
};

/* verdict.c: questions every caller asks of a verdict. */
bool mp_verdict_refuses(const struct mp_verdict *v);  /* reject or tempfail */
/* Refuses or discards: the MTA ends the transaction there. */
bool mp_verdict_ends(const struct mp_verdict *v);
const char *mp_verdict_action(const struct mp_verdict *v); /* "accept" when undecided */
void mp_reply_format(const struct mp_reply *r, char *buf, size_t len); /* "550 5.7.1 text" */

struct mp_rcpt_info {
	const char *addr;
	const char *policy;      /* policy name */
	enum mp_outcome outcome; /* ACCEPT, REJECT or TEMPFAIL */
	bool split;
	const char *rule;
	struct mp_reply reply;
	bool would;              /* dry-run: the refusal was only logged */
};

struct mp_would {
	const char *rule;
	enum mp_stage stage;
	const char *what;        /* "reject 550 5.7.1 ...", "add header X-...", ... */
};

/* One rule evaluated, or (rule NULL) one threshold compared at the end of
 * the message. */
struct mp_trace {
	enum mp_stage stage;
	const char *scope;       /* "global", "rcpt <addr>", "policy NAME" */
	const char *rule;        /* NULL: the threshold at score `threshold` */
	double threshold;
	bool value;              /* the rule's condition; score >= threshold */
	bool dry_run;            /* a dry-run rule: it changes nothing */
	bool decided;            /* this rule or threshold decided its scope */
	double score;            /* what a true rule added to the score; for a
				  * threshold, the score compared with it */
};

/* An attachment strip attachment removed (SPEC §11): the entity, its
 * file name ("" when it has none), media type, the rule and its reason. */
struct mp_strip {
	size_t part;             /* index among the entities of the MIME walk */
	const char *name;
	const char *type;
	const char *reason;
	const char *rule;
};

struct mp_result {
	/* the decision in force (in mode = dry-run: always accept) */
	struct mp_verdict v;
	bool decided;            /* false: accepted because nothing decided */
	const char *quarantine;  /* reason, for MP_O_QUARANTINE */
	/* mode = dry-run: what enforce mode would have done */
	bool dry_run_mode;
	struct mp_verdict would_v;
	const char *would_quarantine;

	const char **rules;      /* matched rules, in decision order */
	size_t n_rules;
	double score;
	const char *policy;      /* policy name of the message */

	struct mp_header_op *add;   /* in order; appended at the end */
	size_t n_add;
	const char **remove;        /* names: every occurrence goes */
	size_t n_remove;
	/* our Authentication-Results and Received-SPF, for the top of the
	 * header (NULL: none), and the 1-based indexes among the
	 * Authentication-Results fields of forged ones to delete first,
	 * highest first */
	const char *auth_results;
	const char *received_spf;
	const int *ar_delete;
	size_t n_ar_delete;
	const char *subject;        /* final Subject (decoded); NULL when none */
	const char *subject_raw;    /* new raw Subject value when changed, else NULL */
	bool subject_added;         /* no Subject before: added, not changed */
	const char **bcc;
	size_t n_bcc;
	const char *redirect;
	const char **logs;          /* `log` texts and engine notes */
	size_t n_logs;
	struct mp_would *would;     /* dry-run rules that matched */
	size_t n_would;
	struct mp_rcpt_info *rcpts;
	size_t n_rcpts;
	enum mp_auth_result spf, spf_helo, dkim;
	/* DMARC when it was evaluated (dmarc_done): result, the policy that
	 * applies, the domain whose record did ("" without one) */
	bool dmarc_done;
	enum mp_auth_result dmarc;
	const char *dmarc_policy;
	const char *dmarc_domain;
	bool spf_done, spf_helo_done, dkim_done;
	const struct mp_dkim_sig *sigs;
	size_t n_sigs;
	const char *limit;          /* the safety limit reached (SPEC §8), or NULL */
	const struct mp_strip *strips; /* attachments removed, in the order found */
	size_t n_strips;
	bool mime_done;             /* the body was parsed as MIME */
	const struct mp_mime *mime; /* what the walk saw (when mime_done) */
};

struct mp_conn *mp_conn_new(struct mp_ruleset *rs, const struct mp_checks *checks);
void mp_conn_free(struct mp_conn *c);
/* The store rate() and greylist use (SPEC §12); the connection takes a
 * reference. read_only: counters are read (this event added to what is
 * read) and greylisting answers what it would, nothing is written (test
 * --state URL). Without one every state call fails (on_state_error). */
void mp_conn_set_state(struct mp_conn *c, struct mp_state *st, bool read_only);
/* The latest store failure not yet taken, or NULL (for the log). */
const char *mp_conn_state_error(struct mp_conn *c);
/* Store failures of the connection so far (for the metric). */
unsigned long mp_conn_state_errors(const struct mp_conn *c);
/* Case files' `state:` lines (test): n events of the rate whose canonical
 * name is name (mp_rate_canonical) are put in the store, with this
 * connection's keys, before it is first counted; greylisting triplets
 * were first seen ago seconds before. 0, or -1 (no memory). */
int mp_conn_preload_rate(struct mp_conn *c, const char *name, uint64_t n);
void mp_conn_preload_greylist(struct mp_conn *c, unsigned ago);
/* Rule set for the transactions that start from now on (reload).
 * 0, or -1 on no memory (the old set stays). */
int mp_conn_set_ruleset(struct mp_conn *c, struct mp_ruleset *rs);
/* ip may be NULL (no address, e.g. local submission); name NULL = unknown. */
int mp_conn_connect(struct mp_conn *c, const char *ip, const char *name, unsigned port,
		    struct mp_verdict *v);
int mp_conn_helo(struct mp_conn *c, const char *helo, bool tls, struct mp_verdict *v);

struct mp_txn *mp_txn_new(struct mp_conn *c);
void mp_txn_free(struct mp_txn *t);
void mp_txn_set_queue_id(struct mp_txn *t, const char *id);
void mp_txn_set_trace(struct mp_txn *t, bool on);
int mp_txn_mail(struct mp_txn *t, const char *from, const char *auth_user,
		struct mp_verdict *v);
/* v is this recipient's outcome; v->outcome REJECT/TEMPFAIL refuses it. */
int mp_txn_rcpt(struct mp_txn *t, const char *rcpt, struct mp_verdict *v);
/* End of RCPT: the message-level decision over the accepted recipients. */
int mp_txn_data(struct mp_txn *t, struct mp_verdict *v);
/* value: everything after the colon as in the message (leading whitespace
 * included, as libmilter gives it with SMFIP_HDR_LEADSPC), folds as LF. */
int mp_txn_header(struct mp_txn *t, const char *name, const char *value);
int mp_txn_eoh(struct mp_txn *t, struct mp_verdict *v);
int mp_txn_body(struct mp_txn *t, const void *p, size_t n);
int mp_txn_eom(struct mp_txn *t, struct mp_verdict *v);
/* The verdict so far (the message-level one). */
const struct mp_verdict *mp_txn_verdict(const struct mp_txn *t);
/* Whether body data can still change anything (rules, DKIM, size). */
bool mp_txn_wants_body(const struct mp_txn *t);
size_t mp_txn_n_accepted(const struct mp_txn *t);
/* Fields named name seen so far (ASCII case-insensitive), stored or not. */
size_t mp_txn_header_count(const struct mp_txn *t, const char *name);
/* The normalised envelope sender ("" for the null sender). */
const char *mp_txn_from(const struct mp_txn *t);
const char *mp_conn_client_ip(const struct mp_conn *c);
/* The rule sets they run under (no new reference). */
struct mp_ruleset *mp_conn_ruleset(const struct mp_conn *c);
struct mp_ruleset *mp_txn_ruleset(const struct mp_txn *t);
const char *mp_conn_helo_name(const struct mp_conn *c);
/* Everything known after eom (or after an early decision). NULL: no memory. */
const struct mp_result *mp_txn_result(struct mp_txn *t);
/* strip attachment (engine/mime.c): the body as it goes on, through put
 * in pieces: 1 when it changed and was written, 0 when it is unchanged
 * (nothing written), -1 on error (put's -1 included). */
int mp_txn_new_body(struct mp_txn *t, int (*put)(void *arg, const void *p, size_t n), void *arg);
/* The values of a MIME field (SPEC §11) once the body was parsed, through
 * cb: strings as (s, len), numbers and booleans (1, 0) as num. */
void mp_txn_mime_values(struct mp_txn *t, enum mp_field_id f,
			void (*cb)(void *arg, const char *s, size_t len, double num), void *arg);
/* The finished message's row for DMARC aggregate reports (report_row.c):
 * false when there is none (no DMARC record applied, or a tempfail). */
struct mp_dmarc_row;
bool mp_txn_dmarc_row(struct mp_txn *t, struct mp_dmarc_row *row);
const struct mp_trace *mp_txn_trace(const struct mp_txn *t, size_t *n_r);

/* A header field as a message file or an MTA gives it: the value with its
 * leading whitespace (SMFIP_HDR_LEADSPC), folds as LF. */
struct mp_msg_header {
	char *name;
	char *value;
};

/* One message after HELO, for mp_drive_message. */
struct mp_drive_msg {
	const char *from;                 /* "" for the null sender */
	const char *auth;                 /* NULL: not authenticated */
	const char *const *rcpts;         /* NULL-terminated */
	struct mp_verdict *rcpt_v;        /* NULL, or one verdict per recipient */
	const struct mp_msg_header *hdrs;
	size_t n_hdrs;
	const char *body;                 /* CRLF line ends */
	size_t body_len;
	size_t chunk;                     /* body bytes per call; 0: 65536 */
};

/* drive.c: MAIL FROM to end of message as an MTA delivers it, stopping
 * where the MTA would (a refusal or discard, no recipient left, a body
 * nothing reads). *v is the last verdict. 0, or -1 (internal error). */
int mp_drive_message(struct mp_txn *t, const struct mp_drive_msg *m, struct mp_verdict *v);

/* ---- effects.c: what a decided transaction asks of the MTA and the log */

/* One change for the MTA; each is one smfi_* call in the daemon. Header
 * indexes count the fields of that name, from 1, as the MTA has them when
 * the change is applied (the list is in the order to apply it). */
enum mp_edit_kind {
	MP_EDIT_HEADER_DELETE,  /* name, index */
	MP_EDIT_HEADER_INSERT,  /* name, value, at index among all fields (0: the top) */
	MP_EDIT_HEADER_CHANGE,  /* name, index, value */
	MP_EDIT_HEADER_ADD,     /* name, value, after the last field */
	MP_EDIT_RCPT_DELETE,    /* value: a recipient as the MTA gave it */
	MP_EDIT_RCPT_ADD,       /* value */
	MP_EDIT_QUARANTINE,     /* value: the reason */
};

struct mp_edit {
	enum mp_edit_kind kind;
	const char *name;
	int index;
	const char *value;
};

/* After end of message: the changes, none for a message refused or
 * discarded. 0, or -1 on no memory. Built once; valid until the
 * transaction is freed. */
int mp_txn_edits(struct mp_txn *t, const struct mp_edit **edits_r, size_t *n_r);

/* The key=value fields of one log line (SPEC §6), in order; the caller
 * adds id= first and, for the summary, ms= (and writes the line). Values
 * live as long as the transaction (the connection, for a connect or HELO
 * decision). Zero-initialise; mp_logrec_free releases the field array. */
struct mp_log_field {
	const char *key;
	const char *value;
};
struct mp_logrec {
	struct mp_log_field *fields;
	size_t n, cap;
	bool oom;
};
void mp_logrec_free(struct mp_logrec *l);
/* A refusal decided at connect or HELO (no message). 0 or -1. */
int mp_conn_log_decision(struct mp_conn *c, const struct mp_verdict *v, enum mp_stage stage,
			 struct mp_logrec *l);
/* A refused recipient (arg as the MTA gave it). 0 or -1. */
int mp_txn_log_rcpt(struct mp_txn *t, const char *arg, const struct mp_verdict *v,
		    struct mp_logrec *l);
/* The lines the rules asked for (`log` texts, dry-run entries), before the
 * summary: how many, and the i-th. */
size_t mp_txn_log_n_extras(struct mp_txn *t);
int mp_txn_log_extra(struct mp_txn *t, size_t i, struct mp_logrec *l);
/* The one line per message. action NULL: the transaction's decision; else
 * that action (abort, tempfail) at stage. 0, or -1 (no memory: what could
 * be had is in l). */
int mp_txn_log_summary(struct mp_txn *t, const char *action, enum mp_stage stage,
		       struct mp_logrec *l);

#endif
