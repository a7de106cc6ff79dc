/*
 * daemon - `milter-policy run` and `reload`: the process around the milter
 * callbacks, and the state they share.
 *
 * The rule set in force is one reference-counted pointer guarded by one
 * mutex; callers take a reference (mp_daemon_ruleset) and keep it as long
 * as they like, so a reload never changes anything under a message in
 * flight.
 */
#ifndef MP_DAEMON_H
#define MP_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct mp_conf;
struct mp_ruleset;

#define MP_EX_CONFIG 78 /* EX_CONFIG: cannot start because of the configuration */
#define MP_EX_OSERR 71  /* EX_OSERR: the system refused something */

/* Switches for the tests and benchmarks only, set at the command line's
 * edge (main.c reads them from the environment). */
struct mp_daemon_opts {
	bool nagle;            /* MP_BENCH_NAGLE: leave Nagle on for inet sockets */
	const char *fail_in;   /* MILTER_POLICY_TEST_FAIL: a callback that fails as
				* if memory ran out */
};

/* `run`: returns the process exit code. conf_path NULL: built-in defaults
 * (or the default file when it exists). opts NULL: none. */
int mp_daemon_run(const char *conf_path, const char *rules_override, bool foreground,
		  const struct mp_daemon_opts *opts);
/* What `run` would refuse before serving (the user and group, the socket's
 * and the pidfile's directories), for `check`: say() once per problem;
 * returns how many. */
size_t mp_daemon_preflight(const struct mp_conf *c, void (*say)(void *arg, const char *problem),
			   void *arg);
/* Files the daemon opens as its user (the rules and lists, the DNS zone
 * file, the state and history files; the configuration at each reload)
 * that the user cannot use, for `check` (access.c): refuse() for those
 * `run` needs to start, warn() for the others; returns how many refusals.
 * Checked as the user in a child process; nothing unless root. */
size_t mp_daemon_access(const struct mp_conf *c, const struct mp_ruleset *rs,
			void (*warn)(void *arg, const char *problem),
			void (*refuse)(void *arg, const char *problem), void *arg);
/* The configured user and group (daemon.c). 0, or -1 with err. */
int mp_daemon_user(const struct mp_conf *c, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* `reload`: loads the configuration and rules itself first (errors:
 * printed, exit 1, no signal), then signals the daemon named by the
 * pidfile and waits for its verdict in PIDFILE.reload. Exit code. */
int mp_daemon_signal_reload(const char *conf_path, const char *rules);
/* The pid of the running milter-policy its pidfile names, or -1 (none,
 * or a stale file naming another process). */
pid_t mp_daemon_pid(const char *pidfile);
/* `status` (status.c): the running daemon's summary from its metrics
 * endpoint, readable or as JSON; exit 0, or 1 when it cannot be had. */
int mp_daemon_status(const struct mp_conf *c, bool json, const char *html);
/* status_html.c: the summary (the /status JSON) as a page with SVG charts. */
struct json_object;
int mp_status_html(struct json_object *o, FILE *out);

#endif
