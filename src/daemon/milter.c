/*
 * milter - libmilter callbacks: each one translates an MTA event into an
 * engine call and the engine's verdict into a libmilter status and reply.
 * No policy is decided here.
 *
 * Per-connection state (struct mctx) lives in smfi_setpriv from negotiate
 * (or connect) to close; the transaction inside it lives from MAIL FROM to
 * the end of the message, an abort, a refusal or the next MAIL FROM,
 * whichever comes first, so an abort between any two callbacks finds
 * consistent state. libmilter runs one connection's callbacks one at a time,
 * possibly on different threads: nothing here is thread-local.
 *
 * A refusal decided at connect cannot carry a reply text there
 * (smfi_setreply is not allowed in connect); it is kept and given as the
 * reply to the client's first command.
 */
#include "daemon/milter.h"
#include "daemon/reply.h"

#include "engine/engine.h"
#include "report/row.h"
#include "rules/ruleset.h"
#include "state/state.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mctx {
	struct mp_conn *conn;
	struct mp_txn *txn;
	unsigned long conn_id, txn_no;
	bool skip_ok;              /* MTA understands SMFIS_SKIP */
	bool nr_hdr;               /* no reply for headers */
	bool leadspc;              /* header values with their leading space, both ways */
	struct mp_verdict pending; /* a connect-stage refusal, for the first command */
	const char *pending_error; /* an internal error at a stage without reply, or NULL */
	bool nr_conn, nr_helo;     /* the MTA wants no reply at connect, at HELO */
	char id[64];               /* queue id, or CONN.TXN before the MTA has one */
	bool have_qid;
	struct timespec t0;
	enum mp_stage last_stage;  /* reached by the transaction, for aborts */
	unsigned long state_errors; /* the connection's store failures counted so far */
};

static atomic_ulong conn_ids;  /* the daemon's own connection numbers */
static const struct mp_milter_host *H;

static struct mctx *get_ctx(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);

	if (m != NULL)
		return m;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->conn_id = atomic_fetch_add(&conn_ids, 1) + 1;
	if (smfi_setpriv(ctx, m) != MI_SUCCESS) {
		free(m);
		return NULL;
	}
	if (H->session != NULL)
		H->session(1);
	return m;
}

static double elapsed_ms(const struct mctx *m)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - m->t0.tv_sec) * 1e3 + (double)(now.tv_nsec - m->t0.tv_nsec) / 1e6;
}

static void take_queue_id(SMFICTX *ctx, struct mctx *m)
{
	char *qid;

	if (m->have_qid || m->txn == NULL)
		return;
	qid = smfi_getsymval(ctx, "i");
	if (qid == NULL || *qid == '\0')
		return;
	snprintf(m->id, sizeof(m->id), "%s", qid);
	m->have_qid = true;
	mp_txn_set_queue_id(m->txn, qid);
}

/* Sets the reply and returns the status for a refusal. */
static sfsistat refuse(SMFICTX *ctx, const struct mp_verdict *v)
{
	char text[2 * MP_TEXT_MAX + 1];

	mp_milter_reply_text(v->reply.text[0] ? v->reply.text : "Refused by policy", text,
			       sizeof(text));
	if (smfi_setreply(ctx, (char *)v->reply.code, (char *)v->reply.xcode, text) != MI_SUCCESS)
		mp_log(MP_LOG_WARN, "could not set reply %s %s", v->reply.code, v->reply.xcode);
	return v->outcome == MP_O_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}


void mp_milter_init(const struct mp_milter_host *host)
{
	H = host;
}

/* Fault injection for the tests (host->fail_in). */
static bool injected(const char *where)
{
	return H->fail_in != NULL && strcmp(H->fail_in, where) == 0;
}

static bool accept_on_error(void)
{
	struct mp_ruleset *rs = H->ruleset();
	bool accept = rs && mp_ruleset_settings(rs)->on_internal_error == MP_ONERR_ACCEPT;

	mp_ruleset_unref(rs);
	return accept;
}

