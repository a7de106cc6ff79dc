/*
 * main - the milter-policy command line (SPEC §2): parses options, loads
 * the configuration and rule set, and hands over to check, test or the
 * case runner. Exit codes: 0 done, 1 rule/config errors or a failed case,
 * 2 usage error.
 */
#include "auth/dkim.h"
#include "conf/conf.h"
#include "daemon/daemon.h"
#include "dns/dns.h"
#include "engine/engine.h"
#include "match/prefilter_helper.h"
#include "replay/replay.h"
#include "state/state.h"
#include "report/aggregate.h"
#include "report/send.h"
#include "rules/dump.h"
#include "rules/ruleset.h"
#include "rules/program.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/ip.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_ERRORS 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: milter-policy [-c FILE] [--rules DIR] COMMAND ...\n"
	"  run [-f]                          start the daemon (-f: foreground)\n"
	"  check [--dump] [DIR]              check the configuration and every rule file\n"
	"  test [ENVELOPE] [--json] [MESSAGE | -]\n"
	"                                    replay one message through the rules\n"
	"  test --case FILE...               run test-case files\n"
	"  reload                            make the running daemon reload\n"
	"  status [--json | --html FILE]     the running daemon's counters and state\n"
	"  dmarc-report [--from DAY] [--to DAY] [--out DIR] [--history FILE]... [--send]\n"
	"                                    write DMARC aggregate reports\n"
	"  version                           print the version (also --version)\n"
	"  help [COMMAND]                    this text, or one command's (also --help)\n";

/* One help text per command. */
static const struct {
	const char *cmd, *text;
} helps[] = {
	{ "run", "usage: milter-policy [-c FILE] [--rules DIR] run [-f]\n"
		 "Starts the daemon: binds the socket, drops privileges, serves the MTA.\n"
		 "  -f   stay in the foreground (for systemd and tests)\n" },
	{ "check", "usage: milter-policy [-c FILE] [--rules DIR] check [--dump] [DIR]\n"
		   "Checks the configuration and every rule and list file (DIR: the rules\n"
		   "directory, instead of rules_dir). Errors are FILE:LINE:COL; exit 1 on any.\n"
		   "  --dump   print every policy with the stage each rule decides at\n" },
	{ "test", "usage: milter-policy [-c FILE] [--rules DIR] test [ENVELOPE] [--json] [MESSAGE | -]\n"
		  "       milter-policy [-c FILE] [--rules DIR] test --case FILE...\n"
		  "Replays one message (a file, - for stdin; without one, a message piped on\n"
		  "stdin or an empty one) through the rules, or runs test-case files.\n"
		  "ENVELOPE: --client-ip IP --client-name NAME --client-port N --helo NAME --tls\n"
		  "          --from ADDR --rcpt ADDR... --auth USER --queue-id ID\n"
		  "          --spf RESULT --spf-helo RESULT --dkim RESULT[:DOMAIN,...] --dmarc RESULT[:POLICY]\n"
		  "          --dns-zone FILE\n"
		  "  --state memory|URL   rate() and greylist: an empty memory store (the\n"
		  "           default), or a real one (lmdb:PATH, redis://...) read, never written\n"
		  "  --json   the result as JSON\n"
		  "  --rules DIR   the rules, also over a case file's rules:\n" },
	{ "reload", "usage: milter-policy [-c FILE] [--rules DIR] reload\n"
		    "Loads the configuration and rules first (errors: printed, exit 1, the daemon\n"
		    "is not signalled), then makes the running daemon (its pidfile) reload and\n"
		    "waits for its verdict: exit 0 reloaded, 1 failed.\n" },
	{ "dmarc-report", "usage: milter-policy [-c FILE] dmarc-report [--from DAY] [--to DAY] [--out DIR]\n"
			  "       [--history FILE]... [--send]\n"
			  "Writes one gzip'd DMARC aggregate report (RFC 7489) per policy domain and UTC\n"
			  "day from the history files (dmarc_history; --history, repeatable, merges\n"
			  "several), named receiver!domain!begin!end.xml.gz, into DIR (default: .).\n"
			  "DAY is YYYY-MM-DD; both default to yesterday (UTC). --send mails each to\n"
			  "its rua= mailto: addresses through sendmail -t (verified, size limits kept).\n" },
	{ "status", "usage: milter-policy [-c FILE] status [--json | --html FILE]\n"
		    "Prints the running daemon's state and counters (uptime, rules, reloads,\n"
		    "messages by action in the last minute, hour and since start, the rules\n"
		    "that matched most, DNS) from its metrics_listen endpoint; exit 1 when\n"
		    "it cannot be reached. Without metrics_listen: whether it runs.\n"
		    "  --json        the same as JSON\n"
		    "  --html FILE   a self-contained page with charts (inline SVG)\n" },
	{ "version", "usage: milter-policy version\n" },
	{ "help", "usage: milter-policy help [COMMAND]\n" },
};

