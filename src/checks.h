/*
 * checks - the interface through which SPF and DKIM results reach the
 * engine, and the "injected" implementation used by `test --spf/--dkim`.
 *
 * The engine calls SPF lazily (at most once per identity per transaction,
 * only when a rule needs it) and streams a message to DKIM only when a
 * still-undecided rule needs DKIM. A struct mp_checks is shared by all
 * transactions; the per-message DKIM state is what dkim_begin returns.
 */
#ifndef MP_CHECKS_H
#define MP_CHECKS_H

#include "rules/program.h"
#include "util/ip.h"

#include <stdbool.h>
#include <stddef.h>

/* What a check may read of the transaction. */
struct mp_envelope {
	const char *client_ip;      /* "" when unknown */
	const struct mp_ip *ip;     /* NULL when unknown */
	const char *helo;           /* "" when none */
	const char *mail_from;      /* "" for the null sender */
	const char *mail_domain;    /* "" for the null sender */
};

struct mp_dkim_sig {
	enum mp_authres result;
	const char *domain;
	const char *selector;
	const char *b;              /* signature, for header.b */
	const char *algorithm;
	unsigned bits;
};

struct mp_checks {
	void *arg;
	/* SPF of the MAIL FROM identity; HELO identity for the null sender. */
	enum mp_authres (*spf_mailfrom)(void *arg, const struct mp_envelope *env);
	enum mp_authres (*spf_helo)(void *arg, const struct mp_envelope *env);
	/* DKIM, streamed; begin returns per-message state (NULL: temperror). */
	void *(*dkim_begin)(void *arg, const struct mp_envelope *env);
	void (*dkim_header)(void *st, const char *name, const char *value);
	void (*dkim_eoh)(void *st);
	void (*dkim_body)(void *st, const void *p, size_t n);
	/* Signatures, valid until dkim_free. */
	size_t (*dkim_end)(void *st, const struct mp_dkim_sig **sigs_r);
	void (*dkim_free)(void *st);
};

/* Results given on the command line or in a case file. A result of -1
 * means "not given" (none). With no dkim domains, an injected signature
 * carries the domain of the message's From address. */
struct mp_injected {
	int spf, spf_helo, dkim;
	char **dkim_domains;        /* NULL-terminated, or NULL */
	struct mp_checks ops;
};

void mp_injected_init(struct mp_injected *inj);
/* Parses RESULT[:DOMAIN[,DOMAIN...]] for --dkim; 0 or -1. */
int mp_injected_set_dkim(struct mp_injected *inj, const char *spec);
void mp_injected_clear(struct mp_injected *inj);

#endif
