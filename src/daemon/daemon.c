/*
 * daemon - starting, reloading and stopping the milter (SPEC §3, §6).
 *
 * Start: configuration and rules are loaded and the socket is opened while
 * still root and still attached to the terminal, so every startup error
 * reaches the administrator with exit code 78. Then the process detaches
 * (unless -f), writes the pidfile, drops to user/group, creates the
 * resolver (its threads must live in the process that serves), starts the
 * reload thread and hands over to smfi_main. Errors after detaching reach
 * the waiting parent, which prints them and exits with the code.
 *
 * Signals: HUP, TERM, INT and USR1 are blocked first, before any thread
 * exists (libunbound starts threads of its own).
 * libmilter's own thread waits for HUP/TERM (graceful stop) and INT; ours
 * waits for USR1 (reload) and, every reload_check_interval, looks for
 * changed rule, list or configuration files.
 *
 * Reload: a new configuration and rule set are loaded beside the old ones;
 * only a complete success replaces them, under the one lock. A failure logs
 * every error and keeps the set in force; it is not retried until one of
 * the files it read changes again.
 */
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/milter.h"
#include "daemon/stats.h"
#include "state/state.h"

#include "auth/checks.h"
#include "dns/dns.h"
#include "match/prefilter_helper.h"
#include "conf/conf.h"
#include "report/history.h"
#include "util/log.h"
#include "rules/ruleset.h"
#include "rules/stamps.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <libmilter/mfapi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static struct {
	pthread_mutex_t lock;
	struct mp_ruleset *rs;        /* in force */
	struct mp_conf *conf;         /* in force */
	const char *conf_path;        /* -c, or NULL */
	const char *rules_override;
	struct mp_stamps *failed;     /* what the last failed reload read */
	unsigned long reloads, failures;
	bool foreground;
	atomic_bool stopping;
	const struct mp_daemon_opts *opts;
	struct mp_checker *checker;   /* SPF/DKIM over the resolver in force */
	char *dns_key;                /* the DNS settings the resolver was made with */
	pthread_t thread;
	pthread_t sampler;            /* stats snapshots and STATUS= (sampler_thread) */
	pthread_mutex_t sampler_lock;
	pthread_cond_t sampler_wake;
	int status_fd;                /* PIDFILE.reload, opened as root at start, or -1 */
	char *status_path;
	struct mp_history *history;   /* dmarc_history, from start to stop, or NULL */
	struct mp_state *state;       /* the state store in force (under lock) */
	char *state_key;              /* the settings it was opened with */
	atomic_llong full_warned;     /* when a full history queue was last logged */
} D = { .sampler_lock = PTHREAD_MUTEX_INITIALIZER, .sampler_wake = PTHREAD_COND_INITIALIZER,
	.lock = PTHREAD_MUTEX_INITIALIZER, .status_fd = -1 };

/* Rows waiting for the history writer: minutes of a busy MX's mail. */
#define HISTORY_QUEUE 100000

/* Queues a finished message's DMARC row (milter threads); a full queue is
 * logged at most once a minute. */
static void record_dmarc_row(const struct mp_dmarc_row *row)
{
	if (mp_history_add(D.history, row) == 0)
		return;
	long long now = (long long)time(NULL), last = atomic_load(&D.full_warned);
	if (now - last >= 60 && atomic_compare_exchange_strong(&D.full_warned, &last, now))
		mp_log(MP_LOG_WARN, "dmarc_history: the queue is full; rows are dropped (%llu so far)",
		       (unsigned long long)mp_history_dropped(D.history));
}

/* The reload verdict file `milter-policy reload` waits on: one line,
 * "ATTEMPT done|failed ERRORS". Written through a descriptor opened at
 * start, so the unprivileged daemon can update it whatever the directory's
 * owner. */
static void write_status(const char *verdict, size_t errors)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%lu %s %zu\n", D.reloads + D.failures, verdict, errors);

	if (D.status_fd < 0)
		return;
	if (ftruncate(D.status_fd, 0) < 0 || pwrite(D.status_fd, line, (size_t)n, 0) != n)
		mp_log(MP_LOG_WARN, "cannot write %s: %s", D.status_path, strerror(errno));
}

/* For the callbacks (struct mp_milter_host). */
static struct mp_ruleset *ruleset_in_force(void)
{
	pthread_mutex_lock(&D.lock);
	struct mp_ruleset *rs = mp_ruleset_ref(D.rs);
	pthread_mutex_unlock(&D.lock);
	return rs;
}

static const struct mp_checks *checks_in_force(void)
{
	return mp_checker_ops(D.checker);
}

