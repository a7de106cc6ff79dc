/*
 * reply - a reply text as libmilter must be given it; see reply.h.
 */
#include "daemon/reply.h"

void mp_milter_reply_text(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (; *in && n + 1 < outlen; in++) {
		if (*in == '%') {
			if (n + 2 >= outlen)
				break;
			out[n++] = '%';
		}
		out[n++] = *in;
	}
	out[n] = '\0';
}
