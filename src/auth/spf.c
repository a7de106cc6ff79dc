/*
 * spf - SPF checks (RFC 7208) with libspf2 over the project's DNS module.
 *
 * One SPF_server_t with a custom DNS layer is shared by all threads. Each
 * check runs synchronously in the calling thread; the layer finds the
 * check's DNS object, counters and deadline through a thread-local pointer
 * that is set only for the duration of mp_spf_check.
 *
 * libspf2 1.2.10 as shipped by Debian lacks the fix for CVE-2023-42118 and
 * overflows a stack buffer when it compiles a term with many macros (an
 * explanation of ~127 %{d} and some text smashes the stack). SPF records
 * come from untrusted DNS, so:
 * - libspf2 never fetches or compiles an explanation: the layer's get_exp
 *   hook answers with a fixed text (our replies come from the rules);
 * - only SPF records ("v=spf1") reach it, at most 32 per answer, each at
 *   most 4096 bytes in at most 64 strings, without NUL, with every '%'
 *   starting a macro of RFC 7208 §7.1 syntax (at most 3 digits, value at
 *   most 128);
 * - every term of a record is bounded in what libspf2 compiles of it (at
 *   most MAX_TERM_MACROS macros and MAX_TERM_COMPILED bytes by libspf2's
 *   own accounting, half of its 511-byte buffers) and in what it expands
 *   to with this check's values (MAX_TERM_EXPANDED bytes).
 * A record that breaks a bound is replaced by one that is a certain
 * permerror. The obsolete SPF RR type (99) is answered "no data" without
 * a query.
 *
 * libspf2 also truncates macros wrongly: %{l2} of "user.name" gives
 * "ser.name", and explicit delimiters (%{l1r-}) are ignored; and its
 * URL-encoding (uppercase macro letters) is where CVE-2021-20314 lived. So
 * a macro with a digit transformer, delimiters or an uppercase letter is
 * expanded here, by RFC 7208 §7.3, before the record reaches libspf2 (the
 * letters s, l, o, d, i, h, v; d is the domain whose record is being
 * fetched). An expansion that would bring anything but letters, digits,
 * '.', '-' and '_' into the record (the sender chooses l) makes it a
 * permerror instead. Plain macros stay with libspf2, which gets them right.
 *
 * Limits of the evaluation, enforced in the layer as queries come (SPEC §8,
 * RFC 7208 §4.6.4): more than two void lookups stop all further queries
 * (permerror), as do more than MAX_QUERIES queries in all; an overall
 * deadline (the caller's, dns_timeout) bounds the whole check, each query
 * waiting at most what is left of it (temperror). Each of these is a limit
 * the caller is told about. A query that fails on its own (a dead or
 * failing server, given its whole dns_timeout) is a plain DNS failure:
 * temperror, no limit, and no further queries.
 *
 * Results libspf2 leaves INVALID are mapped as RFC 7208 says: a DNS
 * failure is temperror; a record that does not compile or too many DNS
 * mechanisms are permerror. A loopback client, which libspf2 passes
 * unchecked, is none.
 */
#include "auth/spf.h"

#include "dns/dns.h"
#include "util/buf.h"
#include "util/file.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TXT_MAX_RECORDS 32
#define TXT_MAX_BYTES 4096
#define TXT_MAX_STRINGS 64
#define MAX_VOID_LOOKUPS 2
#define MAX_QUERIES 100          /* 10 mechanisms, each up to 10 names, and the records */
#define MAX_TERM_MACROS 32
#define MAX_TERM_COMPILED 255    /* libspf2's buffers hold 511 */
#define MAX_TERM_EXPANDED 2048
#define FIXED_EXPLANATION "rejected by SPF policy"
/* An SPF record libspf2 cannot compile: a certain permerror. */
#define REFUSED_RECORD "v=spf1 ip4:"

struct mp_spf {
	SPF_server_t *server;
	SPF_dns_server_t layer;
	char receiver[256];
};

