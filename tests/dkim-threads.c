/*
 * dkim-threads: DKIM verification from many threads at once over one
 * shared library handle and one DNS object (static zone), each result
 * compared with the expected one. Bodies are fed in chunks of varying size,
 * as an MTA would send them.
 * Usage: dkim-threads ZONE MANIFEST THREADS TOTAL
 * MANIFEST lines: PATH RESULT[,RESULT...] (or "-" for no signature).
 */
#include "auth/dkim.h"
#include "dns/dns.h"
#include "replay/replay.h"
#include "util/diag.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MSGS 256

struct item {
	struct mp_message msg;
	char want[256];
	char path[1024];
};

static struct item items[MAX_MSGS];
static size_t n_items;
static struct mp_dkim *lib;
static struct mp_dns *dns;
static atomic_long next_job, wrong;
static long total;

static void verify(size_t i, unsigned seed)
{
	const struct item *it = &items[i];
	struct mp_dkim_msg *m = mp_dkim_begin(lib, dns, 5);
	const struct mp_dkim_sig *sigs;
	char got[256] = "";

	if (m == NULL) {
		atomic_fetch_add(&wrong, 1);
		return;
	}
	for (size_t h = 0; h < it->msg.n_hdrs; h++)
		mp_dkim_header(m, it->msg.hdrs[h].name, it->msg.hdrs[h].value);
	mp_dkim_eoh(m);
	for (size_t off = 0; off < it->msg.body_len;) {
		size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 97;
		if (n > it->msg.body_len - off)
			n = it->msg.body_len - off;
		mp_dkim_body(m, it->msg.body + off, n);
		off += n;
	}
	size_t n = mp_dkim_end(m, &sigs);
	for (size_t k = 0; k < n; k++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? "," : "",
			 mp_auth_result_name(sigs[k].result));
	if (n == 0)
		strcpy(got, "-");
	if (strcmp(got, it->want) != 0) {
		atomic_fetch_add(&wrong, 1);
		fprintf(stderr, "%s: %s, wanted %s\n", it->path, got, it->want);
	}
	mp_dkim_msg_free(m);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg;
	long j;

	while ((j = atomic_fetch_add(&next_job, 1)) < total)
		verify((size_t)j % n_items, seed + (unsigned)j);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: dkim-threads ZONE MANIFEST THREADS TOTAL\n");
		return 2;
	}
	struct mp_diags d;
	mp_diags_init(&d);
	dns = mp_dns_new_zone(argv[1], &d);
	mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	lib = mp_dkim_new();
	FILE *f = fopen(argv[2], "r");
	int n_threads = atoi(argv[3]);
	total = atol(argv[4]);
	if (dns == NULL || lib == NULL || f == NULL || n_threads < 1 || n_threads > 64 || total < 1)
		return 2;
	while (n_items < MAX_MSGS &&
	       fscanf(f, "%1023s %255s", items[n_items].path, items[n_items].want) == 2) {
		if (mp_message_load(items[n_items].path, &items[n_items].msg) != 0) {
			perror(items[n_items].path);
			return 2;
		}
		n_items++;
	}
	fclose(f);
	if (n_items == 0)
		return 2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th[64];
	for (int i = 0; i < n_threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(size_t)(i * 7919));
	for (int i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("dkim-threads: %d threads, %ld verifications of %zu messages: %ld wrong, %.2f s\n",
	       n_threads, total, n_items, atomic_load(&wrong),
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (size_t i = 0; i < n_items; i++)
		mp_message_free(&items[i].msg);
	mp_dkim_free(lib);
	mp_dns_unref(dns);
	return atomic_load(&wrong) ? 1 : 0;
}