static const char *help_of(const char *cmd)
{
	for (size_t i = 0; cmd != NULL && i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(helps[i].cmd, cmd) == 0)
			return helps[i].text;
	}
	return NULL;
}

/* A usage error: the culprit named, then the command's help (or the
 * general one). */
static int usage_for(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_for(const char *cmd, const char *fmt, ...)
{
	if (fmt != NULL) {
		va_list ap;
		fputs("milter-policy: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	const char *h = help_of(cmd);
	fputs(h ? h : usage_text, stderr);
	return EXIT_USAGE;
}

static int usage(const char *why)
{
	return why ? usage_for(NULL, "%s", why) : usage_for(NULL, NULL);
}

struct opts {
	const char *conf_path;
	const char *rules;
	/* test and benchmark switches, from the environment (read here only) */
	struct mp_load_opts load;      /* MP_PREFILTER=0: no prefilter, no value index */
	struct mp_daemon_opts daemon;  /* MP_BENCH_NAGLE, MILTER_POLICY_TEST_FAIL */
	const char *dmarc_seed;        /* MP_DMARC_SEED: test's pct= draws repeatable */
	const char *cmd;
	char **args;     /* the command's own arguments */
	int n_args;
};

/* Pulls -c/--config and --rules out of argv wherever they are. */
static int parse_global(int argc, char **argv, struct opts *o)
{
	o->args = calloc((size_t)argc + 1, sizeof(char *));
	if (o->args == NULL)
		return -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--rules") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "milter-policy: %s needs a value\n", a);
				return -1;
			}
			if (a[2] == 'r')
				o->rules = argv[++i];
			else
				o->conf_path = argv[++i];
		} else if (o->cmd == NULL && a[0] != '-') {
			o->cmd = a;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			/* before a command: the general help; after one: its own */
			const char *h = help_of(o->cmd);
			fputs(h ? h : usage_text, stdout);
			exit(0);
		} else if (o->cmd == NULL && strcmp(a, "--version") == 0) {
			printf("milter-policy %s\n", MP_VERSION);
			exit(0);
		} else if (o->cmd == NULL) {
			fprintf(stderr, "milter-policy: unknown option '%s'\n", a);
			return -1;
		} else {
			o->args[o->n_args++] = argv[i];
		}
	}
	return 0;
}

/* What --send does with the reports written. */
struct sending {
	bool send;
	const char *org, *email;
	struct mp_dns *dns;
	int failures;
};

static void report_said(const char *to, const char *what, void *arg)
{
	(void)arg;
	printf("  %s: %s\n", to, what);
}

static void report_written(const struct mp_report_file *f, void *arg)
{
	struct sending *s = arg;

	printf("%s: %s, %zu record%s, %zu message%s, %zu bytes\n", f->path, f->policy_domain,
	       f->records, f->records == 1 ? "" : "s", f->messages, f->messages == 1 ? "" : "s",
	       f->bytes);
	if (s->send && f->rua[0] == '\0')
		printf("  (no rua=: not sent)\n");
	else if (s->send && mp_report_send(f, s->org, s->email, s->dns, report_said, NULL) < 0)
		s->failures++;
}

