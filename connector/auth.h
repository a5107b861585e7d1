/*
 * The four OAuth 2.0 flows Salesforce offers a server-side client:
 * password, JWT bearer, refresh_token and client_credentials. Pure: builds
 * the token request and reads the answer; the caller moves the bytes.
 */
#ifndef SFB_AUTH_H
#define SFB_AUTH_H

#include <stddef.h>
#include "buf.h"
#include "config.h"

struct auth_token {
        char *access_token;   /* secret: never logged */
        char *instance_url;
        char *org_id;         /* from the identity URL <login>/id/<orgId>/<userId> */
        char *user_id;
        char *refresh_token;  /* a rotated refresh token the answer carried, or NULL; secret */
};

enum auth_outcome {
        AUTH_OK,
        AUTH_REJECTED,  /* the credentials were refused: invalid_grant, invalid_client_id, … */
        AUTH_RETRY      /* no verdict: 5xx, a malformed answer, a transport error */
};

/**
 * @brief Build the token endpoint URL and the form body for cfg's flow.
 * @param refresh_token  the refresh_token flow's token when it has rotated
 *                       since the config was read; NULL: cfg's.
 * @returns 0, or -1 with errstr (e.g. the JWT key file cannot be read).
 * @remark body holds secrets: the caller clears it (buf_reset) after use.
 */
int auth_build_request(const struct config *cfg, const char *refresh_token, char *url,
                       size_t url_size, struct buf *body, char *errstr, size_t errstr_size);

/**
 * @returns what to do about a refusal whose message is @p err (from
 *          auth_parse_response()) under cfg's flow, as a static sentence to
 *          append, or "" when there is nothing particular to say.
 */
const char *auth_refusal_hint(const struct config *cfg, const char *err);

/**
 * @brief Read the token endpoint's answer. A refresh_token member (a
 *        connected app that rotates refresh tokens) lands in tok->refresh_token.
 * @returns AUTH_OK with tok filled (free with auth_token_clear()), or
 *          AUTH_REJECTED / AUTH_RETRY with errstr quoting Salesforce's
 *          error and error_description (which hold no secret).
 */
enum auth_outcome auth_parse_response(long status, const char *body, size_t len,
                                      struct auth_token *tok, char *errstr, size_t errstr_size);

void auth_token_clear(struct auth_token *tok);

/** @returns a malloc'd Authorization value "Bearer <token>", or NULL on OOM. @remark secret: clear it before free(). */
char *auth_bearer(const struct auth_token *tok);

/** @returns a malloc'd CometD endpoint "<instance_url>/cometd/<api_version>" (no doubled slash), or NULL on OOM. */
char *auth_cometd_url(const struct auth_token *tok, const char *api_version);

/** @brief Append s to out, application/x-www-form-urlencoded. @returns 0 or -1. */
int auth_form_escape(struct buf *out, const char *s);

#endif
