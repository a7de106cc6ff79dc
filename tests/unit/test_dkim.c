/* Unit tests: DKIM through libopendkim (auth/dkim.c) on the signed
 * fixtures of tests/dkim with the keys of tests/milter/zone.txt: what each
 * signature reports, unsigned mail, weak algorithms, the signature limit;
 * the decoded-key cache (auth/dkim_keys.c) libopendkim's calls reach. */
#include "helpers.h"

#include "auth/dkim.h"
#include "dns/dns.h"
#include "replay/replay.h"
#include "util/diag.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct mp_dkim *lib;
static struct mp_dns *dns;

static int setup(void **state)
{
	struct mp_diags d;

	(void)state;
	mp_diags_init(&d);
	dns = mp_dns_new_zone(MP_SOURCE_DIR "/tests/milter/zone.txt", &d);
	mp_diags_free(&d);
	lib = mp_dkim_new();
	return dns != NULL && lib != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	mp_dkim_free(lib);
	mp_dns_unref(dns);
	return 0;
}

/* Verifies a fixture; the first header fields extra[] (name, value) are
 * fed before the message's. Returns the signatures (valid until *m is
 * freed). */
static size_t verify(const char *name, unsigned max_sigs, const char *const *extra,
		     struct mp_dkim_msg **m, bool *signed_r, const struct mp_dkim_sig **sigs)
{
	struct mp_message msg;
	char path[1024];

	snprintf(path, sizeof(path), "%s/tests/dkim/fixtures/%s", MP_SOURCE_DIR, name);
	assert_int_equal(mp_message_load(path, &msg), 0);
	*m = mp_dkim_begin(lib, dns, max_sigs);
	assert_non_null(*m);
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2)
		mp_dkim_header(*m, extra[i], extra[i + 1]);
	for (size_t i = 0; i < msg.n_hdrs; i++)
		mp_dkim_header(*m, msg.hdrs[i].name, msg.hdrs[i].value);
	*signed_r = mp_dkim_eoh(*m);
	mp_dkim_body(*m, msg.body, msg.body_len);
	size_t n = mp_dkim_end(*m, sigs);
	mp_message_free(&msg);
	assert_false(mp_dkim_failed(*m));
	return n;
}

