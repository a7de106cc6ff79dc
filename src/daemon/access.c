/*
 * access - for `check`: can the daemon's user reach the files the daemon
 * opens after it has dropped root?
 *
 * `run` reads the configuration as root, loads the rules as the configured
 * user (its effective ids), then becomes that user for good; from then on
 * it opens the DNS zone file, the lmdb and DMARC history files, and at
 * every reload the configuration, the rules and the Redis password file -
 * as that user. A checkout or /etc directory that root can read and the
 * user cannot (a clone under /root, mode 0700) stops the start, or makes
 * every reload fail. The check runs in a child process that becomes the user
 * exactly as the daemon does (its group only) and asks access(2), so ACLs
 * and every directory on the way count; nothing is opened. The child
 * writes one line per problem to a pipe; the parent says them.
 */
#include "daemon/daemon.h"

#include "conf/conf.h"
#include "rules/ruleset.h"
#include "rules/stamps.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum need { NEED_READ, NEED_READ_WRITE, NEED_CONNECT };

/* Writes "K text\n" (K: W warning, R refusal) when path is not usable. */
static void probe(FILE *out, char kind, const char *path, enum need need, const char *what,
		  const char *user)
{
	static const int modes[] = { [NEED_READ] = R_OK, [NEED_READ_WRITE] = R_OK | W_OK,
				     [NEED_CONNECT] = W_OK };
	static const char *const verbs[] = { [NEED_READ] = "read", [NEED_READ_WRITE] = "write",
					     [NEED_CONNECT] = "connect to" };

	if (access(path, modes[need]) == 0)
		return;
	int e = errno;
	if (e == ENOENT && need == NEED_READ_WRITE) {
		/* created at start: its directory must take it */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		if (access(dir, W_OK | X_OK) == 0)
			return;
		e = errno;
		fprintf(out, "%c cannot create %s %s in %s as user %s: %s\n", kind,
			what ? what : "", path, dir, user, strerror(e));
		return;
	}
	if (e == ENOENT && need == NEED_READ)
		return; /* a missing file is the loader's to report */
	fprintf(out, "%c cannot %s %s%s%s as user %s: %s%s\n", kind, verbs[need], what ? what : "",
		what ? " " : "", path, user, strerror(e),
		kind == 'W' ? " (read again at every reload: reloads would fail)" : "");
}

/* The child: becomes the user, probes, exits. */
static void child(int fd, const struct mp_conf *c, const struct mp_ruleset *rs, uid_t uid,
		  gid_t gid)
{
	FILE *out = fdopen(fd, "w");

	if (out == NULL)
		_exit(1);
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		fprintf(out, "W cannot become user %s to check its access: %s\n", c->user,
			strerror(errno));
		fclose(out);
		_exit(0);
	}
	const char *u = c->user;
	/* read at start, after dropping root: run refuses without them */
	if (c->dns_zone_file != NULL)
		probe(out, 'R', c->dns_zone_file, NEED_READ, "the DNS zone file", u);
	if (c->dmarc_history != NULL)
		probe(out, 'R', c->dmarc_history, NEED_READ_WRITE, "the DMARC history", u);
	struct mp_state_spec sp;
	if (c->state != NULL && mp_state_spec_parse(c->state, &sp) == NULL) {
		if (sp.kind == MP_STATE_LMDB)
			probe(out, 'R', sp.where, NEED_READ_WRITE, "the state file", u);
		else if (sp.kind == MP_STATE_UNIX)
			probe(out, 'W', sp.where, NEED_CONNECT, "the Redis socket", u);
	}
	/* the rules: loaded as the user at start too */
	probe(out, 'R', mp_ruleset_dir(rs), NEED_READ, "the rules directory", u);
	const struct mp_stamps *st = mp_ruleset_stamps(rs);
	for (size_t i = 0; st != NULL && i < mp_stamps_count(st); i++) {
		const char *p = mp_stamps_path(st, i);
		if (c->path == NULL || strcmp(p, c->path) != 0)
			probe(out, 'R', p, NEED_READ, NULL, u);
	}
	/* read as root at start, as the user at every reload: the rules in
	 * force would stay, every reload would fail */
	if (c->path != NULL)
		probe(out, 'W', c->path, NEED_READ, "the configuration", u);
	if (c->state_password_file != NULL)
		probe(out, 'W', c->state_password_file, NEED_READ, "the state password file", u);
	fclose(out);
	_exit(0);
}

size_t mp_daemon_access(const struct mp_conf *c, const struct mp_ruleset *rs,
			void (*warn)(void *arg, const char *problem),
			void (*refuse)(void *arg, const char *problem), void *arg)
{
	uid_t uid;
	gid_t gid;
	char err[256];
	int p[2];

	/* only root can become the user; as the user itself the load said it */
	if (geteuid() != 0 || mp_daemon_user(c, &uid, &gid, err, sizeof(err)) < 0 || uid == 0)
		return 0;
	if (pipe(p) < 0)
		return 0;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	if (pid == 0) {
		close(p[0]);
		child(p[1], c, rs, uid, gid);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	char line[4096 + 512];
	size_t refusals = 0;
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'R' && line[1] == ' ') {
			refuse(arg, line + 2);
			refusals++;
		} else if (line[0] == 'W' && line[1] == ' ') {
			warn(arg, line + 2);
		}
	}
	if (in != NULL)
		fclose(in);
	else
		close(p[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	return refusals;
}