struct run {
	struct mp_dns *dns;
	const char *ip;    /* client address as text */
	bool v6;
	const char *helo;
	const char *sender; /* s, l and o */
	const char *local;
	const char *sdomain;
	int lookups;       /* queries made */
	int voids;         /* void answers after the first record lookup */
	bool oom;
	struct timespec deadline;
	unsigned query_ms; /* what one query may take (dns_timeout) */
	bool timed_out;    /* the deadline passed: no more queries */
	bool dns_failed;   /* a query failed on its own: temperror, no limit */
	bool too_many;     /* void or query limit: no more queries */
};

static __thread struct run *current;

/* RFC 7208 §7.1 macro syntax; false on anything else. */
static bool macros_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%')
			continue;
		if (++i >= len)
			return false;
		if (s[i] == '%' || s[i] == '_' || s[i] == '-')
			continue;
		if (s[i] != '{' || ++i >= len)
			return false;
		if (strchr("slodiphcrtvSLODIPHCRTV", s[i]) == NULL)
			return false;
		i++;
		size_t digits = 0;
		unsigned val = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			val = val * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3)
				return false;
			i++;
		}
		if (digits > 0 && (val == 0 || val > 128))
			return false;
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < len && strchr(".-+,/_=", s[i]) != NULL)
			i++;
		if (i >= len || s[i] != '}')
			return false;
	}
	return true;
}

/* The value of a macro letter for this check; NULL when not known here. */
static const char *macro_value(const struct run *r, char letter, const char *domain, char *buf,
			       size_t len)
{
	switch (letter | 0x20) {
	case 's': return r->sender;
	case 'l': return r->local;
	case 'o': return r->sdomain;
	case 'd': return domain;
	case 'h': return r->helo;
	case 'v': return r->v6 ? "ip6" : "in-addr";
	case 'i':
		if (!r->v6)
			return r->ip;
		{
			/* IPv6: 32 dot-separated nibbles */
			struct in6_addr a;
			if (inet_pton(AF_INET6, r->ip, &a) != 1 || len < 64)
				return NULL;
			size_t o = 0;
			for (int k = 0; k < 16; k++)
				o += (size_t)snprintf(buf + o, len - o, "%x.%x.", a.s6_addr[k] >> 4,
						      a.s6_addr[k] & 15);
			buf[o - 1] = '\0';
			return buf;
		}
	default: return NULL;
	}
}

/* RFC 7208 §7.3: split value at the delimiters, reverse if asked, keep the
 * rightmost digits parts, join with dots, URL-escape for an uppercase
 * letter. -1 when the result would not be safe in a record. */
static int expand_macro(const char *value, const char *delims, unsigned digits, bool reverse,
			bool upper, struct mp_buf *out)
{
	const char *parts[128];
	size_t lens[128], n = 0;
	const char *p = value;

	for (;;) {
		size_t l = strcspn(p, delims);
		if (n == 128)
			return -1;
		parts[n] = p;
		lens[n++] = l;
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	if (reverse) {
		for (size_t i = 0; i < n / 2; i++) {
			const char *tp = parts[i];
			size_t tl = lens[i];
			parts[i] = parts[n - 1 - i];
			lens[i] = lens[n - 1 - i];
			parts[n - 1 - i] = tp;
			lens[n - 1 - i] = tl;
		}
	}
	size_t first = digits > 0 && digits < n ? n - digits : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			mp_buf_addc(out, '.');
		for (size_t k = 0; k < lens[i]; k++) {
			unsigned char c = (unsigned char)parts[i][k];
			bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
			if (!safe && !(upper && c < 0x80 && c > ' '))
				return -1;
			if (safe)
				mp_buf_addc(out, (char)c);
			else
				mp_buf_printf(out, "%%%02X", c); /* escaped: still safe */
		}
	}
	return 0;
}

/* Expands in place the macros of text that libspf2 would get wrong (those
 * with digits or delimiters) or that it would URL-encode (uppercase). 1
 * rewritten (in out), 0 nothing to do, -1
 * not safely expandable. */
static int rewrite_macros(const struct run *r, const char *domain, const char *text,
			  struct mp_buf *out)
{
	bool changed = false;

