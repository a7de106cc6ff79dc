/*
 * dkim - DKIM verification through libopendkim; see dkim.h.
 *
 * The library's own resolver is not thread-safe, so keys are fetched by a
 * key-lookup callback over the project's DNS module; the callback finds
 * the message through the DKIM handle's user context. The library is set
 * up once (options, callbacks) before threads use it.
 *
 * Results per signature, in RFC 8601 words:
 *   pass       the signature and the body hash verify
 *   fail       they do not (a changed header or body)
 *   policy     we do not accept it, whatever its verification says:
 *              rsa-sha1 (RFC 8301) or a key under 1024 bits
 *
 * Signatures past max_sigs are not given to libopendkim at all (it would
 * set up a body hash for each) and are not reported; the message is past
 * a limit (mp_dkim_over_limit).
 *   temperror  the key could not be fetched (DNS failure)
 *   permerror  no key, a revoked key (p= empty), a key record that does not
 *              parse or does not fit the signature
 *   neutral    the signature itself does not parse, has expired or is
 *              dated in the future
 */
#include "auth/dkim.h"

#include "dns/dns.h"
#include "util/buf.h"

#include <opendkim/dkim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_KEY_BITS 1024
/* Longest key record we hand over; RSA-4096 keys are about 800 bytes. */
#define KEY_MAX 4096
#define MAX_TEMPFAILED 64

struct mp_dkim {
	DKIM_LIB *lib;
};

struct mp_dkim_msg {
	DKIM *d;
	struct mp_dns *dns;
	unsigned max_sigs;
	bool signed_;
	bool failed;              /* no memory along the way */
	struct mp_dkim_sig *sigs;
	size_t n_sigs;
	char **strings;           /* what sigs point at */
	size_t n_strings;
	DKIM_SIGINFO *tempfailed[MAX_TEMPFAILED]; /* key lookups that failed */
	size_t n_tempfailed;
	unsigned n_sig_fields;    /* DKIM-Signature fields seen */
	struct mp_buf field;      /* the field being handed over, reused */
};

/* The key record for sig, from DNS (selector._domainkey.domain TXT). */
static DKIM_CBSTAT key_lookup(DKIM *d, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct mp_dkim_msg *m = dkim_get_user_context(d);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	char name[300];
	struct mp_dns_answer ans;

	if (m == NULL || m->dns == NULL || sel == NULL || dom == NULL)
		return DKIM_CBSTAT_ERROR;
	int nl = snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
	if (nl < 0 || (size_t)nl >= sizeof(name) || nl > 253)
		return DKIM_CBSTAT_NOTFOUND;
	/* libopendkim leaves a signature whose key lookup failed unprocessed,
	 * without an error code (TRYAGAIN would also stop the others): such
	 * signatures are noted here, to be reported as temperror */
	int qrc = mp_dns_query(m->dns, name, MP_DNS_TXT, &ans);
	if (qrc < 0)
		m->failed = true; /* no memory: an internal error, not a DNS one */
	if (qrc < 0 || ans.status == MP_DNS_TEMPFAIL) {
		if (m->n_tempfailed < MAX_TEMPFAILED)
			m->tempfailed[m->n_tempfailed++] = sig;
		if (qrc == 0)
			mp_dns_answer_clear(&ans);
		return DKIM_CBSTAT_ERROR;
	}
	DKIM_CBSTAT rc = DKIM_CBSTAT_NOTFOUND;
	if (ans.status == MP_DNS_OK && ans.n > 0) {
		/* RFC 6376 §3.6.2.2: with several records, one is used */
		const struct mp_dns_rr *rr = &ans.rr[0];
		if (rr->len < buflen && rr->len <= KEY_MAX && memchr(rr->data, '\0', rr->len) == NULL) {
			memcpy(buf, rr->data, rr->len);
			buf[rr->len] = '\0';
			rc = DKIM_CBSTAT_CONTINUE;
		} /* else a record no key can be: as good as none */
	}
	mp_dns_answer_clear(&ans);
	return rc;
}

