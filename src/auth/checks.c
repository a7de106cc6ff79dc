/*
 * checks - the checker: real SPF, DKIM and DMARC over the DNS module,
 * injected results first; see checks.h.
 *
 * The injected DKIM "verifier" watches the From field so that `--dkim pass`
 * yields a signature aligned with the From domain, which is what an
 * administrator testing a rule means by it. Without DNS and without an
 * injected result DKIM is none.
 */
#include "auth/checks.h"

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "dns/dns.h"
#include "mail/address.h"
#include "auth/spf.h"
#include "util/arena.h"
#include "util/file.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct mp_checker {
	struct mp_injected inj;
	struct mp_spf *spf;
	struct mp_dkim *dkim;
	pthread_mutex_t lock;       /* guards dns */
	struct mp_dns *dns;
	struct mp_checks ops;
	uint64_t seed;              /* of the pct= draws */
	atomic_uint_fast64_t draws;
};

/* One message's DKIM: real (libopendkim) or injected. */
struct dkim_state {
	struct mp_dkim_msg *real;
	const struct mp_injected *inj;
	struct mp_arena arena;
	struct mp_dkim_sig *sigs;
	size_t n;
	char *from_domain;
	bool failed;      /* no memory for the injected path's From domain */
};

static struct mp_dns *dns_ref(struct mp_checker *c)
{
	pthread_mutex_lock(&c->lock);
	struct mp_dns *dns = mp_dns_ref(c->dns);
	pthread_mutex_unlock(&c->lock);
	return dns;
}

static enum mp_auth_result spf_mailfrom(void *arg, const struct mp_envelope *env, char *received,
				    size_t rlen, struct mp_check_note *note)
{
	struct mp_checker *c = arg;

	if (received != NULL && rlen > 0)
		received[0] = '\0';
	memset(note, 0, sizeof(*note));
	if (c->inj.spf >= 0)
		return (enum mp_auth_result)c->inj.spf;
	struct mp_dns *dns = dns_ref(c);
	if (dns == NULL)
		return MP_AR_NONE;
	enum mp_auth_result r = mp_spf_check(c->spf, dns, env->client_ip, env->helo, env->mail_from,
					 received, rlen, env->dns_timeout_ms, note);
	mp_dns_unref(dns);
	return r;
}

static enum mp_auth_result spf_helo(void *arg, const struct mp_envelope *env,
				struct mp_check_note *note)
{
	struct mp_checker *c = arg;

	memset(note, 0, sizeof(*note));
	if (c->inj.spf_helo >= 0)
		return (enum mp_auth_result)c->inj.spf_helo;
	struct mp_dns *dns = dns_ref(c);
	if (dns == NULL)
		return MP_AR_NONE;
	enum mp_auth_result r = mp_spf_check(c->spf, dns, env->client_ip, env->helo, NULL, NULL, 0,
					 env->dns_timeout_ms, note);
	mp_dns_unref(dns);
	return r;
}

static void *dkim_begin(void *arg, const struct mp_envelope *env)
{
	struct mp_checker *c = arg;
	struct dkim_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->inj = &c->inj;
	mp_arena_init(&st->arena);
	if (c->inj.dkim < 0) {
		struct mp_dns *dns = dns_ref(c);
		if (dns != NULL) {
			st->real = mp_dkim_begin(c->dkim, dns, env->dkim_max_signatures);
			mp_dns_unref(dns);
			if (st->real == NULL) {
				free(st);
				return NULL;
			}
		}
	}
	return st;
}

static void dkim_header(void *vst, const char *name, const char *value)
{
	struct dkim_state *st = vst;
	struct mp_mailbox mb;

	if (st->real != NULL) {
		mp_dkim_header(st->real, name, value);
		return;
	}
	if (st->from_domain != NULL || !mp_ascii_ieq(name, "From"))
		return;
	int n = mp_addr_parse_list(value, strlen(value), &st->arena, &mb, 1);
	if (n >= 1) {
		st->from_domain = mp_arena_strdup(&st->arena, mb.addr + mb.domain);
		st->failed = st->failed || st->from_domain == NULL;
	} else if (n < 0) {
		st->failed = true;
	}
}

