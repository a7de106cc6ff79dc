/*
 * Fuzz target: from a TXT answer to an SPF result (issue 4, CVE-2023-42118).
 *
 * The input is the DNS: its first byte holds flags, the rest is TXT records,
 * one per line. A line is either text whose '|' separate the record's
 * character-strings (each cut at 255 bytes as DNS would), or, after a 0xff
 * byte, raw TXT rdata in wire form (length-prefixed strings, maybe
 * malformed). Every TXT query, for any name, gets all the records, so
 * include:, redirect= and exp= recurse into the same input. The answers go
 * through the same path as unbound's: wire rdata, mp_dns_txt_from_wire,
 * the SPF DNS layer's bounds and macro rewriting, then libspf2.
 *
 * Flags: 1 IPv6 client, 2 A/AAAA answers exist, 4 null sender (HELO
 * identity), 8 MX answers exist, 16 every non-TXT query is TEMPFAIL,
 * 32 PTR answers exist.
 *
 * Built two ways: with -fsanitize=fuzzer (MP_LIBFUZZER, clang) and, for
 * ctest, with fuzz/driver.c, which replays the corpus and mutations of it.
 * MP_FUZZ_SHOW=1 prints each result and Received-SPF value to stderr.
 * State lives for one input; the mp_spf is created once.
 */
#include "dns/backend.h"
#include "auth/spf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	unsigned flags;
	const uint8_t *txt;
	size_t len;
};

static struct input in;

/* One line of the input as TXT rdata in wire form, into *rr. */
static int line_rr(const uint8_t *p, size_t len, struct mp_dns_rr *rr)
{
	if (len > 0 && p[0] == 0xff)
		return mp_dns_txt_from_wire(p + 1, len - 1, rr);
	unsigned char *wire = malloc(len * 2 + 2);
	if (wire == NULL)
		return -1;
	size_t w = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '|' && i - start < 255)
			continue;
		wire[w++] = (unsigned char)(i - start);
		memcpy(wire + w, p + start, i - start);
		w += i - start;
		start = (i < len && p[i] == '|') ? i + 1 : i;
	}
	int rc = mp_dns_txt_from_wire(wire, w, rr);
	free(wire);
	return rc;
}

/* An answer record with a copy of data (the answer owns its records). */
static int add_copy(struct mp_dns_answer *ans, uint16_t type, const char *data, size_t len)
{
	struct mp_dns_rr rr = { .type = type, .pref = 10, .len = len, .data = malloc(len + 1) };
	if (rr.data == NULL)
		return -1;
	memcpy(rr.data, data, len);
	rr.data[len] = '\0';
	if (mp_dns_answer_add(ans, &rr) != 0) {
		free(rr.data);
		return -1;
	}
	return 0;
}

static int fuzz_query(struct mp_dns *dns, const char *name, uint16_t type,
		      struct mp_dns_answer *ans, unsigned max_ms)
{
	(void)dns;
	(void)name;
	struct mp_dns_rr rr;
	memset(&rr, 0, sizeof(rr));
	ans->status = MP_DNS_NXDOMAIN;
	if (type != MP_DNS_TXT && (in.flags & 16)) {
		ans->status = MP_DNS_TEMPFAIL;
		return 0;
	}
	switch (type) {
	case MP_DNS_TXT: {
		const uint8_t *p = in.txt, *end = in.txt + in.len;
		while (p < end) {
			const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (line_rr(p, l, &rr) == 0 && mp_dns_answer_add(ans, &rr) != 0) {
				free(rr.data);
				return -1;
			}
			p += l + 1;
		}
		ans->status = ans->n ? MP_DNS_OK : MP_DNS_NODATA;
		return 0;
	}
	case MP_DNS_A:
	case MP_DNS_AAAA:
		if (in.flags & 2) {
			static const char a4[4] = { (char)198, 51, 100, 7 };
			static const char a6[16] = { 0x20, 0x01, 0x0d, (char)0xb8, [15] = 7 };
			ans->status = MP_DNS_OK;
			return add_copy(ans, type, type == MP_DNS_A ? a4 : a6, type == MP_DNS_A ? 4 : 16);
		}
		return 0;
	case MP_DNS_MX:
	case MP_DNS_PTR:
		if (in.flags & (type == MP_DNS_MX ? 8 : 32)) {
			ans->status = MP_DNS_OK;
			return add_copy(ans, type, "mx.fuzz.example", strlen("mx.fuzz.example"));
		}
		return 0;
	default:
		return 0;
	}
}

static const struct mp_dns_ops fuzz_ops = { fuzz_query, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mp_spf *spf;
	static struct mp_dns *dns;
	if (spf == NULL) {
		spf = mp_spf_new("mx.receiver.example");
		dns = mp_dns_alloc(&fuzz_ops, NULL, "fuzz");
		if (spf == NULL || dns == NULL)
			abort();
	}
	if (size == 0)
		return 0;
	in.flags = data[0];
	in.txt = data + 1;
	in.len = size - 1;
	char received[512];
	enum mp_auth_result r = mp_spf_check(spf, dns, (in.flags & 1) ? "2001:db8::7" : "198.51.100.7",
					 "helo.fuzz.example",
					 (in.flags & 4) ? "" : "first.last-x@fuzz.example", received,
					 sizeof(received), 1000, NULL);
	if (getenv("MP_FUZZ_SHOW")) fprintf(stderr, "%s %s\n", mp_auth_result_name(r), received);
	if (r >= MP_AR_COUNT || r == MP_AR_POLICY || memchr(received, '\0', sizeof(received)) == NULL)
		abort();
	return 0;
}