/* The DNS settings as one string, to tell whether a reload changed them. */
static char *dns_key(const struct mp_conf *c)
{
	struct mp_buf b;

	mp_buf_init(&b);
	mp_buf_printf(&b, "%s|%u|", c->dns_zone_file ? c->dns_zone_file : "", c->dns_timeout_ms);
	for (size_t i = 0; i < c->n_dns_servers; i++)
		mp_buf_printf(&b, "%s,", c->dns_servers[i]);
	return mp_buf_steal(&b);
}

/* Makes the resolver conf asks for the one in force, unless it already
 * is. 0, or -1 with the reason in d. */
static int use_dns(const struct mp_conf *c, struct mp_diags *d)
{
	char *key = dns_key(c);

	if (key == NULL) {
		mp_diags_add(d, "dns", 0, 0, "out of memory");
		return -1;
	}
	if (D.dns_key != NULL && strcmp(key, D.dns_key) == 0) {
		free(key);
		return 0;
	}
	struct mp_dns *dns = mp_dns_new(c, d);
	if (dns == NULL) {
		free(key);
		return -1;
	}
	mp_checker_set_dns(D.checker, dns);
	mp_log(MP_LOG_INFO, "resolver: %s", mp_dns_describe(dns));
	mp_dns_unref(dns);
	free(D.dns_key);
	D.dns_key = key;
	return 0;
}



/* A new reference to the state store in force (the milter threads). */
static struct mp_state *state_in_force(void)
{
	pthread_mutex_lock(&D.lock);
	struct mp_state *st = mp_state_ref(D.state);
	pthread_mutex_unlock(&D.lock);
	return st;
}

/* Opens the store conf names unless the one in force was opened with the
 * same settings (a reload keeps its counts). As the daemon's user: an
 * lmdb file is its own. 0, or -1 with the reason in d. */
static int use_state(const struct mp_conf *c, struct mp_diags *d)
{
	struct mp_buf b;

	mp_buf_init(&b);
	mp_buf_printf(&b, "%s|%u|%zu|%s", c->state, c->state_timeout_ms, c->state_max_entries,
		      c->state_password ? c->state_password : "");
	char *key = mp_buf_steal(&b);
	if (key == NULL) {
		mp_diags_add(d, "state", 0, 0, "out of memory");
		return -1;
	}
	if (D.state_key != NULL && strcmp(key, D.state_key) == 0) {
		explicit_bzero(key, strlen(key));
		free(key);
		return 0;
	}
	char err[1200];
	struct mp_state_opts o = { c->state_max_entries, c->state_timeout_ms, c->state_password };
	struct mp_state *st = mp_state_open(c->state, &o, err, sizeof(err));
	if (st == NULL) {
		mp_diags_add(d, c->path ? c->path : "state", 0, 0, "state: %s", err);
		explicit_bzero(key, strlen(key));
		free(key);
		return -1;
	}
	pthread_mutex_lock(&D.lock);
	struct mp_state *old = D.state;
	D.state = st;
	pthread_mutex_unlock(&D.lock);
	mp_state_free(old);
	mp_log(MP_LOG_INFO, "state: %s", c->state);
	if (D.state_key != NULL)
		explicit_bzero(D.state_key, strlen(D.state_key));
	free(D.state_key);
	D.state_key = key;
	return 0;
}

static void print_diags(const struct mp_diags *d)
{
	mp_diags_print_source(d, stderr);
}

static void log_diags(const struct mp_diags *d)
{
	char where[4200];

	for (size_t i = 0; i < d->n; i++) {
		mp_diag_where(&d->v[i], where, sizeof(where));
		mp_log(MP_LOG_ERROR, "%s: %s", where, d->v[i].msg);
	}
	if (d->dropped > 0)
		mp_log(MP_LOG_ERROR, "(%zu more errors not shown)", d->dropped);
}

/* ---- reload ------------------------------------------------------------- */

static void warn_restart_only(const struct mp_conf *old, const struct mp_conf *new)
{
	static const char *names[] = { "socket", "user", "group", "pidfile", "dmarc_history",
				       "metrics_listen" };
	const char *a[] = { old->socket, old->user, old->group, old->pidfile,
			    old->dmarc_history ? old->dmarc_history : "",
			    old->metrics_listen ? old->metrics_listen : "" };
	const char *b[] = { new->socket, new->user, new->group, new->pidfile,
			    new->dmarc_history ? new->dmarc_history : "",
			    new->metrics_listen ? new->metrics_listen : "" };

	for (int i = 0; i < 6; i++) {
		if (strcmp(a[i], b[i]) != 0)
			mp_log(MP_LOG_WARN, "reload: %s changed to %s; it takes effect at the next start",
			       names[i], b[i][0] ? b[i] : "(none)");
	}
}

