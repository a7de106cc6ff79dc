/*
 * lists - CIDR and name sets; see lists.h.
 *
 * Prefixes are kept per prefix length in sorted arrays of masked addresses;
 * a lookup masks the address once per length present and binary-searches.
 * Names are lowercased into three hash sets: every non-IP item as written
 * (`strings`), the domain of `domain` and `@domain` items (`domains`), and
 * the parent of `.domain` items (`subdomains`).
 */
#include "match/lists.h"

#include "match/probe.h"

#include "util/arena.h"
#include "util/diag.h"
#include "util/file.h"
#include "util/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_FILE_MAX (256u * 1024 * 1024)

struct v6key {
	uint64_t hi, lo;
};

struct ptab {
	void *v;   /* uint32_t[] or struct v6key[] */
	size_t n, cap;
};

struct mp_list {
	char *name;
	struct mp_arena arena;
	struct mp_strmap strings, domains, subdomains;
	struct ptab v4[33], v6[129];
	size_t n_items, n_ip;
	struct mp_probe_lens lens;  /* the prefix lengths v4 and v6 have entries for */
};

struct mp_list *mp_list_new(const char *name)
{
	struct mp_list *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->name = strdup(name ? name : "");
	if (l->name == NULL) {
		free(l);
		return NULL;
	}
	mp_arena_init(&l->arena);
	mp_strmap_init(&l->strings);
	mp_strmap_init(&l->domains);
	mp_strmap_init(&l->subdomains);
	return l;
}

void mp_list_free(struct mp_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i <= 32; i++)
		free(l->v4[i].v);
	for (int i = 0; i <= 128; i++)
		free(l->v6[i].v);
	mp_strmap_free(&l->strings);
	mp_strmap_free(&l->domains);
	mp_strmap_free(&l->subdomains);
	mp_arena_release(&l->arena);
	free(l->name);
	free(l);
}

const char *mp_list_name(const struct mp_list *l)
{
	return l->name;
}

size_t mp_list_count(const struct mp_list *l)
{
	return l->n_items;
}

size_t mp_list_count_ip(const struct mp_list *l)
{
	return l->n_ip;
}

static uint32_t v4key(const struct mp_ip *ip)
{
	return (uint32_t)ip->a[0] << 24 | (uint32_t)ip->a[1] << 16 |
	       (uint32_t)ip->a[2] << 8 | ip->a[3];
}

static struct v6key v6key(const struct mp_ip *ip)
{
	struct v6key k = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | ip->a[i];
		k.lo = k.lo << 8 | ip->a[8 + i];
	}
	return k;
}

static int ptab_push(struct ptab *t, const void *key, size_t size)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		void *v = realloc(t->v, cap * size);
		if (v == NULL)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	memcpy((char *)t->v + t->n * size, key, size);
	t->n++;
	return 0;
}

/* An item that must be an address: a CIDR (a '/' after only digits,
 * dots, hex digits and colons: "10.0.0/8" is a broken one, while
 * "application/zip" is a string), or a dotted quad, or two or more colons
 * and only hex digits, dots and colons. Anything else ("1", "1.5", "x:y")
 * is a name or a plain string. */
static bool looks_like_ip(const char *s, size_t len)
{
	size_t dots = 0, colons = 0;
	bool digits_dots = true, hex = true;
	const char *slash = memchr(s, '/', len);

	if (slash != NULL) {
		for (const char *c = s; c < slash; c++) {
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
			      (*c >= 'A' && *c <= 'F') || *c == '.' || *c == ':'))
				return false;
		}
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		dots += c == '.';
		colons += c == ':';
		if (!((c >= '0' && c <= '9') || c == '.'))
			digits_dots = false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == ':' || c == '.' || c == '[' || c == ']'))
			hex = false;
	}
	return (digits_dots && dots == 3) || (hex && colons >= 2);
}

static bool valid_domain_chars(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || c == '@')
			return false;
	}
	return true;
}

