/*
 * conf - the configuration file (SPEC §3) -> struct mp_conf.
 *
 * mp_conf_new() gives the built-in defaults; mp_conf_load() reads a file over
 * them, reporting every bad line to the error record as FILE:LINE:COL. A
 * struct mp_conf is immutable once loaded and owned by whoever loaded it;
 * rule sets copy the few values they need.
 */
#ifndef MP_CONF_H
#define MP_CONF_H

#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

struct mp_diags;

enum mp_recipient_policy { MP_RCPT_SPLIT, MP_RCPT_STRICTEST };
enum mp_mode { MP_MODE_ENFORCE, MP_MODE_DRY_RUN };
enum mp_on_error { MP_ONERR_TEMPFAIL, MP_ONERR_ACCEPT };

struct mp_conf {
	char *path;             /* file read, NULL for built-in defaults */
	char *socket;
	unsigned socket_mode;
	char *user, *group;
	char *pidfile;
	char *rules_dir;        /* relative paths resolved against the file's dir */
	char *authserv_id;
	bool add_auth_results, add_received_spf, add_trace_header;
	bool spf, spf_helo, dkim, dmarc;
	char **dns_servers;     /* NULL-terminated, "IP" or "IP@PORT" */
	size_t n_dns_servers;
	unsigned dns_timeout_ms;
	char *dns_zone_file;
	char *dmarc_history;        /* SQLite file for aggregate reports, or NULL */
	char *metrics_listen;       /* HOST:PORT of /metrics (SPEC §13), or NULL: off */
	char *dmarc_report_org;     /* org_name of our reports; NULL: authserv_id */
	char *dmarc_report_email;   /* their email and From; NULL: postmaster@authserv_id */
	enum mp_recipient_policy recipient_policy;
	enum mp_mode mode;
	enum mp_on_error on_internal_error;
	enum mp_on_error on_limit;  /* a message past a safety limit (SPEC §8) */
	unsigned long regex_match_limit;
	unsigned dkim_max_signatures;
	size_t body_scan_limit;
	unsigned mime_max_depth, mime_max_parts, archive_max_entries; /* SPEC §11 */
	unsigned reload_check_interval_ms;
	/* shared state (SPEC §12) */
	char *state;                /* memory, lmdb:PATH, redis://..., redis+unix:... */
	char *state_prefix;         /* before every key: keeps sites apart in one Redis */
	unsigned state_timeout_ms;
	size_t state_max_entries;   /* memory and lmdb */
	unsigned greylist_whitelist_after;
	enum mp_on_error on_state_error;
	char *state_password_file;  /* Redis AUTH, read at load; NULL: none */
	char *state_password;       /* its first line */
	enum mp_log_target log;
	enum mp_log_level log_level;
};

struct mp_conf *mp_conf_new(void);
void mp_conf_free(struct mp_conf *c);
/* Reads path over c. Returns 0, or -1 when the file is unreadable or any
 * line is bad (each one is in d). */
int mp_conf_load(struct mp_conf *c, const char *path, struct mp_diags *d);
/* The configuration a command runs with: path when given (it must be
 * readable), else default_path when that file exists, else the built-in
 * defaults; rules_override (may be NULL) replaces rules_dir. NULL on any
 * error (each in d). */
struct mp_conf *mp_conf_open(const char *path, const char *default_path,
			     const char *rules_override, struct mp_diags *d);
/* Replaces rules_dir (for --rules). 0 or -1 on no memory. */
int mp_conf_set_rules_dir(struct mp_conf *c, const char *dir);

/* The i-th configuration key, NULL past the last (the manual's test). */
const char *mp_conf_key_name(size_t i);

/* Value parsers shared with the case-file reader. 0 or -1. */
int mp_parse_duration_ms(const char *s, unsigned *ms_r);
/* 30s, 10m, 1h, 1d or a bare number of seconds, from 1 s to max (rate()
 * windows, greylist delays, case files' state: lines). */
int mp_parse_duration_s(const char *s, unsigned max, unsigned *secs_r);
int mp_parse_size(const char *s, size_t *bytes_r);
int mp_parse_bool(const char *s, bool *b_r);
/* A `state =` value (SPEC §12) as parts (state_spec.c). */
struct mp_state_spec {
	enum { MP_STATE_MEMORY, MP_STATE_LMDB, MP_STATE_REDIS, MP_STATE_UNIX } kind;
	char where[1024];        /* the file or socket path, or the host */
	int port, db;
};
/* NULL, or why v is not one. */
const char *mp_state_spec_parse(const char *v, struct mp_state_spec *sp);

/* A TCP port, 1 to 65535 (the socket key, test's --client-port, case files). */
int mp_parse_port(const char *s, unsigned *port_r);

#endif
