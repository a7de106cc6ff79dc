/*
 * history - the DMARC history file; see history.h.
 *
 * Why SQLite (libsqlite3, Debian's): one file that several processes can
 * read while one writes (WAL), transactions for batches, and a query
 * language for the report's time range; nothing to hand-write. Fenced:
 * statements are prepared with bound parameters only (no text from a
 * message is ever part of SQL), a busy file is waited on for at most
 * 5 s, and a failed batch is logged and dropped rather than retried
 * forever.
 *
 * Lifetimes: the queue holds malloc'ed copies of rows; the writer thread
 * owns the database connection from open to close.
 */
#include "report/history.h"

#include "util/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS message ("
	" id INTEGER PRIMARY KEY, t INTEGER NOT NULL, source_ip TEXT NOT NULL,"
	" header_from TEXT NOT NULL, envelope_from TEXT NOT NULL, policy_domain TEXT NOT NULL,"
	" p TEXT NOT NULL, sp TEXT NOT NULL, pct INTEGER NOT NULL, adkim TEXT NOT NULL,"
	" aspf TEXT NOT NULL, rua TEXT NOT NULL, policy TEXT NOT NULL, disposition TEXT NOT NULL,"
	" dkim_aligned INTEGER NOT NULL, spf_aligned INTEGER NOT NULL, sampled_out INTEGER NOT NULL,"
	" spf_domain TEXT NOT NULL, spf_scope TEXT NOT NULL, spf_result TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS signature ("
	" message INTEGER NOT NULL REFERENCES message(id), domain TEXT NOT NULL,"
	" selector TEXT NOT NULL, result TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS message_t ON message(t);"
	"CREATE INDEX IF NOT EXISTS signature_message ON signature(message);";

struct item {
	struct item *next;
	struct mp_dmarc_row row;
};

struct mp_history {
	sqlite3 *db;
	sqlite3_stmt *ins_msg, *ins_sig;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head, *tail;
	size_t n, max;
	bool stop;
	uint64_t stored, dropped;
	char *path;
};

