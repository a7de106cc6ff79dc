/*
 * log - syslog or stderr logging and key=value lines; see log.h.
 */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define VALUE_MAX 1000

static atomic_int log_target = MP_LOGTO_STDERR;
static atomic_int log_level = MP_LOG_INFO;
static atomic_bool syslog_open;

void mp_log_setup(enum mp_log_target target, enum mp_log_level level)
{
	if (target == MP_LOGTO_SYSLOG && !atomic_exchange(&syslog_open, true))
		openlog("milter-policy", LOG_PID | LOG_NDELAY, LOG_MAIL);
	atomic_store(&log_target, target);
	atomic_store(&log_level, level);
}

void mp_log_close(void)
{
	if (atomic_exchange(&syslog_open, false))
		closelog();
}

static const char *level_name(enum mp_log_level l)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	return names[l];
}

static void write_line(enum mp_log_level level, const char *msg)
{
	if (atomic_load(&log_target) == MP_LOGTO_SYSLOG) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[level], "%s", msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* one fprintf: stdio locks the stream, so lines never interleave */
	fprintf(stderr, "%s.%03ld milter-policy[%ld]: %s: %s\n", stamp, ts.tv_nsec / 1000000,
		(long)getpid(), level_name(level), msg);
}

void mp_log(enum mp_log_level level, const char *fmt, ...)
{
	struct mp_buf b;
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	mp_buf_init(&b);
	va_start(ap, fmt);
	mp_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	write_line(level, b.p ? b.p : "(out of memory)");
	mp_buf_free(&b);
}

static bool plain(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=')
			return false;
	}
	return true;
}

static void escape_value(struct mp_buf *out, const char *v, size_t max)
{
	size_t len = strlen(v);
	bool cut = len > max;

	if (cut)
		len = max;
	if (plain(v) && !cut) {
		mp_buf_add(out, v, len);
		return;
	}
	mp_buf_addc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\')
			mp_buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			mp_buf_printf(out, "\\x%02x", c);
		else
			mp_buf_addc(out, (char)c);
	}
	if (cut)
		mp_buf_adds(out, "...");
	mp_buf_addc(out, '"');
}

void mp_logline_init(struct mp_logline *l)
{
	mp_buf_init(&l->b);
}

void mp_logline_add(struct mp_logline *l, const char *key, const char *value)
{
	if (value == NULL)
		return;
	if (l->b.len > 0)
		mp_buf_addc(&l->b, ' ');
	mp_buf_adds(&l->b, key);
	mp_buf_addc(&l->b, '=');
	escape_value(&l->b, value, VALUE_MAX);
}

void mp_logline_addf(struct mp_logline *l, const char *key, const char *fmt, ...)
{
	struct mp_buf v;
	va_list ap;

	mp_buf_init(&v);
	va_start(ap, fmt);
	mp_buf_vprintf(&v, fmt, ap);
	va_end(ap);
	mp_logline_add(l, key, v.p ? v.p : "");
	mp_buf_free(&v);
}

const char *mp_logline_text(const struct mp_logline *l)
{
	return l->b.oom ? NULL : l->b.p ? l->b.p : "";
}

void mp_logline_free(struct mp_logline *l)
{
	mp_buf_free(&l->b);
}

void mp_logline_emit(struct mp_logline *l, enum mp_log_level level)
{
	if ((int)level <= atomic_load(&log_level))
		write_line(level, l->b.p ? l->b.p : "");
	mp_buf_free(&l->b);
}