static void set_logging(const struct mp_conf *c)
{
	mp_log_setup(D.foreground ? MP_LOGTO_STDERR : c->log, c->log_level);
}

static void reload(const char *why)
{
	struct mp_diags d;
	struct mp_stamps *failed = NULL;
	struct mp_ruleset *rs = NULL;

	sd_notify(0, "RELOADING=1");
	mp_diags_init(&d);
	struct mp_conf *conf = mp_conf_open(D.conf_path, MP_DEFAULT_CONF, D.rules_override, &d);
	if (conf != NULL) {
		struct mp_load_opts lo = { .failed_r = &failed };
		rs = mp_ruleset_load_with(conf, &lo, &d);
		if (rs != NULL && (use_dns(conf, &d) < 0 || use_state(conf, &d) < 0)) {
			mp_ruleset_unref(rs);
			rs = NULL;
		}
	} else if ((failed = mp_stamps_new(D.conf->rules_dir)) != NULL) {
		if (D.conf->path != NULL)
			mp_stamps_add(failed, D.conf->path);
		mp_stamps_scan_dir(failed);
	}
	if (rs != NULL && mp_stats_attach(rs, D.rs) < 0) {
		mp_diags_add(&d, "milter-policy", 0, 0, "out of memory");
		mp_ruleset_unref(rs);
		rs = NULL;
	}
	if (rs == NULL) {
		D.failures++;
		mp_stats_reload(false);
		mp_log(MP_LOG_ERROR,
		       "reload (%s) failed with %zu error%s (failure #%lu); the rules in force stay",
		       why, mp_diags_count(&d), mp_diags_count(&d) == 1 ? "" : "s", D.failures);
		log_diags(&d);
		write_status("failed", mp_diags_count(&d));
		mp_diags_free(&d);
		mp_conf_free(conf);
		mp_stamps_free(D.failed);
		D.failed = failed;
		sd_notify(0, "READY=1");
		return;
	}
	mp_diags_free(&d);
	warn_restart_only(D.conf, conf);
	pthread_mutex_lock(&D.lock);
	struct mp_ruleset *old = D.rs;
	struct mp_conf *old_conf = D.conf;
	D.rs = rs;
	D.conf = conf;
	pthread_mutex_unlock(&D.lock);
	mp_ruleset_unref(old);
	mp_conf_free(old_conf);
	mp_stamps_free(D.failed);
	D.failed = NULL;
	D.reloads++;
	mp_stats_reload(true);
	set_logging(conf);
	mp_log(MP_LOG_INFO, "reload (%s) done: rules=%zu lists=%zu policies=%zu reloads=%lu failures=%lu",
	       why, mp_ruleset_n_rules(rs), mp_ruleset_n_lists(rs), mp_ruleset_n_policies(rs),
	       D.reloads, D.failures);
	write_status("done", 0);
	sd_notify(0, "READY=1");
}

static bool files_changed(void)
{
	if (D.failed != NULL)
		return mp_stamps_changed(D.failed);
	return mp_ruleset_changed(D.rs);
}

/* After a change is seen: waits a quiet second (or the check interval,
 * when shorter) and says whether the files stayed as they were - an editor
 * or a copy still writing a file must never have half of it loaded (a
 * truncated file can be valid rules, just fewer of them). A SIGUSR1 during
 * the wait ends it: returns SIGUSR1 (reload for the signal), else 1
 * settled, 0 still changing. */
static int files_settled(unsigned interval_ms, const sigset_t *set)
{
	const struct mp_stamps *ref = D.failed ? D.failed : mp_ruleset_stamps(D.rs);
	struct mp_stamps *now = ref ? mp_stamps_now(ref) : NULL;
	unsigned quiet = interval_ms < 1000 ? interval_ms : 1000;

	if (now == NULL)
		return 1; /* nothing to compare with: as before */
	struct timespec ts = { quiet / 1000, (long)(quiet % 1000) * 1000000L };
	int sig = sigtimedwait(set, NULL, &ts);
	int rc = sig == SIGUSR1 ? SIGUSR1 : !mp_stamps_changed(now);
	mp_stamps_free(now);
	return rc;
}

/* Waits for SIGUSR1, and polls for changed files between signals. */
static void *reload_thread(void *arg)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!atomic_load(&D.stopping)) {
		unsigned ms = D.conf->reload_check_interval_ms;
		int sig;
		if (ms == 0) {
			sig = sigwaitinfo(&set, NULL);
		} else {
			struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
			sig = sigtimedwait(&set, NULL, &ts);
		}
		if (atomic_load(&D.stopping))
			break;
		if (sig == SIGUSR1) {
			reload("signal");
		} else if (sig < 0 && errno == EAGAIN && files_changed()) {
			int settled = files_settled(ms, &set);
			if (atomic_load(&D.stopping))
				break;
			if (settled == SIGUSR1)
				reload("signal");
			else if (settled)
				reload("files changed");
		}
	}
	return NULL;
}

