/*
 * OAuth flows from one table: each flow names its grant_type and the fields
 * it sends. The JWT flow signs a fresh assertion for each login.
 */
#include "auth.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"

/* Salesforce accepts a JWT whose exp is at most a few minutes ahead. */
#define AUTH_JWT_LIFETIME_S 180

enum auth_field { F_CLIENT_ID = 1, F_CLIENT_SECRET = 2, F_USERNAME = 4, F_PASSWORD = 8,
                  F_REFRESH_TOKEN = 16, F_ASSERTION = 32 };

static const struct auth_flow_spec {
        enum auth_flow flow;
        const char *grant_type;
        unsigned fields;
} auth_flows[] = {
        { AUTH_PASSWORD, "password", F_CLIENT_ID | F_CLIENT_SECRET | F_USERNAME | F_PASSWORD },
        { AUTH_JWT, "urn:ietf:params:oauth:grant-type:jwt-bearer", F_ASSERTION },
        { AUTH_REFRESH_TOKEN, "refresh_token", F_CLIENT_ID | F_CLIENT_SECRET | F_REFRESH_TOKEN },
        { AUTH_CLIENT_CREDENTIALS, "client_credentials", F_CLIENT_ID | F_CLIENT_SECRET },
};

int auth_form_escape(struct buf *out, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                char enc[3];

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~') {
                        if (buf_append(out, s, 1) == -1)
                                return -1;
                        continue;
                }
                enc[0] = '%';
                enc[1] = hex[c >> 4];
                enc[2] = hex[c & 15];
                if (buf_append(out, enc, 3) == -1)
                        return -1;
        }
        return 0;
}

static int form_field(struct buf *body, const char *name, const char *value)
{
        if (body->len && buf_append(body, "&", 1) == -1)
                return -1;
        if (buf_printf(body, "%s=", name) == -1)
                return -1;
        return auth_form_escape(body, value ? value : "");
}

int auth_build_request(const struct config *cfg, const char *refresh_token, char *url,
                       size_t url_size, struct buf *body, char *errstr, size_t errstr_size)
{
        const struct auth_flow_spec *spec = NULL;
        size_t i, n;
        int rc = 0;

        for (i = 0; i < sizeof(auth_flows) / sizeof(auth_flows[0]); i++)
                if (auth_flows[i].flow == cfg->sf.flow)
                        spec = &auth_flows[i];
        if (!spec) {
                snprintf(errstr, errstr_size, "unknown auth flow");
                return -1;
        }
        n = strlen(cfg->sf.login_url);
        while (n && cfg->sf.login_url[n - 1] == '/')
                n--;
        if ((size_t)snprintf(url, url_size, "%.*s/services/oauth2/token", (int)n,
                             cfg->sf.login_url) >= url_size) {
                snprintf(errstr, errstr_size, "salesforce.login_url is too long");
                return -1;
        }

        buf_reset(body);
        rc |= form_field(body, "grant_type", spec->grant_type);
        if (spec->fields & F_CLIENT_ID)
                rc |= form_field(body, "client_id", cfg->sf.client_id);
        if (spec->fields & F_CLIENT_SECRET)
                rc |= form_field(body, "client_secret", cfg->sf.client_secret);
        if (spec->fields & F_USERNAME)
                rc |= form_field(body, "username", cfg->sf.username);
        if (spec->fields & F_PASSWORD)
                rc |= form_field(body, "password", cfg->sf.password);
        if (spec->fields & F_REFRESH_TOKEN)
                rc |= form_field(body, "refresh_token",
                                 refresh_token ? refresh_token : cfg->sf.refresh_token);
        if (spec->fields & F_ASSERTION) {
                /* aud names the authorization server (login or test, or an
                 * Experience Cloud site), not the host we post to: a My
                 * Domain URL there is refused with "audience is invalid". */
                char aud[512];
                char *jwt;

                if (!cfg->sf.audience) {
                        snprintf(errstr, errstr_size, "salesforce.auth.audience is not set");
                        return -1;
                }
                n = strlen(cfg->sf.audience);
                while (n && cfg->sf.audience[n - 1] == '/')
                        n--;
                snprintf(aud, sizeof(aud), "%.*s", (int)n, cfg->sf.audience);
                jwt = jwt_build_assertion(cfg->sf.private_key_file, cfg->sf.client_id,
                                          cfg->sf.username, aud,
                                          (long long)time(NULL) + AUTH_JWT_LIFETIME_S, errstr,
                                          errstr_size);
                if (!jwt)
                        return -1;
                rc |= form_field(body, "assertion", jwt);
                free(jwt);
        }
        if (rc) {
                buf_reset(body);
                snprintf(errstr, errstr_size, "token request too large or out of memory");
                return -1;
        }
        return 0;
}

