/*
 * milter - the libmilter callbacks (milter.c); see there.
 *
 * The callbacks know the process around them only through struct
 * mp_milter_host, so the daemon depends on them and not the other way.
 */
#ifndef MP_MILTER_H
#define MP_MILTER_H

#include "types/types.h"

struct mp_checks;
struct mp_dmarc_row;
struct mp_txn;
struct mp_verdict;
struct mp_ruleset;
struct mp_state;
struct smfiDesc;

struct mp_milter_host {
	/* a new reference to the rule set in force, NULL only before start */
	struct mp_ruleset *(*ruleset)(void);
	/* SPF and DKIM over the resolver in force */
	const struct mp_checks *(*checks)(void);
	/* tests only: the callback ("mail", "rcpt", "eoh", "eom") that fails
	 * as if memory had run out, or NULL */
	const char *fail_in;
	/* a finished message's DMARC report row (only queued: it must not
	 * block), or NULL when no history is kept */
	void (*dmarc_row)(const struct mp_dmarc_row *row);
	/* counters (SPEC §13; daemon/stats.c), or NULL: a session begins (+1)
	 * or ends (-1); a refusal at connect or HELO; a transaction's end
	 * (action NULL: its own decision) after seconds; a refused recipient */
	void (*session)(int delta);
	void (*conn_decision)(struct mp_ruleset *rs, const struct mp_verdict *v, enum mp_stage stage);
	void (*message)(struct mp_txn *t, struct mp_ruleset *rs, const char *action,
			enum mp_stage stage, double seconds);
	void (*rcpt_refused)(const struct mp_verdict *v);
	/* the state store in force (a new reference), or NULL; store
	 * failures for the metric */
	struct mp_state *(*state)(void);
	void (*state_errors)(unsigned long n);
};

/* Before smfi_register; host outlives the milter. */
void mp_milter_init(const struct mp_milter_host *host);
struct smfiDesc *mp_milter_desc(void);

#endif
