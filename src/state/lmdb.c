/*
 * lmdb - the store of `state = lmdb:PATH` (SPEC §12): one machine, kept
 * across restarts, shared by every thread and process that opens the file.
 *
 * Why LMDB (Debian's liblmdb0): a maintained embedded key-value store
 * whose write transactions are serialised by a lock in the file itself, so
 * an increment is one read-modify-write inside one write transaction and
 * exact across threads and processes. Fenced: the map has a fixed size
 * (MDB_MAP_FULL is an error the caller's on_state_error handles, never a
 * crash); records are fixed-size structures checked for their size on
 * read (a damaged file is a store error); MDB_NOTLS, since a milter thread
 * may serve many sessions. MDB_NOSYNC: a commit is not flushed to disk
 * at once (the file stays consistent; a crash of the machine, not of the
 * process, may lose the last seconds of counts) - a flush per message
 * would cost more than everything else the message costs.
 *
 * Two sub-databases: "c" (counters: the window in seconds, then the key)
 * and "t" (greylisting: triplets and their networks' passes, under the
 * caller's distinct keys). Past max_entries, and every 1,024 writes, a sweep
 * walks up to 4,096 records from where the last one stopped and deletes
 * those whose time has passed; when that frees nothing and the store is
 * full, the records at the sweep's position go (counted as evicted: LMDB
 * keeps no use order).
 */
#include "state/store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_EVERY 1024
#define SWEEP_MAX 4096
#define KEY_MAX 480 /* LMDB's default key limit is 511 bytes */

struct counter_rec {
	int64_t expires;
	struct mp_window w;
};

struct lmdb {
	struct mp_state base;
	MDB_env *env;
	MDB_dbi c, t;
	size_t max;
	pthread_mutex_t lock;        /* the sweep position and the counts */
	uint64_t writes, evicted, expired;
	unsigned char sweep_key[KEY_MAX + 8];
	size_t sweep_len;
	int sweep_db;
};

static const struct mp_state_ops lmdb_ops;

struct mp_state *mp_state_lmdb_open(const char *path, size_t max_entries, char *err, size_t errlen)
{
	struct lmdb *st = calloc(1, sizeof(*st));
	MDB_txn *txn = NULL;
	int rc;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mp_state_base_init(&st->base, &lmdb_ops);
	st->max = max_entries;
	pthread_mutex_init(&st->lock, NULL);
	/* about 320 bytes a record with LMDB's overhead, twice over */
	size_t map = max_entries * 640;
	if (map < ((size_t)64 << 20))
		map = (size_t)64 << 20;
	if ((rc = mdb_env_create(&st->env)) != 0 || (rc = mdb_env_set_maxdbs(st->env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 512)) != 0 ||
	    (rc = mdb_env_open(st->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600)) != 0 ||
	    (rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "c", MDB_CREATE, &st->c)) != 0 ||
	    (rc = mdb_dbi_open(txn, "t", MDB_CREATE, &st->t)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		if (txn != NULL && rc != 0)
			mdb_txn_abort(txn);
		if (st->env != NULL)
			mdb_env_close(st->env);
		pthread_mutex_destroy(&st->lock);
		free(st);
		return NULL;
	}
	return &st->base;
}

static void lmdb_free(struct mp_state *base)
{
	struct lmdb *st = (struct lmdb *)base;

	mdb_env_close(st->env);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static size_t entries(struct lmdb *st, MDB_txn *txn)
{
	MDB_stat a, b;

	if (mdb_stat(txn, st->c, &a) != 0 || mdb_stat(txn, st->t, &b) != 0)
		return 0;
	return a.ms_entries + b.ms_entries;
}

/* When a record's time passes. LMDB's values are not aligned: records are
 * always copied out, never read in place. */
static int64_t rec_expires(MDB_dbi dbi, const struct lmdb *st, const MDB_val *v)
{
	int64_t e;

	if (dbi == st->c && v->mv_size == sizeof(struct counter_rec)) {
		memcpy(&e, (const char *)v->mv_data + offsetof(struct counter_rec, expires), sizeof(e));
		return e;
	}
	if (dbi == st->t && v->mv_size == sizeof(struct mp_triplet)) {
		memcpy(&e, (const char *)v->mv_data + offsetof(struct mp_triplet, expires), sizeof(e));
		return e;
	}
	return 0; /* not ours: it goes */
}

/* Inside the write transaction: deletes records whose time has passed
 * (and, when force, the records at the sweep position) from where the
 * last sweep stopped. Called with st->lock held. */
static void sweep(struct lmdb *st, MDB_txn *txn, time_t now, bool force)
{
	size_t seen = 0, freed = 0;

	for (int pass = 0; pass < 2 && seen < SWEEP_MAX; pass++) {
		MDB_dbi dbi = st->sweep_db == 0 ? st->c : st->t;
		MDB_cursor *cur;
		MDB_val k, v;
		if (mdb_cursor_open(txn, dbi, &cur) != 0)
			return;
		int rc;
		if (st->sweep_len > 0) {
			k.mv_data = st->sweep_key;
			k.mv_size = st->sweep_len;
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		} else {
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		}
		for (; rc == 0 && seen < SWEEP_MAX; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			seen++;
			bool old = rec_expires(dbi, st, &v) <= now;
			if (old || (force && freed == 0 && seen > SWEEP_MAX / 2)) {
				if (mdb_cursor_del(cur, 0) == 0) {
					freed++;
					if (old)
						st->expired++;
					else
						st->evicted++;
				}
			}
			if (k.mv_size <= sizeof(st->sweep_key)) {
				memcpy(st->sweep_key, k.mv_data, k.mv_size);
				st->sweep_len = k.mv_size;
			}
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND) {
			/* the end of this database: on to the other one */
			st->sweep_db = !st->sweep_db;
			st->sweep_len = 0;
		}
	}
	/* full and nothing had passed its time: the oldest in key order go */
	if (force && freed == 0) {
		MDB_cursor *cur;
		MDB_val k, v;
		if (mdb_cursor_open(txn, st->c, &cur) == 0) {
			if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && mdb_cursor_del(cur, 0) == 0)
				st->evicted++;
			mdb_cursor_close(cur);
		}
	}
}

