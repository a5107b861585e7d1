/*
 * The OAuth 2.0 token endpoint (POST /services/oauth2/token) with the four
 * flows a bridge uses: password, refresh_token, client_credentials and the
 * JWT bearer flow (RS256 assertion checked against a public key), plus the
 * registry of issued access tokens and their revocation.
 *
 * Secrets (client secret, password, tokens, keys) are never logged.
 * Locking: the registry has its own mutex; any function may be called with
 * or without the sim lock held.
 */
#ifndef SFSIM_OAUTH_H
#define SFSIM_OAUTH_H

#include <stddef.h>
#include <stdint.h>

struct oauth;
struct sim_config;

/**
 * @brief Set up the token endpoint for @p cfg's credentials.
 * @param login_url  the emulator's own URL: `aud` of JWT assertions, base of `id`.
 * @returns a new endpoint, free with oauth_destroy(), or NULL with errstr
 *          naming the public key file that could not be read.
 */
struct oauth *oauth_new(const struct sim_config *cfg, const char *login_url,
                        const char *user_id, char *errstr, size_t errstr_size);

/** @brief Free the endpoint. Accepts NULL. */
void oauth_destroy(struct oauth *oauth);

/**
 * @brief Answer a token request.
 * @param form  the form-encoded request body (@p len bytes, not necessarily
 *              NUL-terminated).
 * @param body  receives the malloc'd JSON answer (caller frees).
 * @returns the HTTP status: 200, or 400 with an OAuth error body, or 500
 *          (out of memory, *body may be NULL).
 */
int oauth_token_request(struct oauth *oauth, const char *form, size_t len, char **body);

/**
 * @brief Check an access token.
 * @param serial  receives the token's serial number (for oauth_revoked()).
 * @returns 0 when the token was issued here, is not revoked and has not
 *          idled out (--token-idle-timeout-ms), else -1. A valid token is
 *          marked used.
 */
int oauth_check(struct oauth *oauth, const char *token, uint64_t *serial);

/**
 * @brief Mark the token with @p serial used now (at the end of a request
 *        that held it, e.g. a long /meta/connect): --token-idle-timeout-ms
 *        counts from its last use.
 */
void oauth_touch(struct oauth *oauth, uint64_t serial);

/** @returns 1 when the token with @p serial has been revoked since. */
int oauth_revoked(struct oauth *oauth, uint64_t serial);

/** @brief Revoke every token issued so far (new logins get valid tokens). */
void oauth_revoke_all(struct oauth *oauth);

/**
 * @brief Rotate the password-flow password (as an admin does in Setup): from
 *        now on only @p password is accepted. @returns 0, or -1 when it is
 *        empty or longer than 255 bytes.
 */
int oauth_set_password(struct oauth *oauth, const char *password);

/**
 * @brief The instance URL the token endpoint hands out from now on
 *        (copied). Until set, the login URL.
 */
void oauth_set_instance_url(struct oauth *oauth, const char *url);

/**
 * @brief From now on answer token requests as a hostile token endpoint
 *        would: @p instance_url (copied; NULL or "": the real one) as
 *        instance_url, and with @p crlf_token an access_token followed by
 *        CR LF "X-Sfsim-Injected: 1" (the token before it stays valid).
 */
void oauth_set_answer(struct oauth *oauth, const char *instance_url, int crlf_token);

/** @returns the number of tokens issued. */
uint64_t oauth_tokens_issued(struct oauth *oauth);

#endif
