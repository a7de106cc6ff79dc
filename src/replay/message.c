/*
 * message - parsing a message file and driving it through the engine.
 *
 * Parsing follows what Postfix hands a milter that asked for
 * SMFIP_HDR_LEADSPC: header values are everything after the colon, leading
 * whitespace included, with LF folding; the body has CRLF line ends.
 * An initial mbox "From " line is skipped; a line that is neither a field
 * nor a continuation ends the header, as in Postfix. A NUL byte in a field
 * ends its value (libmilter passes C strings).
 */
#include "replay/replay.h"

#include "engine/engine.h"
#include "mail/address.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/file.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MESSAGE_MAX (256u * 1024 * 1024)

void mp_message_free(struct mp_message *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_hdrs; i++) {
		free(m->hdrs[i].name);
		free(m->hdrs[i].value);
	}
	free(m->hdrs);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

int mp_message_parse(const char *data, size_t len, struct mp_message *m)
{
	const char *p = data, *end = data + len;
	size_t cap = 0;
	size_t vlen = 0, vcap = 0; /* the last field's value: grown geometrically */

	memset(m, 0, sizeof(*m));
	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		p = line_end(p, end) + (line_end(p, end) < end);
	while (p < end) {
		const char *le = line_end(p, end);
		const char *content_end = le > p && le[-1] == '\r' ? le - 1 : le;
		if (content_end == p) {
			p = le + (le < end);
			break; /* the empty line */
		}
		if (*p == ' ' || *p == '\t') {
			if (m->n_hdrs == 0)
				break;
			struct mp_msg_header *h = &m->hdrs[m->n_hdrs - 1];
			size_t add = (size_t)(content_end - p);
			if (vlen + 1 + add + 1 > vcap) {
				size_t nc = vcap * 2 > vlen + add + 2 ? vcap * 2 : vlen + add + 2;
				char *nv = realloc(h->value, nc);
				if (nv == NULL)
					goto oom;
				h->value = nv;
				vcap = nc;
			}
			h->value[vlen] = '\n';
			memcpy(h->value + vlen + 1, p, add);
			vlen += 1 + add;
			h->value[vlen] = '\0';
			p = le + (le < end);
			continue;
		}
		const char *colon = memchr(p, ':', (size_t)(content_end - p));
		bool ok = colon != NULL && colon > p;
		for (const char *q = p; ok && q < colon; q++)
			ok = (unsigned char)*q > ' ' && (unsigned char)*q < 0x7f;
		if (!ok)
			break; /* not a header field: the body starts here */
		if (m->n_hdrs == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct mp_msg_header *nh = realloc(m->hdrs, nc * sizeof(*nh));
			if (nh == NULL)
				goto oom;
			m->hdrs = nh;
			cap = nc;
		}
		const char *v = colon + 1;
		struct mp_msg_header *h = &m->hdrs[m->n_hdrs];
		h->name = strndup(p, (size_t)(colon - p));
		h->value = strndup(v, (size_t)(content_end - v));
		vlen = (size_t)(content_end - v);
		vcap = vlen + 1;
		if (h->name == NULL || h->value == NULL) {
			free(h->name);
			free(h->value);
			goto oom;
		}
		m->n_hdrs++;
		p = le + (le < end);
	}
	/* body: LF -> CRLF */
	struct mp_buf b;
	mp_buf_init(&b);
	while (p < end) {
		const char *le = line_end(p, end);
		const char *ce = le > p && le[-1] == '\r' ? le - 1 : le;
		mp_buf_add(&b, p, (size_t)(ce - p));
		if (le < end)
			mp_buf_add(&b, "\r\n", 2);
		p = le + (le < end);
	}
	if (b.oom) {
		mp_buf_free(&b);
		goto oom;
	}
	m->body_len = b.len;
	m->body = mp_buf_steal(&b);
	if (m->body == NULL)
		goto oom;
	return 0;
oom:
	mp_message_free(m);
	return -1;
}

