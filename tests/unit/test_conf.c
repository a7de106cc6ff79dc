/* Unit tests: the configuration file. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load_n(const char *text, size_t len, struct mp_conf **c_r, struct mp_diags *d)
{
	char path[] = "/tmp/mp-conf-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	*c_r = mp_conf_new();
	mp_diags_init(d);
	int rc = mp_conf_load(*c_r, path, d);
	unlink(path);
	return rc;
}

static int load(const char *text, struct mp_conf **c_r, struct mp_diags *d)
{
	return load_n(text, strlen(text), c_r, d);
}

static void test_defaults(void **state)
{
	struct mp_conf *c = mp_conf_new();

	assert_string_equal(c->socket, "unix:/run/milter-policy/milter-policy.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_string_equal(c->user, "milter-policy");
	assert_string_equal(c->rules_dir, "/etc/milter-policy/rules.d");
	assert_true(c->add_auth_results);
	assert_false(c->add_received_spf);
	assert_false(c->add_trace_header);
	assert_true(c->spf && c->spf_helo && c->dkim);
	assert_int_equal(c->n_dns_servers, 0);
	assert_int_equal(c->dns_timeout_ms, 5000);
	assert_int_equal(c->recipient_policy, MP_RCPT_SPLIT);
	assert_int_equal(c->mode, MP_MODE_ENFORCE);
	assert_int_equal(c->on_internal_error, MP_ONERR_TEMPFAIL);
	assert_int_equal(c->regex_match_limit, 100000);
	assert_int_equal(c->dkim_max_signatures, 5);
	assert_int_equal(c->body_scan_limit, 1024 * 1024);
	assert_int_equal(c->reload_check_interval_ms, 10000);
	assert_int_equal(c->log, MP_LOGTO_SYSLOG);
	assert_int_equal(c->log_level, MP_LOG_INFO);
	assert_true(strlen(c->authserv_id) > 0);
	mp_conf_free(c);
	mp_conf_free(NULL);
}

static void test_all_keys(void **state)
{
	struct mp_conf *c;
	struct mp_diags d;
	const char *text =
		"# comment\n"
		"socket = inet:8891@127.0.0.1\n"
		"socket_mode = 0600\n"
		"user = mail\n"
		"group = mail\n"
		"pidfile = run/mp.pid\n"
		"rules_dir = rules.d   # relative to this file\n"
		"authserv_id = mx.example.net\n"
		"add_auth_results = no\n"
		"add_received_spf = yes\n"
		"add_trace_header = true\n"
		"spf = off\n"
		"spf_helo = no\n"
		"dkim = no\n"
		"dns_servers = 127.0.0.1@5353, ::1\n"
		"dns_timeout = 800ms\n"
		"dns_zone_file = /etc/zone.txt\n"
		"recipient_policy = strictest\n"
		"mode = dry-run\n"
		"on_internal_error = accept\n"
		"regex_match_limit = 5000\n"
		"body_scan_limit = 512k\n"
		"reload_check_interval = 0\n"
		"log = stderr\n"
		"log_level = debug\n";

	assert_int_equal(load(text, &c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->socket, "inet:8891@127.0.0.1");
	assert_int_equal(c->socket_mode, 0600);
	assert_string_equal(c->user, "mail");
	assert_string_equal(c->pidfile, "/tmp/run/mp.pid");
	assert_string_equal(c->rules_dir, "/tmp/rules.d");
	assert_string_equal(c->authserv_id, "mx.example.net");
	assert_false(c->add_auth_results);
	assert_true(c->add_received_spf && c->add_trace_header);
	assert_false(c->spf || c->spf_helo || c->dkim);
	assert_int_equal(c->n_dns_servers, 2);
	assert_string_equal(c->dns_servers[0], "127.0.0.1@5353");
	assert_string_equal(c->dns_servers[1], "::1");
	assert_int_equal(c->dns_timeout_ms, 800);
	assert_string_equal(c->dns_zone_file, "/etc/zone.txt");
	assert_int_equal(c->recipient_policy, MP_RCPT_STRICTEST);
	assert_int_equal(c->mode, MP_MODE_DRY_RUN);
	assert_int_equal(c->on_internal_error, MP_ONERR_ACCEPT);
	assert_int_equal(c->regex_match_limit, 5000);
	assert_int_equal(c->body_scan_limit, 512 * 1024);
	assert_int_equal(c->reload_check_interval_ms, 0);
	assert_int_equal(c->log, MP_LOGTO_STDERR);
	assert_int_equal(c->log_level, MP_LOG_DEBUG);
	mp_conf_free(c);
	mp_diags_free(&d);
}

static void test_errors(void **state)
{
	struct mp_conf *c;
	struct mp_diags d;
	const char *text =
		"socket = tcp:25\n"
		"bogus_key = 1\n"
		"dns_timeout = 5 minutes\n"
		"body_scan_limit = 1G\n"
		"spf = maybe\n"
		"spf = yes\n"
		"dns_servers = 127.0.0.1@99999\n"
		"socket_mode = 0999\n"
		"mode enforce\n"
		"authserv_id = \"a b\"\n"
		"recipient_policy = random\n"
		"dkim_max_signatures = 0\n"
		"dmarc_report_email = r@../../tmp\n"
		"dmarc_report_org = <b>\n";

	assert_int_equal(load(text, &c, &d), -1);
	assert_int_equal(d.n, 14);
	assert_true(strstr(d.v[12].msg, "expected an address") != NULL);
	assert_true(strstr(d.v[13].msg, "printable ASCII") != NULL);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 10);
	assert_true(strstr(d.v[0].msg, "bad value for socket") != NULL);
	assert_string_equal(d.v[1].msg, "unknown key 'bogus_key'");
	assert_int_equal(d.v[1].col, 1);
	assert_true(strstr(d.v[2].msg, "dns_timeout") != NULL);
	assert_true(strstr(d.v[3].msg, "body_scan_limit") != NULL);
	assert_true(strstr(d.v[4].msg, "expected yes or no") != NULL);
	assert_string_equal(d.v[5].msg, "'spf' is already set at line 5");
	assert_true(strstr(d.v[6].msg, "IP[@PORT]") != NULL);
	assert_true(strstr(d.v[7].msg, "octal") != NULL);
	assert_string_equal(d.v[8].msg, "expected 'key = value'");
	assert_int_equal(d.v[8].line, 9);
	assert_true(strstr(d.v[9].msg, "authserv_id") != NULL);
	assert_true(strstr(d.v[10].msg, "split or strictest") != NULL);
	assert_true(strstr(d.v[11].msg, "from 1 to 50") != NULL);
	assert_int_equal(d.v[11].line, 12);
	mp_conf_free(c);
	mp_diags_free(&d);

	c = mp_conf_new();
	mp_diags_init(&d);
	assert_int_equal(mp_conf_load(c, "/nonexistent/mp.conf", &d), -1);
	assert_true(strstr(d.v[0].msg, "cannot read configuration") != NULL);
	mp_conf_free(c);
	mp_diags_free(&d);

	assert_int_equal(load_n("spf = yes\0junk\n", 15, &c, &d), -1);
	assert_string_equal(d.v[0].msg, "file contains a NUL byte");
	mp_conf_free(c);
	mp_diags_free(&d);
}

static void test_value_parsers(void **state)
{
	unsigned ms;
	size_t sz;
	bool b;

	assert_int_equal(mp_parse_duration_ms("5s", &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(mp_parse_duration_ms("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(mp_parse_duration_ms("7", &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(mp_parse_duration_ms("1h", &ms), -1);
	assert_int_equal(mp_parse_duration_ms("-1s", &ms), -1);
	assert_int_equal(mp_parse_duration_ms("99999999999s", &ms), -1);
	assert_int_equal(mp_parse_size("1M", &sz), 0);
	assert_int_equal(sz, 1048576);
	assert_int_equal(mp_parse_size("2k", &sz), 0);
	assert_int_equal(sz, 2048);
	assert_int_equal(mp_parse_size("10", &sz), 0);
	assert_int_equal(sz, 10);
	assert_int_equal(mp_parse_size("1.5M", &sz), -1);
	assert_int_equal(mp_parse_bool("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(mp_parse_bool("nope", &b), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_value_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
