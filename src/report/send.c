/*
 * send - mailing a written aggregate report to the record's rua=
 * addresses (RFC 7489 §7.1, §7.2.1): mailto: URIs only; an address in
 * another organisational domain than the policy domain only after the
 * external destination verification record
 * (<policy-domain>._report._dmarc.<rua-domain>, TXT starting v=DMARC1)
 * says yes; never a report larger than the URI's !size; through
 * `sendmail -t -oi`, one message per address, the report attached
 * base64.
 *
 * Everything here comes from DNS (a hostile zone): an address is used
 * only when it is plain dot-atom syntax, so no header or recipient can be
 * injected into the message given to sendmail.
 */
#include "report/send.h"

#include "dns/dns.h"
#include "mail/orgdomain.h"
#include "util/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SENDMAIL "/usr/sbin/sendmail"

static bool atext(int c, bool domain)
{
	if (isalnum(c) || c == '-' || c == '.')
		return true;
	return !domain && strchr("!#$%&'*+/=?^_`{|}~", c) != NULL;
}

/* mailto:ADDR[!SIZE] into addr and the limit in bytes (0: none); %XX
 * decoded. -1 when it is not a mailto: URI with a plain address. */
static int parse_mailto(const char *uri, char *addr, size_t size, uint64_t *limit_r)
{
	size_t n = 0;
	const char *p = uri;

	*limit_r = 0;
	if (strncasecmp(p, "mailto:", 7) != 0)
		return -1;
	for (p += 7; *p && *p != '!'; p++) {
		int c = (unsigned char)*p;
		if (c == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hex[3] = { p[1], p[2], 0 };
			c = (int)strtol(hex, NULL, 16);
			p += 2;
		}
		if (n + 1 >= size)
			return -1;
		addr[n++] = (char)c;
	}
	addr[n] = '\0';
	if (*p == '!') {
		char *end;
		unsigned long long v = strtoull(p + 1, &end, 10);
		uint64_t mult = *end == 'k' || *end == 'K' ? 1024ULL
				: *end == 'm' || *end == 'M' ? 1024ULL * 1024
				: *end == 'g' || *end == 'G' ? 1024ULL * 1024 * 1024
				: *end == 't' || *end == 'T' ? 1024ULL * 1024 * 1024 * 1024 : 1;
		if (end == p + 1)
			return -1;
		*limit_r = v * mult;
	}
	const char *at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0' || strlen(addr) > 254)
		return -1;
	for (const char *c = addr; *c; c++) {
		if (c != at && !atext((unsigned char)*c, c > at))
			return -1;
	}
	return 0;
}

/* Whether rua_domain accepts reports about policy_domain: the same
 * organisational domain, or its verification record says so. */
static int verified(struct mp_dns *dns, const char *policy_domain, const char *rua_domain,
		    bool *ok_r, const char **why_r)
{
	char a[256], b[256], name[600];
	const char *oa = mp_org_domain(policy_domain, a, sizeof(a));
	const char *ob = mp_org_domain(rua_domain, b, sizeof(b));

	*ok_r = false;
	if (oa != NULL && ob != NULL && strcmp(oa, ob) == 0) {
		*ok_r = true;
		return 0;
	}
	if (dns == NULL) {
		*why_r = "another domain, and no DNS to verify it";
		return 0;
	}
	snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy_domain, rua_domain);
	struct mp_dns_answer ans;
	memset(&ans, 0, sizeof(ans));
	if (mp_dns_query(dns, name, MP_DNS_TXT, &ans) < 0)
		return -1;
	if (ans.status == MP_DNS_TEMPFAIL)
		*why_r = "the verification record could not be looked up (DNS failure)";
	else
		*why_r = "another domain, which does not accept reports for this one";
	for (size_t i = 0; ans.status == MP_DNS_OK && i < ans.n; i++) {
		if (ans.rr[i].type == MP_DNS_TXT && ans.rr[i].len >= 8 &&
		    strncmp(ans.rr[i].data, "v=DMARC1", 8) == 0)
			*ok_r = true;
	}
	mp_dns_answer_clear(&ans);
	return 0;
}