static int cmd_dmarc_report(struct opts *o, const struct mp_conf *c)
{
	const char **paths = calloc((size_t)o->n_args + 2, sizeof(char *));
	char org[256], email[300], err[1200];
	int64_t today = (int64_t)time(NULL) / 86400;
	struct mp_report_opts ro = { .from_day = today - 1, .to_day = today - 1, .out_dir = "." };
	struct sending s = { false, org, email, NULL, 0 };
	int rc = EXIT_USAGE;

	if (paths == NULL)
		return EXIT_ERRORS;
	for (int i = 0; i < o->n_args; i++) {
		const char *a = o->args[i], *v = i + 1 < o->n_args ? o->args[i + 1] : NULL;
		if (strcmp(a, "--send") == 0) {
			s.send = true;
			continue;
		}
		if (v == NULL) {
			usage_for("dmarc-report", "%s needs a value", a);
			goto out;
		}
		if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
			if (mp_report_parse_day(v, a[2] == 'f' ? &ro.from_day : &ro.to_day) < 0) {
				usage_for("dmarc-report", "%s: expected YYYY-MM-DD, not '%s'", a, v);
				goto out;
			}
		} else if (strcmp(a, "--out") == 0) {
			ro.out_dir = v;
		} else if (strcmp(a, "--history") == 0) {
			paths[ro.n_paths++] = v;
		} else {
			usage_for("dmarc-report", "unknown option '%s'", a);
			goto out;
		}
		i++;
	}
	if (ro.n_paths == 0 && c->dmarc_history != NULL)
		paths[ro.n_paths++] = c->dmarc_history;
	if (ro.n_paths == 0) {
		usage_for("dmarc-report", "no history: set dmarc_history or give --history FILE");
		goto out;
	}
	if (ro.from_day > ro.to_day) {
		usage_for("dmarc-report", "--from is after --to");
		goto out;
	}
	snprintf(org, sizeof(org), "%s", c->dmarc_report_org ? c->dmarc_report_org : c->authserv_id);
	snprintf(email, sizeof(email), "%s%s", c->dmarc_report_email ? "" : "postmaster@",
		 c->dmarc_report_email ? c->dmarc_report_email : c->authserv_id);
	ro.org_name = org;
	ro.email = email;
	ro.paths = paths;
	rc = EXIT_ERRORS;
	if (s.send) {
		/* the resolver the daemon uses, for the verification records */
		struct mp_diags d;
		mp_diags_init(&d);
		s.dns = mp_dns_new(c, &d);
		if (s.dns == NULL)
			mp_diags_print(&d, stderr);
		mp_diags_free(&d);
		if (s.dns == NULL)
			goto out;
	}
	if (mp_report_write(&ro, report_written, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "milter-policy: dmarc-report: %s\n", err);
		goto out;
	}
	rc = s.failures ? EXIT_ERRORS : 0;
out:
	mp_dns_unref(s.dns);
	free(paths);
	return rc;
}

/* The configuration; NULL after printing the errors. */
static struct mp_conf *load_conf(const struct opts *o)
{
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_conf *c = mp_conf_open(o->conf_path, MP_DEFAULT_CONF, o->rules, &d);
	if (c == NULL)
		mp_diags_print_source(&d, stderr);
	mp_diags_free(&d);
	return c;
}

static struct mp_ruleset *load_rules(const struct opts *o, const struct mp_conf *c)
{
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = mp_ruleset_load_with(c, &o->load, &d);
	if (rs == NULL) {
		mp_diags_print_source(&d, stderr);
		if (mp_diags_count(&d) == 0)
			fprintf(stderr, "milter-policy: out of memory loading rules\n");
	}
	mp_diags_free(&d);
	return rs;
}

/* Warnings about rules that can never decide: those after a rule without
 * a condition and with a terminal action in the same policy (it decides
 * first, always). Returns how many. */
static size_t dead_rules(const struct mp_policy *p, size_t from)
{
	size_t n = 0;
	const struct mp_rule *always = NULL;

	for (size_t i = from; i < p->n_rules; i++) {
		const struct mp_rule *r = p->rules[i];
		if (always != NULL) {
			fprintf(stderr, "%s:%d:%d: warning: rule '%s' can never decide: rule '%s' "
					"(%s:%d) before it always does\n", r->file, r->line, r->col, r->name,
				always->name, always->file, always->line);
			n++;
		} else if (r->when == NULL && r->terminal >= 0 && !r->dry_run) {
			always = r;
		}
	}
	return n;
}