static void put_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int store_one(struct mp_history *h, const struct mp_dmarc_row *r)
{
	sqlite3_stmt *m = h->ins_msg, *s = h->ins_sig;
	char adkim[2] = { r->adkim ? r->adkim : 'r', 0 }, aspf[2] = { r->aspf ? r->aspf : 'r', 0 };

	sqlite3_reset(m);
	sqlite3_bind_int64(m, 1, r->t);
	put_text(m, 2, r->source_ip);
	put_text(m, 3, r->header_from);
	put_text(m, 4, r->envelope_from);
	put_text(m, 5, r->policy_domain);
	put_text(m, 6, r->p);
	put_text(m, 7, r->sp);
	sqlite3_bind_int(m, 8, (int)r->pct);
	put_text(m, 9, adkim);
	put_text(m, 10, aspf);
	put_text(m, 11, r->rua);
	put_text(m, 12, r->policy);
	put_text(m, 13, r->disposition);
	sqlite3_bind_int(m, 14, r->dkim_aligned);
	sqlite3_bind_int(m, 15, r->spf_aligned);
	sqlite3_bind_int(m, 16, r->sampled_out);
	put_text(m, 17, r->spf_domain);
	put_text(m, 18, r->spf_scope);
	put_text(m, 19, r->spf_result);
	if (sqlite3_step(m) != SQLITE_DONE)
		return -1;
	sqlite3_int64 id = sqlite3_last_insert_rowid(h->db);
	for (size_t i = 0; i < r->n_sigs && i < MP_ROW_SIGS; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		put_text(s, 2, r->sigs[i].domain);
		put_text(s, 3, r->sigs[i].selector);
		put_text(s, 4, r->sigs[i].result);
		if (sqlite3_step(s) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* Stores a batch in one transaction; frees it. */
static void store_batch(struct mp_history *h, struct item *batch, size_t n)
{
	bool ok = sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

	for (struct item *it = batch; ok && it != NULL; it = it->next)
		ok = store_one(h, &it->row) == 0;
	if (ok)
		ok = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok) {
		mp_log(MP_LOG_ERROR, "dmarc_history %s: %zu rows not stored: %s", h->path, n,
		       sqlite3_errmsg(h->db));
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&h->lock);
	if (ok)
		h->stored += n;
	else
		h->dropped += n;
	pthread_mutex_unlock(&h->lock);
	while (batch != NULL) {
		struct item *next = batch->next;
		free(batch);
		batch = next;
	}
}

static void *writer(void *arg)
{
	struct mp_history *h = arg;

	for (;;) {
		pthread_mutex_lock(&h->lock);
		while (h->head == NULL && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		struct item *batch = h->head;
		size_t n = h->n;
		bool stop = h->stop;
		h->head = h->tail = NULL;
		h->n = 0;
		pthread_mutex_unlock(&h->lock);
		if (batch != NULL)
			store_batch(h, batch, n);
		else if (stop)
			return NULL;
	}
}

static void close_db(struct mp_history *h)
{
	sqlite3_finalize(h->ins_msg);
	sqlite3_finalize(h->ins_sig);
	sqlite3_close(h->db);
}

struct mp_history *mp_history_open(const char *path, size_t queue_max, char *err, size_t errlen)
{
	struct mp_history *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->max = queue_max ? queue_max : 1;
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(h->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(h->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "INSERT INTO message (t, source_ip, header_from, envelope_from,"
			       " policy_domain, p, sp, pct, adkim, aspf, rua, policy, disposition,"
			       " dkim_aligned, spf_aligned, sampled_out, spf_domain, spf_scope, spf_result)"
			       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &h->ins_msg, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "INSERT INTO signature (message, domain, selector, result) VALUES (?,?,?,?)",
			       -1, &h->ins_sig, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 h->db ? sqlite3_errmsg(h->db) : "out of memory");
		close_db(h);
		free(h->path);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->thread, NULL, writer, h) != 0) {
		snprintf(err, errlen, "cannot start the history writer");
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		close_db(h);
		free(h->path);
		free(h);
		return NULL;
	}
	return h;
}

int mp_history_add(struct mp_history *h, const struct mp_dmarc_row *row)
{
	struct item *it = malloc(sizeof(*it));

	pthread_mutex_lock(&h->lock);
	if (it == NULL || h->n >= h->max || h->stop) {
		h->dropped++;
		pthread_mutex_unlock(&h->lock);
		free(it);
		return -1;
	}
	it->row = *row;
	it->next = NULL;
	if (h->tail != NULL)
		h->tail->next = it;
	else
		h->head = it;
	h->tail = it;
	h->n++;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

uint64_t mp_history_stored(struct mp_history *h)
{
	pthread_mutex_lock(&h->lock);
	uint64_t n = h->stored;
	pthread_mutex_unlock(&h->lock);
	return n;
}

uint64_t mp_history_dropped(struct mp_history *h)
{
	pthread_mutex_lock(&h->lock);
	uint64_t n = h->dropped;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void mp_history_close(struct mp_history *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	close_db(h);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h->path);
	free(h);
}

static void get_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, size, "%s", s ? (const char *)s : "");
}

int mp_history_read(const char *path, int64_t from, int64_t to,
		    int (*fn)(const struct mp_dmarc_row *row, void *arg), void *arg,
		    char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *m = NULL, *s = NULL;
	struct mp_dmarc_row *r = malloc(sizeof(*r));
	int rc = -1;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT id, t, source_ip, header_from, envelope_from, policy_domain, p, sp,"
			       " pct, adkim, aspf, rua, policy, disposition, dkim_aligned, spf_aligned,"
			       " sampled_out, spf_domain, spf_scope, spf_result FROM message"
			       " WHERE t >= ? AND t < ? ORDER BY t, id",
			       -1, &m, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT domain, selector, result FROM signature WHERE message = ?",
			       -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_bind_int64(m, 1, from);
	sqlite3_bind_int64(m, 2, to);
	int step;
	while ((step = sqlite3_step(m)) == SQLITE_ROW) {
		char a[4];
		memset(r, 0, sizeof(*r));
		sqlite3_int64 id = sqlite3_column_int64(m, 0);
		r->t = sqlite3_column_int64(m, 1);
		get_text(m, 2, r->source_ip, sizeof(r->source_ip));
		get_text(m, 3, r->header_from, sizeof(r->header_from));
		get_text(m, 4, r->envelope_from, sizeof(r->envelope_from));
		get_text(m, 5, r->policy_domain, sizeof(r->policy_domain));
		get_text(m, 6, r->p, sizeof(r->p));
		get_text(m, 7, r->sp, sizeof(r->sp));
		r->pct = (unsigned)sqlite3_column_int(m, 8);
		get_text(m, 9, a, sizeof(a));
		r->adkim = a[0];
		get_text(m, 10, a, sizeof(a));
		r->aspf = a[0];
		get_text(m, 11, r->rua, sizeof(r->rua));
		get_text(m, 12, r->policy, sizeof(r->policy));
		get_text(m, 13, r->disposition, sizeof(r->disposition));
		r->dkim_aligned = sqlite3_column_int(m, 14) != 0;
		r->spf_aligned = sqlite3_column_int(m, 15) != 0;
		r->sampled_out = sqlite3_column_int(m, 16) != 0;
		get_text(m, 17, r->spf_domain, sizeof(r->spf_domain));
		get_text(m, 18, r->spf_scope, sizeof(r->spf_scope));
		get_text(m, 19, r->spf_result, sizeof(r->spf_result));
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		while (sqlite3_step(s) == SQLITE_ROW && r->n_sigs < MP_ROW_SIGS) {
			struct mp_row_sig *g = &r->sigs[r->n_sigs++];
			get_text(s, 0, g->domain, sizeof(g->domain));
			get_text(s, 1, g->selector, sizeof(g->selector));
			get_text(s, 2, g->result, sizeof(g->result));
		}
		if (fn(r, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(m);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(r);
	return rc;
}
