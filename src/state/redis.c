/*
 * redis - the store of `state = redis://HOST:PORT/DB` and
 * `redis+unix:/PATH?db=N` (SPEC §12): counters and greylisting shared by
 * every MX host that points at one Redis or Valkey server.
 *
 * Why hiredis (Debian's libhiredis0.14): the C client Redis's authors
 * keep; only its blocking API is used, with a socket timeout set before
 * every read and write from one deadline, so no call lasts beyond
 * state_timeout. Fenced: replies are checked for their type before use;
 * a context that failed once is never reused.
 *
 * Every operation is one Lua script that Redis runs atomically (EVAL; the
 * server caches it by its digest), so increments are exact across hosts:
 * a counter is a hash of bucket slots (the same buckets as window.c) with
 * a TTL; greylisting reads and writes the triplet's hash and its
 * network's in one script. A stage's counters are pipelined: one round
 * trip. Times come from the caller (the MX hosts' clocks, kept by NTP),
 * TTLs are relative so the server's clock does not matter.
 *
 * Connections: an idle pool (a milter thread takes one per call and gives
 * it back); after a failure the store is "down" for a backoff (100 ms,
 * doubling to 2 s) during which calls fail at once, then one call tries
 * again. Keys from the engine already carry state_prefix.
 */
#include "state/store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define POOL_MAX 64
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define KEY_MAX 1024

static const char counter_lua[] =
	"local slot = tonumber(ARGV[1]) local span = tonumber(ARGV[2]) "
	"local add = ARGV[4] == '1' "
	"if add then redis.call('HINCRBY', KEYS[1], ARGV[1], 1) "
	"redis.call('EXPIRE', KEYS[1], ARGV[3]) end "
	"local all = redis.call('HGETALL', KEYS[1]) local n = 0 "
	"for i = 1, #all, 2 do local s = tonumber(all[i]) "
	"if s <= slot and slot - s <= span then n = n + tonumber(all[i + 1]) "
	"elseif add and slot - s > span then redis.call('HDEL', KEYS[1], all[i]) end end "
	"return n";

/* The same decision as mp_grey_decide (window.c); returns {pass,
 * whitelisted, left}. */
static const char greylist_lua[] =
	"local now = tonumber(ARGV[1]) local delay = tonumber(ARGV[2]) "
	"local expiry = tonumber(ARGV[3]) local after = tonumber(ARGV[4]) "
	"local write = ARGV[5] == '1' "
	"local function get(k) local v = redis.call('HMGET', k, 'first', 'expires', 'passed') "
	"local r = {f = tonumber(v[1]) or 0, e = tonumber(v[2]) or 0, p = tonumber(v[3]) or 0} "
	"if r.e ~= 0 and r.e <= now then r = {f = 0, e = 0, p = 0} end return r end "
	"local function put(k, r) if write then "
	"redis.call('HSET', k, 'first', r.f, 'expires', r.e, 'passed', r.p) "
	"redis.call('EXPIRE', k, math.max(1, r.e - now)) end end "
	"local t = get(KEYS[1]) local n = get(KEYS[2]) "
	"if after > 0 and n.p >= after then n.e = now + expiry put(KEYS[2], n) return {1, 1, 0} end "
	"if t.e == 0 then t.f = now t.p = 0 t.e = now + math.max(delay, math.min(expiry, 86400)) "
	"put(KEYS[1], t) return {0, 0, delay} end "
	"if t.p == 0 and now - t.f < delay then return {0, 0, delay - (now - t.f)} end "
	"t.p = 1 t.e = now + expiry put(KEYS[1], t) "
	"if n.e == 0 then n.f = now end n.p = n.p + 1 n.e = now + expiry put(KEYS[2], n) "
	"return {1, 0, 0}";

struct redis {
	struct mp_state base;
	char *host;                  /* NULL for a socket */
	int port;
	char *path;
	int db;
	char *password;
	unsigned timeout_ms;
	pthread_mutex_t lock;        /* the pool and the backoff */
	redisContext *idle[POOL_MAX];
	size_t n_idle;
	int64_t down_until;          /* ms, monotonic; 0: up */
	unsigned backoff;
	char down_why[200];
};

static const struct mp_state_ops redis_ops;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_of(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	return tv;
}

