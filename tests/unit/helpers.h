/*
 * helpers - shared by the unit tests: rule sets from strings, and a small
 * driver that runs one transaction through the engine.
 */
#ifndef MP_TEST_HELPERS_H
#define MP_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/checks.h"
#include "conf/conf.h"
#include "engine/engine.h"
#include "rules/ruleset.h"
#include "util/diag.h"

/* Writes files {name, content, name, content, ..., NULL} into a fresh
 * temporary directory and returns its path (free with th_rmdir). */
char *th_mkdir(const char *const *files);
void th_rmdir(char *dir);
/* Writes dir/name with text (replacing it). */
void th_write_file(const char *dir, const char *name, const char *text);
/* Loads files as a rule set; on failure NULL and the errors in d (which
 * the caller frees). conf may be NULL for defaults. */
struct mp_ruleset *th_load(const char *const *files, struct mp_conf *conf, struct mp_diags *d);
struct mp_load_opts;
struct mp_ruleset *th_load_with(const char *const *files, struct mp_conf *conf,
				const struct mp_load_opts *o, struct mp_diags *d);
/* Loads a single global.rules, asserting success. */
struct mp_ruleset *th_global(const char *text);
/* First diagnostic message ("" when none). */
const char *th_first_error(const struct mp_diags *d);

/* One transaction, driven step by step; stops at a refusal like an MTA. */
struct th_msg {
	const char *ip, *name, *helo, *from, *auth;
	bool tls;
	const char *rcpts[8];
	const char *headers[32]; /* "Name", "value", ... NULL */
	const char *body;
	int spf, spf_helo;       /* -1: not injected */
	const char *dkim;        /* injected spec or NULL */
};
struct th_run {
	struct mp_checker *ck;
	struct mp_conn *conn;
	struct mp_txn *txn;
	const struct mp_result *res;
	struct mp_verdict rcpt_v[8];
};
void th_msg_init(struct th_msg *m);
void th_run(struct mp_ruleset *rs, const struct th_msg *m, struct th_run *r);
void th_run_free(struct th_run *r);

#endif