	for (const char *p = text; *p; p++) {
		if (p[0] != '%' || p[1] != '{') {
			if (p[0] == '%' && p[1] != '\0') {
				mp_buf_add(out, p, 2); /* %%, %_, %- */
				p++;
			} else {
				mp_buf_addc(out, *p);
			}
			continue;
		}
		/* %{ letter digits [r] delims } - syntax already checked */
		const char *q = p + 2;
		char letter = *q++;
		unsigned digits = 0;
		while (*q >= '0' && *q <= '9')
			digits = digits * 10 + (unsigned)(*q++ - '0');
		bool reverse = *q == 'r' || *q == 'R';
		if (reverse)
			q++;
		const char *dstart = q;
		while (*q != '}')
			q++;
		size_t nd = (size_t)(q - dstart);
		bool upper = letter >= 'A' && letter <= 'Z';
		if (digits == 0 && nd == 0 && !upper) {
			mp_buf_add(out, p, (size_t)(q - p) + 1);
			p = q;
			continue;
		}
		char delims[16] = ".", ibuf[80];
		if (nd > 0)
			snprintf(delims, sizeof(delims), "%.*s", (int)(nd < 15 ? nd : 15), dstart);
		const char *value = macro_value(r, letter, domain, ibuf, sizeof(ibuf));
		if (value == NULL ||
		    expand_macro(value, delims, digits, reverse, upper, out) < 0)
			return -1;
		changed = true;
		p = q;
	}
	return changed ? 1 : 0;
}

static bool is_spf_record(const char *s)
{
	return strncasecmp(s, "v=spf1", 6) == 0 && (s[6] == ' ' || s[6] == '\0');
}

/* Longest value a macro letter can have in this check (uppercase letters
 * are URL-encoded by libspf2: up to three bytes each). */
static size_t macro_max_len(const struct run *r, char letter, const char *domain)
{
	char buf[80];
	const char *v = macro_value(r, letter, domain, buf, sizeof(buf));
	size_t n = v != NULL ? strlen(v) : 255; /* p, r, c, t: names, an address, a time */

	return letter >= 'A' && letter <= 'Z' ? 3 * n : n;
}

/* Whether every term of an SPF record stays within what libspf2 compiles
 * and expands safely (see the top of the file); syntax already checked. */
static bool terms_bounded(const struct run *r, const char *domain, const char *rec, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && rec[i] == ' ')
			i++;
		size_t macros = 0, compiled = 8, expanded = 0, literal = 0;
		for (; i < len && rec[i] != ' '; i++) {
			if (rec[i] != '%') {
				literal++;
				continue;
			}
			if (rec[i + 1] != '{') {
				literal += 3; /* %% %_ %-, at most three bytes */
				i++;
				continue;
			}
			/* a literal run before the macro: 4 bytes of header, aligned */
			if (literal > 0)
				compiled += 4 + ((literal + 3) & ~(size_t)3);
			expanded += literal;
			literal = 0;
			macros++;
			compiled += 4;
			expanded += macro_max_len(r, rec[i + 2], domain);
			while (i < len && rec[i] != '}')
				i++;
		}
		if (literal > 0)
			compiled += 4 + ((literal + 3) & ~(size_t)3);
		expanded += literal;
		if (macros > MAX_TERM_MACROS || compiled > MAX_TERM_COMPILED ||
		    expanded > MAX_TERM_EXPANDED)
			return false;
	}
	return true;
}

/* Whether a TXT record may reach libspf2. */
static bool txt_ok(const struct mp_dns_rr *rr)
{
	return rr->len <= TXT_MAX_BYTES && rr->n_strings <= TXT_MAX_STRINGS &&
	       memchr(rr->data, '\0', rr->len) == NULL && macros_ok(rr->data, rr->len);
}

static int herrno_of(enum mp_dns_status st)
{
	switch (st) {
	case MP_DNS_OK: return NETDB_SUCCESS;
	case MP_DNS_NXDOMAIN: return HOST_NOT_FOUND;
	case MP_DNS_NODATA: return NO_DATA;
	default: return TRY_AGAIN;
	}
}

/* Appends one RR's data to spfrr; false when out of memory. */
static bool add_rr(SPF_dns_rr_t *spfrr, ns_type type, const void *data, size_t len)
{
	int idx = spfrr->num_rr;

	if (SPF_dns_rr_buf_realloc(spfrr, idx, len + 1) != SPF_E_SUCCESS)
		return false;
	memcpy(spfrr->rr[idx], data, len);
	((char *)spfrr->rr[idx])[len] = '\0';
	spfrr->num_rr = idx + 1;
	return true;
}