struct mp_state *mp_state_redis_new(const char *host, int port, const char *path, int db,
				    const struct mp_state_opts *o, char *err, size_t errlen)
{
	struct redis *st = calloc(1, sizeof(*st));

	if (st == NULL || (host != NULL && (st->host = strdup(host)) == NULL) ||
	    (path != NULL && (st->path = strdup(path)) == NULL) ||
	    (o->password != NULL && (st->password = strdup(o->password)) == NULL)) {
		if (st != NULL) {
			free(st->host);
			free(st->path);
		}
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mp_state_base_init(&st->base, &redis_ops);
	st->port = port;
	st->db = db;
	st->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 200;
	st->backoff = BACKOFF_MIN_MS;
	pthread_mutex_init(&st->lock, NULL);
	return &st->base;
}

static void redis_free(struct mp_state *base)
{
	struct redis *st = (struct redis *)base;

	for (size_t i = 0; i < st->n_idle; i++)
		redisFree(st->idle[i]);
	if (st->password != NULL)
		explicit_bzero(st->password, strlen(st->password));
	free(st->password);
	free(st->host);
	free(st->path);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Where the server is, for messages. */
static void where(const struct redis *st, char *buf, size_t len)
{
	if (st->host != NULL)
		snprintf(buf, len, "redis %s:%d", st->host, st->port);
	else
		snprintf(buf, len, "redis %s", st->path);
}

/* Records a failure: calls fail at once for the backoff. */
static void went_down(struct redis *st, const char *why)
{
	pthread_mutex_lock(&st->lock);
	st->down_until = now_ms() + st->backoff;
	st->backoff = st->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : st->backoff * 2;
	snprintf(st->down_why, sizeof(st->down_why), "%s", why);
	pthread_mutex_unlock(&st->lock);
}

/* The remaining time to the deadline, at least 1 ms; 0 when it passed. */
static int64_t left(int64_t deadline)
{
	int64_t l = deadline - now_ms();
	return l > 0 ? l : 0;
}

/* One simple command with string arguments on a fresh connection. */
static bool simple(redisContext *c, int64_t deadline, char *err, size_t errlen, int argc,
		   const char **argv)
{
	if (left(deadline) == 0 || redisSetTimeout(c, tv_of(left(deadline))) != REDIS_OK) {
		snprintf(err, errlen, "timed out");
		return false;
	}
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
	if (r == NULL)
		snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "no reply");
	else if (!ok)
		snprintf(err, errlen, "%s: %.100s", argv[0], r->str ? r->str : "error");
	freeReplyObject(r);
	return ok;
}

/* A connection from the pool or a new one; NULL with err. */
static redisContext *take(struct redis *st, int64_t deadline, char *err, size_t errlen)
{
	char w[300];

	where(st, w, sizeof(w));
	pthread_mutex_lock(&st->lock);
	if (st->n_idle > 0) {
		redisContext *c = st->idle[--st->n_idle];
		pthread_mutex_unlock(&st->lock);
		return c;
	}
	if (st->down_until != 0 && now_ms() < st->down_until) {
		snprintf(err, errlen, "%s unavailable (%s); next try in %" PRId64 " ms", w,
			 st->down_why, st->down_until - now_ms());
		pthread_mutex_unlock(&st->lock);
		return NULL;
	}
	pthread_mutex_unlock(&st->lock);
	struct timeval tv = tv_of(left(deadline) > 0 ? left(deadline) : 1);
	redisContext *c = st->host != NULL ? redisConnectWithTimeout(st->host, st->port, tv)
					   : redisConnectUnixWithTimeout(st->path, tv);
	char why[200];
	if (c == NULL) {
		snprintf(why, sizeof(why), "no memory for a connection");
	} else if (c->err) {
		snprintf(why, sizeof(why), "%s", c->errstr);
	} else {
		char db[16];
		snprintf(db, sizeof(db), "%d", st->db);
		const char *auth[] = { "AUTH", st->password };
		const char *sel[] = { "SELECT", db };
		if ((st->password == NULL || simple(c, deadline, why, sizeof(why), 2, auth)) &&
		    (st->db == 0 || simple(c, deadline, why, sizeof(why), 2, sel)))
			return c;
	}
	redisFree(c);
	snprintf(err, errlen, "%s: %s", w, why);
	went_down(st, why);
	return NULL;
}

/* Back to the pool (ok), or closed and the store marked down. */
static void give(struct redis *st, redisContext *c, bool ok, const char *why)
{
	if (!ok) {
		redisFree(c);
		went_down(st, why);
		return;
	}
	pthread_mutex_lock(&st->lock);
	st->down_until = 0;
	st->backoff = BACKOFF_MIN_MS;
	if (st->n_idle < POOL_MAX) {
		st->idle[st->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	redisFree(c);
}

/* Reads n replies of a pipeline into r[]; false with err (r[] freed and
 * NULL). */
static bool replies(redisContext *c, size_t n, redisReply **r, int64_t deadline, char *err,
		    size_t errlen)
{
	size_t got = 0;
	bool ok = true;

	for (; got < n; got++) {
		void *v = NULL;
		if (left(deadline) == 0 || redisSetTimeout(c, tv_of(left(deadline))) != REDIS_OK) {
			snprintf(err, errlen, "timed out");
			ok = false;
			break;
		}
		if (redisGetReply(c, &v) != REDIS_OK || v == NULL) {
			snprintf(err, errlen, "%s",
				 c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
					 ? "timed out"
					 : c->errstr[0] ? c->errstr : "no reply");
			ok = false;
			break;
		}
		r[got] = v;
	}
	for (size_t i = 0; !ok && i < got; i++) {
		freeReplyObject(r[i]);
		r[i] = NULL;
	}
	return ok;
}

static int redis_counters(struct mp_state *base, struct mp_state_req *reqs, size_t n, time_t now,
			  char *err, size_t errlen)
{
	struct redis *st = (struct redis *)base;
	int64_t deadline = now_ms() + st->timeout_ms;
	char w[300], why[200] = "";
	redisReply **r = calloc(n, sizeof(*r));

	where(st, w, sizeof(w));
	if (r == NULL) {
		snprintf(err, errlen, "%s: out of memory", w);
		return MP_STATE_NOMEM;
	}
	redisContext *c = take(st, deadline, err, errlen);
	if (c == NULL) {
		free(r);
		return -1;
	}
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		char key[KEY_MAX + 16], slot[24], span[16], ttl[24];
		size_t kl = reqs[i].klen > KEY_MAX ? KEY_MAX : reqs[i].klen;
		unsigned width = mp_window_width(reqs[i].window);
		unsigned sp = mp_window_span(reqs[i].window);
		memcpy(key, reqs[i].key, kl);
		kl += (size_t)snprintf(key + kl, 16, "/%u", reqs[i].window);
		snprintf(slot, sizeof(slot), "%" PRId64, (int64_t)now / width);
		snprintf(span, sizeof(span), "%u", sp);
		snprintf(ttl, sizeof(ttl), "%u", (sp + 2) * width);
		const char *argv[] = { "EVAL", counter_lua, "1", key, slot, span, ttl,
				       reqs[i].add ? "1" : "0" };
		size_t lens[] = { 4, sizeof(counter_lua) - 1, 1, kl, strlen(slot), strlen(span),
				  strlen(ttl), 1 };
		ok = redisAppendCommandArgv(c, 8, argv, lens) == REDIS_OK;
		if (!ok)
			snprintf(why, sizeof(why), "no memory for the command");
	}
	if (ok)
		ok = replies(c, n, r, deadline, why, sizeof(why));
	for (size_t i = 0; ok && i < n; i++) {
		if (r[i]->type != REDIS_REPLY_INTEGER || r[i]->integer < 0) {
			snprintf(why, sizeof(why), "unexpected reply: %.100s",
				 r[i]->type == REDIS_REPLY_ERROR && r[i]->str ? r[i]->str : "not a count");
			ok = false;
		} else {
			reqs[i].count = (uint64_t)r[i]->integer;
		}
	}
	for (size_t i = 0; i < n; i++)
		freeReplyObject(r[i]);
	free(r);
	give(st, c, ok, why);
	if (!ok)
		snprintf(err, errlen, "%s: %s", w, why);
	return ok ? 0 : -1;
}

static int redis_greylist(struct mp_state *base, const struct mp_grey_req *req, time_t now,
			  struct mp_grey_ans *ans, char *err, size_t errlen)
{
	struct redis *st = (struct redis *)base;
	int64_t deadline = now_ms() + st->timeout_ms;
	char w[300], why[200] = "";
	char snow[24], delay[16], expiry[16], after[16];

	where(st, w, sizeof(w));
	redisContext *c = take(st, deadline, err, errlen);
	if (c == NULL)
		return -1;
	snprintf(snow, sizeof(snow), "%" PRId64, (int64_t)now);
	snprintf(delay, sizeof(delay), "%u", req->delay);
	snprintf(expiry, sizeof(expiry), "%u", req->expiry);
	snprintf(after, sizeof(after), "%u", req->whitelist_after);
	const char *argv[] = { "EVAL", greylist_lua, "2", req->key, req->net, snow, delay, expiry,
			       after, req->write ? "1" : "0" };
	size_t lens[] = { 4, sizeof(greylist_lua) - 1, 1,
			  req->klen > KEY_MAX ? KEY_MAX : req->klen,
			  req->nlen > KEY_MAX ? KEY_MAX : req->nlen,
			  strlen(snow), strlen(delay), strlen(expiry), strlen(after), 1 };
	redisReply *r = NULL;
	bool ok = redisAppendCommandArgv(c, 10, argv, lens) == REDIS_OK &&
		  replies(c, 1, &r, deadline, why, sizeof(why));
	if (ok && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
		   r->element[0]->type != REDIS_REPLY_INTEGER ||
		   r->element[1]->type != REDIS_REPLY_INTEGER ||
		   r->element[2]->type != REDIS_REPLY_INTEGER || r->element[2]->integer < 0)) {
		snprintf(why, sizeof(why), "unexpected reply: %.100s",
			 r->type == REDIS_REPLY_ERROR && r->str ? r->str : "not a greylisting answer");
		ok = false;
	} else if (ok) {
		ans->pass = r->element[0]->integer == 1;
		ans->whitelisted = r->element[1]->integer == 1;
		ans->left = (unsigned)r->element[2]->integer;
	} else if (why[0] == '\0') {
		snprintf(why, sizeof(why), "no memory for the command");
	}
	freeReplyObject(r);
	give(st, c, ok, why);
	if (!ok)
		snprintf(err, errlen, "%s: %s", w, why);
	return ok ? 0 : -1;
}

static void redis_stats(struct mp_state *base, struct mp_state_stats *out)
{
	(void)base;
	memset(out, 0, sizeof(*out)); /* the server keeps the keys, and expires them */
}

static const struct mp_state_ops redis_ops = {
	"redis", redis_counters, redis_greylist, redis_stats, redis_free,
};