/* The answer on_internal_error gives. */
static sfsistat error_answer(SMFICTX *ctx, bool accept)
{
	if (accept)
		return SMFIS_ACCEPT;
	smfi_setreply(ctx, "451", "4.3.0", "Internal error; try again later");
	return SMFIS_TEMPFAIL;
}

/* on_internal_error: tempfail, or accept - loudly, never silently. */
static sfsistat internal_error(SMFICTX *ctx, struct mctx *m, const char *where)
{
	bool accept = accept_on_error();

	mp_log(MP_LOG_ERROR, "id=%s internal error (out of memory) in %s; %s", m ? m->id : "-",
	       where, accept ? "accepting (on_internal_error = accept)" : "tempfail");
	return error_answer(ctx, accept);
}

/* The same, at a stage the MTA wants no reply for (no_reply: SMFIP_NR_*)
 * logged now and answered at the next command that takes a reply. */
static sfsistat stage_error(SMFICTX *ctx, struct mctx *m, bool no_reply, const char *where)
{
	if (!no_reply)
		return internal_error(ctx, m, where);
	mp_log(MP_LOG_ERROR, "id=%s internal error (out of memory) in %s; on_internal_error "
	       "answers at the next command", m->id, where);
	m->pending_error = where;
	return SMFIS_NOREPLY;
}

/* Writes one record as a line: id= first, the engine's fields, then (for
 * the summary) ms=, and conn= once the queue id is known: the id the
 * earlier lines of the transaction carried (SPEC §6). */
static void emit(const struct mctx *m, const struct mp_logrec *rec, const char *note,
		 bool summary)
{
	struct mp_logline l;

	mp_logline_init(&l);
	mp_logline_add(&l, "id", m->id);
	for (size_t i = 0; i < rec->n; i++)
		mp_logline_add(&l, rec->fields[i].key, rec->fields[i].value);
	if (note != NULL)
		mp_logline_add(&l, "note", note);
	if (summary)
		mp_logline_addf(&l, "ms", "%.1f", elapsed_ms(m));
	if (m->have_qid && m->txn != NULL)
		mp_logline_addf(&l, "conn", "%lu.%lu", m->conn_id, m->txn_no);
	mp_logline_emit(&l, MP_LOG_INFO);
}

/* A decision at connect or HELO, which has no message. */
static void log_conn_decision(struct mctx *m, const struct mp_verdict *v, enum mp_stage stage,
			      const char *note)
{
	struct mp_logrec rec = { 0 };

	if (mp_conn_log_decision(m->conn, v, stage, &rec) < 0)
		mp_log(MP_LOG_ERROR, "id=%s out of memory logging a decision", m->id);
	emit(m, &rec, note, false);
	if (H->conn_decision != NULL)
		H->conn_decision(mp_conn_ruleset(m->conn), v, stage);
	mp_logrec_free(&rec);
}

/* Store failures (SPEC §12) into the metric; one at connect or HELO into
 * the log (a transaction's are among its lines). */
static void state_note(struct mctx *m)
{
	unsigned long n = mp_conn_state_errors(m->conn);

	if (n > m->state_errors && H->state_errors != NULL)
		H->state_errors(n - m->state_errors);
	m->state_errors = n;
	const char *e = mp_conn_state_error(m->conn);
	if (e != NULL)
		mp_log(MP_LOG_WARN, "id=%s state error: %s", m->id, e);
}

/* Ends the transaction: its lines (what the rules asked to log, then the
 * summary; action NULL: its own decision), and frees it. */
