/*
 * address - envelope addresses and RFC 5322 address lists; see address.h.
 *
 * The list parser is forgiving: it never fails on bad syntax, it finds what
 * a mail reader would show as the address. Tokens: quoted strings, comments
 * (nested, skipped), the specials < > , : ; and runs of anything else.
 */
#include "mail/address.h"

#include "util/arena.h"

#include <stdbool.h>
#include <string.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t mp_addr_envelope(const char *arg, char *out)
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
	if (len >= MP_ADDR_MAX)
		len = MP_ADDR_MAX - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	return len;
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
	/* current mailbox */
	char buf[MP_ADDR_MAX];
	size_t blen;
	char angle[MP_ADDR_MAX];
	size_t alen;
	bool in_angle, had_angle;
	bool space;   /* whitespace or a comment since the last token */
};

static void add_to(char *buf, size_t *len, const char *s, size_t n)
{
	if (*len + n >= MP_ADDR_MAX)
		n = MP_ADDR_MAX - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
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
	if (len > 0) {
		if (x->found < x->max) {
			struct mp_mailbox *m = &x->out[x->found];
			m->addr = mp_arena_strndup(x->arena, a, len);
			if (m->addr == NULL)
				x->oom = true;
			m->len = len;
			m->domain = mp_addr_domain_offset(a, len);
		}
		x->found++;
	}
	x->blen = x->alen = 0;
	x->had_angle = x->in_angle = x->space = false;
}

/* Outside angle brackets, words separated by space are a display name
 * written without brackets ("Alice alice@example.com"): keep the last
 * word, unless the space sits next to a '.' or '@' (obsolete spaced
 * addr-spec). */
static void add_word(struct lp *x, const char *s, size_t n)
{
	if (x->space && x->blen > 0 && x->buf[x->blen - 1] != '.' &&
	    x->buf[x->blen - 1] != '@' && s[0] != '.' && s[0] != '@')
		x->blen = 0;
	add_to(x->buf, &x->blen, s, n);
}

int mp_addr_parse_list(const char *value, size_t len, struct mp_arena *arena,
		       struct mp_mailbox *out, size_t max)
{
	struct lp x;

	memset(&x, 0, sizeof(x));
	x.p = value;
	x.end = value + len;
	x.arena = arena;
	x.out = out;
	x.max = max;
	while (x.p < x.end) {
		char c = *x.p;
		if (is_ws(c)) {
			x.p++;
			x.space = true;
			continue;
		} else if (c == '(') {
			x.space = true;
			int depth = 0;
			for (; x.p < x.end; x.p++) {
				if (*x.p == '\\' && x.p + 1 < x.end) {
					x.p++;
				} else if (*x.p == '(') {
					depth++;
				} else if (*x.p == ')' && --depth == 0) {
					x.p++;
					break;
				}
			}
			continue;
		} else if (c == '"') {
			const char *start = x.p++;
			while (x.p < x.end && *x.p != '"') {
				if (*x.p == '\\' && x.p + 1 < x.end)
					x.p++;
				x.p++;
			}
			if (x.p < x.end)
				x.p++;
			if (x.in_angle)
				add_to(x.angle, &x.alen, start, (size_t)(x.p - start));
			else
				add_word(&x, start, (size_t)(x.p - start));
		} else if (c == '<') {
			x.in_angle = x.had_angle = true;
			x.alen = 0;
			x.p++;
		} else if (c == '>') {
			x.in_angle = false;
			x.p++;
		} else if ((c == ',' || c == ';') && !x.in_angle) {
			emit(&x);
			x.p++;
		} else if (c == ':' && !x.in_angle) {
			/* "group:" - what came before is the group's name */
			x.blen = 0;
			x.p++;
		} else {
			const char *start = x.p;
			while (x.p < x.end && !is_ws(*x.p) && strchr("()\"<>,;:", *x.p) == NULL)
				x.p++;
			if (x.p == start)
				x.p++; /* ':' inside angle brackets (source route) */
			if (x.in_angle)
				add_to(x.angle, &x.alen, start, (size_t)(x.p - start));
			else
				add_word(&x, start, (size_t)(x.p - start));
		}
		x.space = false;
	}
	emit(&x);
	if (x.oom)
		return -1;
	return x.found > (size_t)0x7fffffff ? 0x7fffffff : (int)x.found;
}
