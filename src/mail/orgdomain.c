/*
 * orgdomain - organisational domains; see orgdomain.h. The list is
 * psl_latest() (the publicsuffix package's), else the copy built into
 * libpsl; it lives as long as the process.
 */
#include "mail/orgdomain.h"

#include "util/file.h"

#include <libpsl.h>
#include <pthread.h>
#include <string.h>

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

const char *mp_domain_norm(const char *d, char *buf, size_t len)
{
	size_t l = strlen(d);

	while (l > 0 && d[l - 1] == '.')
		l--;
	if (l == 0 || l >= len)
		return NULL;
	memcpy(buf, d, l);
	buf[l] = '\0';
	mp_ascii_lower(buf);
	return buf;
}

const char *mp_org_domain(const char *d, char *buf, size_t len)
{
	if (mp_domain_norm(d, buf, len) == NULL)
		return NULL;
	pthread_once(&psl_once, psl_load);
	const char *r = psl ? psl_registrable_domain(psl, buf) : NULL;
	return r ? r : buf;
}
