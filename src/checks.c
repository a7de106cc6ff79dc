/*
 * checks - injected SPF/DKIM results; see checks.h.
 *
 * The injected DKIM "verifier" watches the From field so that `--dkim pass`
 * yields a signature aligned with the From domain, which is what an
 * administrator testing a rule means by it.
 */
#include "checks.h"

#include "mail/address.h"
#include "util/arena.h"
#include "util/file.h"

#include <stdlib.h>
#include <string.h>

struct inj_dkim {
	const struct mp_injected *inj;
	struct mp_arena arena;
	struct mp_dkim_sig *sigs;
	size_t n;
	char *from_domain;
};

static enum mp_authres inj_spf(void *arg, const struct mp_envelope *env)
{
	const struct mp_injected *inj = arg;

	return inj->spf < 0 ? MP_AR_NONE : (enum mp_authres)inj->spf;
}

static enum mp_authres inj_spf_helo(void *arg, const struct mp_envelope *env)
{
	const struct mp_injected *inj = arg;

	return inj->spf_helo < 0 ? MP_AR_NONE : (enum mp_authres)inj->spf_helo;
}

static void *inj_begin(void *arg, const struct mp_envelope *env)
{
	struct inj_dkim *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->inj = arg;
	mp_arena_init(&st->arena);
	return st;
}

static void inj_header(void *vst, const char *name, const char *value)
{
	struct inj_dkim *st = vst;
	struct mp_mailbox mb;

	if (st->from_domain != NULL || !mp_ascii_ieq(name, "From"))
		return;
	if (mp_addr_parse_list(value, strlen(value), &st->arena, &mb, 1) >= 1)
		st->from_domain = mp_arena_strdup(&st->arena, mb.addr + mb.domain);
}

static void inj_eoh(void *st)
{
}

static void inj_body(void *st, const void *p, size_t n)
{
}

static size_t inj_end(void *vst, const struct mp_dkim_sig **sigs_r)
{
	struct inj_dkim *st = vst;
	const struct mp_injected *inj = st->inj;
	size_t n = 0;

	*sigs_r = NULL;
	if (inj->dkim < 0 || inj->dkim == MP_AR_NONE)
		return 0;
	if (inj->dkim_domains != NULL)
		while (inj->dkim_domains[n] != NULL)
			n++;
	size_t nsig = n ? n : 1;
	st->sigs = mp_arena_zalloc(&st->arena, nsig * sizeof(*st->sigs));
	if (st->sigs == NULL)
		return 0;
	for (size_t i = 0; i < nsig; i++) {
		struct mp_dkim_sig *s = &st->sigs[i];
		s->result = (enum mp_authres)inj->dkim;
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

static void inj_free(void *vst)
{
	struct inj_dkim *st = vst;

	if (st == NULL)
		return;
	mp_arena_release(&st->arena);
	free(st);
}

void mp_injected_init(struct mp_injected *inj)
{
	memset(inj, 0, sizeof(*inj));
	inj->spf = inj->spf_helo = inj->dkim = -1;
	inj->ops = (struct mp_checks){
		.arg = inj,
		.spf_mailfrom = inj_spf,
		.spf_helo = inj_spf_helo,
		.dkim_begin = inj_begin,
		.dkim_header = inj_header,
		.dkim_eoh = inj_eoh,
		.dkim_body = inj_body,
		.dkim_end = inj_end,
		.dkim_free = inj_free,
	};
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
	char word[16];
	const char *colon = strchr(spec, ':');
	size_t wl = colon ? (size_t)(colon - spec) : strlen(spec);

	if (wl >= sizeof(word))
		return -1;
	memcpy(word, spec, wl);
	word[wl] = '\0';
	int r = mp_authres_parse(word);
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
		return -1;
	const char *p = colon + 1;
	for (size_t i = 0; i < n; i++) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		inj->dkim_domains[i] = strndup(p, l);
		if (inj->dkim_domains[i] == NULL || l == 0) {
			mp_injected_clear(inj);
			return -1;
		}
		p = comma ? comma + 1 : p + l;
	}
	return 0;
}
