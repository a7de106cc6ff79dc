/*
 * Fuzz target: recognising Authentication-Results fields that carry our
 * authserv-id (SPEC §5), the check that decides which fields are removed.
 * The input is a field value. Besides not crashing: a value that starts
 * with our id followed by ';' is always ours.
 */
#include "mail/authres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char id[] = "mx.example.org";
	char *s = malloc(size + sizeof(id) + 2);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)mp_authres_is_ours(s, id);
	/* our id, then ';' and the input: ours, whatever follows */
	memcpy(s, id, sizeof(id) - 1);
	s[sizeof(id) - 1] = ';';
	memcpy(s + sizeof(id), data, size);
	s[sizeof(id) + size] = '\0';
	if (memchr(data, '\0', size) == NULL && !mp_authres_is_ours(s, id))
		abort();
	free(s);
	return 0;
}
