/*
 * ip - IPv4/IPv6 addresses and CIDR prefixes in binary form.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4 so that a
 * client reaching us over a dual-stack socket matches IPv4 lists.
 */
#ifndef MP_IP_H
#define MP_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_ip {
	int v6;            /* 0: IPv4 in a[0..4), 1: IPv6 */
	uint8_t a[16];
};

/* 0 or -1. Accepts "1.2.3.4", "2001:db8::1", "[2001:db8::1]" and
 * "IPv6:2001:db8::1" (the SMTP literal form). */
int mp_ip_parse(const char *s, size_t len, struct mp_ip *ip);
/* "a.b.c.d/len" or "v6/len" or a single address (full length). 0 or -1 with
 * a static reason in *why_r. */
int mp_cidr_parse(const char *s, size_t len, struct mp_ip *ip, int *prefix_r,
		  const char **why_r);
void mp_ip_mask(struct mp_ip *ip, int prefix);
/* Textual form into buf (at least 46 bytes). */
void mp_ip_format(const struct mp_ip *ip, char *buf, size_t len);

/* Parses "HOST:PORT" (an IPv4 address, or an IPv6 one in brackets: no
 * names) into a socket address; 0, or -1 with a reason. */
struct sockaddr_storage;
int mp_hostport_parse(const char *spec, struct sockaddr_storage *ss, const char **why_r);

#endif
