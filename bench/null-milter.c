/*
 * null-milter - the floor for benchmarks: a libmilter filter that registers
 * every callback and does nothing but continue. Same library, same socket
 * handling (TCP_NODELAY on inet listeners, as milter-policy does), no policy.
 *
 *   null-milter SOCKET          SOCKET: unix:/path or inet:PORT@HOST
 */
#include <libmilter/mfapi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static sfsistat cont(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static sfsistat c_connect(SMFICTX *ctx, char *h, _SOCK_ADDR *a) { return SMFIS_CONTINUE; }
static sfsistat c_helo(SMFICTX *ctx, char *h) { return SMFIS_CONTINUE; }
static sfsistat c_argv(SMFICTX *ctx, char **argv) { return SMFIS_CONTINUE; }
static sfsistat c_header(SMFICTX *ctx, char *n, char *v) { return SMFIS_CONTINUE; }
static sfsistat c_body(SMFICTX *ctx, unsigned char *p, size_t n) { return SMFIS_CONTINUE; }

static int listen_tcp(const char *spec)
{
	const char *p = strchr(spec, ':') + 1, *at = strchr(p, '@');
	char port[16];
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	int one = 1;

	snprintf(port, sizeof(port), "%.*s", (int)(at - p), p);
	if (getaddrinfo(at + 1, port, &hints, &res) != 0)
		return -1;
	int fd = socket(res->ai_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
		return -1;
	freeaddrinfo(res);
	return fd;
}

int main(int argc, char **argv)
{
	struct smfiDesc d = {
		.xxfi_name = "null-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_connect = c_connect,
		.xxfi_helo = c_helo,
		.xxfi_envfrom = c_argv,
		.xxfi_envrcpt = c_argv,
		.xxfi_header = c_header,
		.xxfi_eoh = cont,
		.xxfi_body = c_body,
		.xxfi_eom = cont,
		.xxfi_abort = cont,
		.xxfi_close = cont,
		.xxfi_data = cont,
	};
	char spec[512];

	if (argc != 2) {
		fprintf(stderr, "usage: null-milter SOCKET\n");
		return 2;
	}
	snprintf(spec, sizeof(spec), "%s", argv[1]);
	if (strncmp(spec, "inet:", 5) == 0) {
		int fd = listen_tcp(argv[1]);
		if (fd < 0) {
			perror("listen");
			return 1;
		}
		snprintf(spec, sizeof(spec), "fd:%d", fd);
	}
	umask(0); /* a unix socket the MTA's user can reach */
	if (smfi_register(d) != MI_SUCCESS || smfi_setconn(spec) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS)
		return 1;
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
