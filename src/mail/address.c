/*
 * address - envelope addresses and RFC 5322 address lists; see address.h.
 *
 * The list parser never fails on bad syntax: it finds what a mail reader
 * would show as the address, and marks what is not a clean mailbox as
 * malformed (two angle addresses in one mailbox, a stray or open angle
 * bracket, an open quote or comment, no domain, an address longer than
 * MP_ADDR_MAX). It reads the raw field: RFC 2047 encoded words are display
 * text and never address syntax (SPEC §8). Tokens: quoted strings,
 * comments (nested, skipped), the specials < > , : ; and runs of anything
 * else. Linear in the value (at most two passes).
 */
#include "mail/address.h"

#include "util/arena.h"

#include <stdbool.h>
#include <string.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *mp_addr_envelope(const char *arg, size_t *len_r)
{
	const char *s = arg ? arg : "";
	size_t len = strlen(s);

	while (len > 0 && is_ws(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_ws(s[len - 1]))
		len--;
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	} else if (len >= 1 && s[0] == '<') {
		/* "<a@b> SIZE=..." from some MTAs: cut at the '>' */
		const char *gt = memchr(s, '>', len);
		s++;
		len = gt ? (size_t)(gt - s) : len - 1;
	}
	/* source route: @a,@b:user@dom */
	if (len > 0 && s[0] == '@') {
		const char *colon = memchr(s, ':', len);
		if (colon != NULL) {
			len -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
	}
	*len_r = len;
	return s;
}

size_t mp_addr_domain_offset(const char *addr, size_t len)
{
	bool quoted = false;
	size_t at = len;

	for (size_t i = 0; i < len; i++) {
		if (addr[i] == '\\' && quoted) {
			i++;
		} else if (addr[i] == '"') {
			quoted = !quoted;
		} else if (addr[i] == '@' && !quoted) {
			at = i;
		}
	}
	return at < len ? at + 1 : len;
}

struct lp {
	const char *p, *end;
	struct mp_arena *arena;
	struct mp_mailbox *out;
	size_t max, found;
	bool oom;
	bool plain;   /* quotes and comments are ordinary characters (second pass) */
	bool unbalanced; /* a quote, comment or angle bracket left open */
	/* current mailbox */
	char buf[MP_ADDR_MAX];
	size_t blen;
	char angle[MP_ADDR_MAX];
	size_t alen;
	bool in_angle, had_angle;
	bool bad, next_bad; /* this mailbox, and the one after it, are malformed */
	bool in_group;      /* after "name:", before ';' */
	bool dropped;       /* words before the last were dropped (a bare display name) */
	bool broken;        /* the list's structure is broken: every mailbox from here is malformed */
	bool too_long;
	bool space;   /* whitespace or a comment since the last token */
};

static void add_to(struct lp *x, char *buf, size_t *len, const char *s, size_t n)
{
	if (*len + n >= MP_ADDR_MAX) {
		n = MP_ADDR_MAX - 1 - *len;
		x->too_long = true;
	}
	memcpy(buf + *len, s, n);
	*len += n;
}

static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Whether a found address is a clean mailbox: a local part of atoms and
 * quoted strings joined by dots, an '@' and a domain of labels (or an
 * address literal in brackets). */
static bool clean_addr(const char *a, size_t len, size_t dom)
{
	if (dom >= len || dom < 2)
		return false; /* no '@', no domain or no local part */
	size_t ll = dom - 1;
	if (a[0] == '.' || a[ll - 1] == '.')
		return false;
	for (size_t i = 0; i < ll; i++) {
		if (a[i] == '"') {
			for (i++; i < ll && a[i] != '"'; i++)
				if (a[i] == '\\')
					i++;
			if (i >= ll)
				return false;
		} else if (a[i] == '.' ? a[i + 1] == '.' : !atext((unsigned char)a[i])) {
			return false;
		}
	}
	const char *d = a + dom;
	size_t dl = len - dom;
	if (d[0] == '[')
		return d[dl - 1] == ']';
	if (d[0] == '.' || d[dl - 1] == '.')
		return false;
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c <= ' ' || c == 0x7f || strchr("()<>[]:;@\\,\"", c) != NULL ||
		    (c == '.' && d[i + 1] == '.'))
			return false;
	}
	return true;
}

static void emit(struct lp *x)
{
	const char *a = x->had_angle ? x->angle : x->buf;
	size_t len = x->had_angle ? x->alen : x->blen;

	if (x->had_angle) {
		/* drop a source route inside the angle brackets */
		if (len > 0 && a[0] == '@') {
			const char *colon = memchr(a, ':', len);
			if (colon != NULL) {
				len -= (size_t)(colon + 1 - a);
				a = colon + 1;
			}
		}
	}
	if (len > 0 || x->had_angle) {
		if (x->found < x->max) {
			struct mp_mailbox *m = &x->out[x->found];
			m->addr = mp_arena_strndup(x->arena, a, len);
			if (m->addr == NULL)
				x->oom = true;
			m->len = len;
			m->domain = mp_addr_domain_offset(a, len);
			m->flags = 0;
			if (x->bad || x->broken || x->plain || x->in_angle || x->too_long ||
			    (x->dropped && !x->had_angle) ||
			    !clean_addr(a, len, m->domain))
				m->flags |= MP_MB_MALFORMED;
			if (x->too_long)
				m->flags |= MP_MB_TOO_LONG;
		}
		x->found++;
	}
	x->blen = x->alen = 0;
	x->had_angle = x->in_angle = x->space = x->too_long = x->dropped = false;
	x->bad = x->next_bad;
	x->next_bad = false;
}

