/*
 * ip - address parsing and masking; see ip.h.
 */
#include "util/ip.h"

#include "util/file.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

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
