/*
 * cache - answers of the unbound backend kept for their TTL (at most an
 * hour; negative answers at most five minutes) in front of libunbound.
 *
 * libunbound caches too, but every query to it is a round trip through
 * its threads (a pipe each way and a condition variable): two or three per
 * message (SPF, the DKIM key) cost more CPU than the rest of a check. This
 * cache answers a repeated name with one mutex. Temporary failures are
 * never kept. It holds at most `max` names; when full it starts over. The
 * cache owns its copies; a hit gives the caller a copy of its own.
 */
#include "dns/cache.h"

#include "util/arena.h"
#include "util/strmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TTL_MAX 3600
#define NEG_TTL_MAX 300

struct entry {
	time_t expires;
	struct mp_dns_answer ans;
};

struct mp_dns_cache {
	pthread_mutex_t mu;
	struct mp_strmap map;    /* "type/name" -> struct entry */
	struct mp_arena keys;
	struct entry **entries;  /* to free them */
	size_t n, max;
};

static time_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* "type/name", lowercased, without a trailing dot; 0 when too long. */
static size_t make_key(const char *name, uint16_t type, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%u/", (unsigned)type);
	size_t len = strlen(name);

	while (len > 0 && name[len - 1] == '.')
		len--;
	if (n < 0 || (size_t)n + len >= size)
		return 0;
	for (size_t i = 0; i < len; i++)
		buf[n + i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	buf[n + len] = '\0';
	return (size_t)n + len;
}

static int copy_answer(const struct mp_dns_answer *from, struct mp_dns_answer *to)
{
	memset(to, 0, sizeof(*to));
	to->status = from->status;
	for (size_t i = 0; i < from->n; i++) {
		struct mp_dns_rr rr = from->rr[i];
		rr.data = malloc(rr.len + 1);
		if (rr.data == NULL) {
			mp_dns_answer_clear(to);
			return -1;
		}
		memcpy(rr.data, from->rr[i].data, rr.len);
		rr.data[rr.len] = '\0';
		if (mp_dns_answer_add(to, &rr) < 0) {
			free(rr.data);
			mp_dns_answer_clear(to);
			return -1;
		}
	}
	return 0;
}

struct mp_dns_cache *mp_dns_cache_new(size_t max)
{
	struct mp_dns_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	mp_strmap_init(&c->map);
	mp_arena_init(&c->keys);
	c->max = max;
	return c;
}

static void clear(struct mp_dns_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		mp_dns_answer_clear(&c->entries[i]->ans);
		free(c->entries[i]);
	}
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
	mp_strmap_free(&c->map);
	mp_strmap_init(&c->map);
	mp_arena_release(&c->keys);
	mp_arena_init(&c->keys);
}

void mp_dns_cache_free(struct mp_dns_cache *c)
{
	if (c == NULL)
		return;
	clear(c);
	mp_strmap_free(&c->map);
	mp_arena_release(&c->keys);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

bool mp_dns_cache_get(struct mp_dns_cache *c, const char *name, uint16_t type,
		      struct mp_dns_answer *ans)
{
	char key[300];
	size_t kl = make_key(name, type, key, sizeof(key));
	void *v;
	bool hit = false;

	if (kl == 0)
		return false;
	pthread_mutex_lock(&c->mu);
	if (mp_strmap_getn(&c->map, key, kl, &v)) {
		struct entry *e = v;
		hit = e->expires > now() && copy_answer(&e->ans, ans) == 0;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void mp_dns_cache_put(struct mp_dns_cache *c, const char *name, uint16_t type,
		      const struct mp_dns_answer *ans, unsigned ttl)
{
	char key[300];
	size_t kl = make_key(name, type, key, sizeof(key));
	unsigned cap = ans->status == MP_DNS_OK ? TTL_MAX : NEG_TTL_MAX;
	struct mp_dns_answer copy;
	void *v;

	if (kl == 0 || ttl == 0 || ans->status == MP_DNS_TEMPFAIL || copy_answer(ans, &copy) < 0)
		return;
	time_t expires = now() + (time_t)(ttl < cap ? ttl : cap);
	pthread_mutex_lock(&c->mu);
	if (mp_strmap_getn(&c->map, key, kl, &v)) {
		struct entry *e = v;
		mp_dns_answer_clear(&e->ans);
		e->ans = copy;
		e->expires = expires;
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (c->n >= c->max)
		clear(c);
	struct entry *e = malloc(sizeof(*e));
	char *k = mp_arena_strndup(&c->keys, key, kl);
	struct entry **ne = realloc(c->entries, (c->n + 1) * sizeof(*ne));
	if (ne != NULL)
		c->entries = ne;
	if (e == NULL || k == NULL || ne == NULL || mp_strmap_put(&c->map, k, kl, e, NULL) != 0) {
		free(e);
		mp_dns_answer_clear(&copy);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	e->ans = copy;
	e->expires = expires;
	c->entries[c->n++] = e;
	pthread_mutex_unlock(&c->mu);
}
