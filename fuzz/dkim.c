/*
 * Fuzz target: DKIM verification (libopendkim through src/dkim.c) over
 * crafted signatures. The input is a message (header, blank line, body);
 * keys come from tests/cases/dkim/zone.txt (real keys of the fixtures),
 * so a crafted signature can reach key parsing and verification. At most
 * 5 signatures are given to libopendkim, as in the daemon.
 */
#include "auth/checks.h"
#include "auth/dkim.h"
#include "dns/dns.h"
#include "replay/replay.h"
#include "util/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef MP_DKIM_ZONE
#error "MP_DKIM_ZONE names the zone file with the test keys"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mp_dkim *k;
	static struct mp_dns *dns;
	struct mp_message m;

	if (k == NULL) {
		struct mp_diags d;
		mp_diags_init(&d);
		k = mp_dkim_new();
		dns = mp_dns_new_zone(MP_DKIM_ZONE, &d);
		if (k == NULL || dns == NULL) {
			mp_diags_print(&d, stderr);
			abort();
		}
		mp_diags_free(&d);
	}
	if (mp_message_parse((const char *)data, size, &m) < 0)
		return 0;
	struct mp_dkim_msg *dm = mp_dkim_begin(k, dns, 5);
	if (dm == NULL)
		abort();
	for (size_t i = 0; i < m.n_hdrs; i++)
		mp_dkim_header(dm, m.hdrs[i].name, m.hdrs[i].value);
	if (mp_dkim_eoh(dm))
		mp_dkim_body(dm, m.body, m.body_len);
	const struct mp_dkim_sig *sigs;
	size_t n = mp_dkim_end(dm, &sigs);
	if (n > 5)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (sigs[i].result >= MP_AR_COUNT || sigs[i].domain == NULL)
			abort();
	}
	mp_dkim_msg_free(dm);
	mp_message_free(&m);
	return 0;
}
