/*
 * Fuzz target: the static zone file parser (SPEC §7) and lookups in what
 * it loaded. The input is the file; names are looked up for each type.
 */
#include "dns/dns.h"
#include "fuzzutil.h"
#include "util/diag.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *qnames[] = { "sender.example", "a.b.example", "example",
					"sel._domainkey.bank.example", "7.100.51.198.in-addr.arpa" };
	static const uint16_t types[] = { MP_DNS_A, MP_DNS_AAAA, MP_DNS_TXT, MP_DNS_MX, MP_DNS_PTR };
	struct mp_diags d;

	fz_write("zone.txt", data, size);
	mp_diags_init(&d);
	struct mp_dns *dns = mp_dns_new_zone(fz_path("zone.txt"), &d);
	if (dns == NULL && mp_diags_count(&d) == 0)
		abort();
	for (size_t i = 0; dns != NULL && i < sizeof(qnames) / sizeof(qnames[0]); i++) {
		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
			struct mp_dns_answer ans;
			if (mp_dns_query(dns, qnames[i], types[k], &ans) < 0)
				abort();
			for (size_t j = 0; j < ans.n; j++) {
				if (ans.rr[j].data == NULL)
					abort();
			}
			mp_dns_answer_clear(&ans);
		}
	}
	mp_dns_unref(dns);
	mp_diags_free(&d);
	return 0;
}