/* Files at the top of the rules directory that nothing reads (a typo such
 * as corp.example.rule). Returns how many. */
static size_t ignored_files(const struct mp_ruleset *rs)
{
	const char *dir = mp_ruleset_dir(rs);
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || (l > 6 && strcmp(de->d_name + l - 6, ".rules") == 0))
			continue;
		char *path = mp_path_join(dir, de->d_name);
		struct stat st;
		if (path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    !mp_ruleset_read_file(rs, path)) {
			fprintf(stderr, "%s: warning: ignored: not a *.rules file, and nothing includes "
					"it or lists from it\n", path);
			n++;
		}
		free(path);
	}
	closedir(d);
	return n;
}

/* Prints one thing `run` would refuse (arg: the configuration). */
static void say_refusal(void *arg, const char *problem)
{
	const struct mp_conf *c = arg;

	fprintf(stderr, "%s: %s: `run` would refuse to start: %s\n",
		c->path ? c->path : "built-in defaults", c->path ? "error" : "warning", problem);
}

/* What `run` would refuse, said by `check`: errors with a configuration
 * file, warnings on the built-in defaults (a rules-only check on a machine
 * without the service user still passes). Returns the number of errors. */
static size_t run_refusals(const struct mp_conf *c)
{
	size_t n = mp_daemon_preflight(c, say_refusal, (void *)c);

	return c->path != NULL ? n : 0;
}

/* A file the daemon's user cannot use after dropping root, but that `run`
 * does not need to start (arg: the configuration). */
static void say_unusable(void *arg, const char *problem)
{
	const struct mp_conf *c = arg;

	fprintf(stderr, "%s: warning: %s\n", c->path ? c->path : "built-in defaults", problem);
}

/* Files the daemon's user cannot read (checked as that user): warnings,
 * and errors for those `run` needs. Only with a configuration file: a
 * rules-only check names no daemon. Returns the number of errors. */
static size_t user_access(const struct mp_conf *c, const struct mp_ruleset *rs)
{
	if (c->path == NULL)
		return 0;
	return mp_daemon_access(c, rs, say_unusable, say_refusal, (void *)c);
}

static int cmd_check(struct opts *o)
{
	bool dump = false;
	const char *dir = NULL;

	for (int i = 0; i < o->n_args; i++) {
		if (strcmp(o->args[i], "--dump") == 0)
			dump = true;
		else if (o->args[i][0] == '-')
			return usage_for("check", "check: unknown option '%s'", o->args[i]);
		else if (dir == NULL)
			dir = o->args[i];
		else
			return usage_for("check", "check: more than one directory ('%s' and '%s')",
					 dir, o->args[i]);
	}
	if (dir != NULL)
		o->rules = dir;
	struct mp_conf *c = load_conf(o);
	if (c == NULL)
		return EXIT_ERRORS;
	struct mp_ruleset *rs = load_rules(o, c);
	if (rs == NULL) {
		mp_conf_free(c);
		return EXIT_ERRORS;
	}
	size_t refusals = run_refusals(c);
	refusals += user_access(c, rs);
	ignored_files(rs);
	dead_rules(mp_ruleset_global(rs), 0);
	for (size_t i = 0; i < mp_ruleset_n_policies(rs); i++) {
		const struct mp_policy *p = mp_ruleset_policy_at(rs, i);
		dead_rules(p, p->n_global);
	}
	if (dump) {
		mp_ruleset_dump(rs, stdout);
	} else {
		size_t nr = mp_ruleset_n_rules(rs), nl = mp_ruleset_n_lists(rs),
		       np = mp_ruleset_n_policies(rs);
		printf("%s: %zu rule%s, %zu list%s, %zu polic%s besides global: %s\n",
		       mp_ruleset_dir(rs), nr, nr == 1 ? "" : "s", nl, nl == 1 ? "" : "s", np,
		       np == 1 ? "y" : "ies", refusals ? "rules OK, but `run` would refuse" : "OK");
		printf("policies: global");
		for (size_t i = 0; i < mp_ruleset_n_policies(rs); i++)
			printf(", %s", mp_ruleset_policy_at(rs, i)->name);
		printf("\n");
	}
	mp_ruleset_unref(rs);
	mp_conf_free(c);
	return refusals ? EXIT_ERRORS : 0;
}

