/*
 * stats - what the daemon counts (SPEC §13): messages by action and stage,
 * refused recipients, rule hits by policy and rule, SPF, DKIM and DMARC
 * results, limits, time per message, sessions, reloads; their Prometheus
 * text, and the summary `milter-policy status` and systemd's STATUS= show.
 *
 * Counters are atomics bumped from the milter threads without a lock. Rule
 * hits live with the rule set they count (mp_ruleset_ext), so a message
 * counts into the set it ran under; a reload carries the counts of rules
 * that stay over to the new set, and the series of removed rules go. The
 * windows of the summary (last minute, last hour) come from snapshots the
 * sampler thread takes every 10 s. One process-wide instance.
 */
#ifndef MP_STATS_H
#define MP_STATS_H

#include "engine/engine.h"

#include <stdbool.h>
#include <time.h>

struct mp_buf;
struct mp_ruleset;

void mp_stats_init(void);
/* Gives a newly loaded set its rule counters, carrying over the counts of
 * old (may be NULL) for the rules both have. -1 on no memory. */
int mp_stats_attach(struct mp_ruleset *rs, const struct mp_ruleset *old);
/* The result of a reload (not the first load). */
void mp_stats_reload(bool ok);

/* From the milter callbacks. */
void mp_stats_session(int delta);
void mp_stats_conn_decision(struct mp_ruleset *rs, const struct mp_verdict *v, enum mp_stage stage);
/* A transaction ends: action NULL means its own decision. */
void mp_stats_message(struct mp_txn *t, struct mp_ruleset *rs, const char *action,
		      enum mp_stage stage, double seconds);
void mp_stats_rcpt_refused(const struct mp_verdict *v);
/* Failures of the state store (SPEC §12). */
void mp_stats_state_errors(unsigned long n);
/* The store in force, for its entries and evictions (a new reference or
 * NULL); set once at start. */
struct mp_state;
void mp_stats_state_source(struct mp_state *(*current)(void));

/* The exposition of everything for the set in force (rs may be NULL). */
void mp_stats_render(struct mp_buf *b, const struct mp_ruleset *rs);
/* The summary as JSON (the `status` command's data). */
void mp_stats_status_json(struct mp_buf *b, const struct mp_ruleset *rs);
/* One line for systemd's STATUS=. */
void mp_stats_status_line(char *buf, size_t len, const struct mp_ruleset *rs);
/* Takes a snapshot for the windows; called every 10 s. */
void mp_stats_sample(void);

#endif
