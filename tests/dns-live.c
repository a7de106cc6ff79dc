/*
 * dns-live - checks the libunbound backend against a real DNS server
 * (run-unbound.sh starts one on loopback).
 *
 *   dns-live spf SERVER         SPF results through the server
 *   dns-live threads SERVER     16 threads x 200 checks, all must be right
 *   dns-live dead SERVER MS     a server that does not answer: temperror
 *                               within MS plus a margin, and the resolver
 *                               shuts down promptly afterwards
 *
 * SERVER is IP@PORT. Exit 0 when everything held, 1 otherwise.
 */
#include "conf/conf.h"
#include "dns/dns.h"
#include "auth/spf.h"
#include "util/diag.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct mp_dns *dns;
static struct mp_spf *spf;

static const struct {
	const char *ip, *from;
	enum mp_auth_result want;
} cases[] = {
	{ "198.51.100.7", "a@pass.example", MP_AR_PASS },
	{ "203.0.113.9", "a@pass.example", MP_AR_FAIL },
	{ "198.51.100.7", "a@soft.example", MP_AR_SOFTFAIL },
	{ "198.51.100.7", "a@inc.example", MP_AR_PASS },
	{ "198.51.100.7", "a@mx.example", MP_AR_PASS },
	{ "198.51.100.7", "a@nothere.example", MP_AR_NONE },
	{ "198.51.100.7", "a@broken.example", MP_AR_TEMPERROR },
	{ "198.51.100.7", "a@inctemp.example", MP_AR_TEMPERROR },
	{ "198.51.100.7", "a@two.example", MP_AR_PERMERROR },
	{ "2001:db8::7", "a@v6.example", MP_AR_PASS },
	{ "198.51.100.7", "a@long.example", MP_AR_PASS },      /* TXT over 255 bytes */
	{ "198.51.100.7", "a@spf.test", MP_AR_PASS },          /* a built-in local zone, off */
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mp_dns *resolver(const char *server, unsigned timeout_ms)
{
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;

	free(c->dns_servers); /* the default: an empty list */
	c->dns_servers = calloc(2, sizeof(char *));
	c->dns_servers[0] = strdup(server);
	c->n_dns_servers = 1;
	c->dns_timeout_ms = timeout_ms;
	mp_diags_init(&d);
	struct mp_dns *r = mp_dns_new(c, &d);
	mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	mp_conf_free(c);
	return r;
}

static int check_all(bool quiet)
{
	int bad = 0;

	for (size_t i = 0; i < N_CASES; i++) {
		enum mp_auth_result r = mp_spf_check(spf, dns, cases[i].ip, "h.example", cases[i].from, NULL, 0, 0, NULL);
		if (r != cases[i].want || !quiet)
			printf("%s %-22s %-14s %s\n", r == cases[i].want ? "ok " : "BAD", cases[i].from,
			       cases[i].ip, mp_auth_result_name(r));
		bad += r != cases[i].want;
	}
	return bad;
}

static void *worker(void *arg)
{
	int *bad = arg;

	for (int i = 0; i < 200 / (int)N_CASES + 1; i++)
		*bad += check_all(true);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	spf = mp_spf_new("mx.test.example");
	if (strcmp(argv[1], "spf") == 0) {
		dns = resolver(argv[2], 3000);
		int bad = dns ? check_all(false) : 1;
		mp_dns_unref(dns);
		mp_spf_free(spf);
		return bad ? 1 : 0;
	}
	if (strcmp(argv[1], "threads") == 0) {
		pthread_t th[16];
		int bad[16] = { 0 };
		dns = resolver(argv[2], 3000);
		if (dns == NULL)
			return 1;
		double t0 = now();
		for (int i = 0; i < 16; i++)
			pthread_create(&th[i], NULL, worker, &bad[i]);
		int total = 0;
		for (int i = 0; i < 16; i++) {
			pthread_join(th[i], NULL);
			total += bad[i];
		}
		printf("16 threads, %d checks each: %d wrong, %.3f s\n", (200 / (int)N_CASES + 1) * (int)N_CASES,
		       total, now() - t0);
		mp_dns_unref(dns);
		mp_spf_free(spf);
		return total ? 1 : 0;
	}
	if (strcmp(argv[1], "dead") == 0 && argc == 4) {
		unsigned ms = (unsigned)atoi(argv[3]);
		dns = resolver(argv[2], ms);
		if (dns == NULL)
			return 1;
		struct mp_dns_answer a;
		double t0 = now();
		mp_dns_query(dns, "pass.example", MP_DNS_TXT, &a);
		double t1 = now() - t0;
		enum mp_auth_result r = mp_spf_check(spf, dns, "198.51.100.7", "h.example", "a@pass.example", NULL, 0, 0, NULL);
		double t2 = now() - t0 - t1;
		double t3 = now();
		mp_dns_unref(dns);
		double t4 = now() - t3;
		printf("query: %s after %.3f s; spf: %s after %.3f s; timeout %.3f s; shutdown %.3f s\n",
		       a.status == MP_DNS_TEMPFAIL ? "tempfail" : "ANSWERED", t1, mp_auth_result_name(r), t2,
		       ms / 1000.0, t4);
		bool good = a.status == MP_DNS_TEMPFAIL && t1 < ms / 1000.0 + 0.5 &&
			    r == MP_AR_TEMPERROR && t2 < ms / 1000.0 + 0.5 && t4 < 1.0;
		mp_dns_answer_clear(&a);
		mp_spf_free(spf);
		return good ? 0 : 1;
	}
	return 2;
}