static void end_txn(struct mctx *m, const char *action)
{
	struct mp_logrec rec = { 0 };

	if (m->txn == NULL)
		return;
	size_t n = mp_txn_log_n_extras(m->txn);
	for (size_t i = 0; i < n; i++) {
		rec.n = 0;
		if (mp_txn_log_extra(m->txn, i, &rec) == 0)
			emit(m, &rec, NULL, false);
	}
	rec.n = 0;
	rec.oom = false;
	if (mp_txn_log_summary(m->txn, action, m->last_stage, &rec) < 0 && action == NULL) {
		rec.n = 0;
		rec.oom = false;
		mp_txn_log_summary(m->txn, "tempfail", m->last_stage, &rec);
	}
	emit(m, &rec, NULL, true);
	mp_logrec_free(&rec);
	state_note(m);
	if (H->message != NULL)
		H->message(m->txn, mp_txn_ruleset(m->txn), action, m->last_stage, elapsed_ms(m) / 1000);
	mp_txn_free(m->txn);
	m->txn = NULL;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	struct mctx *m = get_ctx(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_ADDRCPT |
		     SMFIF_DELRCPT | SMFIF_SETSYMLIST);
	/* headers never decide alone (rules decide at end of header), so they
	 * need no reply: Postfix then sends them all in one write. (An MTA that
	 * writes every packet separately stalls on Nagle over TCP with or
	 * without this, on its macro packets; see docs/daemon.md.) */
	unsigned long want = SMFIP_SKIP | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC;
	/* no round trip where the rule set in force cannot answer anything but
	 * "continue" (rules/replies.c): a connect-stage decision is given at the
	 * first command anyway; HELO when no rule decides before MAIL FROM;
	 * DATA when no refusal can come there. A rule set a reload brings in
	 * applies to the connections negotiated after it; until then a
	 * decision at a stage without reply waits for the next command. */
	struct mp_ruleset *rs = H->ruleset();
	want |= SMFIP_NR_CONN;
	if (rs != NULL && !mp_ruleset_decides_early(rs))
		want |= SMFIP_NR_HELO;
	if (rs != NULL && !mp_ruleset_refuses_at_data(rs))
		want |= SMFIP_NODATA;
	mp_ruleset_unref(rs);
	*pf1 = f1 & want;
	*pf2 = *pf3 = 0;
	m->skip_ok = (*pf1 & SMFIP_SKIP) != 0;
	m->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
	m->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	m->nr_conn = (*pf1 & SMFIP_NR_CONN) != 0;
	m->nr_helo = (*pf1 & SMFIP_NR_HELO) != 0;
	if (f0 & SMFIF_SETSYMLIST) {
		/* only what the callbacks read */
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{client_addr} {client_name} {client_port}");
		smfi_setsymlist(ctx, SMFIM_HELO, "{tls_version}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* The client address: {client_addr}, else the socket address. */
static void client_address(SMFICTX *ctx, _SOCK_ADDR *sa, char *ip, size_t iplen,
			   unsigned *port)
{
	char *mac = smfi_getsymval(ctx, "{client_addr}");
	char *mport = smfi_getsymval(ctx, "{client_port}");

	ip[0] = '\0';
	*port = 0;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(s4->sin_port);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(s6->sin6_port);
	}
	if (mac != NULL && *mac != '\0')
		snprintf(ip, iplen, "%s", mac);
	if (mport != NULL && *mport != '\0')
		*port = (unsigned)strtoul(mport, NULL, 10);
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct mctx *m = get_ctx(ctx);
	char ip[INET6_ADDRSTRLEN + 8];
	unsigned port;
	struct mp_verdict v;

	if (m == NULL)
		return internal_error(ctx, NULL, "connect");
	snprintf(m->id, sizeof(m->id), "%lu", m->conn_id);
	struct mp_ruleset *rs = H->ruleset();
	m->conn = rs ? mp_conn_new(rs, H->checks()) : NULL;
	mp_ruleset_unref(rs);
	if (m->conn == NULL)
		return stage_error(ctx, m, m->nr_conn, "connect");
	if (H->state != NULL) {
		struct mp_state *st = H->state();
		mp_conn_set_state(m->conn, st, false);
		mp_state_free(st);
	}
	client_address(ctx, hostaddr, ip, sizeof(ip), &port);
	/* the PTR name: Postfix says "unknown", Sendmail gives "[address]" */
	const char *name = smfi_getsymval(ctx, "{client_name}");
	if (name == NULL || *name == '\0')
		name = hostname;
	if (name == NULL || *name == '\0' || *name == '[')
		name = "unknown";
	int rc = mp_conn_connect(m->conn, ip[0] ? ip : NULL, name, port, &v);
	state_note(m);
	if (rc < 0)
		return stage_error(ctx, m, m->nr_conn, "connect");
	if (mp_verdict_refuses(&v) || v.outcome == MP_O_DISCARD) {
		m->pending = v;
		log_conn_decision(m, &v, MP_STAGE_CONNECT, "replied at the first command");
	}
	return m->nr_conn ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* A connect-stage refusal, given at the first command that can carry it. */
static bool pending_refusal(struct mctx *m)
{
	return mp_verdict_refuses(&m->pending);
}

/* What waits for the first command that takes a reply: an internal error
 * or a refusal; -1 when nothing does. */
static int pending_answer(SMFICTX *ctx, struct mctx *m)
{
	if (m->pending_error != NULL) {
		m->pending_error = NULL;
		return error_answer(ctx, accept_on_error());
	}
	if (pending_refusal(m))
		return refuse(ctx, &m->pending);
	return -1;
}

static sfsistat cb_helo(SMFICTX *ctx, char *helohost)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m == NULL)
		return internal_error(ctx, m, "helo");
	/* what waits for a reply: given here, or at MAIL FROM without one here */
	if (m->pending_error != NULL || pending_refusal(m))
		return m->nr_helo ? SMFIS_NOREPLY : (sfsistat)pending_answer(ctx, m);
	if (m->conn == NULL)
		return stage_error(ctx, m, m->nr_helo, "helo");
	const char *tls = smfi_getsymval(ctx, "{tls_version}");
	int rc = mp_conn_helo(m->conn, helohost, tls != NULL && *tls != '\0', &v);
	state_note(m);
	if (rc < 0)
		return stage_error(ctx, m, m->nr_helo, "helo");
	if (mp_verdict_refuses(&v)) {
		if (m->nr_helo) {
			/* a rule set that arrived after the negotiation */
			m->pending = v;
			log_conn_decision(m, &v, MP_STAGE_HELO, "replied at the next command");
			return SMFIS_NOREPLY;
		}
		log_conn_decision(m, &v, MP_STAGE_HELO, NULL);
		return refuse(ctx, &v);
	}
	return m->nr_helo ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* A message-level verdict before end of message: refusals and discards end
 * the transaction here. */
static sfsistat message_verdict(SMFICTX *ctx, struct mctx *m, const struct mp_verdict *v)
{
	if (mp_verdict_refuses(v)) {
		sfsistat st = refuse(ctx, v);
		end_txn(m, NULL);
		return st;
	}
	if (v->outcome == MP_O_DISCARD) {
		end_txn(m, NULL);
		return SMFIS_DISCARD;
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m != NULL && m->pending_error != NULL)
		return (sfsistat)pending_answer(ctx, m);
	if (m == NULL || m->conn == NULL)
		return internal_error(ctx, m, "mail");
	if (pending_refusal(m))
		return refuse(ctx, &m->pending);
	if (m->txn != NULL)
		end_txn(m, "abort"); /* no abort callback came between */
	struct mp_ruleset *rs = H->ruleset();
	int rc = rs ? mp_conn_set_ruleset(m->conn, rs) : -1;
	mp_ruleset_unref(rs);
	if (rc < 0)
		return internal_error(ctx, m, "mail");
	m->txn = mp_txn_new(m->conn);
	if (m->txn == NULL)
		return internal_error(ctx, m, "mail");
	m->txn_no++;
	m->have_qid = false;
	snprintf(m->id, sizeof(m->id), "%lu.%lu", m->conn_id, m->txn_no);
	clock_gettime(CLOCK_MONOTONIC, &m->t0);
	m->last_stage = MP_STAGE_MAIL;
	take_queue_id(ctx, m);
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	if (injected("mail") || mp_txn_mail(m->txn, argv[0], auth, &v) < 0)
		return internal_error(ctx, m, "mail");
	return message_verdict(ctx, m, &v);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "rcpt");
	m->last_stage = MP_STAGE_RCPT;
	take_queue_id(ctx, m);
	if (injected("rcpt") || mp_txn_rcpt(m->txn, argv[0], &v) < 0)
		return internal_error(ctx, m, "rcpt");
	if (mp_verdict_refuses(&v)) {
		struct mp_logrec rec = { 0 };
		if (mp_txn_log_rcpt(m->txn, argv[0], &v, &rec) < 0)
			mp_log(MP_LOG_ERROR, "id=%s out of memory logging a recipient", m->id);
		emit(m, &rec, NULL, false);
		mp_logrec_free(&rec);
		if (H->rcpt_refused != NULL)
			H->rcpt_refused(&v);
		return refuse(ctx, &v);
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_data(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "data");
	take_queue_id(ctx, m);
	if (mp_txn_data(m->txn, &v) < 0)
		return internal_error(ctx, m, "data");
	return message_verdict(ctx, m, &v);
}

/* " " + value, in small when it fits, else allocated (NULL: no memory).
 * Header values cross libmilter with the space after the colon on one
 * side only, depending on SMFIP_HDR_LEADSPC. */
static char *spaced(const char *value, char *small, size_t size)
{
	size_t vl = strlen(value);
	char *v = vl + 2 <= size ? small : malloc(vl + 2);

	if (v != NULL) {
		v[0] = ' ';
		memcpy(v + 1, value, vl + 1);
	}
	return v;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct mctx *m = smfi_getpriv(ctx);

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "header");
	m->last_stage = MP_STAGE_HEADER;
	/* the engine (and DKIM's simple canonicalization) wants the value as
	 * it was; an MTA without HDR_LEADSPC ate one space after the colon */
	char small[512];
	const char *v = m->leadspc ? value : spaced(value, small, sizeof(small));
	if (v == NULL)
		return internal_error(ctx, m, "header");
	int rc = mp_txn_header(m->txn, name, v);
	if (v != value && v != small)
		free((char *)v);
	if (rc < 0)
		return internal_error(ctx, m, "header");
	return m->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "eoh");
	m->last_stage = MP_STAGE_HEADER;
	take_queue_id(ctx, m);
	if (injected("eoh") || mp_txn_eoh(m->txn, &v) < 0)
		return internal_error(ctx, m, "eoh");
	return message_verdict(ctx, m, &v);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	struct mctx *m = smfi_getpriv(ctx);

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "body");
	m->last_stage = MP_STAGE_EOM;
	if (mp_txn_body(m->txn, p, n) < 0)
		return internal_error(ctx, m, "body");
	/* decided, or nothing reads the body: the MTA may stop sending it */
	if (m->skip_ok && !mp_txn_wants_body(m->txn))
		return SMFIS_SKIP;
	return SMFIS_CONTINUE;
}