static bool weak_algorithm(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg;

	return dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK && alg == DKIM_SIGN_RSASHA1;
}

struct mp_dkim *mp_dkim_new(void)
{
	struct mp_dkim *k = calloc(1, sizeof(*k));
	u_int bits = MIN_KEY_BITS;
	u_int flags = DKIM_LIBFLAGS_BADSIGHANDLES;

	if (k == NULL)
		return NULL;
	mp_dkim_keys_init();
	k->lib = dkim_init(NULL, NULL);
	if (k->lib == NULL ||
	    dkim_options(k->lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits)) !=
		    DKIM_STAT_OK ||
	    dkim_options(k->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
		    DKIM_STAT_OK ||
	    dkim_set_key_lookup(k->lib, key_lookup) != DKIM_STAT_OK) {
		mp_dkim_free(k);
		return NULL;
	}
	return k;
}

void mp_dkim_free(struct mp_dkim *k)
{
	if (k == NULL)
		return;
	if (k->lib != NULL)
		dkim_close(k->lib);
	free(k);
}

struct mp_dkim_msg *mp_dkim_begin(struct mp_dkim *k, struct mp_dns *dns, unsigned max_sigs)
{
	struct mp_dkim_msg *m = calloc(1, sizeof(*m));
	DKIM_STAT st;

	if (m == NULL)
		return NULL;
	m->max_sigs = max_sigs ? max_sigs : 1;
	m->d = dkim_verify(k->lib, (const u_char *)"milter-policy", NULL, &st);
	if (m->d == NULL || dkim_set_user_context(m->d, m) != DKIM_STAT_OK) {
		mp_dkim_msg_free(m);
		return NULL;
	}
	m->dns = mp_dns_ref(dns);
	return m;
}

/* "Name:value" with every fold as CRLF, as the message had it. */
void mp_dkim_header(struct mp_dkim_msg *m, const char *name, const char *value)
{
	struct mp_buf *b = &m->field;

	if (m->failed)
		return;
	/* libopendkim sets up a body hash for every signature it is given:
	 * it gets the first max_sigs only */
	if (strcasecmp(name, "DKIM-Signature") == 0 &&
	    ++m->n_sig_fields > m->max_sigs)
		return;
	mp_buf_reset(b);
	mp_buf_adds(b, name);
	mp_buf_addc(b, ':');
	/* the runs between bare LFs as they are, each bare LF as CRLF */
	const char *run = value;
	for (const char *p = value; (p = strchr(p, '\n')) != NULL; p++) {
		if (p == value || p[-1] != '\r') {
			mp_buf_add(b, run, (size_t)(p - run));
			mp_buf_add(b, "\r\n", 2);
			run = p + 1;
		}
	}
	mp_buf_adds(b, run);
	if (b->oom)
		m->failed = true;
	else
		dkim_header(m->d, (u_char *)b->p, b->len);
}

bool mp_dkim_eoh(struct mp_dkim_msg *m)
{
	if (m->failed)
		return false;
	m->signed_ = dkim_eoh(m->d) != DKIM_STAT_NOSIG;
	return m->signed_;
}

void mp_dkim_body(struct mp_dkim_msg *m, const void *p, size_t n)
{
	if (m->signed_ && !m->failed)
		dkim_body(m->d, (u_char *)p, n);
}

/* A copy of s owned by m ("" for NULL). */
static const char *keep(struct mp_dkim_msg *m, const char *s)
{
	char **v = realloc(m->strings, (m->n_strings + 1) * sizeof(*v));
	char *c = strdup(s ? s : "");

	if (v == NULL || c == NULL) {
		if (v != NULL)
			m->strings = v;
		free(c);
		m->failed = true;
		return "";
	}
	m->strings = v;
	m->strings[m->n_strings++] = c;
	return c;
}