static void test_pass_with_details(void **state)
{
	struct mp_dkim_msg *m;
	const struct mp_dkim_sig *s;
	bool sig;

	(void)state;
	assert_int_equal(verify("bank-aligned.eml", 5, NULL, &m, &sig, &s), 1);
	assert_true(sig);
	assert_int_equal(s[0].result, MP_AR_PASS);
	assert_string_equal(s[0].domain, "bank.example");
	assert_string_equal(s[0].selector, "s2048");
	assert_string_equal(s[0].algorithm, "rsa-sha256");
	assert_int_equal(s[0].bits, 2048);
	assert_true(strlen(s[0].b) >= 8);
	mp_dkim_msg_free(m);
	assert_int_equal(verify("bank-ed25519.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_PASS);
	assert_string_equal(s[0].algorithm, "ed25519-sha256");
	mp_dkim_msg_free(m);
}

static void test_fail_unsigned_weak(void **state)
{
	struct mp_dkim_msg *m;
	const struct mp_dkim_sig *s;
	bool sig;

	(void)state;
	assert_int_equal(verify("bank-tampered.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_FAIL);
	mp_dkim_msg_free(m);
	assert_int_equal(verify("bank-unsigned.eml", 5, NULL, &m, &sig, &s), 0);
	assert_false(sig);
	mp_dkim_msg_free(m);
	/* rsa-sha1 does not pass (RFC 8301) */
	assert_int_equal(verify("bank-sha1.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_POLICY);
	mp_dkim_msg_free(m);
}

/* Past max_sigs DKIM-Signature fields the rest are not given to
 * libopendkim, and the message is over the limit. */
static void test_signature_limit(void **state)
{
	const char *const junk[] = {
		"DKIM-Signature", " v=1; a=rsa-sha256; d=junk.example; s=x; h=from; bh=AA==; b=AA==",
		"DKIM-Signature", " v=1; a=rsa-sha256; d=junk2.example; s=x; h=from; bh=AA==; b=AA==",
		NULL,
	};
	struct mp_dkim_msg *m;
	const struct mp_dkim_sig *s;
	bool sig;

	(void)state;
	assert_int_equal(verify("bank-aligned.eml", 2, junk, &m, &sig, &s), 2);
	assert_true(mp_dkim_over_limit(m));
	/* the two that were fed: neither is the bank's */
	assert_string_equal(s[0].domain, "junk.example");
	assert_string_equal(s[1].domain, "junk2.example");
	assert_int_not_equal(s[0].result, MP_AR_PASS);
	mp_dkim_msg_free(m);
	assert_int_equal(verify("bank-aligned.eml", 3, junk, &m, &sig, &s), 3);
	assert_false(mp_dkim_over_limit(m));
	mp_dkim_msg_free(m);
}

/* libopendkim's key decoding reaches the cache: the second verification
 * with one key decodes nothing, and gives the same results. */
static void test_key_cache(void **state)
{
	struct mp_dkim_msg *m;
	const struct mp_dkim_sig *s;
	unsigned long h0, m0, h1, m1;
	bool sig;

	(void)state;
	mp_dkim_keys_clear();
	mp_dkim_keys_stats(&h0, &m0);
	assert_int_equal(verify("bank-aligned.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_PASS);
	mp_dkim_msg_free(m);
	mp_dkim_keys_stats(&h1, &m1);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(verify("bank-aligned.eml", 5, NULL, &m, &sig, &s), 1);
		assert_int_equal(s[0].result, MP_AR_PASS);
		assert_int_equal(s[0].bits, 2048);
		mp_dkim_msg_free(m);
	}
	/* a changed message under the cached key still fails */
	assert_int_equal(verify("bank-tampered.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_FAIL);
	mp_dkim_msg_free(m);
	mp_dkim_keys_stats(&h1, &m1);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 4);
	/* ed25519 keys are not decoded by d2i_PUBKEY_bio: not counted */
	assert_int_equal(verify("bank-ed25519.eml", 5, NULL, &m, &sig, &s), 1);
	assert_int_equal(s[0].result, MP_AR_PASS);
	mp_dkim_msg_free(m);
	mp_dkim_keys_stats(&h0, &m0);
	assert_int_equal(h0, h1);
	assert_int_equal(m0, m1);
}

static void *verify_loop(void *arg)
{
	int *bad = arg;

	for (int i = 0; i < 50; i++) {
		struct mp_dkim_msg *m;
		const struct mp_dkim_sig *s;
		bool sig;
		if (verify(i % 5 ? "bank-aligned.eml" : "bank-tampered.eml", 5, NULL, &m, &sig, &s) != 1 ||
		    s[0].result != (i % 5 ? MP_AR_PASS : MP_AR_FAIL))
			(*bad)++;
		mp_dkim_msg_free(m);
	}
	return NULL;
}

/* One cached key used by eight threads at once (the sanitizers watch). */
static void test_key_cache_threads(void **state)
{
	pthread_t t[8];
	int bad[8] = { 0 };

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_loop, &bad[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bad[i], 0);
	}
}

/* The stand-in itself: a key read whole is cached and the BIO read as
 * OpenSSL reads it; garbage, trailing bytes and other calls are not. */
static void test_key_cache_fence(void **state)
{
	EVP_PKEY *gen = EVP_RSA_gen(1024);
	unsigned char *der = NULL;
	unsigned long h0, m0, h1, m1;

	(void)state;
	assert_non_null(gen);
	int len = i2d_PUBKEY(gen, &der);
	assert_true(len > 0);
	mp_dkim_keys_clear();
	mp_dkim_keys_stats(&h0, &m0);
	EVP_PKEY *k[2];
	for (int i = 0; i < 2; i++) {
		BIO *b = BIO_new_mem_buf(der, len);
		k[i] = d2i_PUBKEY_bio(b, NULL);
		assert_non_null(k[i]);
		assert_int_equal(BIO_pending(b), 0);
		BIO_free(b);
	}
	assert_ptr_equal(k[0], k[1]);
	assert_int_equal(EVP_PKEY_eq(k[0], gen), 1);
	EVP_PKEY_free(k[0]);
	EVP_PKEY_free(k[1]);
	mp_dkim_keys_stats(&h1, &m1);
	assert_int_equal(h1 - h0, 1);
	assert_int_equal(m1 - m0, 1);
	/* garbage: no key, nothing cached */
	for (int i = 0; i < 2; i++) {
		BIO *b = BIO_new_mem_buf("\x30\x03junk", 7);
		assert_null(d2i_PUBKEY_bio(b, NULL));
		BIO_free(b);
	}
	/* a key with bytes after it: decoded, the rest left, not cached */
	unsigned char *tail = malloc((size_t)len + 3);
	memcpy(tail, der, (size_t)len);
	memcpy(tail + len, "xyz", 3);
	mp_dkim_keys_clear();
	for (int i = 0; i < 2; i++) {
		BIO *b = BIO_new_mem_buf(tail, len + 3);
		EVP_PKEY *p = d2i_PUBKEY_bio(b, NULL);
		assert_non_null(p);
		assert_int_equal(BIO_pending(b), 3);
		EVP_PKEY_free(p);
		BIO_free(b);
	}
	mp_dkim_keys_stats(&h0, &m0);
	assert_int_equal(h0 - h1, 0);
	assert_int_equal(m0 - m1, 4);
	free(tail);
	OPENSSL_free(der);
	EVP_PKEY_free(gen);
	mp_dkim_keys_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_with_details),
		cmocka_unit_test(test_fail_unsigned_weak),
		cmocka_unit_test(test_signature_limit),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_key_cache_threads),
		cmocka_unit_test(test_key_cache_fence),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
