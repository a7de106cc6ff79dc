/*
 * history - DMARC history for aggregate reports: one SQLite file (WAL)
 * per MTA. The daemon hands each message's row to mp_history_add, which
 * only queues a copy (bounded); a writer thread stores queued rows in
 * batches, off every message's critical path, and mp_history_close stores
 * what is still queued before it returns, so a stop loses nothing. Rows
 * that find the queue full are counted, not stored. Reading (for reports)
 * opens the file read-only, and can read several files in turn.
 */
#ifndef MP_REPORT_HISTORY_H
#define MP_REPORT_HISTORY_H

#include "report/row.h"

#include <stddef.h>
#include <stdint.h>

struct mp_history;

/* Opens (creating) path and starts the writer; at most queue_max rows
 * wait. NULL with a reason in err. */
struct mp_history *mp_history_open(const char *path, size_t queue_max, char *err, size_t errlen);
/* Queues a copy of row: 0, or -1 when the queue is full or memory ran out
 * (the row is counted as dropped). Any thread. */
int mp_history_add(struct mp_history *h, const struct mp_dmarc_row *row);
/* Rows stored, rows dropped so far. */
uint64_t mp_history_stored(struct mp_history *h);
uint64_t mp_history_dropped(struct mp_history *h);
/* Stores what is queued, stops the writer, closes. Accepts NULL. */
void mp_history_close(struct mp_history *h);

/* Calls fn for every row of path with from <= t < to, oldest first; 0, or
 * -1 with a reason in err. fn returning non-zero stops the walk. */
int mp_history_read(const char *path, int64_t from, int64_t to,
		    int (*fn)(const struct mp_dmarc_row *row, void *arg), void *arg,
		    char *err, size_t errlen);

#endif