static void check(int rc, const struct mctx *m, const char *what, const char *arg)
{
	if (rc != MI_SUCCESS)
		mp_log(MP_LOG_WARN, "id=%s the MTA refused %s %s", m->id, what, arg ? arg : "");
}

/* A header value as the MTA wants it: with HDR_LEADSPC negotiated it adds
 * no space after the colon itself, so the value gets one here. NULL: no
 * memory. */
static char *header_value(const struct mctx *m, const char *value, char *small, size_t size)
{
	return m->leadspc ? spaced(value, small, size) : (char *)value;
}

/* One change from the engine, one smfi_* call. */
static void apply_edit(SMFICTX *ctx, const struct mctx *m, const struct mp_edit *e)
{
	char small[512];
	char *name = (char *)e->name, *value = (char *)e->value;
	char *v = NULL;

	switch (e->kind) {
	case MP_EDIT_HEADER_DELETE:
		mp_log(MP_LOG_DEBUG, "id=%s removing %s #%d", m->id, name, e->index);
		check(smfi_chgheader(ctx, name, e->index, NULL), m, "removing header", name);
		return;
	case MP_EDIT_HEADER_INSERT:
	case MP_EDIT_HEADER_CHANGE:
	case MP_EDIT_HEADER_ADD:
		v = header_value(m, value, small, sizeof(small));
		if (v == NULL) {
			mp_log(MP_LOG_ERROR, "id=%s out of memory changing header %s", m->id, name);
			return;
		}
		if (e->kind == MP_EDIT_HEADER_INSERT)
			check(smfi_insheader(ctx, e->index, name, v), m, "inserting header", name);
		else if (e->kind == MP_EDIT_HEADER_CHANGE)
			check(smfi_chgheader(ctx, name, e->index, v), m, "changing header", name);
		else
			check(smfi_addheader(ctx, name, v), m, "adding header", name);
		if (v != value && v != small)
			free(v);
		return;
	case MP_EDIT_RCPT_DELETE:
		check(smfi_delrcpt(ctx, value), m, "deleting recipient", value);
		return;
	case MP_EDIT_RCPT_ADD:
		check(smfi_addrcpt(ctx, value), m, "adding recipient", value);
		return;
	case MP_EDIT_QUARANTINE:
		check(smfi_quarantine(ctx, value), m, "quarantining", NULL);
		return;
	}
}

