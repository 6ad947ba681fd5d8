/*
 * test_digest.c — SHA-256 (FIPS 180-2 examples), HMAC-SHA-256 (RFC 4231
 * test cases), the streaming form against the one-shot form, hex and the
 * constant-time comparison, MD5 (RFC 1321's suite) fed in pieces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "digest.h"

static void hex_of_sha256(const void *data, size_t len, char out[DIGEST_SHA256_HEX_LEN + 1])
{
	unsigned char h[DIGEST_SHA256_LEN];
	assert_int_equal(digest_sha256(data, len, h), 0);
	digest_hex(h, sizeof(h), out);
}

static void test_sha256_vectors(void **state)
{
	char hex[DIGEST_SHA256_HEX_LEN + 1];

	(void)state;
	hex_of_sha256("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of_sha256(NULL, 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of_sha256("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of_sha256(two, strlen(two), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_streaming(void **state)
{
	unsigned char once[DIGEST_SHA256_LEN], parts[DIGEST_SHA256_LEN];
	char *buf = malloc(1000000);

	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', 1000000);
	assert_int_equal(digest_sha256(buf, 1000000, once), 0);
	struct digest_sha256 *d = digest_sha256_new();
	assert_non_null(d);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 4093 + 1)
		assert_int_equal(digest_sha256_update(d, buf + off, off + step > 1000000 ? 1000000 - off : step), 0);
	assert_int_equal(digest_sha256_update(d, NULL, 0), 0);
	assert_int_equal(digest_sha256_final(d, parts), 0);
	assert_memory_equal(once, parts, sizeof(once));
	char hex[DIGEST_SHA256_HEX_LEN + 1];
	digest_hex(once, sizeof(once), hex);
	/* FIPS 180-2: one million 'a' */
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	digest_sha256_free(digest_sha256_new());   /* dropped without a result */
	digest_sha256_free(NULL);
	free(buf);
}

static void hmac_hex(const void *key, size_t klen, const void *msg, size_t mlen, char out[DIGEST_SHA256_HEX_LEN + 1])
{
	unsigned char h[DIGEST_SHA256_LEN];
	assert_int_equal(digest_hmac_sha256(key, klen, msg, mlen, h), 0);
	digest_hex(h, sizeof(h), out);
}

static void test_hmac_rfc4231(void **state)
{
	unsigned char key[131];
	char hex[DIGEST_SHA256_HEX_LEN + 1];

	(void)state;
	memset(key, 0x0b, 20);   /* test case 1 */
	hmac_hex(key, 20, "Hi There", 8, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);   /* test case 2 */
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, 131);   /* test case 6: a key longer than the block */
	const char *msg6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	hmac_hex(key, 131, msg6, strlen(msg6), hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* an empty key and message are allowed */
	hmac_hex("", 0, "", 0, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_hex_and_equal(void **state)
{
	static const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
	char out[9];

	(void)state;
	memset(out, 'x', sizeof(out));
	digest_hex(in, sizeof(in), out);
	assert_string_equal(out, "000fa5ff");
	digest_hex(in, 0, out);
	assert_string_equal(out, "");
	assert_true(digest_equal("abcdef", "abcdef", 6));
	assert_false(digest_equal("abcdef", "abcdeF", 6));
	assert_false(digest_equal("Xbcdef", "abcdef", 6));
	assert_true(digest_equal("a", "b", 0));
}

/* RFC 1321's test suite, fed in pieces of every size from 1 to 7 bytes. */
static void test_md5_rfc1321(void **state)
{
	static const char *const cases[][2] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	unsigned char h[DIGEST_MD5_LEN];
	char hex[2 * DIGEST_MD5_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t piece = 1; piece <= 7; piece++) {
			struct digest_md5 *d = digest_md5_new();
			size_t len = strlen(cases[i][0]);
			assert_non_null(d);
			for (size_t off = 0; off < len; off += piece)
				assert_int_equal(digest_md5_update(d, cases[i][0] + off,
								   len - off < piece ? len - off : piece), 0);
			assert_int_equal(digest_md5_final(d, h), 0);
			digest_hex(h, sizeof(h), hex);
			assert_string_equal(hex, cases[i][1]);
		}
	}
	digest_md5_free(NULL);
	digest_md5_free(digest_md5_new());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_streaming),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hex_and_equal),
		cmocka_unit_test(test_md5_rfc1321),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