static bool dkim_eoh(void *vst)
{
	struct dkim_state *st = vst;

	return st->real != NULL && mp_dkim_eoh(st->real);
}

static void dkim_body(void *vst, const void *p, size_t n)
{
	struct dkim_state *st = vst;

	if (st->real != NULL)
		mp_dkim_body(st->real, p, n);
}

static size_t dkim_end(void *vst, const struct mp_dkim_sig **sigs_r, struct mp_check_note *note)
{
	struct dkim_state *st = vst;
	const struct mp_injected *inj = st->inj;
	size_t n = 0;

	*sigs_r = NULL;
	memset(note, 0, sizeof(*note));
	if (st->real != NULL) {
		if (mp_dkim_over_limit(st->real))
			note->limit = "dkim_signatures";
		size_t got = mp_dkim_end(st->real, sigs_r);
		note->failed = mp_dkim_failed(st->real);
		return got;
	}
	if (inj->dkim < 0 || inj->dkim == MP_AR_NONE)
		return 0;
	if (inj->dkim_domains != NULL)
		while (inj->dkim_domains[n] != NULL)
			n++;
	size_t nsig = n ? n : 1;
	st->sigs = mp_arena_zalloc(&st->arena, nsig * sizeof(*st->sigs));
	if (st->sigs == NULL || st->failed) {
		note->failed = true;
		return 0;
	}
	for (size_t i = 0; i < nsig; i++) {
		struct mp_dkim_sig *s = &st->sigs[i];
		s->result = (enum mp_auth_result)inj->dkim;
		s->domain = n ? inj->dkim_domains[i]
			      : st->from_domain ? st->from_domain : "";
		s->selector = "injected";
		s->b = "";
		s->algorithm = "rsa-sha256";
		s->bits = 2048;
	}
	st->n = nsig;
	*sigs_r = st->sigs;
	return nsig;
}

static void dkim_free(void *vst)
{
	struct dkim_state *st = vst;

	if (st == NULL)
		return;
	mp_dkim_msg_free(st->real);
	mp_arena_release(&st->arena);
	free(st);
}

