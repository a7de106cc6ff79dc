/*
 * probe - the lookups that decide set membership; see probe.h.
 */
#include "match/probe.h"

#include <string.h>

/* The value's last MP_PROBE_KEY_MAX bytes, lowercased: no key is longer,
 * and every key a name is probed with ends where the value ends. */
struct tail {
	char lc[MP_PROBE_KEY_MAX];
	size_t off;                /* lc[0] is value[off] */
	mp_probe_name_fn fn;
	void *arg;
};

static bool key(const struct tail *t, enum mp_probe_table table, size_t from, size_t to)
{
	if (from < t->off)
		return false; /* longer than any key */
	return t->fn(t->arg, table, t->lc + (from - t->off), to - from);
}

static bool domain(const struct tail *t, const char *value, size_t from, size_t to)
{
	while (to - from > 1 && value[to - 1] == '.')
		to--;
	if (to == from)
		return false;
	if (key(t, MP_PT_DOMAIN, from, to))
		return true;
	size_t i = t->off > from + 1 ? t->off - 1 : from;
	for (; i + 1 < to; i++) {
		if (value[i] == '.' && key(t, MP_PT_PARENT, i + 1, to))
			return true;
	}
	return false;
}

bool mp_probe_name(int kind, const char *value, size_t len, mp_probe_name_fn fn, void *arg)
{
	struct tail t;

	t.off = len > MP_PROBE_KEY_MAX ? len - MP_PROBE_KEY_MAX : 0;
	t.fn = fn;
	t.arg = arg;
	for (size_t i = t.off; i < len; i++) {
		char c = value[i];
		t.lc[i - t.off] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	switch (kind) {
	case MP_PROBE_ADDRESS: {
		if (key(&t, MP_PT_STRING, 0, len))
			return true;
		const char *at = memrchr(value, '@', len);
		return at != NULL && domain(&t, value, (size_t)(at - value) + 1, len);
	}
	case MP_PROBE_DOMAIN:
		return domain(&t, value, 0, len);
	case MP_PROBE_STRING:
		return key(&t, MP_PT_STRING, 0, len);
	default:
		return false;
	}
}

void mp_probe_lens_add(struct mp_probe_lens *l, bool v6, int prefix)
{
	if (v6)
		l->v6[prefix / 64] |= 1ULL << (prefix % 64);
	else
		l->v4 |= 1ULL << prefix;
}

bool mp_probe_ip(const struct mp_probe_lens *l, const struct mp_ip *ip, mp_probe_ip_fn fn,
		 void *arg)
{
	int max = ip->v6 ? 128 : 32;

	for (int p = max; p >= 0; p--) {
		uint64_t set = ip->v6 ? l->v6[p / 64] : l->v4;
		if (!(set >> (ip->v6 ? p % 64 : p) & 1))
			continue;
		struct mp_ip m = *ip;
		mp_ip_mask(&m, p);
		if (fn(arg, p, &m))
			return true;
	}
	return false;
}
