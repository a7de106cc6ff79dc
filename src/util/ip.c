/*
 * ip - address parsing and masking; see ip.h.
 */
#include "util/ip.h"

#include "util/file.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int mp_ip_parse(const char *s, size_t len, struct mp_ip *ip)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (len >= 5 && mp_ascii_ieqn(s, 5, "IPv6:", 5)) {
		s += 5;
		len -= 5;
	}
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
		if (len >= 5 && mp_ascii_ieqn(s, 5, "IPv6:", 5)) {
			s += 5;
			len -= 5;
		}
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, buf, ip->a) == 1)
		return 0;
	if (inet_pton(AF_INET6, buf, ip->a) == 1) {
		if (memcmp(ip->a, v4mapped, 12) == 0) {
			memmove(ip->a, ip->a + 12, 4);
			memset(ip->a + 4, 0, 12);
			return 0;
		}
		ip->v6 = 1;
		return 0;
	}
	return -1;
}

void mp_ip_mask(struct mp_ip *ip, int prefix)
{
	int bits = ip->v6 ? 128 : 32;

	for (int i = 0; i < bits / 8; i++) {
		int keep = prefix - i * 8;
		if (keep >= 8)
			continue;
		ip->a[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

int mp_cidr_parse(const char *s, size_t len, struct mp_ip *ip, int *prefix_r,
		  const char **why_r)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;

	*why_r = "not an IP address";
	if (mp_ip_parse(s, alen, ip) < 0)
		return -1;
	int max = ip->v6 ? 128 : 32;
	int prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1, *end = s + len;
		if (p == end || end - p > 3) {
			*why_r = "bad prefix length";
			return -1;
		}
		prefix = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9') {
				*why_r = "bad prefix length";
				return -1;
			}
			prefix = prefix * 10 + (*p - '0');
		}
		if (prefix > max) {
			*why_r = ip->v6 ? "prefix length above 128" : "prefix length above 32";
			return -1;
		}
	}
	mp_ip_mask(ip, prefix);
	*prefix_r = prefix;
	return 0;
}

void mp_ip_format(const struct mp_ip *ip, char *buf, size_t len)
{
	if (inet_ntop(ip->v6 ? AF_INET6 : AF_INET, ip->a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

int mp_hostport_parse(const char *spec, struct sockaddr_storage *ss, const char **why_r)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;

	memset(ss, 0, sizeof(*ss));
	*why_r = "expected HOST:PORT with an IP address, such as 127.0.0.1:9469 or [::1]:9469";
	if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[') {
		size_t l = strlen(host);
		if (l < 3 || host[l - 1] != ']')
			return -1;
		host[l - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -1;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return 0;
}
