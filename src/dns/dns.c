/*
 * dns - answers and the wire-format helpers the backends share. The handle
 * and its dispatch to a backend: backend.c; the choice of one: factory.c.
 */
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mp_dns_answer_clear(struct mp_dns_answer *ans)
{
	if (ans == NULL)
		return;
	for (size_t i = 0; i < ans->n; i++)
		free(ans->rr[i].data);
	free(ans->rr);
	memset(ans, 0, sizeof(*ans));
}

/* Takes over rr->data. */
int mp_dns_answer_add(struct mp_dns_answer *ans, const struct mp_dns_rr *rr)
{
	if (ans->n == ans->cap) {
		size_t nc = ans->cap ? ans->cap * 2 : 4;
		struct mp_dns_rr *v = realloc(ans->rr, nc * sizeof(*v));
		if (v == NULL)
			return -1;
		ans->rr = v;
		ans->cap = nc;
	}
	ans->rr[ans->n++] = *rr;
	return 0;
}

int mp_dns_txt_from_wire(const unsigned char *p, size_t len, struct mp_dns_rr *rr)
{
	char *out = malloc(len + 1);
	size_t o = 0, n = 0;

	if (out == NULL)
		return -2;
	for (size_t i = 0; i < len;) {
		size_t sl = p[i++];
		if (sl > len - i) {
			free(out);
			return -1;
		}
		memcpy(out + o, p + i, sl);
		o += sl;
		i += sl;
		n++;
	}
	out[o] = '\0';
	rr->data = out;
	rr->len = o;
	rr->n_strings = n;
	return 0;
}

int mp_dns_name_from_wire(const unsigned char *p, size_t len, char *out, size_t outlen,
			  size_t *used_r)
{
	size_t i = 0, o = 0;

	for (;;) {
		if (i >= len)
			return -1;
		size_t ll = p[i++];
		if (ll == 0)
			break;
		if (ll > 63 || ll > len - i)
			return -1; /* a compression pointer or a cut label */
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		for (size_t k = 0; k < ll; k++) {
			unsigned char c = p[i + k];
			if (c > ' ' && c < 0x7f && c != '.' && c != '\\') {
				if (o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			} else {
				if (o + 4 >= outlen)
					return -1;
				o += (size_t)snprintf(out + o, outlen - o, "\\%03u", c);
			}
		}
		i += ll;
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	if (used_r != NULL)
		*used_r = i;
	return 0;
}
