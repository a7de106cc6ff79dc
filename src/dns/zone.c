/*
 * zone - DNS answered from a static file (dns_zone_file, test --dns-zone).
 *
 * One record per line, '#' comments:
 *
 *   sender.example            TXT "v=spf1 ip4:192.0.2.0/24 -all"
 *   sel._domainkey.bank.example TXT "v=DKIM1; k=rsa; " "p=MIIB..."
 *   mail.example              A    192.0.2.1
 *   mail.example              AAAA 2001:db8::1
 *   example                   MX   10 mail.example
 *   1.2.0.192.in-addr.arpa    PTR  mail.example
 *   broken.example            TEMPFAIL
 *   gone.example              NXDOMAIN
 *   slow.example              DELAY 300
 *
 * Names are case-insensitive, a trailing dot is optional. A name with
 * records of other types answers NODATA, as does a parent of a listed name
 * (an empty non-terminal); anything else is NXDOMAIN. TEMPFAIL answers
 * every type with a temporary failure; NXDOMAIN makes a name (and the
 * empty non-terminal above it) not exist. DELAY makes every answer for the
 * name come after that many milliseconds, as from a slow server: a query
 * bounded to less (SPF's overall deadline; 5 s otherwise) gets a
 * temporary failure when its bound runs out. The zone is read-only once
 * loaded: lookups from any thread need no lock.
 */
#include "dns/backend.h"

#include "util/arena.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/strmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZONE_FILE_MAX (64u * 1024 * 1024)

struct zrr {
	struct mp_dns_rr rr;
	struct zrr *next;
};

struct znode {
	bool tempfail, nxdomain, has_data;
	unsigned delay_ms;        /* DELAY: a slow server, for tests */
	struct zrr *rrs, *last;
};

struct zone {
	struct mp_arena arena;
	struct mp_strmap names;   /* lowercased name -> struct znode */
};

static void lower_name(char *s)
{
	mp_ascii_lower(s);
	size_t l = strlen(s);
	while (l > 1 && s[l - 1] == '.')
		s[--l] = '\0';
}

static struct znode *node(struct zone *z, const char *name, size_t len)
{
	void *v;

	if (mp_strmap_getn(&z->names, name, len, &v))
		return v;
	struct znode *n = mp_arena_zalloc(&z->arena, sizeof(*n));
	char *key = mp_arena_strndup(&z->arena, name, len);
	if (n == NULL || key == NULL || mp_strmap_put(&z->names, key, len, n, NULL) < 0)
		return NULL;
	return n;
}

/* Reads the quoted strings (or the bare rest of the line) of a TXT. */
static const char *parse_txt(const char *p, struct mp_buf *b, size_t *n_r)
{
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"') {
		size_t l = strlen(p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		mp_buf_add(b, p, l);
		*n_r = 1;
		return NULL;
	}
	while (*p == '"') {
		p++;
		size_t start = b->len;
		while (*p != '"') {
			if (*p == '\0')
				return "unterminated string";
			if (*p == '\\' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
			    p[3] >= '0' && p[3] <= '9') {
				int v = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
				if (v > 255)
					return "bad \\DDD escape";
				mp_buf_addc(b, (char)v);
				p += 4;
				continue;
			}
			if (*p == '\\' && p[1] != '\0')
				p++;
			mp_buf_addc(b, *p++);
		}
		if (b->len - start > 255)
			return "TXT string longer than 255 bytes (split it into several)";
		p++;
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p != '\0' && *p != '#')
		return "text after the last quoted string";
	*n_r = n;
	return NULL;
}