static int put(struct mp_list *l, struct mp_strmap *m, const char *s, size_t len)
{
	char *key = mp_arena_strndup(&l->arena, s, len);

	if (key == NULL)
		return -1;
	mp_ascii_lower(key);
	while (len > 1 && key[len - 1] == '.' && m != &l->strings)
		key[--len] = '\0';
	return mp_strmap_put(m, key, len, NULL, NULL) < 0 ? -1 : 0;
}

int mp_list_add(struct mp_list *l, const char *item, size_t len, const char **why_r)
{
	struct mp_ip ip;
	int prefix;

	if (len == 0) {
		*why_r = "empty list item";
		return -1;
	}
	if (len > MP_LIST_ITEM_MAX) {
		*why_r = "list item longer than 1024 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)item[i];
		if (c < ' ' || c == 0x7f) {
			*why_r = "control character in list item";
			return -1;
		}
	}
	if (looks_like_ip(item, len)) {
		if (mp_cidr_parse(item, len, &ip, &prefix, why_r) < 0)
			return -1;
		if (ip.v6) {
			struct v6key k = v6key(&ip);
			if (ptab_push(&l->v6[prefix], &k, sizeof(k)) < 0)
				goto oom;
			mp_probe_lens_add(&l->lens, true, prefix);
		} else {
			uint32_t k = v4key(&ip);
			if (ptab_push(&l->v4[prefix], &k, sizeof(k)) < 0)
				goto oom;
			mp_probe_lens_add(&l->lens, false, prefix);
		}
		l->n_ip++;
		l->n_items++;
		return 0;
	}
	const char *at = memrchr(item, '@', len);
	if (at != NULL) {
		size_t dl = len - (size_t)(at - item) - 1;
		if (item[0] == '@' && at != item) {
			*why_r = "more than one '@' in list item";
			return -1;
		}
		if (!valid_domain_chars(at + 1, dl)) {
			*why_r = "bad or empty domain after '@'";
			return -1;
		}
		if (at == item && put(l, &l->domains, at + 1, dl) < 0)
			goto oom;
	} else if (item[0] == '.') {
		if (!valid_domain_chars(item + 1, len - 1) || item[1] == '.') {
			*why_r = "bad domain after '.'";
			return -1;
		}
		if (put(l, &l->subdomains, item + 1, len - 1) < 0)
			goto oom;
	} else if (valid_domain_chars(item, len)) {
		if (put(l, &l->domains, item, len) < 0)
			goto oom;
	}
	if (put(l, &l->strings, item, len) < 0)
		goto oom;
	l->n_items++;
	return 0;
oom:
	*why_r = "out of memory";
	return -1;
}

int mp_list_load_file(struct mp_list *l, int dirfd, const char *path, const char *display_path,
		      struct mp_diags *d)
{
	size_t len;
	size_t before = mp_diags_count(d);
	char *text = mp_read_file_at(dirfd, path, LIST_FILE_MAX, &len);