static int result_arg(const char *opt, const char *v, int *dst)
{
	int r = mp_auth_result_parse(v);

	if (r < 0 || r == MP_AR_POLICY) {
		fprintf(stderr, "milter-policy: %s: expected pass, fail, softfail, neutral, none, "
				"temperror or permerror\n", opt);
		return -1;
	}
	*dst = r;
	return 0;
}

/* The checker for `test`: the DNS the configuration names (or --dns-zone),
 * and the results given on the command line (inj is handed over). NULL
 * after printing why. */
static struct mp_checker *test_checker(const struct mp_conf *c, const char *zone,
				       struct mp_injected *inj, const char *seed)
{
	struct mp_checker *ck = mp_checker_new(c->authserv_id);
	struct mp_diags d;

	if (ck == NULL) {
		fprintf(stderr, "milter-policy: out of memory\n");
		return NULL;
	}
	if (seed != NULL)
		mp_checker_set_seed(ck, strtoull(seed, NULL, 0));
	*mp_checker_injected(ck) = *inj;
	mp_injected_init(inj);
	mp_diags_init(&d);
	struct mp_dns *dns = zone ? mp_dns_new_zone(zone, &d) : mp_dns_new(c, &d);
	if (dns == NULL) {
		mp_diags_print_source(&d, stderr);
		mp_diags_free(&d);
		mp_checker_free(ck);
		return NULL;
	}
	mp_diags_free(&d);
	mp_checker_set_dns(ck, dns);
	mp_dns_unref(dns);
	return ck;
}

/* Whether a is an option of test that takes a value. */
static bool test_option(const char *a)
{
	static const char *const with_value[] = {
		"--client-ip", "--client-name", "--client-port", "--helo", "--from", "--rcpt", "--auth",
		"--queue-id", "--spf", "--spf-helo", "--dkim", "--dmarc", "--dns-zone", "--state",
	};

	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
		if (strcmp(a, with_value[i]) == 0)
			return true;
	}
	return false;
}

/* Whether stdin holds a message to read: a pipe or a non-empty file (not
 * a terminal, not /dev/null). */
static bool stdin_has_message(void)
{
	struct stat st;

	if (isatty(0) || fstat(0, &st) < 0)
		return false;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size > 0);
}