static enum mp_auth_result sig_result(const struct mp_dkim_msg *m, DKIM_SIGINFO *sig)
{
	unsigned flags = dkim_sig_getflags(sig);

	for (size_t i = 0; i < m->n_tempfailed; i++) {
		if (m->tempfailed[i] == sig)
			return MP_AR_TEMPERROR;
	}
	if ((flags & DKIM_SIGFLAG_IGNORE) || weak_algorithm(sig))
		return MP_AR_POLICY;
	if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH)
		return MP_AR_PASS;
	switch (dkim_sig_geterror(sig)) {
	case DKIM_SIGERROR_KEYTOOSMALL:
		return MP_AR_POLICY;
	case DKIM_SIGERROR_KEYFAIL:
		return MP_AR_TEMPERROR;
	case DKIM_SIGERROR_NOKEY:
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYREVOKED:
	case DKIM_SIGERROR_KEYDECODE:
	case DKIM_SIGERROR_SUBDOMAIN:
		return MP_AR_PERMERROR;
	case DKIM_SIGERROR_BADSIG:
		return MP_AR_FAIL;
	case DKIM_SIGERROR_OK:
		/* verified, but the body hash differs; or never processed */
		if (flags & DKIM_SIGFLAG_PROCESSED)
			return MP_AR_FAIL;
		return MP_AR_NEUTRAL;
	default:
		return MP_AR_NEUTRAL;
	}
}

static const char *alg_name(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg;

	if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK)
		return "";
	switch (alg) {
	case DKIM_SIGN_RSASHA1: return "rsa-sha1";
	case DKIM_SIGN_RSASHA256: return "rsa-sha256";
	case DKIM_SIGN_ED25519SHA256: return "ed25519-sha256";
	default: return "";
	}
}

bool mp_dkim_failed(const struct mp_dkim_msg *m)
{
	return m->failed;
}

bool mp_dkim_over_limit(const struct mp_dkim_msg *m)
{
	return m->n_sig_fields > m->max_sigs;
}

size_t mp_dkim_end(struct mp_dkim_msg *m, const struct mp_dkim_sig **sigs_r)
{
	DKIM_SIGINFO **sigs = NULL;
	int n = 0;

	*sigs_r = NULL;
	if (!m->signed_ || m->failed)
		return 0;
	(void)dkim_eom(m->d, NULL);
	if (dkim_getsiglist(m->d, &sigs, &n) != DKIM_STAT_OK || n <= 0)
		return 0;
	m->sigs = calloc((size_t)n, sizeof(*m->sigs));
	if (m->sigs == NULL) {
		m->failed = true;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct mp_dkim_sig *s = &m->sigs[i];
		DKIM_SIGINFO *sig = sigs[i];
		unsigned bits = 0;
		char b8[9];
		size_t k = 0;
		const u_char *b = dkim_sig_gettagvalue(sig, 0, (u_char *)"b");

		for (; b != NULL && *b && k < 8; b++) {
			if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n')
				b8[k++] = (char)*b;
		}
		b8[k] = '\0';
		s->result = sig_result(m, sig);
		s->domain = keep(m, (const char *)dkim_sig_getdomain(sig));
		s->selector = keep(m, (const char *)dkim_sig_getselector(sig));
		s->b = keep(m, b8);
		s->algorithm = alg_name(sig);
		if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK)
			s->bits = bits;
	}
	m->n_sigs = (size_t)n;
	*sigs_r = m->sigs;
	return m->n_sigs;
}

void mp_dkim_msg_free(struct mp_dkim_msg *m)
{
	if (m == NULL)
		return;
	if (m->d != NULL)
		dkim_free(m->d);
	mp_dns_unref(m->dns);
	for (size_t i = 0; i < m->n_strings; i++)
		free(m->strings[i]);
	free(m->strings);
	free(m->sigs);
	mp_buf_free(&m->field);
	free(m);
}
