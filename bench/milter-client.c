/*
 * milter-client - a benchmark MTA side of the milter protocol.
 *
 * Sends N messages over S concurrent sessions (one thread and one milter
 * connection each, messages one after another on it) and reports messages
 * per second (timed from when every session has connected) and per-message
 * latency. Like Postfix, it writes an event's
 * macros and command in one write and, when the milter asks for no header
 * replies, buffers headers until the next read; unlike miltertest it
 * therefore does not stall on Nagle's algorithm over TCP. With -w it writes
 * every packet on its own, as Sendmail does, to show that stall.
 *
 *   milter-client -s SOCKET [-n MESSAGES] [-c SESSIONS] [-b BODYBYTES] [-w] [-r]
 *   -r: a new connection for every message, as Postfix opens one per SMTP
 *   session (the default keeps one connection per session)
 *   -m FILE: send this message (headers and body) instead of the built-in one
 *   SOCKET: unix:/path or inet:PORT@HOST
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* protocol flags the milter may set in its negotiation reply */
#define SMFIP_NOCONNECT 0x1UL
#define SMFIP_NOHELO 0x2UL
#define SMFIP_NOMAIL 0x4UL
#define SMFIP_NORCPT 0x8UL
#define SMFIP_NOBODY 0x10UL
#define SMFIP_NOHDRS 0x20UL
#define SMFIP_NOEOH 0x40UL
#define SMFIP_NR_HDR 0x80UL
#define SMFIP_NODATA 0x200UL
#define SMFIP_SKIP 0x400UL
#define SMFIP_NR_CONN 0x1000UL
#define SMFIP_NR_HELO 0x2000UL
#define SMFIP_NR_MAIL 0x4000UL
#define SMFIP_NR_RCPT 0x8000UL
#define SMFIP_NR_DATA 0x10000UL
#define SMFIP_NR_EOH 0x40000UL
#define SMFIP_NR_BODY 0x80000UL

struct wbuf {
	char *p;
	size_t len, cap;
};

struct session {
	const char *spec;
	int n;
	size_t body;
	int fd;
	unsigned long proto;
	struct wbuf out;
	double *lat;
	double setup;
	int errors, rejected;
};

static void die(const char *msg)
{
	fprintf(stderr, "milter-client: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static void put(struct wbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			die("realloc");
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static int per_packet; /* -w: one write per packet, as Sendmail does */
/* sessions connect first, then all start sending at once */
static pthread_barrier_t ready;
static double t_go;
static void flush(struct session *s);

/* Appends one packet (length, command, data) to what the session sends at
 * its next read - or, with -w, sends it at once. */
static void packet(struct session *s, char cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)len + 1);

	put(&s->out, &n, 4);
	put(&s->out, &cmd, 1);
	if (len > 0)
		put(&s->out, data, len);
	if (per_packet)
		flush(s);
}

static void flush(struct session *s)
{
	size_t off = 0;

	while (off < s->out.len) {
		ssize_t w = write(s->fd, s->out.p + off, s->out.len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		off += (size_t)w;
	}
	s->out.len = 0;
}

static void read_full(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)p + off, n - off);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			die("read");
		}
		off += (size_t)r;
	}
}

/* Flushes what is buffered, then reads one reply packet; returns its code. */
static char reply(struct session *s, char *data, size_t cap, size_t *len_r)
{
	uint32_t n;
	char cmd;

	flush(s);
	read_full(s->fd, &n, 4);
	n = ntohl(n);
	if (n == 0 || n - 1 > cap)
		die("bad reply length");
	read_full(s->fd, &cmd, 1);
	read_full(s->fd, data, n - 1);
	if (len_r)
		*len_r = n - 1;
	return cmd;
}

/* Reads replies until a final one (modifications come first at EOM). */
static char final_reply(struct session *s)
{
	static __thread char data[65536];

	for (;;) {
		char c = reply(s, data, sizeof(data), NULL);
		if (strchr("+-hmiqp", c) == NULL)
			return c;
	}
}

static int connect_to(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", spec + 5);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect");
		return fd;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		char port[16], host[256];
		const char *at = strchr(spec + 5, '@');
		snprintf(port, sizeof(port), "%.*s", (int)(at - spec - 5), spec + 5);
		snprintf(host, sizeof(host), "%s", at + 1);
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
		if (getaddrinfo(host, port, &hints, &res) != 0)
			die("getaddrinfo");
		int fd = socket(res->ai_family, res->ai_socktype, 0);
		if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
			die("connect");
		freeaddrinfo(res);
		return fd; /* like Postfix: no TCP_NODELAY */
	}
	fprintf(stderr, "milter-client: bad socket %s\n", spec);
	exit(2);
}

