/*
 * log - the daemon's log: syslog (facility mail) or stderr, and key=value
 * lines (SPEC §6).
 *
 * mp_log_setup() may be called again at reload to change target or level;
 * logging is safe from any thread. A struct mp_logline builds one line of
 * key=value pairs: values that are not plain tokens are quoted, and every
 * byte outside printable ASCII is written as \xNN, so nothing from a
 * message can forge or split a log line.
 */
#ifndef MP_LOG_H
#define MP_LOG_H

#include "util/buf.h"

#include <stddef.h>

enum mp_log_target { MP_LOGTO_SYSLOG, MP_LOGTO_STDERR };
enum mp_log_level { MP_LOG_ERROR, MP_LOG_WARN, MP_LOG_INFO, MP_LOG_DEBUG };

void mp_log_setup(enum mp_log_target target, enum mp_log_level level);
void mp_log_close(void);
void mp_log(enum mp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct mp_logline {
	struct mp_buf b;
};

void mp_logline_init(struct mp_logline *l);
/* key=value; value NULL is left out. */
void mp_logline_add(struct mp_logline *l, const char *key, const char *value);
void mp_logline_addf(struct mp_logline *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Writes the line at level and frees it. */
void mp_logline_emit(struct mp_logline *l, enum mp_log_level level);
/* The line as it would be written (NULL: no memory); for `test`. */
const char *mp_logline_text(const struct mp_logline *l);
void mp_logline_free(struct mp_logline *l);

#endif
