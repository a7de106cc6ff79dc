/*
 * aggregate - DMARC aggregate reports; see aggregate.h.
 *
 * A day's rows are folded as they are read: one group per distinct record
 * (policy domain, source IP, disposition, DMARC results, reason, From
 * domain, SPF and DKIM results), counted, so memory follows the number of
 * distinct records, not of messages. The published policy of a report is
 * that of the domain's latest row. Every text written comes from a
 * message or DNS and is XML-escaped; zlib writes the gzip file (Debian's
 * zlib1g; the report is built in memory first, so a failure leaves no
 * half file: it is written to a temporary name and renamed).
 */
#include "report/aggregate.h"

#include "report/history.h"
#include "report/row.h"
#include "util/buf.h"
#include "util/strmap.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct group {
	char *key;                  /* policy domain, NUL, the rest of the key */
	size_t key_len;
	struct mp_dmarc_row row;    /* the first row of the group */
	size_t count;
};

struct domain {
	struct mp_dmarc_row latest; /* its policy_published and rua */
};

struct fold {
	struct group **groups;
	size_t n, cap;
	struct mp_strmap by_key;
	struct mp_strmap domains;   /* policy domain -> struct domain */
	bool oom;
};

/* Why what was done to a failing message differs from what its domain
 * asked, as policy_evaluated/reason says it; NULL when it does not (or
 * the message passed, and the policy did not apply). */
static const char *reason_of(const struct mp_dmarc_row *r)
{
	if (r->dkim_aligned || r->spf_aligned)
		return NULL;
	if (r->sampled_out)
		return "sampled_out";
	return strcmp(r->policy, r->disposition) != 0 ? "local_policy" : NULL;
}

/* The group key of a row: everything a record of the report shows. */
static void group_key(const struct mp_dmarc_row *r, struct mp_buf *b)
{
	mp_buf_add(b, r->policy_domain, strlen(r->policy_domain) + 1);
	const char *why = reason_of(r);
	mp_buf_printf(b, "%s|%s|%d|%d|%s|%s|%s|%s|%s|%s", r->source_ip, r->disposition,
		      r->dkim_aligned, r->spf_aligned, why ? why : "", r->header_from, r->envelope_from,
		      r->spf_domain, r->spf_scope, r->spf_result);
	for (size_t i = 0; i < r->n_sigs; i++)
		mp_buf_printf(b, "|%s/%s/%s", r->sigs[i].domain, r->sigs[i].selector, r->sigs[i].result);
}

static int fold_row(const struct mp_dmarc_row *r, void *arg)
{
	struct fold *f = arg;
	struct mp_buf k;
	void *v;

	mp_buf_init(&k);
	group_key(r, &k);
	if (k.oom) {
		f->oom = true;
		mp_buf_free(&k);
		return 1;
	}
	if (mp_strmap_getn(&f->by_key, k.p, k.len, &v)) {
		((struct group *)v)->count++;
		mp_buf_free(&k);
	} else {
		struct group *g = calloc(1, sizeof(*g));
		if (g == NULL || (f->n == f->cap && !(f->groups = realloc(f->groups,
				(f->cap = f->cap ? f->cap * 2 : 64) * sizeof(*f->groups))))) {
			free(g);
			mp_buf_free(&k);
			f->oom = true;
			return 1;
		}
		g->key_len = k.len;
		g->key = mp_buf_steal(&k);
		g->row = *r;
		g->count = 1;
		f->groups[f->n++] = g;
		if (g->key == NULL || mp_strmap_put(&f->by_key, g->key, g->key_len, g, NULL) < 0) {
			f->oom = true;
			return 1;
		}
	}
	if (mp_strmap_get(&f->domains, r->policy_domain, &v)) {
		struct domain *d = v;
		if (r->t >= d->latest.t)
			d->latest = *r;
	} else {
		struct domain *d = malloc(sizeof(*d));
		if (d == NULL) {
			f->oom = true;
			return 1;
		}
		d->latest = *r;
		if (mp_strmap_put(&f->domains, d->latest.policy_domain, strlen(d->latest.policy_domain),
				  d, NULL) < 0) {
			free(d);
			f->oom = true;
			return 1;
		}
	}
	return 0;
}

