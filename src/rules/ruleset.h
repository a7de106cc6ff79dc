/*
 * ruleset - a whole rules directory loaded into one immutable, reference-
 * counted rule set (SPEC §4.1).
 *
 * mp_ruleset_load() reads global.rules, default.rules and every
 * <domain>.rules with their includes and lists; any error anywhere means no
 * rule set at all (NULL, every error in the record). A loaded set is never
 * modified: threads share it, each transaction holds a reference for its
 * whole life, and the last mp_ruleset_unref() frees it. It also keeps the
 * settings from the configuration the engine needs, so a reload swaps rules
 * and settings together.
 */
#ifndef MP_RULESET_H
#define MP_RULESET_H

#include "conf/conf.h"
#include "rules/program.h"

#include <stdbool.h>
#include <stddef.h>

struct mp_lindex;
struct mp_prefilter;

struct mp_diags;
struct mp_ruleset;
struct mp_stamps;

struct mp_settings {
	unsigned long regex_match_limit;
	unsigned dkim_max_signatures;
	unsigned dns_timeout_ms;
	size_t body_scan_limit;
	unsigned mime_max_depth, mime_max_parts, archive_max_entries;
	enum mp_recipient_policy recipient_policy;
	enum mp_mode mode;
	bool add_auth_results, add_received_spf, add_trace_header;
	bool spf, spf_helo, dkim, dmarc;
	enum mp_on_error on_internal_error;
	enum mp_on_error on_limit;
	const char *authserv_id;
	/* shared state (SPEC §12); the store itself is the caller's */
	const char *state_prefix;
	unsigned greylist_whitelist_after;
	enum mp_on_error on_state_error;
};

struct mp_ruleset *mp_ruleset_load(const struct mp_conf *conf, struct mp_diags *d);

struct mp_load_opts {
	/* no prefilter and no value index: every test is evaluated (a test
	 * and benchmark switch, MP_PREFILTER=0 at the command line's edge:
	 * results must not depend on them) */
	bool no_index;
	/* when loading fails, what the attempt read, so the caller can wait
	 * for those files to change (NULL: not wanted) */
	struct mp_stamps **failed_r;
};
/* The same with options (NULL: the defaults). */
struct mp_ruleset *mp_ruleset_load_with(const struct mp_conf *conf, const struct mp_load_opts *o,
					struct mp_diags *d);
struct mp_ruleset *mp_ruleset_ref(struct mp_ruleset *rs);
void mp_ruleset_unref(struct mp_ruleset *rs);

const struct mp_settings *mp_ruleset_settings(const struct mp_ruleset *rs);
/* The id of a lowercased header name the rules test, or -1. */
int mp_ruleset_hkey(const struct mp_ruleset *rs, const char *key, size_t len);
size_t mp_ruleset_n_hkeys(const struct mp_ruleset *rs);
/* Whether a transaction indexes fields of a lowercased name: the rules
 * test or remove it, or the result reads it (From, Subject, our
 * Authentication-Results). */
bool mp_ruleset_header_used(const struct mp_ruleset *rs, const char *key, size_t len);
/* NULL when there is no regex to prefilter. Its keys are the header key
 * ids, then one per envelope field (mp_ruleset_pfkey_field). */
const struct mp_prefilter *mp_ruleset_prefilter(const struct mp_ruleset *rs);
size_t mp_ruleset_n_pfkeys(const struct mp_ruleset *rs);
/* The envelope field of a prefilter key, or -1 for a header key. */
int mp_ruleset_pfkey_field(const struct mp_ruleset *rs, int key);
/* The value index of an envelope field (NULL: none) and its bit count. */
const struct mp_lindex *mp_ruleset_lindex(const struct mp_ruleset *rs, enum mp_field_id f);
size_t mp_ruleset_n_vids(const struct mp_ruleset *rs);
const char *mp_ruleset_dir(const struct mp_ruleset *rs);
/* The policy of global.rules alone (in force before RCPT). */
const struct mp_policy *mp_ruleset_global(const struct mp_ruleset *rs);
/* The most specific <domain>.rules for a recipient domain, else
 * default.rules, else the global policy. */
const struct mp_policy *mp_ruleset_lookup(const struct mp_ruleset *rs, const char *domain,
					  size_t len);
/* Policies other than the global one, default first, then domains sorted. */
size_t mp_ruleset_n_policies(const struct mp_ruleset *rs);
const struct mp_policy *mp_ruleset_policy_at(const struct mp_ruleset *rs, size_t i);
size_t mp_ruleset_n_rules(const struct mp_ruleset *rs);
/* The canonical name of a rate(...) written as text (the form the rule
 * checker gives struct mp_rate.name): 0, or -1 with why. */
int mp_rate_canonical(const char *text, char *out, size_t len, const char **why);
/* Whether a decision can come at connect or HELO (rules/replies.c): if
 * not, the daemon asks the MTA for no reply there. */
bool mp_ruleset_decides_early(const struct mp_ruleset *rs);
/* Whether a refusal can come at DATA that no recipient's own evaluation
 * gave at RCPT: if not, the daemon asks for no DATA event. */
bool mp_ruleset_refuses_at_data(const struct mp_ruleset *rs);
/* Distinct rate(...) of the rule set (struct mp_rate ids are below it). */
size_t mp_ruleset_n_rates(const struct mp_ruleset *rs);
size_t mp_ruleset_n_lists(const struct mp_ruleset *rs);
/* True when the configuration, a rule file, a list file or the set of rule
 * files changed on disk since the set was loaded. */
bool mp_ruleset_changed(const struct mp_ruleset *rs);
/* Whether loading the set read path (a rule, include, list or config file). */
bool mp_ruleset_read_file(const struct mp_ruleset *rs, const char *path);
/* Data of the caller's that lives as long as the set (the daemon's rule
 * hit counters): set once, before the set is shared; ext_free (may be
 * NULL) runs when the last reference goes. */
void mp_ruleset_set_ext(struct mp_ruleset *rs, void *ext, void (*ext_free)(void *ext));
void *mp_ruleset_ext(const struct mp_ruleset *rs);
/* What the set was loaded from (NULL when not recorded). */
const struct mp_stamps *mp_ruleset_stamps(const struct mp_ruleset *rs);

#endif