/* Milliseconds left before r's deadline; 0 when it has passed. */
static unsigned ms_left(const struct run *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(r->deadline.tv_sec - now.tv_sec) * 1000 +
		       (r->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (unsigned)(ms > 3600000 ? 3600000 : ms) : 0;
}

/* Adds one TXT answer record to spfrr if it is an SPF record within the
 * bounds; a record past them becomes a certain permerror, any other TXT
 * record is left out. false when out of memory. */
static bool add_txt(struct run *r, SPF_dns_rr_t *spfrr, const char *domain,
		    const struct mp_dns_rr *rr)
{
	if (spfrr->num_rr >= TXT_MAX_RECORDS || !is_spf_record(rr->data))
		return true;
	struct mp_buf fixed;
	mp_buf_init(&fixed);
	int rw = txt_ok(rr) ? rewrite_macros(r, domain, rr->data, &fixed) : -1;
	if (fixed.oom)
		rw = -1, r->oom = true;
	const char *text = rw == 1 ? fixed.p : rr->data;
	size_t len = rw == 1 ? fixed.len : rr->len;
	bool ok;
	if (rw >= 0 && len <= TXT_MAX_BYTES && terms_bounded(r, domain, text, len))
		ok = add_rr(spfrr, ns_t_txt, text, len);
	else
		ok = add_rr(spfrr, ns_t_txt, REFUSED_RECORD, strlen(REFUSED_RECORD));
	mp_buf_free(&fixed);
	return ok;
}

/* The layer's lookup. It must never return NULL: libspf2 aborts. Once a
 * limit is reached every further query is answered here, at once. */
static SPF_dns_rr_t *lookup(SPF_dns_server_t *server, const char *domain, ns_type type,
			    int should_cache)
{
	struct run *r = current;
	struct mp_dns_answer ans;
	SPF_dns_rr_t *spfrr;

	if (type == ns_t_spf || r == NULL || r->oom || r->too_many || r->timed_out || r->dns_failed)
		return SPF_dns_rr_new_init(server, domain, type, 0,
					   r == NULL || r->oom || r->timed_out || r->dns_failed
					   ? TRY_AGAIN : NO_DATA);
	unsigned left = ms_left(r);
	if (left == 0 || r->lookups >= MAX_QUERIES) {
		r->timed_out = left == 0;
		r->too_many = left != 0;
		return SPF_dns_rr_new_init(server, domain, type, 0, r->timed_out ? TRY_AGAIN : NO_DATA);
	}
	if (mp_dns_query_within(r->dns, domain, (uint16_t)type, &ans, left) < 0) {
		r->oom = true;
		return SPF_dns_rr_new_init(server, domain, type, 0, TRY_AGAIN);
	}
	/* a query cut short by the deadline is the time limit; one that
	 * failed with all its time (a dead server) is a DNS failure */
	if (ans.status == MP_DNS_TEMPFAIL) {
		if (left < r->query_ms && ms_left(r) == 0)
			r->timed_out = true;
		else
			r->dns_failed = true;
	}
	bool first = r->lookups++ == 0;
	if (!first && (ans.status == MP_DNS_NXDOMAIN || ans.status == MP_DNS_NODATA) &&
	    ++r->voids > MAX_VOID_LOOKUPS)
		r->too_many = true;
	spfrr = SPF_dns_rr_new_init(server, domain, type, 300, herrno_of(ans.status));
	if (spfrr == NULL) {
		/* libspf2 could not allocate: nothing sane is left to return */
		mp_dns_answer_clear(&ans);
		r->oom = true;
		return SPF_dns_rr_new_init(server, domain, type, 0, TRY_AGAIN);
	}
	for (size_t i = 0; ans.status == MP_DNS_OK && i < ans.n; i++) {
		const struct mp_dns_rr *rr = &ans.rr[i];
		bool ok = true;
		switch (type) {
		case ns_t_a:
		case ns_t_aaaa:
		case ns_t_mx:
		case ns_t_ptr:
			ok = add_rr(spfrr, type, rr->data, rr->len);
			break;
		case ns_t_txt:
			ok = add_txt(r, spfrr, domain, rr);
			break;
		default:
			break;
		}
		if (!ok)
			r->oom = true;
	}
	if (ans.status == MP_DNS_OK && spfrr->num_rr == 0)
		spfrr->herrno = NO_DATA;
	mp_dns_answer_clear(&ans);
	return spfrr;
}

/* libspf2 asks for the explanation of a fail here instead of fetching and
 * compiling the exp= record: it gets a fixed text. */
static SPF_errcode_t no_exp(SPF_server_t *server, const char *domain, char **bufp, size_t *lenp)
{
	size_t need = sizeof(FIXED_EXPLANATION);

	if (*bufp == NULL || *lenp < need) {
		char *p = realloc(*bufp, need);
		if (p == NULL)
			return SPF_E_NO_MEMORY;
		*bufp = p;
		*lenp = need;
	}
	memcpy(*bufp, FIXED_EXPLANATION, need);
	return SPF_E_SUCCESS;
}

struct mp_spf *mp_spf_new(const char *receiver)
{
	struct mp_spf *s = calloc(1, sizeof(*s));
	SPF_response_t *resp = NULL;

	if (s == NULL)
		return NULL;
	s->layer.destroy = NULL; /* ours: libspf2 leaves it alone */
	s->layer.lookup = lookup;
	s->layer.get_exp = no_exp;
	s->layer.name = "milter-policy";
	s->server = SPF_server_new_dns(&s->layer, 0);
	if (s->server == NULL) {
		free(s);
		return NULL;
	}
	snprintf(s->receiver, sizeof(s->receiver), "%s", receiver && *receiver ? receiver : "localhost");
	SPF_server_set_rec_dom(s->server, s->receiver);
	/* libspf2's default explanation points at a dead web site */
	SPF_server_set_explanation(s->server, "%{d} does not designate %{i} as a permitted sender",
				   &resp);
	SPF_response_free(resp);
	return s;
}

void mp_spf_free(struct mp_spf *s)
{
	if (s == NULL)
		return;
	SPF_server_free(s->server);
	free(s);
}

/* Whether an error code says the record (or the evaluation) is broken, as
 * opposed to "no record" or a DNS failure. */
static bool permanent(SPF_errcode_t e)
{
	switch (e) {
	case SPF_E_SUCCESS:
	case SPF_E_NOT_SPF:
	case SPF_E_DNS_ERROR:
	case SPF_E_NO_MEMORY:
	case SPF_E_INTERNAL_ERROR:
	case SPF_E_NOT_CONFIG:
	case SPF_E_RESULT_UNKNOWN:
	case SPF_E_UNINIT_VAR:
	case SPF_E_MOD_NOT_FOUND:
		return false;
	default:
		return true;
	}
}

static bool has_error(SPF_response_t *resp, SPF_errcode_t code)
{
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *err = SPF_response_message(resp, i);
		if (SPF_error_errorp(err) && SPF_error_code(err) == code)
			return true;
	}
	return false;
}