const char *auth_refusal_hint(const struct config *cfg, const char *err)
{
        if (strstr(err, "audience is invalid"))
                return " (the JWT aud is salesforce.auth.audience: https://login.salesforce.com, "
                       "https://test.salesforce.com for a sandbox, or an Experience Cloud site's "
                       "URL; never the My Domain URL)";
        if (strstr(err, "request not supported on this domain"))
                return " (this flow needs the org's My Domain login URL in salesforce.login_url)";
        if (cfg->sf.flow == AUTH_PASSWORD && strstr(err, "authentication failure"))
                return " (new orgs block the username-password flow by default; "
                       "the jwt flow needs no password)";
        if (cfg->sf.flow == AUTH_REFRESH_TOKEN && strstr(err, "expired access/refresh token"))
                return " (the refresh token was revoked or has expired; with refresh token "
                       "rotation, an old token presented again revokes them all: a new one must "
                       "be issued, and salesforce.auth.refresh_token_file keeps it across restarts)";
        return "";
}

static char *dup_string(const cJSON *obj, const char *name)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

        if (!cJSON_IsString(it) || !it->valuestring[0])
                return NULL;
        return strdup(it->valuestring);
}

/* The identity URL ends in /id/<orgId>/<userId>. */
static void parse_identity(struct auth_token *tok, const char *id)
{
        const char *p = id ? strstr(id, "/id/") : NULL;
        const char *slash;

        if (!p)
                return;
        p += 4;
        slash = strchr(p, '/');
        if (!slash)
                return;
        tok->org_id = strndup(p, (size_t)(slash - p));
        tok->user_id = strdup(slash + 1);
}

enum auth_outcome auth_parse_response(long status, const char *body, size_t len,
                                      struct auth_token *tok, char *errstr, size_t errstr_size)
{
        cJSON *root = cJSON_ParseWithLength(body, len);
        enum auth_outcome out = AUTH_RETRY;

        memset(tok, 0, sizeof(*tok));
        if (status == 200) {
                const cJSON *id;

                if (!root) {
                        snprintf(errstr, errstr_size, "token endpoint answered 200 with a body that is not JSON");
                        goto done;
                }
                tok->access_token = dup_string(root, "access_token");
                tok->instance_url = dup_string(root, "instance_url");
                if (!tok->access_token || !tok->instance_url) {
                        snprintf(errstr, errstr_size,
                                 "token endpoint answer lacks access_token or instance_url");
                        auth_token_clear(tok);
                        goto done;
                }
                id = cJSON_GetObjectItemCaseSensitive(root, "id");
                parse_identity(tok, cJSON_IsString(id) ? id->valuestring : NULL);
                tok->refresh_token = dup_string(root, "refresh_token");
                out = AUTH_OK;
                goto done;
        }
        if (status >= 400 && status < 500) {
                const cJSON *err = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
                const cJSON *desc = root ? cJSON_GetObjectItemCaseSensitive(root, "error_description") : NULL;

                /* OAuth errors are verdicts on the credentials: retrying
                 * the same ones cannot help until someone fixes them. */
                snprintf(errstr, errstr_size, "token endpoint refused the credentials: HTTP %ld %s: %s",
                         status, cJSON_IsString(err) ? err->valuestring : "(no error code)",
                         cJSON_IsString(desc) ? desc->valuestring : "(no description)");
                out = (status == 429) ? AUTH_RETRY : AUTH_REJECTED;
                goto done;
        }
        snprintf(errstr, errstr_size, "token endpoint answered HTTP %ld", status);
done:
        cJSON_Delete(root);
        return out;
}

void auth_token_clear(struct auth_token *tok)
{
        if (tok->access_token) {
                memset(tok->access_token, 0, strlen(tok->access_token));
                free(tok->access_token);
        }
        if (tok->refresh_token) {
                memset(tok->refresh_token, 0, strlen(tok->refresh_token));
                free(tok->refresh_token);
        }
        free(tok->instance_url);
        free(tok->org_id);
        free(tok->user_id);
        memset(tok, 0, sizeof(*tok));
}

char *auth_bearer(const struct auth_token *tok)
{
        size_t n = strlen("Bearer ") + strlen(tok->access_token) + 1;
        char *out = malloc(n);

        if (out)
                snprintf(out, n, "Bearer %s", tok->access_token);
        return out;
}

char *auth_cometd_url(const struct auth_token *tok, const char *api_version)
{
        size_t len = strlen(tok->instance_url);
        size_t n = len + strlen("/cometd/") + strlen(api_version) + 1;
        char *out = malloc(n);

        while (len && tok->instance_url[len - 1] == '/')
                len--;
        if (out)
                snprintf(out, n, "%.*s/cometd/%s", (int)len, tok->instance_url, api_version);
        return out;
}