static void macro(struct session *s, char stage, const char *name, const char *value)
{
	struct wbuf d = { 0 };

	put(&d, &stage, 1);
	put(&d, name, strlen(name) + 1);
	put(&d, value, strlen(value) + 1);
	packet(s, 'D', d.p, d.len);
	free(d.p);
}

static void strpacket(struct session *s, char cmd, const char *a, const char *b)
{
	struct wbuf d = { 0 };

	put(&d, a, strlen(a) + 1);
	if (b != NULL)
		put(&d, b, strlen(b) + 1);
	packet(s, cmd, d.p, d.len);
	free(d.p);
}

static char event(struct session *s)
{
	return final_reply(s);
}

/* After an event's packet: its reply, or 'c' when the milter negotiated
 * not to reply to it (NR) - as Postfix does, nothing is read then. */
static char event_nr(struct session *s, unsigned long nr)
{
	return (s->proto & nr) ? 'c' : event(s);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connects, negotiates and sends the connect and HELO events. */
static void open_connection(struct session *s)
{
	char data[4096];
	size_t len;

	s->fd = connect_to(s->spec);
	uint32_t neg[3] = { htonl(6), htonl(0x1ff), htonl(0x1fffff) };
	packet(s, 'O', neg, sizeof(neg));
	if (reply(s, data, sizeof(data), &len) != 'O' || len < 12)
		die("negotiation");
	memcpy(&s->proto, data + 8, 4);
	s->proto = ntohl((uint32_t)s->proto);
	macro(s, 'C', "{client_addr}", "198.51.100.7");
	struct wbuf d = { 0 };
	uint16_t port = htons(2525);
	put(&d, "mail.sender.example", 20);
	put(&d, "4", 1);
	put(&d, &port, 2);
	put(&d, "198.51.100.7", 13);
	if (!(s->proto & SMFIP_NOCONNECT)) {
		packet(s, 'C', d.p, d.len);
		if (event_nr(s, SMFIP_NR_CONN) != 'c')
			s->errors++;
	}
	free(d.p);
	if (!(s->proto & SMFIP_NOHELO)) {
		strpacket(s, 'H', "mail.sender.example", NULL);
		event_nr(s, SMFIP_NR_HELO);
	}
}

static void close_connection(struct session *s)
{
	packet(s, 'Q', NULL, 0);
	flush(s);
	close(s->fd);
}

static int reconnect; /* -r: a connection per message, as Postfix opens one per SMTP session */

/* -m FILE: the message sent instead of the built-in one - its header fields
 * as Postfix passes them (name, value without the space after the colon,
 * folded lines joined by LF), its body with CRLF line ends */
static struct field {
	char *name, *value;
} *file_fields;
static size_t n_file_fields;
static char *file_body;
static size_t file_body_len;

static void load_message(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char line[65536];
	struct wbuf body = { 0 };
	int in_body = 0;

	if (f == NULL)
		die(path);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (in_body) {
			put(&body, line, n);
			put(&body, "\r\n", 2);
		} else if (n == 0) {
			in_body = 1;
		} else if ((line[0] == ' ' || line[0] == '\t') && n_file_fields > 0) {
			struct field *fl = &file_fields[n_file_fields - 1];
			size_t old = strlen(fl->value);
			fl->value = realloc(fl->value, old + n + 2);
			fl->value[old] = '\n';
			memcpy(fl->value + old + 1, line, n + 1);
		} else {
			char *colon = strchr(line, ':');
			if (colon == NULL)
				die("a header line without a colon");
			*colon = '\0';
			file_fields = realloc(file_fields, (n_file_fields + 1) * sizeof(*file_fields));
			file_fields[n_file_fields].name = strdup(line);
			file_fields[n_file_fields].value = strdup(colon[1] == ' ' ? colon + 2 : colon + 1);
			n_file_fields++;
		}
	}
	fclose(f);
	file_body = body.p;
	file_body_len = body.len;
}

