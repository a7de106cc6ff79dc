/*
 * checks - how SPF and DKIM results reach the engine.
 *
 * The engine sees only struct mp_checks: SPF is asked for lazily (at most
 * once per identity per transaction, only when a rule or the
 * Authentication-Results header needs it), DKIM is streamed only when an
 * undecided rule or the header needs it.
 *
 * struct mp_checker implements it: real checks over a DNS object that a
 * reload may replace (each check holds its own reference), with results
 * given on the command line or in a case file ("injected") taking
 * precedence. Without a DNS object every check that is not injected is
 * "none". One checker is shared by all transactions and threads.
 */
#ifndef MP_CHECKS_H
#define MP_CHECKS_H

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "types/types.h"
#include "util/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_dns;

/* What a check may read of the transaction. */
struct mp_envelope {
	const char *client_ip;      /* "" when unknown */
	const struct mp_ip *ip;     /* NULL when unknown */
	const char *helo;           /* "" when none */
	const char *mail_from;      /* "" for the null sender */
	const char *mail_domain;    /* "" for the null sender */
	unsigned dkim_max_signatures; /* verified at most; the rest are policy */
	unsigned dns_timeout_ms;    /* the whole of one SPF check */
};

#define MP_RECEIVED_SPF_MAX 1024

struct mp_checks {
	void *arg;
	/* SPF of the MAIL FROM identity (the HELO identity for the null
	 * sender); received gets a Received-SPF value (raw) or ""; note says
	 * what else the check found (a limit, an internal error). */
	enum mp_auth_result (*spf_mailfrom)(void *arg, const struct mp_envelope *env, char *received,
					size_t rlen, struct mp_check_note *note);
	/* SPF of the HELO identity. */
	enum mp_auth_result (*spf_helo)(void *arg, const struct mp_envelope *env,
				    struct mp_check_note *note);
	/* DKIM, streamed; begin returns per-message state (NULL: no memory). */
	void *(*dkim_begin)(void *arg, const struct mp_envelope *env);
	void (*dkim_header)(void *st, const char *name, const char *value);
	/* false: the message is unsigned and DKIM needs no body */
	bool (*dkim_eoh)(void *st);
	void (*dkim_body)(void *st, const void *p, size_t n);
	/* Signatures, valid until dkim_free; note: the limit "dkim_signatures"
	 * when the message carried more than dkim_max_signatures (the rest
	 * were not verified), failed when memory ran out on the way. */
	size_t (*dkim_end)(void *st, const struct mp_dkim_sig **sigs_r, struct mp_check_note *note);
	void (*dkim_free)(void *st);
	/* DMARC at end of message from the results so far (in; its sample is
	 * drawn here); note.failed when memory ran out. */
	void (*dmarc)(void *arg, const struct mp_dmarc_in *in, struct mp_dmarc_out *out,
		      struct mp_check_note *note);
};

/* Results given on the command line or in a case file; -1: not given. */
struct mp_injected {
	int spf, spf_helo, dkim;
	char **dkim_domains;        /* NULL-terminated, or NULL */
	int dmarc, dmarc_policy;    /* result, enum mp_dmarc_policy */
};

struct mp_checker;

/* receiver: our host name (authserv_id), for Received-SPF comments.
 * NULL on no memory. */
struct mp_checker *mp_checker_new(const char *receiver);
void mp_checker_free(struct mp_checker *c);
/* Replaces the DNS object (the checker takes its own reference; NULL: no
 * DNS, so checks that are not injected give none). */
void mp_checker_set_dns(struct mp_checker *c, struct mp_dns *dns);
struct mp_injected *mp_checker_injected(struct mp_checker *c);
const struct mp_checks *mp_checker_ops(struct mp_checker *c);

void mp_injected_init(struct mp_injected *inj);
/* Parses RESULT[:DOMAIN[,DOMAIN...]] for --dkim; 0, -1 (bad syntax) or
 * -2 (no memory). With no domains an injected signature carries the From
 * domain (aligned). */
int mp_injected_set_dkim(struct mp_injected *inj, const char *spec);
void mp_injected_clear(struct mp_injected *inj);
/* Parses RESULT[:POLICY] for --dmarc (pass, fail, none, temperror,
 * permerror; none, quarantine, reject, default none); 0 or -1. */
int mp_injected_set_dmarc(struct mp_injected *inj, const char *spec);
/* The seed of the draws for DMARC pct= (a test switch: the same seed, the
 * same draws in the same order); by default a random one. */
void mp_checker_set_seed(struct mp_checker *c, uint64_t seed);

#endif