static int replace_body(void *arg, const void *p, size_t n)
{
	return smfi_replacebody(arg, (unsigned char *)p, (int)n) == MI_SUCCESS ? 0 : -1;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);
	struct mp_verdict v;

	if (m == NULL || m->txn == NULL)
		return internal_error(ctx, m, "eom");
	m->last_stage = MP_STAGE_EOM;
	take_queue_id(ctx, m);
	if (injected("eom") || mp_txn_eom(m->txn, &v) < 0)
		return internal_error(ctx, m, "eom");
	const struct mp_result *r = mp_txn_result(m->txn);
	if (r == NULL)
		return internal_error(ctx, m, "eom");
	struct mp_dmarc_row row;
	if (H->dmarc_row != NULL && mp_txn_dmarc_row(m->txn, &row))
		H->dmarc_row(&row);
	if (mp_verdict_ends(&v))
		return message_verdict(ctx, m, &v);
	const struct mp_edit *edits;
	size_t n;
	if (mp_txn_edits(m->txn, &edits, &n) < 0)
		return internal_error(ctx, m, "eom");
	for (size_t i = 0; i < n; i++)
		apply_edit(ctx, m, &edits[i]);
	/* strip attachment: the body as it goes on */
	if (mp_txn_new_body(m->txn, replace_body, ctx) < 0)
		return internal_error(ctx, m, "eom (replacing the body)");
	end_txn(m, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);

	if (m != NULL)
		end_txn(m, "abort");
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct mctx *m = smfi_getpriv(ctx);

	if (m == NULL)
		return SMFIS_CONTINUE;
	if (m->conn != NULL)
		end_txn(m, "abort");
	mp_txn_free(m->txn);
	mp_conn_free(m->conn);
	free(m);
	smfi_setpriv(ctx, NULL);
	if (H->session != NULL)
		H->session(-1);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "milter-policy",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_ADDRCPT |
		      SMFIF_DELRCPT | SMFIF_SETSYMLIST,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_unknown = NULL,
	.xxfi_data = cb_data,
	.xxfi_negotiate = cb_negotiate,
};

struct smfiDesc *mp_milter_desc(void)
{
	return &desc;
}