int mp_message_load(const char *path, struct mp_message *m)
{
	char *data;
	size_t len = 0;

	if (strcmp(path, "-") == 0) {
		struct mp_buf b;
		char chunk[65536];
		ssize_t n;
		mp_buf_init(&b);
		while ((n = read(0, chunk, sizeof(chunk))) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				mp_buf_free(&b);
				return -1;
			}
			mp_buf_add(&b, chunk, (size_t)n);
			if (b.len > MESSAGE_MAX) {
				mp_buf_free(&b);
				errno = EFBIG;
				return -1;
			}
		}
		len = b.len;
		data = mp_buf_steal(&b);
		if (data == NULL) {
			errno = ENOMEM;
			return -1;
		}
	} else {
		data = mp_read_file(path, MESSAGE_MAX, &len);
		if (data == NULL)
			return -1;
	}
	int rc = mp_message_parse(data, len, m);
	free(data);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

void mp_replay_env_init(struct mp_replay_env *env)
{
	memset(env, 0, sizeof(*env));
	env->grey_ago = -1;
}

/* Fills in what the caller left out, noting it in out->defaults. */
static void env_defaults(const struct mp_replay_env *env, struct mp_replay *out)
{
	out->env = *env; /* rcpts: the caller's, or NULL when from the message */
	if (env->client_ip == NULL) {
		out->env.client_ip = "127.0.0.1";
		out->defaults |= MP_ENV_DEF_CLIENT_IP;
	}
	if (env->client_name == NULL) {
		out->env.client_name = "localhost";
		out->defaults |= MP_ENV_DEF_CLIENT_NAME;
	}
	if (env->client_port == 0) {
		out->env.client_port = 25;
		out->defaults |= MP_ENV_DEF_CLIENT_PORT;
	}
	if (env->helo == NULL) {
		out->env.helo = "localhost";
		out->defaults |= MP_ENV_DEF_HELO;
	}
	if (env->from == NULL)
		out->defaults |= MP_ENV_DEF_FROM;
	if (env->rcpts == NULL)
		out->defaults |= MP_ENV_DEF_RCPT;
}

/* Addresses of the first field named `name`s (From, or To and Cc). */
static char **addresses_of(const struct mp_message *m, const char *const *names)
{
	struct mp_arena arena;
	struct mp_mailbox boxes[64];
	char **out = NULL;
	size_t n = 0;

	mp_arena_init(&arena);
	for (size_t i = 0; i < m->n_hdrs; i++) {
		bool want = false;
		for (size_t j = 0; names[j] != NULL; j++)
			want = want || mp_ascii_ieq(m->hdrs[i].name, names[j]);
		if (!want)
			continue;
		int k = mp_addr_parse_list(m->hdrs[i].value, strlen(m->hdrs[i].value), &arena, boxes, 64);
		for (int j = 0; j < k && j < 64; j++) {
			char **no = realloc(out, (n + 2) * sizeof(*no));
			if (no == NULL)
				break;
			out = no;
			out[n] = strdup(boxes[j].addr);
			if (out[n] != NULL)
				n++;
			out[n] = NULL;
		}
	}
	mp_arena_release(&arena);
	return out;
}

