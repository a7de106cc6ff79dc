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
 * and "t" (triplets). Past max_entries, and every 1,024 writes, a sweep
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
	st->base.ops = &lmdb_ops;
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

static int lmdb_counter(struct mp_state *base, const void *key, size_t klen, unsigned window,
			time_t now, bool add, uint64_t *count_r)
{
	struct lmdb *st = (struct lmdb *)base;
	unsigned char kb[KEY_MAX + 4];
	MDB_txn *txn;
	MDB_val k, v;
	struct counter_rec rec;

	*count_r = 0;
	if (klen > KEY_MAX)
		klen = KEY_MAX; /* the caller's keys are fields; a longer one is cut, not refused */
	memcpy(kb, &window, 4);
	memcpy(kb + 4, key, klen);
	k.mv_data = kb;
	k.mv_size = klen + 4;
	if (mdb_txn_begin(st->env, NULL, add ? 0 : MDB_RDONLY, &txn) != 0)
		return -1;
	int rc = mdb_get(txn, st->c, &k, &v);
	bool found = rc == 0 && v.mv_size == sizeof(rec);
	if (found)
		memcpy(&rec, v.mv_data, sizeof(rec));
	if (found && rec.expires <= now)
		found = false; /* its time has passed: it starts again */
	if (!found)
		mp_window_init(&rec.w);
	if (!add) {
		if (found)
			*count_r = mp_window_count(&rec.w, window, now, false, NULL);
		mdb_txn_abort(txn);
		return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return -1;
	}
	before_write(st, txn, now, rc == MDB_NOTFOUND);
	time_t expires;
	*count_r = mp_window_count(&rec.w, window, now, true, &expires);
	rec.expires = expires;
	v.mv_data = &rec;
	v.mv_size = sizeof(rec);
	if (mdb_put(txn, st->c, &k, &v, 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

static int lmdb_greylist(struct mp_state *base, const void *key, size_t klen, time_t now,
			 unsigned delay_s, unsigned expiry_s, bool *pass_r, unsigned *left_r)
{
	struct lmdb *st = (struct lmdb *)base;
	MDB_txn *txn;
	MDB_val k, v;
	struct mp_triplet t;

	*pass_r = false;
	*left_r = delay_s;
	if (klen > KEY_MAX)
		klen = KEY_MAX;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
		return -1;
	int rc = mdb_get(txn, st->t, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return -1;
	}
	memset(&t, 0, sizeof(t));
	if (rc == 0 && v.mv_size == sizeof(t))
		memcpy(&t, v.mv_data, sizeof(t));
	if (t.expires != 0 && t.expires <= now)
		memset(&t, 0, sizeof(t)); /* forgotten: new again */
	before_write(st, txn, now, rc == MDB_NOTFOUND);
	mp_triplet_check(&t, now, delay_s, expiry_s, pass_r, left_r);
	v.mv_data = &t;
	v.mv_size = sizeof(t);
	if (mdb_put(txn, st->t, &k, &v, 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
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
	lmdb_counter, lmdb_greylist, lmdb_stats, lmdb_free,
};
