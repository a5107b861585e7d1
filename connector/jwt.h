/*
 * The OAuth 2.0 JWT bearer assertion: RS256 over base64url(header).
 * base64url(claims), signed with OpenSSL from a PEM private key.
 */
#ifndef SFB_JWT_H
#define SFB_JWT_H

#include <stddef.h>

/**
 * @brief Build a signed assertion with claims iss, sub, aud, exp.
 * @returns a malloc'd string, or NULL with errstr naming the key file and
 *          what failed (the key itself is never written to errstr).
 */
char *jwt_build_assertion(const char *key_file, const char *iss, const char *sub,
                          const char *aud, long long exp, char *errstr, size_t errstr_size);

/** @brief base64url without padding into a malloc'd string (NULL on OOM). */
char *jwt_base64url(const unsigned char *data, size_t len);

#endif
