/*
 * program - the compiled, immutable form of a rule set.
 *
 * Everything here is allocated from the owning struct mp_ruleset's arena and
 * is read-only once loading has finished, so any number of transactions on
 * any threads can evaluate it at once. Expressions are trees whose nodes
 * carry the latest stage they need (for --dump and the evaluator's fast
 * path) and whether they need SPF or DKIM (so cheap siblings go first).
 */
#ifndef MP_PROGRAM_H
#define MP_PROGRAM_H

#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_list;
struct mp_regex;

enum mp_field_id {
	MP_F_CLIENT_IP,
	MP_F_CLIENT_NAME,
	MP_F_CLIENT_PORT,
	MP_F_HELO,
	MP_F_TLS,
	MP_F_MAIL_FROM,
	MP_F_MAIL_FROM_LOCAL,
	MP_F_MAIL_FROM_DOMAIN,
	MP_F_AUTH,
	MP_F_AUTH_USER,
	MP_F_SPF,
	MP_F_SPF_DOMAIN,
	MP_F_SPF_HELO,
	MP_F_RCPT_TO,
	MP_F_RCPT_TO_LOCAL,
	MP_F_RCPT_TO_DOMAIN,
	MP_F_RCPT_COUNT,
	MP_F_HEADER,        /* header "Name" */
	MP_F_RAWHEADER,     /* rawheader "Name" */
	MP_F_EXISTS_HEADER, /* exists header "Name" */
	MP_F_COUNT_HEADER,  /* count header "Name" */
	MP_F_HEADER_FROM,
	MP_F_HEADER_FROM_DOMAIN,
	MP_F_HEADER_FROM_COUNT,
	MP_F_BODY,
	MP_F_MESSAGE_SIZE,
	MP_F_DKIM,
	MP_F_DKIM_DOMAINS,
	MP_F_DKIM_ALIGNED,
	MP_F_SPF_ALIGNED,
	MP_F_DMARC,
	MP_F_DMARC_POLICY,       /* a result-like field: none, quarantine, reject */
	MP_F_DMARC_DOMAIN,
	MP_F_DMARC_ALIGNED_SPF,
	MP_F_DMARC_ALIGNED_DKIM,
	MP_F_ATTACHMENT_NAME,     /* SPEC §11: per attachment, multi-valued */
	MP_F_ATTACHMENT_EXT,
	MP_F_ATTACHMENT_TYPE,
	MP_F_ATTACHMENT_DETECTED,
	MP_F_ATTACHMENT_SIZE,     /* a number per attachment */
	MP_F_ATTACHMENT_COUNT,
	MP_F_ARCHIVE_NAME,
	MP_F_ARCHIVE_ENCRYPTED,
	MP_F_MIME_TYPE,
	MP_F_MIME_PARTS,
	MP_F_MIME_DEPTH,
	MP_F_MIME_MALFORMED,
	MP_F_TEXT,
	MP_F_SCORE,
	MP_F_LIMIT_EXCEEDED,
	MP_F_LIMIT_NAME,
	MP_F_RATE,          /* rate(KEY..., WINDOW): a number (SPEC §12) */
	MP_F_COUNT
};

enum mp_ftype { MP_T_IP, MP_T_STR, MP_T_NUM, MP_T_RESULT, MP_T_BOOL };

/* How `in` matches a list against the field. */
enum mp_need {
	MP_NEED_SPF = 1,
	MP_NEED_SPF_HELO = 2,
	MP_NEED_DKIM = 4,
	MP_NEED_BODY = 8,
	MP_NEED_SIZE = 16,
	MP_NEED_LIMIT = 32,  /* tests limit.*: still evaluated past a limit */
	MP_NEED_DMARC = 64,  /* DMARC, from SPF and DKIM (which it needs too) */
	MP_NEED_MIME = 128,  /* the MIME fields: the body is spooled and parsed */
	MP_NEED_SNIFF = 256, /* attachment.detected: libmagic on each attachment */
	MP_NEED_ARCHIVE = 512, /* archive.*: archives listed */
};