static enum mp_auth_result map(SPF_response_t *resp)
{
	/* libspf2 passes a loopback client without looking at the record; we
	 * report that nothing was checked rather than a pass no record gave */
	if (SPF_response_reason(resp) == SPF_REASON_LOCALHOST)
		return MP_AR_NONE;
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_PASS: return MP_AR_PASS;
	case SPF_RESULT_FAIL: return MP_AR_FAIL;
	case SPF_RESULT_SOFTFAIL: return MP_AR_SOFTFAIL;
	case SPF_RESULT_NEUTRAL: return MP_AR_NEUTRAL;
	case SPF_RESULT_NONE: return MP_AR_NONE;
	case SPF_RESULT_TEMPERROR: return MP_AR_TEMPERROR;
	case SPF_RESULT_PERMERROR: return MP_AR_PERMERROR;
	default: break;
	}
	enum mp_auth_result r = MP_AR_NONE;
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *err = SPF_response_message(resp, i);
		if (!SPF_error_errorp(err))
			continue;
		SPF_errcode_t e = SPF_error_code(err);
		if (e == SPF_E_DNS_ERROR)
			return MP_AR_TEMPERROR;
		if (permanent(e))
			r = MP_AR_PERMERROR;
	}
	return r;
}

/* Appends text for a comment of a header field: no parentheses,
 * backslashes or controls, non-ASCII as '?'. */