static void free_strv(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int put_body(void *arg, const void *p, size_t n)
{
	struct mp_buf *b = arg;

	mp_buf_add(b, p, n);
	return b->oom ? -1 : 0;
}

/* The body after strip attachment, as the daemon would replace it. */
static int new_body(struct mp_replay *r)
{
	struct mp_buf b;

	mp_buf_init(&b);
	int rc = mp_txn_new_body(r->txn, put_body, &b);
	if (rc > 0) {
		r->new_body_len = b.len;
		r->new_body = mp_buf_steal(&b);
		return r->new_body != NULL ? 0 : -1;
	}
	mp_buf_free(&b);
	return rc;
}

int mp_replay_run(struct mp_ruleset *rs, struct mp_replay_env *env,
		  const struct mp_message *msg, bool trace, struct mp_replay *out,
		  const char **err_r)
{
	static const char *const from_names[] = { "From", NULL };
	static const char *const rcpt_names[] = { "To", "Cc", NULL };
	struct mp_verdict v;
	char **from_v = NULL, **rcpt_v = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->msg = msg;
	env_defaults(env, out);
	*err_r = "out of memory";
	out->conn = mp_conn_new(rs, mp_checker_ops(env->checker));
	if (out->conn == NULL)
		return -1;
	mp_conn_set_state(out->conn, env->state, env->state_ro);
	for (size_t i = 0; i < env->n_pre; i++) {
		if (mp_conn_preload_rate(out->conn, env->pre_names[i], env->pre_n[i]) < 0)
			return -1;
	}
	if (env->grey_ago >= 0)
		mp_conn_preload_greylist(out->conn, (unsigned)env->grey_ago);
	if (mp_conn_connect(out->conn, out->env.client_ip, out->env.client_name,
			    out->env.client_port, &v) < 0)
		return -1;
	if (mp_conn_helo(out->conn, out->env.helo, env->tls, &v) < 0)
		return -1;
	const char *from = env->from;
	if (from == NULL) {
		from_v = addresses_of(msg, from_names);
		from = from_v && from_v[0] ? from_v[0] : "";
	}
	const char *const *rcpts = env->rcpts;
	if (rcpts == NULL) {
		rcpt_v = addresses_of(msg, rcpt_names);
		rcpts = (const char *const *)rcpt_v;
	}
	if (rcpts == NULL || rcpts[0] == NULL) {
		out->no_rcpt = true;
		*err_r = "no recipient: give --rcpt (or rcpt-to:) or a To: header";
		goto done;
	}
	out->txn = mp_txn_new(out->conn);
	if (out->txn == NULL)
		goto done;
	mp_txn_set_trace(out->txn, trace);
	if (env->queue_id)
		mp_txn_set_queue_id(out->txn, env->queue_id);
	struct mp_drive_msg dm = { .from = from, .auth = env->auth, .rcpts = rcpts,
				   .hdrs = msg->hdrs, .n_hdrs = msg->n_hdrs, .body = msg->body,
				   .body_len = msg->body_len };
	if (mp_drive_message(out->txn, &dm, &v) < 0)
		goto done;
	out->result = mp_txn_result(out->txn);
	if (out->result != NULL && new_body(out) == 0) {
		rc = 0;
		*err_r = NULL;
	}
done:
	free_strv(from_v);
	free_strv(rcpt_v);
	return rc;
}

void mp_replay_free(struct mp_replay *r)
{
	if (r == NULL)
		return;
	free(r->new_body);
	mp_txn_free(r->txn);
	mp_conn_free(r->conn);
	memset(r, 0, sizeof(*r));
}

/* The index of the k-th (1-based) field named name in v, or -1. */
static ptrdiff_t nth_named(const struct mp_final_header *v, size_t n, const char *name, int k)
{
	for (size_t i = 0; i < n; i++) {
		if (mp_ascii_ieq(v[i].name, name) && --k == 0)
			return (ptrdiff_t)i;
	}
	return -1;
}

size_t mp_replay_final_headers(const struct mp_replay *r, struct mp_final_header **out)
{
	const struct mp_message *m = r->msg;
	const struct mp_edit *edits = NULL;
	size_t n_edits = 0, n = 0;

	*out = NULL;
	if (r->txn == NULL || mp_txn_edits(r->txn, &edits, &n_edits) < 0)
		return 0;
	struct mp_final_header *v = calloc(m->n_hdrs + n_edits + 1, sizeof(*v));
	if (v == NULL)
		return 0;
	*out = v;
	for (size_t i = 0; i < m->n_hdrs; i++) {
		const char *value = m->hdrs[i].value;
		while (*value == ' ' || *value == '\t')
			value++;
		v[n++] = (struct mp_final_header){ m->hdrs[i].name, value };
	}
	/* the changes as the MTA applies them, one after the other */
	for (size_t k = 0; k < n_edits; k++) {
		const struct mp_edit *e = &edits[k];
		ptrdiff_t at;
		switch (e->kind) {
		case MP_EDIT_HEADER_DELETE:
			at = nth_named(v, n, e->name, e->index);
			if (at >= 0) {
				memmove(v + at, v + at + 1, (n - (size_t)at - 1) * sizeof(*v));
				n--;
			}
			break;
		case MP_EDIT_HEADER_INSERT: {
			size_t pos = e->index < 0 ? 0 : (size_t)e->index > n ? n : (size_t)e->index;
			memmove(v + pos + 1, v + pos, (n - pos) * sizeof(*v));
			v[pos] = (struct mp_final_header){ e->name, e->value };
			n++;
			break;
		}
		case MP_EDIT_HEADER_CHANGE:
			at = nth_named(v, n, e->name, e->index);
			if (at >= 0) {
				v[at].value = e->value;
				break;
			}
			/* a field that is not there is added */
			v[n++] = (struct mp_final_header){ e->name, e->value };
			break;
		case MP_EDIT_HEADER_ADD:
			v[n++] = (struct mp_final_header){ e->name, e->value };
			break;
		default:
			break;
		}
	}
	return n;
}
