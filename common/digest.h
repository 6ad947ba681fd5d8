/*
 * digest.h — SHA-256, HMAC-SHA-256, MD5 (streaming), hex and constant-time comparison over
 * libcrypto. The only file of tripline that includes OpenSSL is digest.c.
 *
 * Users: SigV4 request signing and verification, webhook signatures, file etags (MD5)
 * and deterministic event ids. Everything returns 0 or a negative errno
 * (-ENOMEM when libcrypto cannot allocate, -EIO when it fails otherwise);
 * nothing logs. Keys and inputs are never kept after a call returns.
 */
#ifndef TRIPLINE_COMMON_DIGEST_H
#define TRIPLINE_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_SHA256_LEN 32u
#define DIGEST_SHA256_HEX_LEN 64u

/* out = SHA-256(data[0..len)). */
int digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_LEN]);

/* out = HMAC-SHA-256(key, msg). */
int digest_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		       unsigned char out[DIGEST_SHA256_LEN]);

/*
 * Streaming SHA-256 for inputs built piece by piece (a SigV4 canonical
 * request). digest_sha256_new() gives a context or NULL (out of memory);
 * digest_sha256_final() writes the digest and frees the context, whatever
 * it returns; digest_sha256_free() drops one without a result (NULL is fine).
 */
struct digest_sha256;
struct digest_sha256 *digest_sha256_new(void);
int digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len);
int digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN]);
void digest_sha256_free(struct digest_sha256 *d);

/*
 * Streaming MD5, for S3-style etags of files (the fs source) and nothing
 * that needs a secure digest. The same contract as the streaming SHA-256.
 */
#define DIGEST_MD5_LEN 16u
struct digest_md5;
struct digest_md5 *digest_md5_new(void);
int digest_md5_update(struct digest_md5 *d, const void *data, size_t len);
int digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN]);
void digest_md5_free(struct digest_md5 *d);

/* Lower-case hex of in[0..n) into out, which holds 2n + 1 bytes (NUL-terminated). */
void digest_hex(const unsigned char *in, size_t n, char *out);

/* Whether a and b hold the same n bytes, in time that does not depend on
 * where they differ (for comparing signatures and tokens). */
bool digest_equal(const void *a, const void *b, size_t n);

#endif