static void base64(struct mp_buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
			      i + 2 < n ? tab[v & 63] : '=' };
		mp_buf_add(b, q, 4);
		if ((col += 4) >= 76) {
			mp_buf_adds(b, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		mp_buf_adds(b, "\r\n");
}

static int read_all(const char *path, unsigned char **data_r, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct mp_buf b;
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return -1;
	mp_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mp_buf_add(&b, chunk, n);
	fclose(f);
	if (b.oom) {
		mp_buf_free(&b);
		return -1;
	}
	*len_r = b.len;
	*data_r = (unsigned char *)mp_buf_steal(&b);
	return 0;
}

/* Hands msg to sendmail -t -oi; 0 when it exited 0. */
static int sendmail(const struct mp_buf *msg, char *err, size_t errlen)
{
	int fds[2];

	if (pipe(fds) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execl(SENDMAIL, "sendmail", "-t", "-oi", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	size_t off = 0;
	while (off < msg->len) {
		ssize_t w = write(fds[1], msg->p + off, msg->len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || off < msg->len) {
		snprintf(err, errlen, SENDMAIL " failed (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

int mp_report_send(const struct mp_report_file *f, const char *org, const char *email,
		   struct mp_dns *dns, void (*said)(const char *to, const char *what, void *arg),
		   void *arg)
{
	unsigned char *data;
	size_t len;
	char uris[sizeof(f->rua)], err[300];
	int failures = 0;

	if (read_all(f->path, &data, &len) < 0) {
		said("-", "cannot read the report", arg);
		return -1;
	}
	snprintf(uris, sizeof(uris), "%s", f->rua);
	for (char *save = NULL, *uri = strtok_r(uris, ",", &save); uri != NULL;
	     uri = strtok_r(NULL, ",", &save)) {
		char addr[300];
		uint64_t limit;
		bool ok;
		const char *why = NULL;
		if (parse_mailto(uri, addr, sizeof(addr), &limit) < 0) {
			said(uri, "not sent: not a mailto: URI with a plain address", arg);
			continue;
		}
		if (limit > 0 && len > limit) {
			said(addr, "not sent: larger than the size it accepts", arg);
			continue;
		}
		if (verified(dns, f->policy_domain, strrchr(addr, '@') + 1, &ok, &why) < 0) {
			failures++;
			said(addr, "not sent: out of memory", arg);
			continue;
		}
		if (!ok) {
			said(addr, why, arg);
			continue;
		}
		struct mp_buf m;
		char date[64], name[sizeof(f->path)], boundary[64];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		const char *slash = strrchr(f->path, '/');
		snprintf(name, sizeof(name), "%s", slash ? slash + 1 : f->path);
		snprintf(boundary, sizeof(boundary), "mp-report-%lld-%ld", (long long)now, (long)getpid());
		mp_buf_init(&m);
		mp_buf_printf(&m, "From: %s\r\nTo: %s\r\nDate: %s\r\n", email, addr, date);
		mp_buf_printf(&m, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n",
			      f->policy_domain, strrchr(email, '@') + 1, f->report_id);
		mp_buf_printf(&m, "Message-ID: <%s.%ld@%s>\r\n", f->report_id, (long)getpid(),
			      strrchr(email, '@') + 1);
		mp_buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
			      boundary);
		mp_buf_printf(&m, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
			      "DMARC aggregate report from %s for %s, %zu messages.\r\n\r\n",
			      boundary, org, f->policy_domain, f->messages);
		mp_buf_printf(&m, "--%s\r\nContent-Type: application/gzip\r\n"
			      "Content-Disposition: attachment; filename=\"%s\"\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n", boundary, name);
		base64(&m, data, len);
		mp_buf_printf(&m, "--%s--\r\n", boundary);
		if (m.oom || sendmail(&m, err, sizeof(err)) < 0) {
			failures++;
			said(addr, m.oom ? "not sent: out of memory" : err, arg);
		} else {
			said(addr, "sent", arg);
		}
		mp_buf_free(&m);
	}
	free(data);
	return failures ? -1 : 0;
}
