/*
 * http - the metrics endpoint (SPEC §13): `metrics_listen = HOST:PORT`
 * serves GET /metrics (Prometheus text) and GET /status (the summary as
 * JSON, for `milter-policy status`) from libmicrohttpd's own thread. It
 * never takes a lock a milter callback holds: it reads atomics and takes
 * a reference to the rule set in force.
 */
#ifndef MP_HTTP_H
#define MP_HTTP_H

#include <stddef.h>

struct mp_ruleset;

/* Binds and starts serving; ruleset() gives a new reference to the set in
 * force (NULL before the first). 0, or -1 with err. */
int mp_http_start(const char *spec, struct mp_ruleset *(*ruleset)(void), char *err, size_t errlen);
void mp_http_stop(void);

#endif
