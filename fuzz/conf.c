/*
 * Fuzz target: the configuration file parser (SPEC §3). The input is the
 * file; whatever it says, loading must give a configuration or errors
 * with FILE:LINE, never a crash. The file lives in the scratch directory.
 */
#include "conf/conf.h"
#include "fuzzutil.h"
#include "util/diag.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_write("milter-policy.conf", data, size);
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;

	if (c == NULL)
		abort();
	mp_diags_init(&d);
	int rc = mp_conf_load(c, fz_path("milter-policy.conf"), &d);
	/* a failed load says why */
	if (rc < 0 && mp_diags_count(&d) == 0)
		abort();
	mp_diags_free(&d);
	mp_conf_free(c);
	return 0;
}
