/* Unit tests: the DMARC history file (report/history.c) - rows from many
 * threads all stored once the writer is closed, a full queue counted as
 * dropped, rows read back with their signatures and by time range - and
 * the day parser of dmarc-report. */
#include "helpers.h"

#include "report/aggregate.h"
#include "report/history.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define THREADS 4
#define PER_THREAD 500

static struct mp_history *shared;

static void fill(struct mp_dmarc_row *r, int64_t t, int n)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	snprintf(r->source_ip, sizeof(r->source_ip), "192.0.2.%d", n % 250);
	snprintf(r->header_from, sizeof(r->header_from), "bank.example");
	snprintf(r->policy_domain, sizeof(r->policy_domain), "bank.example");
	snprintf(r->p, sizeof(r->p), "reject");
	snprintf(r->sp, sizeof(r->sp), "reject");
	snprintf(r->policy, sizeof(r->policy), "reject");
	snprintf(r->disposition, sizeof(r->disposition), "none");
	r->pct = 100;
	r->adkim = 'r';
	r->aspf = 's';
	r->dkim_aligned = true;
	snprintf(r->spf_domain, sizeof(r->spf_domain), "bank.example");
	snprintf(r->spf_scope, sizeof(r->spf_scope), "mfrom");
	snprintf(r->spf_result, sizeof(r->spf_result), "pass");
	r->n_sigs = 2;
	snprintf(r->sigs[0].domain, sizeof(r->sigs[0].domain), "bank.example");
	snprintf(r->sigs[0].selector, sizeof(r->sigs[0].selector), "s%d", n);
	snprintf(r->sigs[0].result, sizeof(r->sigs[0].result), "pass");
	snprintf(r->sigs[1].domain, sizeof(r->sigs[1].domain), "esp.example");
	snprintf(r->sigs[1].result, sizeof(r->sigs[1].result), "fail");
}

static void *adder(void *arg)
{
	int base = (int)(intptr_t)arg;
	struct mp_dmarc_row r;

	for (int i = 0; i < PER_THREAD; i++) {
		fill(&r, 1000 + base * PER_THREAD + i, i);
		assert_int_equal(mp_history_add(shared, &r), 0);
	}
	return NULL;
}

struct seen {
	size_t n;
	int64_t first, last;
	bool sigs_ok;
};

static int count_row(const struct mp_dmarc_row *r, void *arg)
{
	struct seen *s = arg;

	if (s->n == 0)
		s->first = r->t;
	s->last = r->t;
	s->n++;
	s->sigs_ok = s->sigs_ok && r->n_sigs == 2 && strcmp(r->sigs[1].domain, "esp.example") == 0 &&
		     strcmp(r->sigs[1].selector, "") == 0 && r->aspf == 's' && r->dkim_aligned &&
		     strcmp(r->policy, "reject") == 0;
	return 0;
}

static void test_threads_and_read(void **state)
{
	char path[] = "/tmp/mp-history-XXXXXX";
	char err[256], db[300];
	pthread_t th[THREADS];

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/h.db", path);
	shared = mp_history_open(db, THREADS * PER_THREAD, err, sizeof(err));
	assert_non_null(shared);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, adder, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	mp_history_close(shared); /* stores what is still queued */

	struct seen s = { 0, 0, 0, true };
	assert_int_equal(mp_history_read(db, 0, INT64_MAX, count_row, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, THREADS * PER_THREAD);
	assert_true(s.sigs_ok);
	assert_int_equal(s.first, 1000);
	/* a time range: [1100, 1200) */
	memset(&s, 0, sizeof(s));
	s.sigs_ok = true;
	assert_int_equal(mp_history_read(db, 1100, 1200, count_row, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 100);
	assert_int_equal(s.first, 1100);
	assert_int_equal(s.last, 1199);
	/* not there */
	assert_int_equal(mp_history_read("/nonexistent/h.db", 0, 1, count_row, &s, err, sizeof(err)), -1);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
}

static void test_full_queue(void **state)
{
	char path[] = "/tmp/mp-history-XXXXXX";
	char err[256], db[300];
	struct mp_dmarc_row r;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/h.db", path);
	/* a queue of one, its writer kept busy: most adds find it full */
	struct mp_history *h = mp_history_open(db, 1, err, sizeof(err));
	assert_non_null(h);
	int refused = 0;
	for (int i = 0; i < 2000; i++) {
		fill(&r, i, i);
		refused += mp_history_add(h, &r) < 0;
	}
	mp_history_close(h);
	assert_true(refused > 0);
	struct seen s = { 0, 0, 0, true };
	assert_int_equal(mp_history_read(db, 0, INT64_MAX, count_row, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n + (size_t)refused, 2000); /* each row stored or counted, once */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
	/* a directory that cannot hold it */
	assert_null(mp_history_open("/nonexistent/dir/h.db", 10, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
}

static void noted(const struct mp_report_file *f, void *arg)
{
	snprintf(arg, 1024, "%s", f->path);
}

/* Text from a message in a report: escaped, and a byte that is not UTF-8
 * replaced, so the XML stays well-formed. */
static void test_report_text(void **state)
{
	char path[] = "/tmp/mp-history-XXXXXX";
	char err[256], db[300], file[1024] = "";
	struct mp_dmarc_row r;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/h.db", path);
	struct mp_history *h = mp_history_open(db, 10, err, sizeof(err));
	assert_non_null(h);
	fill(&r, 86400 + 5, 1);
	snprintf(r.header_from, sizeof(r.header_from), "a<b>&\xff\xc3\xa9.bank.example");
	assert_int_equal(mp_history_add(h, &r), 0);
	mp_history_close(h);
	const char *paths[] = { db };
	struct mp_report_opts o = { "Org & Co", "dmarc@mx.example", 1, 1, path, paths, 1 };
	assert_int_equal(mp_report_write(&o, noted, file, err, sizeof(err)), 0);
	assert_non_null(strstr(file, "/mx.example!bank.example!86400!172799.xml.gz"));
	gzFile z = gzopen(file, "rb");
	assert_non_null(z);
	static char xml[65536];
	int n = gzread(z, xml, sizeof(xml) - 1);
	gzclose(z);
	assert_true(n > 0);
	xml[n] = '\0';
	assert_non_null(strstr(xml, "<header_from>a&lt;b&gt;&amp;?\xc3\xa9.bank.example</header_from>"));
	assert_non_null(strstr(xml, "<org_name>Org &amp; Co</org_name>"));
	assert_non_null(strstr(xml, "<count>1</count>"));
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	assert_int_equal(system(cmd), 0);
}

static void test_days(void **state)
{
	int64_t d;

	(void)state;
	assert_int_equal(mp_report_parse_day("1970-01-02", &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(mp_report_parse_day("2026-11-29", &d), 0);
	assert_int_equal(d, 20786);
	assert_int_equal(mp_report_parse_day("2026-11-29x", &d), -1);
	assert_int_equal(mp_report_parse_day("yesterday", &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_and_read),
		cmocka_unit_test(test_full_queue),
		cmocka_unit_test(test_report_text),
		cmocka_unit_test(test_days),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