struct mp_field_info {
	const char *name;
	enum mp_field_id id;
	enum mp_ftype type;
	enum mp_fmatch match;
	enum mp_stage stage;
	bool multi;     /* may hold several values */
	bool named;     /* takes a header name: header "X" */
	bool subst;     /* usable as ${name} */
	unsigned need;  /* MP_NEED_* */
};

const struct mp_field_info *mp_field_by_name(const char *name, size_t len);
const struct mp_field_info *mp_field_info(enum mp_field_id id);

enum mp_op {
	MP_OP_TRUTH, /* bool field or exists header, alone */
	MP_OP_EQ,
	MP_OP_NE,
	MP_OP_MATCH,
	MP_OP_NMATCH,
	MP_OP_IN,
	MP_OP_NIN,
	MP_OP_LT,
	MP_OP_LE,
	MP_OP_GT,
	MP_OP_GE,
};

const char *mp_op_name(enum mp_op op);

enum mp_expr_kind { MP_E_AND, MP_E_OR, MP_E_NOT, MP_E_TEST };

/* Every walk over a condition recurses: its height is bounded at load. */
#define MP_EXPR_MAX_DEPTH 1000

struct mp_expr {
	enum mp_expr_kind kind;
	uint8_t stage;      /* latest stage any part of it needs */
	uint8_t min_stage;  /* earliest stage at which it may be decided */
	unsigned need;      /* MP_NEED_* of the subtree */
	unsigned depth;     /* height of the subtree (a test: 1), at most MP_EXPR_MAX_DEPTH */
	struct mp_expr *a, *b;
	/* MP_E_TEST */
	enum mp_field_id field;
	enum mp_op op;
	const char *hname;  /* header name as written, for named fields */
	const char *hkey;   /* lowercased header name */
	const char *str;    /* ==, != on strings (and IPs, as text) */
	double num;         /* numeric comparisons */
	int result;         /* enum mp_auth_result for result fields */
	struct mp_regex *re;
	struct mp_list *list;
	const char *list_name; /* NULL for inline lists and single CIDRs */
	int line, col;
	int hid;            /* header key id for named fields, else -1 */
	int pf, pfkey;      /* prefilter bit and key of a regex test, else -1 */
	int vid;            /* value index bit of ==, !=, in, not in, else -1 */
	const struct mp_rate *rate; /* MP_F_RATE */
};

/* rate(KEY..., WINDOW) (SPEC §12). Tests of one rule set that name the
 * same keys and window share one struct (and one count per event). */
#define MP_RATE_MAX_KEYS 8

struct mp_rate {
	uint32_t id;                /* index among the rule set's rates */
	const char *name;           /* canonical: rate(client.ip,mail.from,60s), in store keys */
	const char *src;            /* as first written, for --dump */
	enum mp_field_id keys[MP_RATE_MAX_KEYS];
	uint8_t n_keys;
	bool ip128;                 /* client.ip/128: an IPv6 client per address, not /64 */
	unsigned window;            /* seconds */
	uint8_t stage;              /* where it counts: the latest stage among its keys */
};

/* A text with ${field} references, split at load time. */
enum mp_seg_kind { MP_SEG_TEXT, MP_SEG_FIELD, MP_SEG_RULE, MP_SEG_SCORE, MP_SEG_QUEUE_ID };

struct mp_seg {
	enum mp_seg_kind kind;
	const char *text;
	size_t len;
	enum mp_field_id field;
};

struct mp_template {
	const char *src;
	struct mp_seg *segs;
	size_t n;
};

enum mp_act {
	MP_A_ACCEPT,
	MP_A_REJECT,
	MP_A_TEMPFAIL,
	MP_A_DISCARD,
	MP_A_QUARANTINE,
	MP_A_TAG_SUBJECT,
	MP_A_ADD_HEADER,
	MP_A_REMOVE_HEADER,
	MP_A_BCC,
	MP_A_REDIRECT,
	MP_A_SCORE,
	MP_A_LOG,
	MP_A_STRIP,          /* strip attachment "reason" */
	MP_A_GREYLIST,       /* greylist [DELAY] [EXPIRY] (SPEC §12) */
};