static void comment_text(struct mp_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80)
			mp_buf_addc(b, '?');
		else if (c >= 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\')
			mp_buf_addc(b, (char)c);
	}
}

/* Appends a key-value pair of RFC 7208 §9.1: the value bare when it is a
 * dot-atom, else a quoted-string (so a HELO name like "x; client-ip=..."
 * stays one value). */
static void pair(struct mp_buf *b, const char *key, const char *v)
{
	bool atom = *v != '\0' && *v != '.';
	for (const char *p = v; *p && atom; p++) {
		unsigned char c = (unsigned char)*p;
		atom = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
		       (c == '.' && p[1] != '.' && p[1] != '\0');
	}
	mp_buf_printf(b, " %s=", key);
	if (atom) {
		mp_buf_adds(b, v);
	} else {
		mp_buf_addc(b, '"');
		for (; *v; v++) {
			unsigned char c = (unsigned char)*v;
			if (c == '"' || c == '\\')
				mp_buf_addc(b, '\\');
			if (c >= 0x80)
				mp_buf_addc(b, '?');
			else if (c >= 0x20 && c < 0x7f)
				mp_buf_addc(b, (char)c);
		}
		mp_buf_addc(b, '"');
	}
	mp_buf_addc(b, ';');
}

/* The Received-SPF value (RFC 7208 §9.1) for our result, written here
 * from what we know, never from libspf2's text (it puts the HELO name in
 * unquoted). why: the reason when our result is not libspf2's, or NULL.
 * false when out of memory. */
static bool received_value(const struct mp_spf *s, const struct run *r, bool helo_identity,
			   enum mp_auth_result res, const char *why, char *out, size_t outlen)
{
	struct mp_buf b;
	const char *who = r->sender;

	if (out == NULL || outlen == 0)
		return true;
	mp_buf_init(&b);
	mp_buf_printf(&b, "%s (", mp_auth_result_name(res));
	comment_text(&b, s->receiver);
	mp_buf_adds(&b, ": ");
	if (why != NULL) {
		comment_text(&b, why);
	} else {
		/* text before, between and after the sender and the address */
		const char *t0 = "domain of ", *t1 = " does not provide an SPF record (client ",
			   *t2 = ")", *x = who, *y = r->ip;
		switch (res) {
		case MP_AR_PASS: t1 = " designates "; t2 = " as permitted sender"; break;
		case MP_AR_FAIL: t1 = " does not designate "; t2 = " as permitted sender"; break;
		case MP_AR_SOFTFAIL:
			t0 = "domain of transitioning ";
			t1 = " does not designate ";
			t2 = " as permitted sender";
			break;
		case MP_AR_NEUTRAL:
			t0 = "";
			t1 = " is neither permitted nor denied by the domain of ";
			t2 = "";
			x = r->ip;
			y = who;
			break;
		case MP_AR_TEMPERROR: t0 = "temporary error looking up the record for "; break;
		case MP_AR_PERMERROR: t0 = "permanent error in the record for "; break;
		default: break;
		}
		if (res == MP_AR_TEMPERROR || res == MP_AR_PERMERROR)
			t1 = " (client ";
		mp_buf_adds(&b, t0);
		comment_text(&b, x);
		mp_buf_adds(&b, t1);
		comment_text(&b, y);
		mp_buf_adds(&b, t2);
	}
	mp_buf_addc(&b, ')');
	pair(&b, "client-ip", r->ip);
	pair(&b, "envelope-from", who);
	if (*r->helo != '\0')
		pair(&b, "helo", r->helo);
	pair(&b, "receiver", s->receiver);
	pair(&b, "identity", helo_identity ? "helo" : "mailfrom");
	bool ok = !b.oom;
	if (b.oom || b.len >= outlen)
		out[0] = '\0';
	else
		memcpy(out, b.p, b.len + 1);
	mp_buf_free(&b);
	return ok;
}

