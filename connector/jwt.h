/*
 * The OAuth 2.0 JWT bearer assertion: RS256 over base64url(header).
 * base64url(claims), signed with OpenSSL from a PEM private key.
 */
#ifndef SFB_JWT_H
#define SFB_JWT_H

#include <stddef.h>

/**
 * @brief Build a signed assertion with claims iss, sub, aud, exp:
 *        base64url({"alg":"RS256"}) "." base64url({"iss":…,"sub":…,"aud":…,"exp":N})
 *        "." base64url(RSASSA-PKCS1-v1_5 SHA-256 signature), no padding.
 * @param key_file  a PEM RSA private key (PKCS#8 or PKCS#1), not encrypted.
 * @param exp       expiry in epoch seconds, written as a JSON number.
 * @returns a malloc'd string (free() it), or NULL with errstr naming the key
 *          file and what failed (the key itself is never written to errstr,
 *          and no passphrase is ever asked for).
 */
char *jwt_build_assertion(const char *key_file, const char *iss, const char *sub,
                          const char *aud, long long exp, char *errstr, size_t errstr_size);

/**
 * @brief Load @p key_file exactly as jwt_build_assertion() does and drop it:
 *        the config loader's check that the file holds an unencrypted PEM
 *        RSA private key, so `check` refuses what a login would.
 * @returns 0, or -1 with errstr "<file>: <what is wrong>" (not PEM, a public
 *          key or certificate, encrypted, not RSA, unreadable); never any
 *          key material.
 */
int jwt_check_key_file(const char *key_file, char *errstr, size_t errstr_size);

/** @brief base64url without padding into a malloc'd string (NULL on OOM). */
char *jwt_base64url(const unsigned char *data, size_t len);

#endif