/* Every 10 s: a snapshot for the summary's windows, and the one-line
 * summary for systemd (STATUS=). */
static void *sampler_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&D.sampler_lock);
	while (!atomic_load(&D.stopping)) {
		char line[256];
		struct mp_ruleset *rs = ruleset_in_force();
		mp_stats_sample();
		mp_stats_status_line(line, sizeof(line), rs);
		mp_ruleset_unref(rs);
		sd_notifyf(0, "STATUS=%s", line);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		pthread_cond_timedwait(&D.sampler_wake, &D.sampler_lock, &until);
	}
	pthread_mutex_unlock(&D.sampler_lock);
	return NULL;
}

/* ---- sockets ------------------------------------------------------------ */

/* inet:PORT@HOST / inet6:PORT@HOST, opened here so accepted connections
 * inherit TCP_NODELAY: without it each message stalls on Nagle and delayed
 * ACKs (neither libmilter nor the MTAs set it). */
static int listen_inet(const char *spec, char *err, size_t errlen)
{
	bool v6 = strncmp(spec, "inet6:", 6) == 0;
	const char *p = strchr(spec, ':') + 1;
	const char *at = strchr(p, '@');
	char port[16], host[256];
	struct addrinfo hints, *res = NULL;

	snprintf(port, sizeof(port), "%.*s", (int)(at ? at - p : (ptrdiff_t)strlen(p)), p);
	snprintf(host, sizeof(host), "%s", at ? at + 1 : "");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = v6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	int one = 1;
	int nodelay = !D.opts->nagle; /* Nagle on: for the socket benchmark only */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static const char *unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/* Whether ensure_dir could give path its directory: it exists, or its
 * parent does (ensure_dir creates one level, no more). */
static bool dir_possible(const char *path, char *err, size_t errlen)
{
	char *dir = strdup(path);
	struct stat st;
	bool ok = true;

	if (dir == NULL)
		return true; /* nothing to say about it */
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir && stat((*slash = '\0', dir), &st) != 0) {
		char *up = strrchr(dir, '/');
		if (up != NULL && up != dir && stat((*up = '\0', dir), &st) != 0) {
			snprintf(err, errlen, "%s does not exist, and the daemon creates only the last "
					      "directory of %s", dir, path);
			ok = false;
		}
	}
	free(dir);
	return ok;
}

/* Creates the directory of path when it is missing, owned by uid/gid. */
static int ensure_dir(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char *dir = strdup(path);
	struct stat st;

	if (dir == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir || stat((*slash = '\0', dir), &st) == 0) {
		free(dir);
		return 0;
	}
	if (mkdir(dir, 0755) < 0 || (geteuid() == 0 && chown(dir, uid, gid) < 0)) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	return 0;
}

/* Gives the unix socket just bound at path to uid/gid with mode. Never by
 * path: the node is opened without following a symlink (O_PATH), checked
 * to be a socket we made (root's, or ours), and changed through that
 * descriptor, so a path swapped after bind cannot redirect root's chown or
 * chmod to another file. */
