/*
 * replay - `milter-policy test`: one message through the engine, offline,
 * in the order and shape an MTA would deliver it (SPEC §2).
 *
 * A struct mp_message owns a copy of the parsed message. A struct mp_replay
 * owns the connection and transaction it drove; free it with
 * mp_replay_free. The driver stops where the MTA would stop: after a
 * refusal the daemon would send, or when no recipient is left.
 */
#ifndef MP_REPLAY_H
#define MP_REPLAY_H

#include "auth/checks.h"
#include "engine/engine.h"

#include <stdbool.h>
#include <stdio.h>

struct mp_ruleset;
struct mp_conf;
struct mp_diags;

struct mp_message {
	struct mp_msg_header *hdrs;
	size_t n_hdrs;
	char *body;     /* CRLF line ends, as an MTA sends it */
	size_t body_len;
};

/* Parses a message file's bytes. 0, or -1 on no memory. */
int mp_message_parse(const char *data, size_t len, struct mp_message *m);
void mp_message_free(struct mp_message *m);
/* Reads a file ("-" for stdin). 0 or -1 (errno set). */
int mp_message_load(const char *path, struct mp_message *m);

/* NULL (0 for the port) where not given: the replay fills in a local
 * client, 127.0.0.1 [localhost] port 25 saying HELO localhost, and takes the
 * sender and recipients from the message's From: and To:/Cc:. */
struct mp_replay_env {
	const char *client_ip;
	const char *client_name;
	unsigned client_port;
	const char *helo;
	bool tls;
	const char *from;        /* NULL: from the message's From: */
	const char *auth;
	const char **rcpts;      /* NULL-terminated; NULL: the message's To:/Cc: */
	const char *queue_id;
	struct mp_checker *checker;  /* SPF/DKIM: real over DNS, or injected */
	/* rate() and greylist (SPEC §12): the store (NULL: every state call
	 * fails), read-only for test --state URL; case files' state: lines */
	struct mp_state *state;
	bool state_ro;
	const char *pre_names[64];   /* canonical rate names and their counts */
	uint64_t pre_n[64];
	size_t n_pre;
	int grey_ago;                /* -1: none */
};

void mp_replay_env_init(struct mp_replay_env *env);

/* The parts of the envelope the replay filled in (struct mp_replay.defaults). */
enum {
	MP_ENV_DEF_CLIENT_IP = 1 << 0,
	MP_ENV_DEF_CLIENT_NAME = 1 << 1,
	MP_ENV_DEF_CLIENT_PORT = 1 << 2,
	MP_ENV_DEF_HELO = 1 << 3,
	MP_ENV_DEF_FROM = 1 << 4,  /* from the message's From: (or null) */
	MP_ENV_DEF_RCPT = 1 << 5,  /* from the message's To:/Cc: */
};

struct mp_replay {
	struct mp_conn *conn;
	struct mp_txn *txn;
	const struct mp_result *result;
	const struct mp_message *msg;
	bool no_rcpt;            /* no recipient given or found */
	/* the envelope replayed, defaults filled in (its strings are the
	 * caller's or static; rcpts is the caller's, NULL when taken from the
	 * message: see result->rcpts), and which parts were defaults */
	struct mp_replay_env env;
	unsigned defaults;
	/* the body as delivered when strip attachment changed it, else NULL */
	char *new_body;
	size_t new_body_len;
};

/* 0, or -1 on an internal error (message in *err_r). */
int mp_replay_run(struct mp_ruleset *rs, struct mp_replay_env *env,
		  const struct mp_message *msg, bool trace, struct mp_replay *out,
		  const char **err_r);
void mp_replay_free(struct mp_replay *r);

/* The header fields downstream would see (after removals, the Subject
 * change and additions), for case expectations. */
struct mp_final_header {
	const char *name;
	const char *value;
};
size_t mp_replay_final_headers(const struct mp_replay *r, struct mp_final_header **out);

/* report.c */
void mp_report_text(const struct mp_replay *r, FILE *out);
/* The JSON's "version": raised when a key is removed or changes type. */
#define MP_REPORT_JSON_VERSION 1
int mp_report_json(const struct mp_replay *r, FILE *out);
/* report_mime.c: the MIME walk, stripped attachments, the new body. */
struct json_object;
struct json_object *mp_report_mime_json(const struct mp_replay *r);
struct json_object *mp_report_body_json(const struct mp_replay *r);
void mp_report_mime_text(const struct mp_replay *r, FILE *out);

/* casefile.c: runs case files; prints failures and "N passed, N failed".
 * Returns the number of failed cases, or -1 on a usage-level problem. */
struct mp_load_opts;
int mp_cases_run(const struct mp_conf *conf, const char *rules_override,
		 const struct mp_load_opts *lo, char **files, int n_files, FILE *out);

#endif
