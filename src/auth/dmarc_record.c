/*
 * dmarc_record - the DMARC record (RFC 7489 §6.3): tag=value pairs
 * separated by ';', v=DMARC1 first. Tags and keyword values compare
 * without ASCII case; spaces around tags, '=' and ';' are allowed. A bad
 * value of an optional tag leaves its default; a bad or missing p= makes
 * the record invalid unless rua= names a reporting URI, when it reads as
 * p=none (§6.6.3 step 6).
 */
#include "auth/dmarc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const policy_names[] = { "none", "quarantine", "reject" };

const char *mp_dmarc_policy_name(enum mp_dmarc_policy p)
{
	return (unsigned)p < 3 ? policy_names[p] : "none";
}

int mp_dmarc_policy_parse(const char *s, size_t len)
{
	for (int i = 0; i < 3; i++) {
		if (strlen(policy_names[i]) == len && strncasecmp(s, policy_names[i], len) == 0)
			return i;
	}
	return -1;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* [s, e) without surrounding whitespace. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ws(**s))
		(*s)++;
	while (*e > *s && is_ws((*e)[-1]))
		(*e)--;
}

static bool tag_is(const char *t, size_t tl, const char *name)
{
	return strlen(name) == tl && strncasecmp(t, name, tl) == 0;
}

/* The first tag=value pair of [p, end): tag and value trimmed; *next after
 * the ';'. false when the part has no '='. */
static bool next_pair(const char **p, const char *end, const char **t, size_t *tl,
		      const char **v, size_t *vl)
{
	const char *semi = memchr(*p, ';', (size_t)(end - *p));
	const char *stop = semi ? semi : end;
	const char *eq = memchr(*p, '=', (size_t)(stop - *p));
	const char *ts = *p, *te = eq ? eq : stop;

	*p = semi ? semi + 1 : end;
	if (eq == NULL)
		return false;
	const char *vs = eq + 1, *ve = stop;
	trim(&ts, &te);
	trim(&vs, &ve);
	*t = ts;
	*tl = (size_t)(te - ts);
	*v = vs;
	*vl = (size_t)(ve - vs);
	return true;
}

bool mp_dmarc_is_record(const char *txt, size_t len)
{
	const char *p = txt, *t, *v;
	size_t tl, vl;

	/* "v" first, without leading space; the value exactly DMARC1 (the
	 * RFC's ABNF spells it in hex: case-sensitive) */
	return len > 0 && (txt[0] == 'v' || txt[0] == 'V') &&
	       next_pair(&p, txt + len, &t, &tl, &v, &vl) && tag_is(t, tl, "v") && vl == 6 &&
	       memcmp(v, "DMARC1", 6) == 0;
}

/* A reporting URI: scheme ':' something, an optional !size after it. */
static bool uri_ok(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL || colon == s || colon + 1 == s + len)
		return false;
	for (const char *c = s; c < colon; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (c > s && ((*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))))
			return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

static void parse_rua(struct mp_dmarc_record *r, const char *v, size_t vl)
{
	const char *p = v, *end = v + vl;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *s = p, *e = comma ? comma : end;
		p = comma ? comma + 1 : end;
		trim(&s, &e);
		size_t l = (size_t)(e - s);
		if (l > 0 && l < MP_DMARC_URI_MAX && uri_ok(s, l) && r->n_rua < MP_DMARC_MAX_RUA) {
			memcpy(r->rua[r->n_rua], s, l);
			r->rua[r->n_rua][l] = '\0';
			r->n_rua++;
		}
	}
}

/* A decimal in [lo, hi]; -1 otherwise. */
static long number(const char *v, size_t vl, long lo, long hi)
{
	long n = 0;

	if (vl == 0 || vl > 10)
		return -1;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n >= lo && n <= hi ? n : -1;
}

int mp_dmarc_record_parse(const char *txt, size_t len, struct mp_dmarc_record *r)
{
	const char *p = txt, *end = txt + len, *t, *v;
	size_t tl, vl;
	bool p_ok = false, sp_bad = false;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	r->ri = 86400;
	if (!next_pair(&p, end, &t, &tl, &v, &vl) || !tag_is(t, tl, "v"))
		return -1;
	while (p < end) {
		if (!next_pair(&p, end, &t, &tl, &v, &vl))
			continue;
		int pol;
		long n;
		if (tag_is(t, tl, "p")) {
			pol = mp_dmarc_policy_parse(v, vl);
			if (pol >= 0) {
				r->p = (enum mp_dmarc_policy)pol;
				p_ok = true;
			}
		} else if (tag_is(t, tl, "sp")) {
			pol = mp_dmarc_policy_parse(v, vl);
			if (pol >= 0) {
				r->sp = (enum mp_dmarc_policy)pol;
				r->has_sp = true;
			} else {
				sp_bad = true;
			}
		} else if (tag_is(t, tl, "np")) {
			pol = mp_dmarc_policy_parse(v, vl);
			if (pol >= 0) {
				r->np = (enum mp_dmarc_policy)pol;
				r->has_np = true;
			}
		} else if (tag_is(t, tl, "adkim") || tag_is(t, tl, "aspf")) {
			bool *strict = tag_is(t, tl, "adkim") ? &r->strict_dkim : &r->strict_spf;
			if (vl == 1 && (v[0] == 's' || v[0] == 'S'))
				*strict = true;
			else if (vl == 1 && (v[0] == 'r' || v[0] == 'R'))
				*strict = false;
		} else if (tag_is(t, tl, "pct")) {
			if ((n = number(v, vl, 0, 100)) >= 0)
				r->pct = (unsigned)n;
		} else if (tag_is(t, tl, "ri")) {
			if ((n = number(v, vl, 1, 4294967295L)) >= 0)
				r->ri = (unsigned)n;
		} else if (tag_is(t, tl, "rua")) {
			parse_rua(r, v, vl);
		}
		/* fo, rf, ruf and unknown tags: not ours to act on */
	}
	if (!p_ok || sp_bad) {
		if (r->n_rua == 0)
			return -1;
		r->p = r->sp = r->np = MP_DMARC_P_NONE;
		r->has_sp = r->has_np = false;
		r->p_assumed = true;
	}
	if (!r->has_sp)
		r->sp = r->p;
	if (!r->has_np)
		r->np = r->sp;
	return 0;
}
