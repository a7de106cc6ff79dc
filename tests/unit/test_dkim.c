/* Unit tests: DKIM through libopendkim (auth/dkim.c) on the signed
 * fixtures of tests/dkim with the keys of tests/milter/zone.txt: what each
 * signature reports, unsigned mail, weak algorithms, the signature limit. */
#include "helpers.h"

#include "auth/dkim.h"
#include "dns/dns.h"
#include "replay/replay.h"
#include "util/diag.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_with_details),
		cmocka_unit_test(test_fail_unsigned_weak),
		cmocka_unit_test(test_signature_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