static int cmd_test(struct opts *o)
{
	struct mp_replay_env env;
	const char **rcpts = calloc((size_t)o->n_args + 1, sizeof(char *));
	size_t n_rcpts = 0;
	bool json = false, cases = false;
	const char *message = NULL, *zone = NULL, *state = "memory";
	struct mp_injected inj;
	char **case_files = calloc((size_t)o->n_args + 1, sizeof(char *));
	int n_cases = 0, rc = EXIT_USAGE;
	struct mp_conf *c = NULL;
	struct mp_ruleset *rs = NULL;

	mp_replay_env_init(&env);
	mp_injected_init(&inj);
	if (rcpts == NULL || case_files == NULL)
		goto out;
	for (int i = 0; i < o->n_args; i++) {
		const char *a = o->args[i];
		const char *v = i + 1 < o->n_args ? o->args[i + 1] : NULL;
		bool takes = true;
		if (strcmp(a, "--json") == 0) {
			json = true;
			takes = false;
		} else if (strcmp(a, "--tls") == 0) {
			env.tls = true;
			takes = false;
		} else if (strcmp(a, "--case") == 0) {
			cases = true;
			takes = false;
		} else if (cases && a[0] != '-') {
			case_files[n_cases++] = (char *)a;
			takes = false;
		} else if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (message != NULL) {
				rc = usage_for("test", "test: more than one message ('%s' and '%s')", message,
					       a);
				goto out;
			}
			message = a;
			takes = false;
		} else if (!test_option(a)) {
			rc = usage_for("test", "test: unknown option '%s'", a);
			goto out;
		} else if (v == NULL) {
			rc = usage_for("test", "test: %s needs a value", a);
			goto out;
		} else if (strcmp(a, "--client-ip") == 0) {
			struct mp_ip ip;
			if (mp_ip_parse(v, strlen(v), &ip) < 0) {
				rc = usage_for("test", "test: --client-ip: '%s' is not an IP address", v);
				goto out;
			}
			env.client_ip = v;
		} else if (strcmp(a, "--client-name") == 0) {
			env.client_name = v;
		} else if (strcmp(a, "--client-port") == 0) {
			if (mp_parse_port(v, &env.client_port) < 0) {
				rc = usage_for("test", "test: --client-port: '%s' is not a port (1 to 65535)", v);
				goto out;
			}
		} else if (strcmp(a, "--helo") == 0) {
			env.helo = v;
		} else if (strcmp(a, "--from") == 0) {
			env.from = v;
		} else if (strcmp(a, "--rcpt") == 0) {
			rcpts[n_rcpts++] = v;
		} else if (strcmp(a, "--auth") == 0) {
			env.auth = v;
		} else if (strcmp(a, "--queue-id") == 0) {
			env.queue_id = v;
		} else if (strcmp(a, "--spf") == 0) {
			if (result_arg(a, v, &inj.spf) < 0)
				goto out;
		} else if (strcmp(a, "--spf-helo") == 0) {
			if (result_arg(a, v, &inj.spf_helo) < 0)
				goto out;
		} else if (strcmp(a, "--dkim") == 0) {
			if (mp_injected_set_dkim(&inj, v) < 0) {
				rc = usage_for("test", "test: --dkim: expected RESULT or RESULT:domain[,domain], "
					       "not '%s'", v);
				goto out;
			}
		} else if (strcmp(a, "--dmarc") == 0) {
			if (mp_injected_set_dmarc(&inj, v) < 0) {
				rc = usage_for("test", "test: --dmarc: expected RESULT[:POLICY] (pass, fail, none, "
					       "temperror, permerror; none, quarantine, reject), not '%s'", v);
				goto out;
			}
		} else if (strcmp(a, "--dns-zone") == 0) {
			zone = v;
		} else if (strcmp(a, "--state") == 0) {
			struct mp_state_spec sp;
			const char *why = mp_state_spec_parse(v, &sp);
			if (why != NULL) {
				rc = usage_for("test", "test: --state: %s", why);
				goto out;
			}
			state = v;
		}
		if (takes)
			i++;
	}
	if (n_rcpts > 0)
		env.rcpts = rcpts;
	c = load_conf(o);
	if (c == NULL) {
		rc = EXIT_ERRORS;
		goto out;
	}
	if (cases) {
		if (n_cases == 0) {
			rc = usage_for("test", "test --case: no case files");
			goto out;
		}
		if (json || message != NULL) {
			rc = usage_for("test", "test --case: %s does not go with case files",
				       json ? "--json" : "a message");
			goto out;
		}
		int failed = mp_cases_run(c, o->rules, &o->load, case_files, n_cases, stdout);
		rc = failed == 0 ? 0 : EXIT_ERRORS;
		goto out;
	}
	env.checker = test_checker(c, zone, &inj, o->dmarc_seed);
	if (env.checker == NULL) {
		rc = EXIT_ERRORS;
		goto out;
	}
	rs = load_rules(o, c);
	if (rs == NULL) {
		rc = EXIT_ERRORS;
		goto out;
	}
	/* memory: empty, so a replay sees no history; a real store is read */
	char serr[1200];
	struct mp_state_opts so = { 100000, c->state_timeout_ms, c->state_password };
	env.state = mp_state_open(state, &so, serr, sizeof(serr));
	env.state_ro = strcmp(state, "memory") != 0;
	if (env.state == NULL) {
		fprintf(stderr, "milter-policy: test: --state: %s\n", serr);
		rc = EXIT_ERRORS;
		goto out;
	}
	struct mp_message msg;
	if (message == NULL && stdin_has_message())
		message = "-";
	else if (message == NULL)
		fprintf(stderr, "milter-policy: test: no message given (a file, or - for stdin): "
				"replaying an empty one\n");
	if (message != NULL && mp_message_load(message, &msg) < 0) {
		fprintf(stderr, "milter-policy: %s: %s\n", message, strerror(errno));
		rc = EXIT_ERRORS;
		goto out;
	}
	if (message == NULL && mp_message_parse("", 0, &msg) < 0) {
		rc = EXIT_ERRORS;
		goto out;
	}
	struct mp_replay r;
	const char *err;
	if (mp_replay_run(rs, &env, &msg, true, &r, &err) < 0) {
		fprintf(stderr, "milter-policy: test: %s\n", err);
		rc = r.no_rcpt ? EXIT_USAGE : EXIT_ERRORS;
	} else {
		rc = json ? (mp_report_json(&r, stdout) < 0 ? EXIT_ERRORS : 0)
			  : (mp_report_text(&r, stdout), 0);
	}
	mp_replay_free(&r);
	mp_message_free(&msg);
