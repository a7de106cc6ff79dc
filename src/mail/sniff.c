/*
 * sniff - libmagic behind a per-thread handle; see sniff.h.
 *
 * Fenced: libmagic parses hostile bytes with a large rule base, so it gets
 * at most MP_SNIFF_BYTES of a part, never a file name; decompression
 * (MAGIC_NO_CHECK_COMPRESS) and the text-encoding guess are off; its
 * recursion and lookup parameters are capped below the defaults.
 */
#include "mail/sniff.h"

#include "util/file.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_key_t magic_key;
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;
static int magic_key_ok;

static void magic_free(void *m)
{
	magic_close(m);
}

static void key_init(void)
{
	magic_key_ok = pthread_key_create(&magic_key, magic_free) == 0;
}

static magic_t handle(void)
{
	pthread_once(&magic_once, key_init);
	if (!magic_key_ok)
		return NULL;
	magic_t m = pthread_getspecific(magic_key);
	if (m != NULL)
		return m;
	m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ENCODING |
		       MAGIC_ERROR);
	if (m == NULL)
		return NULL;
	size_t indir = 15, name = 50, bytes = MP_SNIFF_BYTES;
	magic_setparam(m, MAGIC_PARAM_INDIR_MAX, &indir);
	magic_setparam(m, MAGIC_PARAM_NAME_MAX, &name);
	magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes);
	if (magic_load(m, NULL) != 0 || pthread_setspecific(magic_key, m) != 0) {
		magic_close(m);
		return NULL;
	}
	return m;
}

int mp_sniff(const void *p, size_t n, char *out, size_t outlen)
{
	magic_t m = handle();
	const char *t = NULL;

	if (n > MP_SNIFF_BYTES)
		n = MP_SNIFF_BYTES;
	if (m != NULL)
		t = magic_buffer(m, p, n);
	snprintf(out, outlen, "%s", t != NULL && strchr(t, '/') != NULL ? t : "application/octet-stream");
	out[strcspn(out, "; ")] = '\0'; /* a type only, never parameters */
	mp_ascii_lower(out);
	return m != NULL ? 0 : -1;
}