static void fold_free(struct fold *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->groups[i]->key);
		free(f->groups[i]);
	}
	free(f->groups);
	for (size_t i = 0; i < f->domains.cap; i++)
		if (f->domains.slots[i].key != NULL)
			free(f->domains.slots[i].val);
	mp_strmap_free(&f->by_key);
	mp_strmap_free(&f->domains);
	memset(f, 0, sizeof(*f));
}

static int by_key(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a, *y = *(const struct group *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Text for XML: &, <, >, quotes escaped; control bytes dropped; a byte
 * that is not valid UTF-8 (a From domain is the sender's) becomes '?', so
 * the report stays well-formed. */
static void xml_text(struct mp_buf *b, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : mp_utf8_len((const unsigned char *)s + i, len - i);
		switch (n == 1 ? c : 0) {
		case '&': mp_buf_adds(b, "&amp;"); break;
		case '<': mp_buf_adds(b, "&lt;"); break;
		case '>': mp_buf_adds(b, "&gt;"); break;
		case '"': mp_buf_adds(b, "&quot;"); break;
		case '\'': mp_buf_adds(b, "&apos;"); break;
		default:
			if (n == 0)
				mp_buf_addc(b, '?');
			else if (n > 1 || (c >= 0x20 && c != 0x7f))
				mp_buf_add(b, s + i, n);
		}
		i += n ? n : 1;
	}
}

static void element(struct mp_buf *b, int indent, const char *name, const char *text)
{
	mp_buf_printf(b, "%*s<%s>", indent, "", name);
	xml_text(b, text);
	mp_buf_printf(b, "</%s>\n", name);
}

static const char *receiver_of(const char *email)
{
	const char *at = strrchr(email, '@');

	return at ? at + 1 : email;
}

static void write_report(struct mp_buf *b, const struct mp_report_opts *o, const struct domain *d,
			 struct group *const *g, size_t n, int64_t begin, int64_t end, const char *id)
{
	const struct mp_dmarc_row *p = &d->latest;
	char num[64];

	mp_buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n");
	element(b, 2, "version", "1.0");
	mp_buf_adds(b, "  <report_metadata>\n");
	element(b, 4, "org_name", o->org_name);
	element(b, 4, "email", o->email);
	element(b, 4, "report_id", id);
	mp_buf_adds(b, "    <date_range>\n");
	snprintf(num, sizeof(num), "%lld", (long long)begin);
	element(b, 6, "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)end - 1);
	element(b, 6, "end", num);
	mp_buf_adds(b, "    </date_range>\n  </report_metadata>\n  <policy_published>\n");
	element(b, 4, "domain", p->policy_domain);
	element(b, 4, "adkim", p->adkim == 's' ? "s" : "r");
	element(b, 4, "aspf", p->aspf == 's' ? "s" : "r");
	element(b, 4, "p", p->p);
	element(b, 4, "sp", p->sp);
	snprintf(num, sizeof(num), "%u", p->pct);
	element(b, 4, "pct", num);
	element(b, 4, "fo", "0");
	mp_buf_adds(b, "  </policy_published>\n");
	for (size_t i = 0; i < n; i++) {
		const struct mp_dmarc_row *r = &g[i]->row;
		mp_buf_adds(b, "  <record>\n    <row>\n");
		element(b, 6, "source_ip", r->source_ip);
		snprintf(num, sizeof(num), "%zu", g[i]->count);
		element(b, 6, "count", num);
		mp_buf_adds(b, "      <policy_evaluated>\n");
		element(b, 8, "disposition", r->disposition);
		element(b, 8, "dkim", r->dkim_aligned ? "pass" : "fail");
		element(b, 8, "spf", r->spf_aligned ? "pass" : "fail");
		const char *why = reason_of(r);
		if (why != NULL) {
			mp_buf_adds(b, "        <reason>\n");
			element(b, 10, "type", why);
			mp_buf_adds(b, "        </reason>\n");
		}
		mp_buf_adds(b, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
		element(b, 6, "header_from", r->header_from);
		mp_buf_adds(b, "    </identifiers>\n    <auth_results>\n");
		for (size_t j = 0; j < r->n_sigs; j++) {
			mp_buf_adds(b, "      <dkim>\n");
			element(b, 8, "domain", r->sigs[j].domain);
			if (r->sigs[j].selector[0])
				element(b, 8, "selector", r->sigs[j].selector);
			element(b, 8, "result", r->sigs[j].result);
			mp_buf_adds(b, "      </dkim>\n");
		}
		mp_buf_adds(b, "      <spf>\n");
		element(b, 8, "domain", r->spf_domain);
		element(b, 8, "scope", r->spf_scope);
		element(b, 8, "result", r->spf_result);
		mp_buf_adds(b, "      </spf>\n    </auth_results>\n  </record>\n");
	}
	mp_buf_adds(b, "</feedback>\n");
}

/* Writes data gzip'd to path (through a temporary name). */
static int write_gz(const char *path, const struct mp_buf *data, size_t *bytes_r, char *err,
		    size_t errlen)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	gzFile z = gzopen(tmp, "wb9");
	if (z == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	bool ok = data->len == 0 || gzwrite(z, data->p, (unsigned)data->len) == (int)data->len;
	ok = gzclose(z) == Z_OK && ok;
	FILE *f = ok ? fopen(tmp, "rb") : NULL;
	if (f != NULL) {
		fseek(f, 0, SEEK_END);
		*bytes_r = (size_t)ftell(f);
		fclose(f);
	}
	if (!ok || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int one_day(const struct mp_report_opts *o, int64_t day,
		   void (*done)(const struct mp_report_file *f, void *arg), void *arg, char *err,
		   size_t errlen)
{
	struct fold f;
	int64_t begin = day * 86400, end = begin + 86400;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	mp_strmap_init(&f.by_key);
	mp_strmap_init(&f.domains);
	for (size_t i = 0; i < o->n_paths; i++) {
		if (mp_history_read(o->paths[i], begin, end, fold_row, &f, err, errlen) < 0)
			goto out;
		if (f.oom) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	qsort(f.groups, f.n, sizeof(*f.groups), by_key);
	for (size_t i = 0; i < f.n;) {
		const char *dom = f.groups[i]->key;
		size_t j = i;
		while (j < f.n && strcmp(f.groups[j]->key, dom) == 0)
			j++;
		void *v = NULL;
		mp_strmap_get(&f.domains, dom, &v);
		struct mp_report_file rf;
		memset(&rf, 0, sizeof(rf));
		snprintf(rf.policy_domain, sizeof(rf.policy_domain), "%s", dom);
		snprintf(rf.rua, sizeof(rf.rua), "%s", ((struct domain *)v)->latest.rua);
		rf.begin = begin;
		rf.end = end - 1;
		rf.records = j - i;
		for (size_t k = i; k < j; k++)
			rf.messages += f.groups[k]->count;
		snprintf(rf.path, sizeof(rf.path), "%s/%s!%s!%lld!%lld.xml.gz", o->out_dir,
			 receiver_of(o->email), dom, (long long)begin, (long long)end - 1);
		struct mp_buf b;
		mp_buf_init(&b);
		snprintf(rf.report_id, sizeof(rf.report_id), "%lld.%s.%s", (long long)begin, dom,
			 receiver_of(o->email));
		write_report(&b, o, v, f.groups + i, j - i, begin, end, rf.report_id);
		int w = b.oom ? -1 : write_gz(rf.path, &b, &rf.bytes, err, errlen);
		if (b.oom)
			snprintf(err, errlen, "out of memory");
		mp_buf_free(&b);
		if (w < 0)
			goto out;
		done(&rf, arg);
		i = j;
	}
	rc = 0;
out:
	fold_free(&f);
	return rc;
}

int mp_report_write(const struct mp_report_opts *o,
		    void (*done)(const struct mp_report_file *f, void *arg), void *arg,
		    char *err, size_t errlen)
{
	for (int64_t day = o->from_day; day <= o->to_day; day++) {
		if (one_day(o, day, done, arg, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int mp_report_parse_day(const char *s, int64_t *day_r)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*day_r = (int64_t)t / 86400;
	return 0;
}
