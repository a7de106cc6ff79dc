/*
 * Fuzz target: archive listing (mail/archive.c over libarchive) on any
 * bytes, as an attachment's decoded content: recognised or not, listing
 * ends within the entry limit, names are strings, nothing leaks.
 */
#include "mail/archive.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_archive a;

	(void)mp_archive_magic(data, size);
	mp_archive_list(-1, data, size, 16, &a);
	if (a.n > 16 || (a.n > 0 && a.names == NULL))
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (a.names[i] == NULL)
			abort();
	mp_archive_free(&a);
	return 0;
}