static int own_socket(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err,
		      size_t errlen)
{
	struct stat st;
	char proc[64];
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not the socket just made%s%s", path, fd < 0 ? ": " : "",
			 fd < 0 ? strerror(errno) : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (geteuid() == 0 && fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0) {
		snprintf(err, errlen, "cannot chown %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* fchmod does not take an O_PATH descriptor; its /proc name does */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode) < 0) {
		snprintf(err, errlen, "cannot chmod %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int open_socket(const struct mp_conf *c, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char spec[64];
	const char *conn = c->socket;
	const char *path = unix_path(c->socket);

	if (strncmp(conn, "inet", 4) == 0) {
		int fd = listen_inet(conn, err, errlen);
		if (fd < 0)
			return -1;
		snprintf(spec, sizeof(spec), "fd:%d", fd);
		conn = spec;
	} else if (strncmp(conn, "fd:", 3) == 0) {
		/* socket activation: a TCP listener gets TCP_NODELAY too */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = atoi(conn + 3);
		int one = 1;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family != AF_UNIX)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else if (path != NULL && ensure_dir(path, uid, gid, err, errlen) < 0) {
		return -1;
	}
	mode_t old = umask(0177);
	errno = 0;
	if (smfi_setconn((char *)conn) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
		umask(old);
		snprintf(err, errlen, "cannot open socket %s%s%s", c->socket, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		return -1;
	}
	umask(old);
	if (path != NULL && own_socket(path, uid, gid, c->socket_mode, err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- pidfile, privileges, detaching ------------------------------------- */

/* The start of a small file (pidfile, reload status) as a string; false
 * when it cannot be read or is empty. */
static bool read_short(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static pid_t read_pidfile(const char *path)
{
	char buf[32];

	if (!read_short(path, buf, sizeof(buf)))
		return -1;
	long pid = strtol(buf, NULL, 10);
	return pid > 1 ? (pid_t)pid : -1;
}

/* Whether pid is a running milter-policy (not a recycled pid): a stale
 * pidfile must neither stop a start nor get SIGUSR1 sent to a stranger. */
static bool is_milter_policy(pid_t pid)
{
	char path[64], comm[64];

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return false;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "milter-policy") == 0;
}

pid_t mp_daemon_pid(const char *pidfile)
{
	pid_t pid = read_pidfile(pidfile);

	return pid > 0 && is_milter_policy(pid) ? pid : -1;
}

static int write_pidfile(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (ensure_dir(path, uid, gid, err, errlen) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);
	return 0;
}

/* The uid and gid of the user and group settings; -1 with the reason. */
int mp_daemon_user(const struct mp_conf *c, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(c->user);
	struct group *gr = getgrnam(c->group);

	if (pw == NULL) {
		snprintf(err, errlen, "unknown user '%s' (the user setting)", c->user);
		return -1;
	}
	if (gr == NULL) {
		snprintf(err, errlen, "unknown group '%s' (the group setting)", c->group);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = gr->gr_gid;
	if (*uid == 0 && strcmp(c->user, "root") != 0) {
		snprintf(err, errlen, "user '%s' has uid 0: write user = root to run as root", c->user);
		return -1;
	}
	return 0;
}

static int lookup_user(const struct mp_conf *c, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	if (mp_daemon_user(c, uid, gid, err, errlen) < 0)
		return -1;
	if (geteuid() != 0 && geteuid() != *uid) {
		snprintf(err, errlen, "not running as root, so cannot switch to user '%s'", c->user);
		return -1;
	}
	return 0;
}

/* The first load of the rules, as the user every reload runs as: a rule,
 * include or list file only root can read stops the start instead of
 * every reload, and a rule file cannot make root read a file through
 * `include` or `list ... file` (and quote it in an error). The real and
 * effective ids are the user's for the load, root only the saved one, and
 * back (the socket and the pidfile are made as root after it): a helper
 * the load runs (the prefilter's) is then plainly the user's, not a
 * set-id process. The supplementary groups are cleared for good, as
 * dropping privileges would. */
static struct mp_ruleset *load_as_user(const struct mp_conf *c, uid_t uid, gid_t gid,
				       struct mp_diags *d)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0 || uid == 0)
		return mp_ruleset_load(c, d);
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    setgroups(1, &gid) < 0 || setresgid(gid, gid, eg) < 0 || setresuid(uid, uid, eu) < 0) {
		mp_diags_add(d, "milter-policy", 0, 0, "cannot switch to uid %ld gid %ld: %s",
			     (long)uid, (long)gid, strerror(errno));
		return NULL;
	}
	mp_file_set_user(c->user);
	struct mp_ruleset *rs = mp_ruleset_load(c, d);
	mp_file_set_user(NULL);
	/* root again first: changing the group ids needs it */
	if (setresuid(ru, eu, su) < 0 || setresgid(rg, eg, sg) < 0) {
		mp_diags_add(d, "milter-policy", 0, 0, "cannot switch back to root: %s",
			     strerror(errno));
		mp_ruleset_unref(rs);
		return NULL;
	}
	return rs;
}

/* " (as user NAME)" once root is dropped, else "": for the errors of files
 * opened after (the startup thread's only). */
static const char *as_user(void)
{
	static char note[128];
	const char *as = mp_file_as();

	if (as[0] == '\0')
		return "";
	snprintf(note, sizeof(note), " (%s)", as + 1);
	return note;
}

static int drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (geteuid() != 0 || uid == 0)
		return 0; /* already that user, or user = root on purpose */
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(err, errlen, "cannot switch to uid %ld gid %ld: %s", (long)uid, (long)gid,
			 strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "still able to become root after dropping privileges");
		return -1;
	}
	return 0;
}

/* Forks; the parent waits until the child reports how its start went (a
 * line "CODE message") and exits with that code. Returns the write end of
 * the report pipe in the child. */
static int detach(void)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char buf[1024];
		ssize_t n, len = 0;
		close(p[1]);
		while (len < (ssize_t)sizeof(buf) - 1 &&
		       (n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
			len += n;
		buf[len] = '\0';
		int code = len > 0 ? atoi(buf) : MP_EX_OSERR;
		const char *msg = strchr(buf, ' ');
		if (code != 0)
			fprintf(stderr, "milter-policy: %s\n", msg ? msg + 1 : "the daemon died while starting");
		_exit(code);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void report(int fd, int code, const char *msg)
{
	if (fd < 0) {
		if (code != 0)
			fprintf(stderr, "milter-policy: %s\n", msg);
		return;
	}
	dprintf(fd, "%d %s", code, msg);
	close(fd);
}

static void quiet_stdio(bool keep_stderr)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (!keep_stderr)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* ---- run ---------------------------------------------------------------- */

/* glibc gives each thread that allocates under contention an arena of its
 * own, up to 8 per core, and libmilter runs a thread per SMTP session: the
 * arenas' free memory is most of the daemon's RSS at 10 sessions and more
 * (bench/mta: 40.2 -> 33.3 MiB with 1,000 rules at 10 sessions, 44.5 ->
 * 35.1 MiB at 100, the same CPU). One arena per core, two at least; an
 * administrator's GLIBC_TUNABLES (glibc.malloc.arena_max) still wins. */
static void limit_arenas(void)
{
	const char *t = getenv("GLIBC_TUNABLES");
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (t != NULL && strstr(t, "glibc.malloc.arena_max") != NULL)
		return;
	mallopt(M_ARENA_MAX, n > 2 ? (int)n : 2);
}

int mp_daemon_run(const char *conf_path, const char *rules_override, bool foreground,
		  const struct mp_daemon_opts *opts)
{
	static const struct mp_daemon_opts none = { false, NULL };
	D.opts = opts ? opts : &none;
	struct mp_diags d;
	char err[512];
	uid_t uid;
	gid_t gid;

	D.conf_path = conf_path;
	D.rules_override = rules_override;
	D.foreground = foreground;
	limit_arenas();
	/* Vectorscan's compiler runs in a helper, not in the daemon's memory */
	mp_prefilter_set_helper("/proc/self/exe");
	/* blocked in every thread from here on (libunbound's too); libmilter
	 * and the reload thread sigwait them */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	mp_diags_init(&d);
	D.conf = mp_conf_open(conf_path, MP_DEFAULT_CONF, rules_override, &d);
	if (D.conf != NULL && lookup_user(D.conf, &uid, &gid, err, sizeof(err)) < 0) {
		print_diags(&d);
		mp_diags_free(&d);
		fprintf(stderr, "milter-policy: not starting: %s\n", err);
		return MP_EX_CONFIG;
	}
	if (D.conf != NULL)
		D.rs = load_as_user(D.conf, uid, gid, &d);
	mp_stats_init();
	if (D.rs != NULL && mp_stats_attach(D.rs, NULL) < 0) {
		mp_ruleset_unref(D.rs);
		D.rs = NULL;
	}
	if (D.rs != NULL && (D.checker = mp_checker_new(D.conf->authserv_id)) == NULL) {
		mp_diags_add(&d, "milter-policy", 0, 0, "out of memory");
		mp_ruleset_unref(D.rs);
		D.rs = NULL;
	}
	if (D.rs == NULL) {
		print_diags(&d);
		fprintf(stderr, "milter-policy: not starting: %zu error%s in the configuration or rules\n",
			mp_diags_count(&d), mp_diags_count(&d) == 1 ? "" : "s");
		mp_diags_free(&d);
		return MP_EX_CONFIG;
	}
	mp_diags_free(&d);
	pid_t other = read_pidfile(D.conf->pidfile);
	if (other > 0 && other != getpid() && is_milter_policy(other)) {
		fprintf(stderr, "milter-policy: not starting: already running as pid %ld (%s)\n",
			(long)other, D.conf->pidfile);
		return MP_EX_OSERR;
	}
	static struct mp_milter_host host = { ruleset_in_force, checks_in_force, NULL, NULL,
					      mp_stats_session, mp_stats_conn_decision,
					      mp_stats_message, mp_stats_rcpt_refused,
					      state_in_force, mp_stats_state_errors };
	mp_stats_state_source(state_in_force);
	host.fail_in = D.opts->fail_in;
	mp_milter_init(&host);
	if (smfi_register(*mp_milter_desc()) != MI_SUCCESS) {
		fprintf(stderr, "milter-policy: not starting: smfi_register failed\n");
		return MP_EX_OSERR;
	}
	if (open_socket(D.conf, uid, gid, err, sizeof(err)) < 0) {
		fprintf(stderr, "milter-policy: not starting: %s\n", err);
		return MP_EX_CONFIG;
	}
	int fd = -1;
	if (!foreground) {
		fd = detach();
		if (fd < 0) {
			fprintf(stderr, "milter-policy: not starting: cannot fork: %s\n", strerror(errno));
			return MP_EX_OSERR;
		}
	}
	set_logging(D.conf);
	if (write_pidfile(D.conf->pidfile, uid, gid, err, sizeof(err)) < 0) {
		report(fd, MP_EX_CONFIG, err);
		return MP_EX_CONFIG;
	}
	if (asprintf(&D.status_path, "%s.reload", D.conf->pidfile) > 0) {
		D.status_fd = open(D.status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
				   0644);
		if (D.status_fd >= 0 && geteuid() == 0 && fchown(D.status_fd, uid, gid) < 0)
			mp_log(MP_LOG_WARN, "cannot chown %s: %s", D.status_path, strerror(errno));
		write_status("started", 0);
	}
	/* bound as root (a port below 1024 is allowed), its thread born in
	 * the serving process; it drops privileges with the others */
	if (D.conf->metrics_listen != NULL &&
	    mp_http_start(D.conf->metrics_listen, ruleset_in_force, err, sizeof(err)) < 0) {
		report(fd, MP_EX_CONFIG, err);
		return MP_EX_CONFIG;
	}
	if (drop_privileges(uid, gid, err, sizeof(err)) < 0) {
		report(fd, MP_EX_CONFIG, err);
		return MP_EX_CONFIG;
	}
	/* from here on a file that cannot be read says who tried */
	if (uid != 0 && getuid() == uid)
		mp_file_set_user(D.conf->user);
	/* the resolver's threads must be born in the process that serves */
	mp_diags_init(&d);
	if (use_dns(D.conf, &d) < 0) {
		const struct mp_diag *g = d.n ? &d.v[0] : NULL;
		snprintf(err, sizeof(err), "%s: %s", g ? g->file : "dns", g ? g->msg : "out of memory");
		mp_diags_free(&d);
		report(fd, MP_EX_CONFIG, err);
		return MP_EX_CONFIG;
	}
	mp_diags_free(&d);
	/* as the user too: an lmdb file is its own */
	mp_diags_init(&d);
	if (use_state(D.conf, &d) < 0) {
		const struct mp_diag *g = d.n ? &d.v[0] : NULL;
		snprintf(err, sizeof(err), "%s%s", g ? g->msg : "out of memory", as_user());
		mp_diags_free(&d);
		report(fd, MP_EX_CONFIG, err);
		return MP_EX_CONFIG;
	}
	mp_diags_free(&d);
	/* as the user: the file, its WAL and shared-memory files are its own */
	if (D.conf->dmarc_history != NULL) {
		D.history = mp_history_open(D.conf->dmarc_history, HISTORY_QUEUE, err, sizeof(err));
		if (D.history == NULL) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "dmarc_history: %s%s", err, as_user());
			report(fd, MP_EX_CONFIG, msg);
			return MP_EX_CONFIG;
		}
		host.dmarc_row = record_dmarc_row;
	}
	if (pthread_create(&D.thread, NULL, reload_thread, NULL) != 0 ||
	    pthread_create(&D.sampler, NULL, sampler_thread, NULL) != 0) {
		report(fd, MP_EX_OSERR, "cannot start the reload thread");
		return MP_EX_OSERR;
	}
	mp_log(MP_LOG_INFO, "starting milter-policy %s: socket=%s rules=%zu lists=%zu policies=%zu mode=%s user=%s",
	       MP_VERSION, D.conf->socket, mp_ruleset_n_rules(D.rs), mp_ruleset_n_lists(D.rs),
	       mp_ruleset_n_policies(D.rs), D.conf->mode == MP_MODE_DRY_RUN ? "dry-run" : "enforce",
	       D.conf->user);
	report(fd, 0, "started");
	if (!foreground)
		quiet_stdio(D.conf->log == MP_LOGTO_STDERR);
	sd_notify(0, "READY=1");

	int rc = smfi_main();

	sd_notify(0, "STOPPING=1");
	mp_log(MP_LOG_INFO, "stopping (reloads=%lu failures=%lu)", D.reloads, D.failures);
	atomic_store(&D.stopping, true);
	pthread_kill(D.thread, SIGUSR1);
	pthread_join(D.thread, NULL);
	pthread_mutex_lock(&D.sampler_lock);
	pthread_cond_signal(&D.sampler_wake);
	pthread_mutex_unlock(&D.sampler_lock);
	pthread_join(D.sampler, NULL);
	mp_http_stop();
	if (D.history != NULL) {
		/* libmilter has finished its sessions: nothing adds rows now */
		host.dmarc_row = NULL;
		uint64_t dropped = mp_history_dropped(D.history);
		mp_history_close(D.history);
		D.history = NULL;
		if (dropped > 0)
			mp_log(MP_LOG_WARN, "dmarc_history: %llu rows were dropped (the queue was full)",
			       (unsigned long long)dropped);
	}
	if (unlink(D.conf->pidfile) < 0 && errno != ENOENT)
		mp_log(MP_LOG_WARN, "cannot remove %s: %s", D.conf->pidfile, strerror(errno));
	if (D.status_fd >= 0) {
		close(D.status_fd);
		unlink(D.status_path);
	}
	free(D.status_path);
	const char *path = unix_path(D.conf->socket);
	if (path != NULL)
		unlink(path);
	mp_ruleset_unref(D.rs);
	mp_conf_free(D.conf);
	mp_stamps_free(D.failed);
	mp_checker_free(D.checker);
	mp_state_free(D.state);
	D.state = NULL;
	if (D.state_key != NULL)
		explicit_bzero(D.state_key, strlen(D.state_key));
	free(D.state_key);
	free(D.dns_key);
	mp_log_close();
	return rc == MI_SUCCESS ? 0 : MP_EX_OSERR;
}

size_t mp_daemon_preflight(const struct mp_conf *c, void (*say)(void *arg, const char *problem),
			   void *arg)
{
	char err[512];
	uid_t uid;
	gid_t gid;
	size_t n = 0;
	const char *sock = unix_path(c->socket);

	if (mp_daemon_user(c, &uid, &gid, err, sizeof(err)) < 0 && ++n)
		say(arg, err);
	if (sock != NULL && !dir_possible(sock, err, sizeof(err)) && ++n)
		say(arg, err);
	if (!dir_possible(c->pidfile, err, sizeof(err)) && ++n)
		say(arg, err);
	return n;
}

/* The attempt number in a reload status file, or -1. */
static long read_status(const char *path, char *verdict, size_t vlen, unsigned long *errors)
{
	char buf[64], word[16];
	long gen;

	if (!read_short(path, buf, sizeof(buf)) ||
	    sscanf(buf, "%ld %15s %lu", &gen, word, errors) != 3)
		return -1;
	snprintf(verdict, vlen, "%s", word);
	return gen;
}

int mp_daemon_signal_reload(const char *conf_path, const char *rules)
{
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_conf *c = mp_conf_open(conf_path, MP_DEFAULT_CONF, rules, &d);
	if (c == NULL) {
		print_diags(&d);
		mp_diags_free(&d);
		fprintf(stderr, "milter-policy: reload: the configuration has errors; not signalled\n");
		return 1;
	}
	/* what the daemon would load: refused here, the daemon is not asked */
	struct mp_ruleset *candidate = mp_ruleset_load(c, &d);
	if (candidate == NULL) {
		print_diags(&d);
		mp_diags_free(&d);
		fprintf(stderr, "milter-policy: reload: the rules have errors; not signalled, the "
				"rules in force stay\n");
		mp_conf_free(c);
		return 1;
	}
	mp_ruleset_unref(candidate);
	mp_diags_free(&d);
	pid_t pid = read_pidfile(c->pidfile);
	if (pid <= 0 || !is_milter_policy(pid)) {
		fprintf(stderr, "milter-policy: reload: no running daemon (pidfile %s)\n", c->pidfile);
		mp_conf_free(c);
		return 1;
	}
	char status[PATH_MAX], verdict[16];
	unsigned long errors = 0;
	snprintf(status, sizeof(status), "%s.reload", c->pidfile);
	long before = read_status(status, verdict, sizeof(verdict), &errors);
	if (kill(pid, SIGUSR1) < 0) {
		fprintf(stderr, "milter-policy: reload: pid %ld (%s): %s\n", (long)pid, c->pidfile,
			strerror(errno));
		mp_conf_free(c);
		return 1;
	}
	mp_conf_free(c);
	if (before < 0) {
		/* a daemon that keeps no status file (an older one) */
		printf("milter-policy: asked pid %ld to reload (no verdict: see its log)\n", (long)pid);
		return 0;
	}
	/* the daemon's own verdict, within 60 s (a large rule set takes a while) */
	for (int i = 0; i < 600; i++) {
		long now = read_status(status, verdict, sizeof(verdict), &errors);
		if (now > before && strcmp(verdict, "done") == 0) {
			printf("milter-policy: pid %ld reloaded\n", (long)pid);
			return 0;
		}
		if (now > before) {
			fprintf(stderr, "milter-policy: pid %ld: reload failed with %lu error%s (see its log); "
					"the rules in force stay\n", (long)pid, errors, errors == 1 ? "" : "s");
			return 1;
		}
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "milter-policy: asked pid %ld to reload; no verdict within 60 s\n", (long)pid);
	return 1;
}
