/*
 * dkim_keys - decoded DKIM public keys, kept between messages.
 *
 * libopendkim decodes the key record of every signature it verifies with
 * OpenSSL's d2i_PUBKEY_bio (a BIO over the record's p= bytes, read once,
 * freed at once) and offers no hook to hand it a key decoded before. Under
 * OpenSSL 3 that decoding goes through the provider decoders and, with the
 * legacy RSA copy libopendkim asks for next, costs more than the RSA
 * verification itself. This file defines d2i_PUBKEY_bio in the program:
 * the dynamic linker binds libopendkim's reference to it (an executable's
 * definition comes first in the lookup order), and it answers from a cache
 * of decoded keys or calls OpenSSL's own.
 *
 * Fenced: only a memory BIO read whole with no object to reuse (a == NULL),
 * exactly libopendkim's call, is cached; every other call goes straight to
 * OpenSSL. The key is the DER bytes themselves, so a rotated or different
 * key is another entry and no TTL is needed for correctness (the key
 * record's TTL is the DNS cache's business). 64 direct-mapped slots under
 * one lock bound it (a few hundred KiB). A cached EVP_PKEY is handed out
 * with a reference of its own (the caller frees it as it always did) and
 * only read: OpenSSL 3 allows concurrent use of a key that is not modified
 * (openssl-threads(7)); the legacy RSA copy it caches inside is made under
 * the key's lock.
 *
 * Lifetime: process-wide; mp_dkim_keys_clear() (tests, shutdown) empties it.
 */
#include "auth/dkim.h"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64
/* DER of an RSA-8192 public key is about 1 KiB */
#define DER_MAX 4096

typedef EVP_PKEY *(*d2i_fn)(BIO *, EVP_PKEY **);

struct slot {
	uint64_t hash;
	unsigned char *der;
	size_t len;
	EVP_PKEY *pk;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static d2i_fn real_d2i;
static bool disabled;     /* MP_BENCH_NO_KEY_CACHE: the benchmark's "off" */
static atomic_ulong hits, misses;

static void find_real(void)
{
	/* libcrypto's own, past this definition */
	real_d2i = (d2i_fn)dlvsym(RTLD_NEXT, "d2i_PUBKEY_bio", "OPENSSL_3.0.0");
	if (real_d2i == NULL)
		real_d2i = (d2i_fn)dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The cached key for der, with a reference for the caller, or NULL. */
static EVP_PKEY *lookup(uint64_t h, const unsigned char *der, size_t len)
{
	struct slot *s = &slots[h % SLOTS];
	EVP_PKEY *pk = NULL;

	pthread_mutex_lock(&lock);
	if (s->pk != NULL && s->hash == h && s->len == len && memcmp(s->der, der, len) == 0 &&
	    EVP_PKEY_up_ref(s->pk) == 1)
		pk = s->pk;
	pthread_mutex_unlock(&lock);
	return pk;
}

static void store(uint64_t h, const unsigned char *der, size_t len, EVP_PKEY *pk)
{
	struct slot *s = &slots[h % SLOTS];
	unsigned char *copy = malloc(len);

	if (copy == NULL || EVP_PKEY_up_ref(pk) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&lock);
	unsigned char *old_der = s->der;
	EVP_PKEY *old_pk = s->pk;
	s->hash = h;
	s->der = copy;
	s->len = len;
	s->pk = pk;
	pthread_mutex_unlock(&lock);
	free(old_der);
	EVP_PKEY_free(old_pk);
}

/* Interposed on OpenSSL's (see the top of the file). */
__attribute__((visibility("default"), used)) EVP_PKEY *d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	char *data = NULL;

	pthread_once(&once, find_real);
	if (real_d2i == NULL)
		return NULL; /* no OpenSSL to decode with: the key does not verify */
	if (disabled || a != NULL || bp == NULL || BIO_method_type(bp) != BIO_TYPE_MEM)
		return real_d2i(bp, a);
	long n = BIO_get_mem_data(bp, &data);
	if (n <= 0 || n > DER_MAX || data == NULL)
		return real_d2i(bp, a);
	const unsigned char *der = (const unsigned char *)data;
	size_t len = (size_t)n;
	uint64_t h = fnv1a(der, len);
	EVP_PKEY *pk = lookup(h, der, len);
	if (pk != NULL) {
		/* read it, as OpenSSL would have */
		char sink[256];
		while (BIO_read(bp, sink, sizeof(sink)) > 0) {
		}
		atomic_fetch_add(&hits, 1);
		return pk;
	}
	/* the bytes, before OpenSSL reads them away */
	unsigned char copy[DER_MAX];
	memcpy(copy, der, len);
	pk = real_d2i(bp, NULL);
	atomic_fetch_add(&misses, 1);
	/* cached only when the record was one key, all of it */
	if (pk != NULL && BIO_pending(bp) == 0)
		store(h, copy, len, pk);
	return pk;
}

void mp_dkim_keys_init(void)
{
	pthread_once(&once, find_real);
}

void mp_dkim_keys_disable(void)
{
	disabled = true;
}

void mp_dkim_keys_stats(unsigned long *hits_r, unsigned long *misses_r)
{
	*hits_r = atomic_load(&hits);
	*misses_r = atomic_load(&misses);
}

void mp_dkim_keys_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SLOTS; i++) {
		free(slots[i].der);
		EVP_PKEY_free(slots[i].pk);
		memset(&slots[i], 0, sizeof(slots[i]));
	}
	pthread_mutex_unlock(&lock);
}