static void *run_session(void *arg)
{
	struct session *s = arg;
	static const char *headers[][2] = {
		{ "Received", "from mail.sender.example (mail.sender.example [198.51.100.7])\n\tby mx.example.com with ESMTP id 4Q1x2 for <bob@example.com>" },
		{ "From", "Alice <alice@sender.example>" },
		{ "To", "Bob <bob@example.com>" },
		{ "Subject", "benchmark message" },
		{ "Date", "Thu, 26 Nov 2026 11:00:00 +0000" },
		{ "Message-ID", "<bench@sender.example>" },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=us-ascii" },
	};

	double t_start = now();
	char *body = malloc(s->body + 1);
	for (size_t i = 0; i < s->body; i++)
		body[i] = (i % 72 == 71) ? '\n' : (char)('a' + i % 26);
	size_t nh = sizeof(headers) / sizeof(headers[0]);
	if (file_body != NULL) {
		free(body);
		body = file_body;
		s->body = file_body_len;
		nh = n_file_fields;
	}
	if (!reconnect)
		open_connection(s);
	s->setup = now() - t_start;
	if (pthread_barrier_wait(&ready) == PTHREAD_BARRIER_SERIAL_THREAD)
		t_go = now();
	for (int i = 0; i < s->n; i++) {
		double t0 = now();
		if (reconnect)
			open_connection(s);
		char c = 'c';
		macro(s, 'M', "i", "4Q1x2");
		if (!(s->proto & SMFIP_NOMAIL)) {
			strpacket(s, 'M', "<alice@sender.example>", NULL);
			c = event_nr(s, SMFIP_NR_MAIL);
		}
		if (c != 'c') {
			s->rejected++;
			if (reconnect)
				close_connection(s);
			continue;
		}
		if (!(s->proto & SMFIP_NORCPT)) {
			strpacket(s, 'R', "<bob@example.com>", NULL);
			event_nr(s, SMFIP_NR_RCPT);
		}
		if (!(s->proto & SMFIP_NODATA)) {
			packet(s, 'T', NULL, 0);
			event_nr(s, SMFIP_NR_DATA);
		}
		for (size_t h = 0; h < nh && !(s->proto & SMFIP_NOHDRS); h++) {
			if (file_body != NULL)
				strpacket(s, 'L', file_fields[h].name, file_fields[h].value);
			else
				strpacket(s, 'L', headers[h][0], headers[h][1]);
			event_nr(s, SMFIP_NR_HDR);
		}
		if (!(s->proto & SMFIP_NOEOH)) {
			packet(s, 'N', NULL, 0);
			c = event_nr(s, SMFIP_NR_EOH);
		}
		if (c == 'c') {
			for (size_t off = 0; off < s->body && !(s->proto & SMFIP_NOBODY); off += 65535) {
				size_t n = s->body - off < 65535 ? s->body - off : 65535;
				packet(s, 'B', body + off, n);
				c = event_nr(s, SMFIP_NR_BODY);
				if (c == 's') { /* SMFIP_SKIP: no more body wanted */
					c = 'c';
					break;
				}
				if (c != 'c')
					break;
			}
			macro(s, 'E', "i", "4Q1x2");
			packet(s, 'E', NULL, 0);
			c = event(s);
		}
		if (c != 'c' && c != 'a')
			s->rejected++;
		if (reconnect)
			close_connection(s);
		s->lat[i] = now() - t0;
	}
	if (!reconnect)
		close_connection(s);
	if (body != file_body)
		free(body);
	free(s->out.p);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *spec = NULL;
	int n = 2000, c = 10, opt;
	size_t body = 5000;

	while ((opt = getopt(argc, argv, "s:n:c:b:wrm:")) != -1) {
		switch (opt) {
		case 'w': per_packet = 1; break;
		case 'r': reconnect = 1; break;
		case 'm': load_message(optarg); break;
		case 's': spec = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': c = atoi(optarg); break;
		case 'b': body = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: milter-client -s SOCKET [-n MESSAGES] [-c SESSIONS] [-b BYTES] [-w] [-r] [-m FILE]\n");
			return 2;
		}
	}
	if (spec == NULL || n < 1 || c < 1)
		return 2;
	struct session *ss = calloc((size_t)c, sizeof(*ss));
	pthread_t *th = calloc((size_t)c, sizeof(*th));
	double *lat = calloc((size_t)n, sizeof(*lat));
	int off = 0;
	pthread_barrier_init(&ready, NULL, (unsigned)c);
	for (int i = 0; i < c; i++) {
		ss[i].spec = spec;
		ss[i].n = n / c + (i < n % c);
		ss[i].body = body;
		ss[i].lat = lat + off;
		off += ss[i].n;
		pthread_create(&th[i], NULL, run_session, &ss[i]);
	}
	int rejected = 0, errors = 0;
	double setup = 0, sum = 0;
	for (int i = 0; i < c; i++) {
		pthread_join(th[i], NULL);
		rejected += ss[i].rejected;
		errors += ss[i].errors;
		if (ss[i].setup > setup)
			setup = ss[i].setup;
	}
	double t = now() - t_go; /* the message phase only */
	for (int i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("socket=%s messages=%d sessions=%d body=%zu seconds=%.3f msg_per_s=%.0f "
	       "latency_ms_mean=%.3f p50=%.3f p99=%.3f max=%.3f setup_ms=%.1f refused=%d errors=%d\n",
	       spec, n, c, file_body != NULL ? file_body_len : body, t, n / t, sum / n * 1e3, lat[n / 2] * 1e3,
	       lat[(size_t)(n * 0.99)] * 1e3, lat[n - 1] * 1e3, setup * 1e3, rejected, errors);
	free(ss);
	free(th);
	free(lat);
	return errors ? 1 : 0;
}
