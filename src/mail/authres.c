/*
 * authres - Authentication-Results (RFC 8601) and Received-SPF (RFC 7208
 * §9.1) values as SPEC §5 describes them, as pure functions: the engine
 * gives the results, these write the text.
 *
 * An incoming field is "ours" when its authserv-id equals ours (ASCII
 * case-insensitive, comments and whitespace skipped). Our field carries
 * only the results that were computed; with none there is no field.
 * Property values come from the message: controls and invalid UTF-8 are
 * dropped, and a value is written bare when RFC 8601's pvalue allows it (a
 * token, or an address or domain made of dot-atoms), quoted otherwise
 * (header.b can hold '/' and '+').
 */
#include "mail/authres.h"

#include "util/file.h"
#include "util/utf8.h"

#include <stdio.h>
#include <string.h>

/* Skips whitespace, line breaks and (nested) comments; *open set when a
 * comment runs to the end. */
static const char *skip_cfws(const char *p, bool *open)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		const char *start = p;
		for (; *p; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
		if (depth > 0) {
			*open = true;
			return start;
		}
	}
}

/* Whether the authserv-id at p (after CFWS) equals id: compared up to the
 * first byte that cannot be part of a token, a trailing dot ignored. */
static bool id_at(const char *p, const char *authserv_id)
{
	char id[256];
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < sizeof(id); p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			id[n++] = *p;
		}
	} else {
		/* a token ends at a control, a space, a tspecial or a non-ASCII
		 * byte; a reader that skips "\x0b" must not see an id we kept */
		while (*p && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f &&
		       strchr("()<>@,;:\\\"/[]?=", *p) == NULL && n + 1 < sizeof(id))
			id[n++] = *p++;
	}
	while (n > 0 && id[n - 1] == '.')
		n--;
	id[n] = '\0';
	return n > 0 && mp_ascii_ieq(id, authserv_id);
}

/* Ours when the authserv-id is ours as any lenient reader could take it:
 * after an unterminated comment, any word before the first ';' that is
 * our id makes it ours. */
bool mp_authres_is_ours(const char *value, const char *authserv_id)
{
	bool open = false;
	const char *p = skip_cfws(value, &open);

	if (!open)
		return id_at(p, authserv_id);
	while (*p && *p != ';') {
		while (*p == '(' || *p == ')' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == ';')
			break;
		if (id_at(p, authserv_id))
			return true;
		while (*p && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' &&
		       *p != '(' && *p != ')')
			p++;
	}
	return false;
}

static bool tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* A pvalue that needs no quotes: a token, or [dot-atom "@"] dot-atom. */
static bool bare_ok(const char *v)
{
	size_t n = strlen(v);
	bool token = n > 0;

	for (size_t i = 0; i < n && token; i++) {
		unsigned char c = (unsigned char)v[i];
		token = c > ' ' && c < 0x7f && !tspecial(c);
	}
	if (token)
		return true;
	const char *at = strrchr(v, '@');
	if (at == NULL)
		return dot_atom(v, n);
	return (at == v || dot_atom(v, (size_t)(at - v))) && dot_atom(at + 1, strlen(at + 1));
}

/* Appends "name=value", quoting value when it must be (controls and
 * invalid UTF-8 are dropped first: the value comes from the message). */
static void property(struct mp_buf *b, const char *name, const char *raw)
{
	struct mp_buf v;

	mp_buf_init(&v);
	for (const char *p = raw; *p; p++) {
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			mp_buf_addc(&v, *p);
	}
	struct mp_buf clean;
	mp_buf_init(&clean);
	mp_utf8_clean(&clean, v.p ? v.p : "", v.len, 1);
	const char *s = clean.p ? clean.p : "";
	if (v.oom || clean.oom)
		b->oom = true;
	mp_buf_printf(b, " %s=", name);
	if (bare_ok(s)) {
		mp_buf_adds(b, s);
	} else {
		mp_buf_addc(b, '"');
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				mp_buf_addc(b, '\\');
			mp_buf_addc(b, *s);
		}
		mp_buf_addc(b, '"');
	}
	mp_buf_free(&v);
	mp_buf_free(&clean);
}

bool mp_authres_build(const struct mp_authres *in, struct mp_buf *out)
{
	if (!in->spf && !in->dkim && !in->dmarc)
		return false;
	mp_buf_adds(out, in->authserv_id);
	if (in->spf) {
		mp_buf_printf(out, ";\n\tspf=%s", mp_auth_result_name(in->spf_result));
		if (in->mailfrom != NULL && *in->mailfrom)
			property(out, "smtp.mailfrom", in->mailfrom);
		else
			property(out, "smtp.helo", in->helo ? in->helo : "");
	}
	if (in->dkim) {
		if (in->n_sigs == 0)
			mp_buf_adds(out, ";\n\tdkim=none");
		for (size_t i = 0; i < in->n_sigs; i++) {
			const struct mp_authres_dkim *s = &in->sigs[i];
			char b8[9];
			mp_buf_printf(out, ";\n\tdkim=%s", mp_auth_result_name(s->result));
			if (s->domain && *s->domain)
				property(out, "header.d", s->domain);
			if (s->selector && *s->selector)
				property(out, "header.s", s->selector);
			if (s->b && *s->b) {
				snprintf(b8, sizeof(b8), "%s", s->b);
				property(out, "header.b", b8);
			}
		}
	}
	if (in->dmarc) {
		mp_buf_printf(out, ";\n\tdmarc=%s", mp_auth_result_name(in->dmarc_result));
		if (in->dmarc_policy != NULL)
			mp_buf_printf(out, " (p=%s dis=%s)", in->dmarc_policy,
				      in->dmarc_disposition ? in->dmarc_disposition : "none");
		if (in->header_from != NULL && *in->header_from)
			property(out, "header.from", in->header_from);
	}
	return true;
}

size_t mp_received_spf_clean(const char *raw, char *out, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	for (const char *p = raw; *p && n + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else if (c >= 0x80)
			out[n++] = '?';
	}
	out[n] = '\0';
	return n;
}
