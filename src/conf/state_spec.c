/*
 * state_spec - the value of the `state` key (SPEC §12) as parts: memory,
 * lmdb:PATH, redis://HOST[:PORT][/DB] (HOST may be [IPv6]),
 * redis+unix:/PATH[?db=N]. Only the syntax: src/state opens the store.
 */
#include "conf/conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A decimal number within [lo, hi] spanning s[0..n). */
static bool number(const char *s, size_t n, int lo, int hi, int *v)
{
	long x = 0;

	if (n == 0 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	if (x < lo || x > hi)
		return false;
	*v = (int)x;
	return true;
}

const char *mp_state_spec_parse(const char *v, struct mp_state_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->port = 6379;
	if (strcmp(v, "memory") == 0) {
		sp->kind = MP_STATE_MEMORY;
		return NULL;
	}
	if (strncmp(v, "lmdb:", 5) == 0) {
		sp->kind = MP_STATE_LMDB;
		if (v[5] != '/')
			return "lmdb: takes an absolute path, as in lmdb:/var/lib/milter-policy/state.lmdb";
		if (strlen(v + 5) >= sizeof(sp->where))
			return "the path is too long";
		strcpy(sp->where, v + 5);
		return NULL;
	}
	if (strncmp(v, "redis+unix:", 11) == 0) {
		sp->kind = MP_STATE_UNIX;
		const char *path = v + 11, *q = strchr(path, '?');
		size_t pl = q != NULL ? (size_t)(q - path) : strlen(path);
		if (path[0] != '/' || pl < 2)
			return "redis+unix: takes an absolute socket path, as in redis+unix:/run/redis/redis.sock?db=1";
		if (pl >= sizeof(sp->where))
			return "the path is too long";
		memcpy(sp->where, path, pl);
		if (q != NULL && (strncmp(q, "?db=", 4) != 0 || !number(q + 4, strlen(q + 4), 0, 65535, &sp->db)))
			return "after the socket path only ?db=N (a database number)";
		return NULL;
	}
	if (strncmp(v, "redis://", 8) == 0) {
		sp->kind = MP_STATE_REDIS;
		const char *h = v + 8, *end;
		size_t hl;
		if (*h == '[') {
			end = strchr(h, ']');
			if (end == NULL)
				return "an IPv6 address in [] has no closing ']'";
			h++;
			hl = (size_t)(end - h);
			end++;
		} else {
			end = h + strcspn(h, ":/");
			hl = (size_t)(end - h);
		}
		if (hl == 0 || hl >= sizeof(sp->where))
			return "redis:// takes a host, as in redis://127.0.0.1:6379/0";
		memcpy(sp->where, h, hl);
		for (size_t i = 0; i < hl; i++) {
			unsigned char ch = (unsigned char)sp->where[i];
			if (ch <= ' ' || ch >= 0x7f || strchr("@?#", ch) != NULL)
				return "the host has a character hosts do not (a password goes in state_password_file)";
		}
		if (*end == ':') {
			const char *p = end + 1, *slash = strchr(p, '/');
			size_t pl = slash != NULL ? (size_t)(slash - p) : strlen(p);
			if (!number(p, pl, 1, 65535, &sp->port))
				return "the port is a number from 1 to 65535";
			end = p + pl;
		}
		if (*end == '/' && end[1] != '\0' &&
		    !number(end + 1, strlen(end + 1), 0, 65535, &sp->db))
			return "after the host and port only /DB (a database number)";
		if (*end != '\0' && *end != '/')
			return "expected redis://HOST:PORT/DB";
		return NULL;
	}
	return "expected memory, lmdb:PATH, redis://HOST:PORT/DB or redis+unix:/PATH?db=N";
}

