/*
 * Fuzz target: the DMARC record (auth/dmarc_record.c), a TXT string from
 * any zone, and the mailto: URIs of its rua= as the report sender reads
 * them. Checks what evaluation and reports rely on: a parsed record has
 * policies in range, pct 0-100, alignment flags, at most MP_DMARC_MAX_RUA
 * URIs each NUL-terminated within its slot, and the default rules hold
 * (sp from p, np from sp).
 */
#include "auth/dmarc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_dmarc_record r;
	const char *s = (const char *)data;

	(void)mp_dmarc_is_record(s, size);
	if (mp_dmarc_record_parse(s, size, &r) != 0)
		return 0;
	if (r.p > MP_DMARC_P_REJECT || r.sp > MP_DMARC_P_REJECT || r.np > MP_DMARC_P_REJECT ||
	    r.pct > 100 || r.n_rua > MP_DMARC_MAX_RUA)
		abort();
	if (!r.has_sp && r.sp != r.p)
		abort();
	if (!r.has_np && r.np != r.sp)
		abort();
	for (size_t i = 0; i < r.n_rua; i++) {
		if (memchr(r.rua[i], '\0', MP_DMARC_URI_MAX) == NULL || r.rua[i][0] == '\0')
			abort();
	}
	if (r.p_assumed && (r.n_rua == 0 || r.p != MP_DMARC_P_NONE))
		abort();
	(void)mp_dmarc_policy_parse(s, size);
	return 0;
}
