/*
 * digest.c — the digests of digest.h, each a thin call into libcrypto's EVP
 * interface (which picks the CPU's SHA extensions when it has them).
 */
#include "digest.h"

#include <errno.h>
#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct digest_sha256 {
	EVP_MD_CTX *md;
};

int digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
	unsigned int n = 0;
	static const char empty[1] = "";

	if (EVP_Digest(len ? data : empty, len, out, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_SHA256_LEN)
		return -EIO;
	return 0;
}

int digest_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		       unsigned char out[DIGEST_SHA256_LEN])
{
	unsigned int n = 0;
	static const unsigned char empty[1] = "";

	if (key_len > (size_t)INT_MAX)
		return -EINVAL;
	if (!HMAC(EVP_sha256(), key_len ? key : empty, (int)key_len, msg_len ? msg : empty, msg_len, out, &n) ||
	    n != DIGEST_SHA256_LEN)
		return -EIO;
	return 0;
}

struct digest_sha256 *digest_sha256_new(void)
{
	struct digest_sha256 *d = OPENSSL_zalloc(sizeof(*d));

	if (!d)
		return NULL;
	d->md = EVP_MD_CTX_new();
	if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
		digest_sha256_free(d);
		return NULL;
	}
	return d;
}

int digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(d->md, data, len) == 1 ? 0 : -EIO;
}

int digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN])
{
	unsigned int n = 0;
	int r = EVP_DigestFinal_ex(d->md, out, &n) == 1 && n == DIGEST_SHA256_LEN ? 0 : -EIO;

	digest_sha256_free(d);
	return r;
}

void digest_sha256_free(struct digest_sha256 *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->md);
	OPENSSL_free(d);
}

struct digest_md5 {
	EVP_MD_CTX *md;
};

struct digest_md5 *digest_md5_new(void)
{
	struct digest_md5 *d = OPENSSL_zalloc(sizeof(*d));

	if (!d)
		return NULL;
	d->md = EVP_MD_CTX_new();
	if (!d->md || EVP_DigestInit_ex(d->md, EVP_md5(), NULL) != 1) {
		digest_md5_free(d);
		return NULL;
	}
	return d;
}

int digest_md5_update(struct digest_md5 *d, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(d->md, data, len) == 1 ? 0 : -EIO;
}

int digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN])
{
	unsigned int n = 0;
	int r = EVP_DigestFinal_ex(d->md, out, &n) == 1 && n == DIGEST_MD5_LEN ? 0 : -EIO;

	digest_md5_free(d);
	return r;
}

void digest_md5_free(struct digest_md5 *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->md);
	OPENSSL_free(d);
}

void digest_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool digest_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