const char *mp_act_name(enum mp_act a);
bool mp_act_terminal(enum mp_act a);

struct mp_action {
	enum mp_act kind;
	const char *code, *xcode;   /* reject, tempfail */
	struct mp_template *text;   /* reply text, reason, prefix, header value, log */
	const char *arg;            /* header name or address */
	double score;
	unsigned delay, expiry;     /* greylist, seconds */
	int line, col;
};

struct mp_rule {
	const char *name;
	const char *file;
	int line, col;
	bool dry_run;
	struct mp_expr *when;       /* NULL: always true */
	struct mp_action *actions;
	size_t n_actions;
	int terminal;               /* index into actions, or -1 */
	int greylist;               /* index of its greylist action, or -1 */
	unsigned need;
	uint8_t stage;              /* latest stage its condition needs */
	uint8_t min_stage;          /* earliest stage it may decide at */
};

/* A test the rule's condition needs to hold (a conjunct of it): a regex
 * the prefilter rules out, or a literal or list the value index says does
 * not hold, makes the rule false without it being evaluated. */
enum mp_guard_kind { MP_G_NONE, MP_G_PF, MP_G_VAL };

struct mp_guard {
	uint8_t kind;
	uint8_t stage;      /* from this stage on the guard can be asked */
	int32_t id;         /* prefilter bit (PF) or value index bit (VAL) */
	int32_t key;        /* prefilter key (PF) or field (VAL) */
};

struct mp_threshold {
	double score;
	const char *file;
	int line, col;
	struct mp_action *actions;
	size_t n_actions;
	int terminal;
};

/* One effective policy: global rules, then a domain file with its includes. */
struct mp_policy {
	const char *name;           /* "global", "default" or the domain */
	const char *file;           /* file it was loaded from, NULL for global */
	const struct mp_rule **rules;
	size_t n_rules;
	size_t n_global;            /* rules[0..n_global) come from global.rules */
	const struct mp_threshold **thresholds;
	size_t n_thresholds;
	unsigned need;              /* union over rules and thresholds */
	/* Rule indexes by the first stage each can be decided at (its
	 * min_stage, and RCPT for a domain file's rules), ascending: a stage
	 * evaluates only those and the ones still undecided. */
	const uint32_t *by_stage[MP_STAGE_COUNT];
	size_t n_by_stage[MP_STAGE_COUNT];
	const struct mp_guard *guards; /* per rule */
	/* by_stage[s] split for the stage loop when some of its rules have
	 * for guard a header regex or a literal or list test of a connection
	 * or sender field (g_start[s] NULL otherwise): those rules by guard
	 * id - prefilter ids, then value-index ids from n_pf_ids on -
	 * g_rules[s][g_start[s][id] .. g_start[s][id + 1]), ascending; the
	 * header keys and the fields they read; and the rest (unguarded[s],
	 * ascending). A stage then visits the rules whose guard holds and
	 * the unguarded ones, not every rule. */
	const uint32_t *unguarded[MP_STAGE_COUNT];
	size_t n_unguarded[MP_STAGE_COUNT];
	const uint32_t *g_start[MP_STAGE_COUNT];
	const uint32_t *g_rules[MP_STAGE_COUNT];
	const int32_t *pf_keys[MP_STAGE_COUNT];
	size_t n_pf_keys[MP_STAGE_COUNT];
	const int32_t *val_fields[MP_STAGE_COUNT];
	size_t n_val_fields[MP_STAGE_COUNT];
	uint32_t n_pf_ids, n_val_ids; /* g_start has n_pf_ids + n_val_ids + 1 entries */
	bool dry_run_early;         /* a dry-run rule may decide at connect or HELO */
	/* the rates its rules read (each once), which it counts whether or
	 * not the rest of their conditions is decided (SPEC §12) */
	const struct mp_rate **rates;
	size_t n_rates;
};

#endif