/* The n-th draw of the pct= sample, 0-99 (SplitMix64 over seed + n). */
static unsigned draw(struct mp_checker *c)
{
	uint64_t z = c->seed + (atomic_fetch_add(&c->draws, 1) + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (unsigned)((z ^ (z >> 31)) % 100);
}

static void dmarc(void *arg, const struct mp_dmarc_in *in0, struct mp_dmarc_out *out,
		  struct mp_check_note *note)
{
	struct mp_checker *c = arg;
	struct mp_dmarc_in in = *in0;

	memset(note, 0, sizeof(*note));
	if (c->inj.dmarc >= 0) {
		/* as given; the From domain's own record, alignment as computed */
		memset(out, 0, sizeof(*out));
		out->result = (enum mp_auth_result)c->inj.dmarc;
		out->policy = (enum mp_dmarc_policy)c->inj.dmarc_policy;
		out->has_record = out->result == MP_AR_PASS || out->result == MP_AR_FAIL;
		if (out->has_record && in.from_domain != NULL)
			snprintf(out->domain, sizeof(out->domain), "%s", in.from_domain);
		if (!out->has_record)
			out->policy = MP_DMARC_P_NONE;
		for (size_t i = 0; i < in.n_sigs && out->has_record; i++)
			out->aligned_dkim |= in.sigs[i].result == MP_AR_PASS &&
					     mp_dmarc_aligned(in.sigs[i].domain, in.from_domain, false);
		out->aligned_spf = out->has_record && in.spf == MP_AR_PASS &&
				   mp_dmarc_aligned(in.spf_domain, in.from_domain, false);
		return;
	}
	in.sample = draw(c);
	struct mp_dns *dns = dns_ref(c);
	if (mp_dmarc_evaluate(dns, &in, out) < 0)
		note->failed = true;
	mp_dns_unref(dns);
}

void mp_checker_set_seed(struct mp_checker *c, uint64_t seed)
{
	c->seed = seed;
	atomic_store(&c->draws, 0);
}

struct mp_checker *mp_checker_new(const char *receiver)
{
	struct mp_checker *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	mp_injected_init(&c->inj);
	pthread_mutex_init(&c->lock, NULL);
	c->spf = mp_spf_new(receiver);
	c->dkim = mp_dkim_new();
	if (c->spf == NULL || c->dkim == NULL) {
		mp_spf_free(c->spf);
		mp_dkim_free(c->dkim);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	c->ops = (struct mp_checks){
		.arg = c,
		.spf_mailfrom = spf_mailfrom,
		.spf_helo = spf_helo,
		.dkim_begin = dkim_begin,
		.dkim_header = dkim_header,
		.dkim_eoh = dkim_eoh,
		.dkim_body = dkim_body,
		.dkim_end = dkim_end,
		.dkim_free = dkim_free,
		.dmarc = dmarc,
	};
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != sizeof(c->seed))
		c->seed = (uint64_t)(uintptr_t)c ^ 0x5deece66dULL;
	atomic_init(&c->draws, 0);
	return c;
}

void mp_checker_free(struct mp_checker *c)
{
	if (c == NULL)
		return;
	mp_dns_unref(c->dns);
	mp_spf_free(c->spf);
	mp_dkim_free(c->dkim);
	mp_injected_clear(&c->inj);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void mp_checker_set_dns(struct mp_checker *c, struct mp_dns *dns)
{
	mp_dns_ref(dns);
	pthread_mutex_lock(&c->lock);
	struct mp_dns *old = c->dns;
	c->dns = dns;
	pthread_mutex_unlock(&c->lock);
	mp_dns_unref(old);
}

struct mp_injected *mp_checker_injected(struct mp_checker *c)
{
	return &c->inj;
}

const struct mp_checks *mp_checker_ops(struct mp_checker *c)
{
	return &c->ops;
}

void mp_injected_init(struct mp_injected *inj)
{
	memset(inj, 0, sizeof(*inj));
	inj->spf = inj->spf_helo = inj->dkim = inj->dmarc = -1;
}

/* The result before the ':' of RESULT[:MORE]; *colon_r the ':' or NULL.
 * -1 when it is not a result. */
static int result_word(const char *spec, const char **colon_r)
{
	char word[16];
	const char *colon = strchr(spec, ':');
	size_t wl = colon ? (size_t)(colon - spec) : strlen(spec);

	*colon_r = colon;
	if (wl >= sizeof(word))
		return -1;
	memcpy(word, spec, wl);
	word[wl] = '\0';
	return mp_auth_result_parse(word);
}

int mp_injected_set_dmarc(struct mp_injected *inj, const char *spec)
{
	const char *colon;
	int r = result_word(spec, &colon);

	if (r != MP_AR_PASS && r != MP_AR_FAIL && r != MP_AR_NONE && r != MP_AR_TEMPERROR &&
	    r != MP_AR_PERMERROR)
		return -1;
	int p = colon ? mp_dmarc_policy_parse(colon + 1, strlen(colon + 1)) : MP_DMARC_P_NONE;
	if (p < 0)
		return -1;
	inj->dmarc = r;
	inj->dmarc_policy = p;
	return 0;
}

void mp_injected_clear(struct mp_injected *inj)
{
	if (inj->dkim_domains != NULL) {
		for (size_t i = 0; inj->dkim_domains[i] != NULL; i++)
			free(inj->dkim_domains[i]);
		free(inj->dkim_domains);
	}
	inj->dkim_domains = NULL;
}

int mp_injected_set_dkim(struct mp_injected *inj, const char *spec)
{
	const char *colon;
	int r = result_word(spec, &colon);

	if (r < 0)
		return -1;
	mp_injected_clear(inj);
	inj->dkim = r;
	if (colon == NULL || colon[1] == '\0')
		return 0;
	size_t n = 1;
	for (const char *p = colon + 1; *p; p++)
		n += *p == ',';
	inj->dkim_domains = calloc(n + 1, sizeof(char *));
	if (inj->dkim_domains == NULL)
		return -2;
	const char *p = colon + 1;
	for (size_t i = 0; i < n; i++) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		inj->dkim_domains[i] = l > 0 ? strndup(p, l) : NULL;
		if (inj->dkim_domains[i] == NULL) {
			mp_injected_clear(inj);
			return l == 0 ? -1 : -2;
		}
		p = comma ? comma + 1 : p + l;
	}
	return 0;
}