/* Outside angle brackets, words separated by space are a display name
 * written without brackets ("Alice alice@example.com"): keep the last
 * word, unless the space sits next to a '.' or '@' (obsolete spaced
 * addr-spec). */
static void add_word(struct lp *x, const char *s, size_t n)
{
	if (x->space && x->blen > 0 && x->buf[x->blen - 1] != '.' &&
	    x->buf[x->blen - 1] != '@' && s[0] != '.' && s[0] != '@') {
		/* without an angle address to follow, not RFC 5322 syntax:
		 * a reader may show either word */
		x->blen = 0;
		x->dropped = true;
	}
	add_to(x, x->buf, &x->blen, s, n);
}

/* Skips a comment at x->p (nested, with quoted pairs). */
static void skip_comment(struct lp *x)
{
	int depth = 0;

	for (; x->p < x->end; x->p++) {
		if (*x->p == '\\' && x->p + 1 < x->end) {
			x->p++;
		} else if (*x->p == '(') {
			depth++;
		} else if (*x->p == ')' && --depth == 0) {
			x->p++;
			return;
		}
	}
	x->unbalanced = true;
}

/* One pass over the value; see mp_addr_parse_list. */
static void parse_pass(struct lp *x)
{
	while (x->p < x->end) {
		char c = *x->p;
		if (is_ws(c)) {
			x->p++;
			x->space = true;
			continue;
		} else if (c == '(' && !x->plain) {
			x->space = true;
			skip_comment(x);
			continue;
		} else if (c == '"' && !x->plain) {
			const char *start = x->p++;
			while (x->p < x->end && *x->p != '"') {
				if (*x->p == '\\' && x->p + 1 < x->end)
					x->p++;
				x->p++;
			}
			if (x->p < x->end)
				x->p++;
			else
				x->unbalanced = true;
			if (x->in_angle)
				add_to(x, x->angle, &x->alen, start, (size_t)(x->p - start));
			else
				add_word(x, start, (size_t)(x->p - start));
		} else if (c == '<') {
			if (x->in_angle) {
				/* '<' inside an angle address */
				x->bad = true;
				x->alen = 0;
			} else if (x->had_angle) {
				/* a second angle address in one mailbox: both are
				 * reported, neither is trusted */
				x->bad = true;
				emit(x);
				x->bad = true;
			}
			x->in_angle = x->had_angle = true;
			x->alen = 0;
			x->p++;
		} else if (c == '>') {
			if (!x->in_angle)
				x->bad = true;
			x->in_angle = false;
			x->p++;
		} else if ((c == ',' || c == ';') && !x->in_angle) {
			/* ';' ends a group; anywhere else it breaks the list */
			if (c == ';' && !x->in_group)
				x->bad = x->broken = true;
			emit(x);
			if (c == ';')
				x->in_group = false;
			x->p++;
		} else if (c == ':' && !x->in_angle) {
			/* "group:" - what came before is the group's name, which
			 * must be a phrase; a group inside a group breaks the list */
			for (size_t i = 0; i < x->blen; i++) {
				unsigned char g = (unsigned char)x->buf[i];
				if (g != '"' && g != '.' && g != ' ' && !atext(g))
					x->broken = true;
			}
			if (x->in_group || x->had_angle)
				x->broken = true;
			x->in_group = true;
			x->blen = 0;
			x->dropped = false;
			x->p++;
		} else {
			const char *start = x->p;
			const char *stops = x->plain ? "<>,;:" : "()\"<>,;:";
			while (x->p < x->end && !is_ws(*x->p) && strchr(stops, *x->p) == NULL)
				x->p++;
			if (x->p == start)
				x->p++; /* ':' inside angle brackets (source route) */
			if (x->in_angle)
				add_to(x, x->angle, &x->alen, start, (size_t)(x->p - start));
			else
				add_word(x, start, (size_t)(x->p - start));
		}
		x->space = false;
	}
	if (x->in_angle)
		x->unbalanced = true;
	emit(x);
}

static void lp_init(struct lp *x, const char *value, size_t len, struct mp_arena *arena,
		    struct mp_mailbox *out, size_t max, bool plain)
{
	memset(x, 0, sizeof(*x));
	x->p = value;
	x->end = value + len;
	x->arena = arena;
	x->out = out;
	x->max = max;
	x->plain = plain;
}

int mp_addr_parse_list(const char *value, size_t len, struct mp_arena *arena,
		       struct mp_mailbox *out, size_t max)
{
	struct lp x;

	lp_init(&x, value, len, arena, out, max, false);
	parse_pass(&x);
	if (x.unbalanced && !x.oom) {
		/* an open quote or comment would hide what follows it: parse
		 * again with quotes and comments as plain characters, so every
		 * address a reader might see is there, all malformed */
		lp_init(&x, value, len, arena, out, max, true);
		parse_pass(&x);
	}
	if (x.oom)
		return -1;
	return x.found > (size_t)0x7fffffff ? 0x7fffffff : (int)x.found;
}