static const char *parse_line(struct zone *z, char *line)
{
	char *save = NULL;
	char *name = strtok_r(line, " \t", &save);
	char *type = name ? strtok_r(NULL, " \t", &save) : NULL;
	char *rest = save;

	if (name == NULL)
		return NULL;
	if (type == NULL)
		return "expected NAME TYPE DATA";
	lower_name(name);
	size_t nl = strlen(name);
	if (nl == 0 || nl > 253)
		return "bad name";
	struct znode *n = node(z, name, nl);
	if (n == NULL)
		return "out of memory";
	for (char *t = type; *t; t++)
		*t = (char)(*t >= 'a' && *t <= 'z' ? *t - 'a' + 'A' : *t);
	struct mp_dns_rr rr = { 0 };
	rr.ttl = 300;
	while (rest && (*rest == ' ' || *rest == '\t'))
		rest++;
	if (strcmp(type, "TEMPFAIL") == 0) {
		n->tempfail = true;
		return NULL;
	}
	if (strcmp(type, "NXDOMAIN") == 0) {
		n->nxdomain = true;
		return NULL;
	}
	if (strcmp(type, "DELAY") == 0) {
		char *e;
		long ms = rest ? strtol(rest, &e, 10) : -1;
		if (rest == NULL || e == rest || (*e != '\0' && *e != ' ' && *e != '\t' && *e != '#') ||
		    ms < 0 || ms > 60000)
			return "DELAY needs milliseconds from 0 to 60000";
		n->delay_ms = (unsigned)ms;
		return NULL;
	}
	if (rest == NULL || *rest == '\0')
		return "missing data";
	if (strcmp(type, "A") == 0 || strcmp(type, "AAAA") == 0) {
		bool v6 = type[1] == 'A';
		rr.type = v6 ? MP_DNS_AAAA : MP_DNS_A;
		rr.len = v6 ? 16 : 4;
		rr.data = mp_arena_alloc(&z->arena, 16);
		char *end = rest + strcspn(rest, " \t#");
		*end = '\0';
		if (rr.data == NULL)
			return "out of memory";
		if (inet_pton(v6 ? AF_INET6 : AF_INET, rest, rr.data) != 1)
			return v6 ? "bad IPv6 address" : "bad IPv4 address";
	} else if (strcmp(type, "TXT") == 0) {
		struct mp_buf b;
		mp_buf_init(&b);
		const char *err = parse_txt(rest, &b, &rr.n_strings);
		if (err == NULL && b.oom)
			err = "out of memory";
		if (err != NULL) {
			mp_buf_free(&b);
			return err;
		}
		rr.type = MP_DNS_TXT;
		rr.len = b.len;
		rr.data = mp_arena_memdup(&z->arena, b.p ? b.p : "", b.len + 1);
		mp_buf_free(&b);
		if (rr.data == NULL)
			return "out of memory";
		rr.data[rr.len] = '\0';
	} else if (strcmp(type, "MX") == 0 || strcmp(type, "PTR") == 0) {
		char *s2 = NULL;
		char *first = strtok_r(rest, " \t", &s2);
		char *target = first;
		if (type[0] == 'M') {
			char *e;
			long pref = strtol(first, &e, 10);
			if (*e != '\0' || pref < 0 || pref > 65535)
				return "MX needs a preference from 0 to 65535";
			rr.pref = (uint16_t)pref;
			target = strtok_r(NULL, " \t", &s2);
			if (target == NULL)
				return "MX needs a target name";
		}
		lower_name(target);
		rr.type = type[0] == 'M' ? MP_DNS_MX : MP_DNS_PTR;
		rr.len = strlen(target);
		rr.data = mp_arena_strdup(&z->arena, target);
		if (rr.data == NULL)
			return "out of memory";
	} else {
		return "unknown type (A, AAAA, TXT, MX, PTR, TEMPFAIL, NXDOMAIN or DELAY)";
	}
	struct zrr *zr = mp_arena_alloc(&z->arena, sizeof(*zr));
	if (zr == NULL)
		return "out of memory";
	zr->rr = rr;
	/* keep file order */
	zr->next = NULL;
	if (n->last != NULL)
		n->last->next = zr;
	else
		n->rrs = zr;
	n->last = zr;
	n->has_data = true;
	/* the names above exist too (empty non-terminals) */
	for (const char *dot = strchr(name, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		if (node(z, dot + 1, strlen(dot + 1)) == NULL)
			return "out of memory";
	}
	return NULL;
}

static int zone_query(struct mp_dns *dns, const char *qname, uint16_t type,
		      struct mp_dns_answer *ans, unsigned max_ms)
{
	struct zone *z = mp_dns_impl(dns);
	char name[256];
	void *v;

	snprintf(name, sizeof(name), "%s", qname);
	lower_name(name);
	if (!mp_strmap_get(&z->names, name, &v) || ((struct znode *)v)->nxdomain) {
		ans->status = MP_DNS_NXDOMAIN;
		return 0;
	}
	const struct znode *n = v;
	if (n->delay_ms > 0) {
		/* a slow server: the answer after delay_ms, or nothing (TEMPFAIL)
		 * when the caller waits less (max_ms, else 5 s) */
		unsigned wait = max_ms > 0 && max_ms < 5000 ? max_ms : 5000;
		unsigned ms = n->delay_ms < wait ? n->delay_ms : wait;
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (n->delay_ms > wait) {
			ans->status = MP_DNS_TEMPFAIL;
			return 0;
		}
	}
	if (n->tempfail) {
		ans->status = MP_DNS_TEMPFAIL;
		return 0;
	}
	ans->status = MP_DNS_NODATA;
	for (const struct zrr *r = n->rrs; r != NULL; r = r->next) {
		if (r->rr.type != type)
			continue;
		struct mp_dns_rr copy = r->rr;
		copy.data = malloc(r->rr.len + 1);
		if (copy.data == NULL) {
			mp_dns_answer_clear(ans);
			return -1;
		}
		memcpy(copy.data, r->rr.data, r->rr.len);
		copy.data[r->rr.len] = '\0';
		if (mp_dns_answer_add(ans, &copy) < 0) {
			free(copy.data);
			mp_dns_answer_clear(ans);
			return -1;
		}
		ans->status = MP_DNS_OK;
	}
	return 0;
}

static void zone_destroy(struct mp_dns *dns)
{
	struct zone *z = mp_dns_impl(dns);

	mp_strmap_free(&z->names);
	mp_arena_release(&z->arena);
	free(z);
}

static const struct mp_dns_ops zone_ops = { zone_query, zone_destroy };

struct mp_dns *mp_dns_new_zone(const char *path, struct mp_diags *d)
{
	size_t len;
	size_t before = mp_diags_count(d);
	char *text = mp_read_file(path, ZONE_FILE_MAX, &len);
	struct zone *z;

	if (text == NULL) {
		mp_diags_add(d, path, 0, 0, "cannot read DNS zone file%s: %s", mp_file_as(),
			     strerror(errno));
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		mp_diags_add(d, path, 0, 0, "NUL byte in DNS zone file");
		free(text);
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (z == NULL) {
		free(text);
		mp_diags_add(d, path, 0, 0, "out of memory");
		return NULL;
	}
	mp_arena_init(&z->arena);
	mp_strmap_init(&z->names);
	int lineno = 0;
	for (char *line = text, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		const char *err = parse_line(z, p);
		if (err != NULL)
			mp_diags_add(d, path, lineno, (int)(p - line) + 1, "%s", err);
	}
	free(text);
	char desc[300];
	snprintf(desc, sizeof(desc), "static zone %s", path);
	struct mp_dns *dns = mp_diags_count(d) == before ? mp_dns_alloc(&zone_ops, z, desc) : NULL;
	if (dns == NULL) {
		if (mp_diags_count(d) == before)
			mp_diags_add(d, path, 0, 0, "out of memory");
		mp_strmap_free(&z->names);
		mp_arena_release(&z->arena);
		free(z);
	}
	return dns;
}