out:
	mp_injected_clear(&inj);
	mp_ruleset_unref(rs);
	mp_checker_free(env.checker);
	mp_state_free(env.state);
	mp_conf_free(c);
	free(rcpts);
	free(case_files);
	return rc;
}

static int cmd_run(const struct opts *o)
{
	bool foreground = false;

	for (int i = 0; i < o->n_args; i++) {
		if (strcmp(o->args[i], "-f") == 0)
			foreground = true;
		else
			return usage_for("run", "run: unknown argument '%s'", o->args[i]);
	}
	return mp_daemon_run(o->conf_path, o->rules, foreground, &o->daemon);
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	/* the daemon's own helper (match/prefilter_helper.c), before anything */
	if (argc == 2 && strcmp(argv[1], MP_PF_HELPER_ARG) == 0)
		return mp_prefilter_helper_main(0, 1);
	memset(&o, 0, sizeof(o));
	const char *pf = getenv("MP_PREFILTER");
	o.load.no_index = pf != NULL && strcmp(pf, "0") == 0;
	o.daemon.nagle = getenv("MP_BENCH_NAGLE") != NULL;
	o.daemon.fail_in = getenv("MILTER_POLICY_TEST_FAIL");
	if (getenv("MP_BENCH_NO_KEY_CACHE") != NULL)
		mp_dkim_keys_disable();
	o.dmarc_seed = getenv("MP_DMARC_SEED");
	if (parse_global(argc, argv, &o) < 0) {
		free(o.args);
		return usage(NULL);
	}
	if (o.cmd == NULL)
		rc = usage(NULL);
	else if (strcmp(o.cmd, "version") == 0)
		rc = (printf("milter-policy %s\n", MP_VERSION), 0);
	else if (strcmp(o.cmd, "help") == 0 && o.n_args <= 1) {
		const char *h = o.n_args ? help_of(o.args[0]) : usage_text;
		rc = h ? (fputs(h, stdout), 0)
		       : usage_for(NULL, "help: unknown command '%s'", o.args[0]);
	}
	else if (strcmp(o.cmd, "check") == 0)
		rc = cmd_check(&o);
	else if (strcmp(o.cmd, "test") == 0)
		rc = cmd_test(&o);
	else if (strcmp(o.cmd, "run") == 0)
		rc = cmd_run(&o);
	else if (strcmp(o.cmd, "dmarc-report") == 0) {
		struct mp_conf *c = load_conf(&o);
		rc = c ? cmd_dmarc_report(&o, c) : EXIT_ERRORS;
		mp_conf_free(c);
	} else if (strcmp(o.cmd, "status") == 0) {
		bool json = o.n_args == 1 && strcmp(o.args[0], "--json") == 0;
		bool html = o.n_args == 2 && strcmp(o.args[0], "--html") == 0;
		if (o.n_args == 1 && strcmp(o.args[0], "--html") == 0) {
			rc = usage_for("status", "--html needs a file name");
		} else if (o.n_args > (json ? 1 : html ? 2 : 0)) {
			rc = usage_for("status", "unknown argument '%s'", o.args[0]);
		} else {
			struct mp_conf *c = load_conf(&o);
			rc = c ? mp_daemon_status(c, json, html ? o.args[1] : NULL) : EXIT_ERRORS;
			mp_conf_free(c);
		}
	} else if (strcmp(o.cmd, "reload") == 0)
		rc = o.n_args ? usage_for("reload", "reload takes no arguments ('%s')", o.args[0])
			      : mp_daemon_signal_reload(o.conf_path, o.rules);
	else
		rc = usage_for(NULL, "unknown command '%s'", o.cmd);
	free(o.args);
	return rc;
}