/* The write transaction's bookkeeping before a record is added. */
static void before_write(struct lmdb *st, MDB_txn *txn, time_t now, bool adding)
{
	pthread_mutex_lock(&st->lock);
	bool full = adding && entries(st, txn) >= st->max;
	if (full || ++st->writes % SWEEP_EVERY == 0)
		sweep(st, txn, now, full);
	pthread_mutex_unlock(&st->lock);
}

static int lmdb_counter(struct lmdb *st, struct mp_state_req *r, time_t now)
{
	unsigned char kb[KEY_MAX + 4];
	MDB_txn *txn;
	MDB_val k, v;
	struct counter_rec rec;
	size_t klen = r->klen;

	r->count = 0;
	if (klen > KEY_MAX)
		klen = KEY_MAX; /* the caller's keys are fields; a longer one is cut, not refused */
	memcpy(kb, &r->window, 4);
	memcpy(kb + 4, r->key, klen);
	k.mv_data = kb;
	k.mv_size = klen + 4;
	int rc = mdb_txn_begin(st->env, NULL, r->add ? 0 : MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_get(txn, st->c, &k, &v);
	bool found = rc == 0 && v.mv_size == sizeof(rec);
	if (found)
		memcpy(&rec, v.mv_data, sizeof(rec));
	if (found && rec.expires <= now)
		found = false; /* its time has passed: it starts again */
	if (!found)
		mp_window_init(&rec.w);
	if (!r->add) {
		if (found)
			r->count = mp_window_count(&rec.w, r->window, now, false, NULL);
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	before_write(st, txn, now, rc == MDB_NOTFOUND);
	time_t expires;
	r->count = mp_window_count(&rec.w, r->window, now, true, &expires);
	rec.expires = expires;
	v.mv_data = &rec;
	v.mv_size = sizeof(rec);
	if ((rc = mdb_put(txn, st->c, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int lmdb_counters(struct mp_state *base, struct mp_state_req *reqs, size_t n, time_t now,
			 char *err, size_t errlen)
{
	struct lmdb *st = (struct lmdb *)base;

	for (size_t i = 0; i < n; i++) {
		int rc = lmdb_counter(st, &reqs[i], now);
		if (rc != 0) {
			snprintf(err, errlen, "lmdb: %s", mdb_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* A greylisting record (zeroed when absent, damaged or past its time). */
static int get_rec(struct lmdb *st, MDB_txn *txn, MDB_val *k, struct mp_triplet *t, time_t now,
		   bool *absent)
{
	MDB_val v;
	int rc = mdb_get(txn, st->t, k, &v);

	memset(t, 0, sizeof(*t));
	*absent = rc == MDB_NOTFOUND;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && v.mv_size == sizeof(*t))
		memcpy(t, v.mv_data, sizeof(*t));
	if (t->expires != 0 && t->expires <= now)
		memset(t, 0, sizeof(*t)); /* forgotten: new again */
	return 0;
}

static int put_rec(struct lmdb *st, MDB_txn *txn, MDB_val *k, struct mp_triplet *t)
{
	MDB_val v = { sizeof(*t), t };
	return mdb_put(txn, st->t, k, &v, 0);
}

/* The triplet and its network in one write transaction. */
static int lmdb_greylist(struct mp_state *base, const struct mp_grey_req *req, time_t now,
			 struct mp_grey_ans *ans, char *err, size_t errlen)
{
	struct lmdb *st = (struct lmdb *)base;
	MDB_txn *txn = NULL;
	MDB_val kt = { req->klen > KEY_MAX ? KEY_MAX : req->klen, (void *)req->key };
	MDB_val kn = { req->nlen > KEY_MAX ? KEY_MAX : req->nlen, (void *)req->net };
	struct mp_triplet t, nt;
	bool t_absent, n_absent;

	int rc = mdb_txn_begin(st->env, NULL, req->write ? 0 : MDB_RDONLY, &txn);
	if (rc == 0 && (rc = get_rec(st, txn, &kt, &t, now, &t_absent)) == 0 &&
	    (rc = get_rec(st, txn, &kn, &nt, now, &n_absent)) == 0) {
		mp_grey_decide(&t, &nt, req, now, ans);
		if (!req->write) {
			mdb_txn_abort(txn);
			return 0;
		}
		before_write(st, txn, now, t_absent || n_absent);
		if ((rc = put_rec(st, txn, &kt, &t)) == 0 &&
		    (nt.expires == 0 || (rc = put_rec(st, txn, &kn, &nt)) == 0)) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
		}
	}
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		snprintf(err, errlen, "lmdb: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

static void lmdb_stats(struct mp_state *base, struct mp_state_stats *out)
{
	struct lmdb *st = (struct lmdb *)base;
	MDB_txn *txn;

	memset(out, 0, sizeof(*out));
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) == 0) {
		out->entries = entries(st, txn);
		mdb_txn_abort(txn);
	}
	pthread_mutex_lock(&st->lock);
	out->evicted = st->evicted;
	out->expired = st->expired;
	pthread_mutex_unlock(&st->lock);
}

static const struct mp_state_ops lmdb_ops = {
	"lmdb", lmdb_counters, lmdb_greylist, lmdb_stats, lmdb_free,
};