enum mp_auth_result mp_spf_check(struct mp_spf *s, struct mp_dns *dns, const char *ip,
			     const char *helo, const char *from, char *received, size_t rlen,
			     unsigned deadline_ms, struct mp_check_note *note)
{
	SPF_request_t *req = SPF_request_new(s->server);
	SPF_response_t *resp = NULL;
	struct run run = { .dns = dns };
	enum mp_auth_result res = MP_AR_TEMPERROR;
	struct in_addr a4;
	struct in6_addr a6;

	if (received != NULL && rlen > 0)
		received[0] = '\0';
	struct mp_check_note dummy;
	if (note == NULL)
		note = &dummy;
	memset(note, 0, sizeof(*note));
	if (req == NULL) {
		note->failed = true;
		return MP_AR_TEMPERROR;
	}
	if (inet_pton(AF_INET, ip, &a4) == 1)
		SPF_request_set_ipv4(req, a4);
	else if (inet_pton(AF_INET6, ip, &a6) == 1)
		SPF_request_set_ipv6(req, a6);
	else {
		SPF_request_free(req);
		return MP_AR_NONE; /* no client address: nothing to check */
	}
	/* the null sender, and spf.helo, are checked as postmaster@helo */
	const char *identity = from != NULL && *from != '\0' ? from : helo;
	/* as long as the address is: a cut one loses its domain */
	size_t slen = (identity ? strlen(identity) : 0) + sizeof("postmaster@");
	char *sender = malloc(slen), *local = malloc(slen);
	if (sender == NULL || local == NULL) {
		free(sender);
		free(local);
		SPF_request_free(req);
		note->failed = true;
		return MP_AR_TEMPERROR;
	}
	const char *at = identity ? strrchr(identity, '@') : NULL;
	if (identity != NULL && at == NULL)
		snprintf(sender, slen, "postmaster@%s", identity);
	else
		snprintf(sender, slen, "%s", identity ? identity : "");
	at = strrchr(sender, '@');
	snprintf(local, slen, "%.*s", at ? (int)(at - sender) : 0, sender);
	run.ip = ip;
	run.v6 = strchr(ip, ':') != NULL;
	run.helo = helo ? helo : "";
	run.sender = sender;
	run.local = local;
	run.sdomain = at ? at + 1 : "";
	if (helo != NULL && *helo != '\0')
		SPF_request_set_helo_dom(req, helo);
	if (identity == NULL || *identity == '\0' || SPF_request_set_env_from(req, identity) != 0) {
		SPF_request_free(req);
		free(sender);
		free(local);
		return MP_AR_NONE; /* no domain to ask about */
	}
	clock_gettime(CLOCK_MONOTONIC, &run.deadline);
	unsigned ms = deadline_ms > 0 ? deadline_ms : 5000;
	run.query_ms = ms;
	run.deadline.tv_sec += ms / 1000;
	run.deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (run.deadline.tv_nsec >= 1000000000L) {
		run.deadline.tv_sec++;
		run.deadline.tv_nsec -= 1000000000L;
	}
	current = &run;
	SPF_request_query_mailfrom(req, &resp);
	current = NULL;
	if (resp != NULL) {
		res = map(resp);
		bool big = res == MP_AR_PERMERROR && has_error(resp, SPF_E_BIG_DNS);
		if (run.too_many && res != MP_AR_TEMPERROR)
			res = MP_AR_PERMERROR;
		if (run.timed_out || run.oom)
			res = MP_AR_TEMPERROR;
		if (!run.oom)
			note->limit = run.timed_out ? "spf_time"
				      : run.too_many || big ? "spf_lookups" : NULL;
		const char *why = run.oom ? "out of memory"
				  : run.timed_out ? "SPF evaluation took too long"
				  : SPF_response_reason(resp) == SPF_REASON_LOCALHOST
				  ? "loopback client, not checked"
				  : run.too_many || big ? "too many DNS lookups" : NULL;
		if (!received_value(s, &run, from == NULL || *from == '\0', res, why, received, rlen))
			run.oom = true;
		SPF_response_free(resp);
	} else if (run.oom) {
		res = MP_AR_TEMPERROR;
	}
	note->failed = run.oom || resp == NULL;
	SPF_request_free(req);
	free(sender);
	free(local);
	return res;
}