	if (text == NULL)
		return -2;
	int lineno = 0;
	for (char *line = text, *next; line != NULL && line <= text + len; line = next) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		next = nl ? nl + 1 : NULL;
		char *end = nl ? nl : text + len;
		const char *start = line;
		lineno++;
		char *nul = memchr(line, '\0', (size_t)(end - line));
		if (nul != NULL) {
			mp_diags_add(d, display_path, lineno, (int)(nul - line) + 1,
				     "NUL byte in list file");
			continue;
		}
		char *hash = memchr(line, '#', (size_t)(end - line));
		if (hash != NULL)
			end = hash;
		while (line < end && (*line == ' ' || *line == '\t'))
			line++;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		if (end == line)
			continue;
		const char *why;
		if (mp_list_add(l, line, (size_t)(end - line), &why) < 0)
			mp_diags_add(d, display_path, lineno, (int)(line - start) + 1,
				     "%s", why);
		if (next == NULL)
			break;
	}
	free(text);
	return mp_diags_count(d) > before ? -1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_v6(const void *a, const void *b)
{
	const struct v6key *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int each_key(const struct mp_strmap *m, enum mp_list_part part,
		    int (*fn)(void *, const struct mp_list_item *), void *arg)
{
	for (size_t i = 0; i < m->cap; i++) {
		const struct mp_strmap_slot *s = &m->slots[i];
		if (s->key == NULL)
			continue;
		struct mp_list_item it = { .part = part, .key = s->key, .len = s->len };
		int rc = fn(arg, &it);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int mp_list_each(const struct mp_list *l, int (*fn)(void *arg, const struct mp_list_item *it),
		 void *arg)
{
	int rc;

	if ((rc = each_key(&l->strings, MP_LP_STRING, fn, arg)) != 0 ||
	    (rc = each_key(&l->domains, MP_LP_DOMAIN, fn, arg)) != 0 ||
	    (rc = each_key(&l->subdomains, MP_LP_SUBDOMAIN, fn, arg)) != 0)
		return rc;
	for (int p = 0; p <= 32; p++) {
		for (size_t i = 0; i < l->v4[p].n; i++) {
			struct mp_list_item it = { .part = MP_LP_V4, .prefix = p,
						   .v4 = ((const uint32_t *)l->v4[p].v)[i] };
			if ((rc = fn(arg, &it)) != 0)
				return rc;
		}
	}
	for (int p = 0; p <= 128; p++) {
		for (size_t i = 0; i < l->v6[p].n; i++) {
			const struct v6key *k = &((const struct v6key *)l->v6[p].v)[i];
			struct mp_list_item it = { .part = MP_LP_V6, .prefix = p, .v6hi = k->hi,
						   .v6lo = k->lo };
			if ((rc = fn(arg, &it)) != 0)
				return rc;
		}
	}
	return 0;
}

int mp_list_finish(struct mp_list *l)
{
	for (int i = 0; i <= 32; i++) {
		if (l->v4[i].n > 1)
			qsort(l->v4[i].v, l->v4[i].n, sizeof(uint32_t), cmp_u32);
	}
	for (int i = 0; i <= 128; i++) {
		if (l->v6[i].n > 1)
			qsort(l->v6[i].v, l->v6[i].n, sizeof(struct v6key), cmp_v6);
	}
	return 0;
}

_Static_assert((int)MP_M_IP == MP_PROBE_IP && (int)MP_M_ADDRESS == MP_PROBE_ADDRESS &&
		       (int)MP_M_DOMAIN == MP_PROBE_DOMAIN && (int)MP_M_STRING == MP_PROBE_STRING,
	       "match kinds and probe kinds agree");
_Static_assert(MP_LIST_ITEM_MAX == MP_PROBE_KEY_MAX, "no item is longer than a probe key");

static bool ip_in(void *arg, int p, const struct mp_ip *m)
{
	const struct mp_list *l = arg;

	if (!m->v6) {
		uint32_t k = v4key(m);
		return bsearch(&k, l->v4[p].v, l->v4[p].n, sizeof(k), cmp_u32) != NULL;
	}
	struct v6key k = v6key(m);
	return bsearch(&k, l->v6[p].v, l->v6[p].n, sizeof(k), cmp_v6) != NULL;
}

bool mp_list_match_ip(const struct mp_list *l, const struct mp_ip *ip)
{
	return l->n_ip > 0 && mp_probe_ip(&l->lens, ip, ip_in, (void *)l);
}

static bool name_in(void *arg, enum mp_probe_table t, const char *key, size_t len)
{
	const struct mp_list *l = arg;
	const struct mp_strmap *m = t == MP_PT_STRING ? &l->strings
				    : t == MP_PT_DOMAIN ? &l->domains : &l->subdomains;

	return m->n > 0 && mp_strmap_getn(m, key, len, NULL);
}

bool mp_list_match(const struct mp_list *l, enum mp_fmatch how, const char *value,
		   size_t len)
{
	if (how == MP_M_IP) {
		struct mp_ip ip;
		return mp_ip_parse(value, len, &ip) == 0 && mp_list_match_ip(l, &ip);
	}
	return mp_probe_name((int)how, value, len, name_in, (void *)l);
}
