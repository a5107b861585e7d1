/*
 * The OAuth token endpoint (see oauth.h). Answers are the exact bodies
 * Salesforce sends (shared/reference/salesforce-streaming.md §1.3, §1.4);
 * why a request was refused goes to stderr for the test author, without
 * any secret.
 *
 * Access tokens look like Salesforce's: `<15-char org id>!<serial><random>`.
 * The serial makes revocation a watermark: revoking "every token issued so
 * far" is one assignment, and checking a token is an array lookup plus a
 * constant-time compare. Each token also remembers when it was last used,
 * so --token-idle-timeout-ms can end a session left idle, as Salesforce's
 * session timeout does.
 *
 * With --rotate-refresh-token the refresh tokens form one family, as with
 * a connected app's refresh token rotation: each refresh answers with a
 * new one and retires the one it used; presenting a retired one again
 * (a replay, or a client that lost the new one) revokes the whole family
 * and every access token.
 */
#include "oauth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "sim.h"

#define OAUTH_RING 4096       /* tokens remembered; older ones stop working */
#define OAUTH_SECRET_LEN 40
#define OAUTH_FORM_MAX_FIELDS 16
#define OAUTH_RT_LEN 64       /* a rotated refresh token, "5Aep861" + random */
#define OAUTH_RT_RETIRED 64   /* retired refresh tokens remembered */
#define GRANT_JWT "urn:ietf:params:oauth:grant-type:jwt-bearer"

struct oauth {
        const struct sim_config *cfg;
        char login_url[256];
        char instance_url[256]; /* guarded by lock: revoke-tokens may move the org */
        char org15[16];
        char id_url[512];     /* <login>/id/<orgId>/<userId> */
        EVP_PKEY *jwt_key;

        pthread_mutex_t lock;
        uint64_t next_serial; /* serial of the next token; 1-based */
        uint64_t revoke_mark; /* serials below this are revoked */
        char secrets[OAUTH_RING][OAUTH_SECRET_LEN + 1];
        int64_t last_used[OAUTH_RING]; /* monotonic ms, for --token-idle-timeout-ms */
        /* --rotate-refresh-token: the family's live token, the retired ones. */
        char rt_live[OAUTH_RT_LEN + 1];
        char rt_retired[OAUTH_RT_RETIRED][OAUTH_RT_LEN + 1];
        size_t rt_nretired;
        int rt_revoked;       /* a retired token came back: the family is dead */
        unsigned long long rt_rotations;
        char password[256];   /* rotated by /admin/credentials; "" until then: cfg's */
        /* /admin/token-answer: what a hostile or broken token endpoint says. */
        char bad_instance_url[512]; /* "": the real instance URL */
        int crlf_token;             /* access_token carries CR LF and a header */
};

struct oauth *oauth_new(const struct sim_config *cfg, const char *login_url,
                        const char *user_id, char *errstr, size_t errstr_size)
{
        struct oauth *oauth = calloc(1, sizeof(*oauth));
        FILE *fp;

        if (!oauth) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        oauth->cfg = cfg;
        pthread_mutex_init(&oauth->lock, NULL);
        oauth->next_serial = 1;
        snprintf(oauth->login_url, sizeof(oauth->login_url), "%s", login_url);
        if (cfg->refresh_token)
                snprintf(oauth->rt_live, sizeof(oauth->rt_live), "%s", cfg->refresh_token);
        snprintf(oauth->instance_url, sizeof(oauth->instance_url), "%s", login_url);
        snprintf(oauth->org15, sizeof(oauth->org15), "%.15s", cfg->org_id);
        snprintf(oauth->id_url, sizeof(oauth->id_url), "%s/id/%s/%s", login_url, cfg->org_id,
                 user_id);
        if (cfg->jwt_public_key) {
                fp = fopen(cfg->jwt_public_key, "r");
                if (!fp) {
                        snprintf(errstr, errstr_size, "--jwt-public-key %s: cannot open",
                                 cfg->jwt_public_key);
                        oauth_destroy(oauth);
                        return NULL;
                }
                oauth->jwt_key = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
                fclose(fp);
                if (!oauth->jwt_key || EVP_PKEY_base_id(oauth->jwt_key) != EVP_PKEY_RSA) {
                        snprintf(errstr, errstr_size,
                                 "--jwt-public-key %s: not a PEM RSA public key",
                                 cfg->jwt_public_key);
                        oauth_destroy(oauth);
                        return NULL;
                }
        }
        return oauth;
}

void oauth_destroy(struct oauth *oauth)
{
        if (!oauth)
                return;
        EVP_PKEY_free(oauth->jwt_key);
        pthread_mutex_destroy(&oauth->lock);
        OPENSSL_cleanse(oauth->secrets, sizeof(oauth->secrets));
        OPENSSL_cleanse(oauth->password, sizeof(oauth->password));
        OPENSSL_cleanse(oauth->rt_live, sizeof(oauth->rt_live));
        OPENSSL_cleanse(oauth->rt_retired, sizeof(oauth->rt_retired));
        free(oauth);
}

/* ---- tokens ---------------------------------------------------------- */

static int random_alnum(char *out, size_t n)
{
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        unsigned char raw[64];
        size_t i;

        if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
                return -1;
        for (i = 0; i < n; i++)
                out[i] = alphabet[raw[i] % 62];
        out[n] = '\0';
        return 0;
}

/* Issue a token into @p out (at least 16 + 1 + 8 + OAUTH_SECRET_LEN + 1 bytes). */
static int issue(struct oauth *oauth, char *out, size_t out_size)
{
        char secret[OAUTH_SECRET_LEN + 1];
        uint64_t serial;

        if (random_alnum(secret, OAUTH_SECRET_LEN) == -1)
                return -1;
        pthread_mutex_lock(&oauth->lock);
        serial = oauth->next_serial++;
        memcpy(oauth->secrets[serial % OAUTH_RING], secret, sizeof(secret));
        oauth->last_used[serial % OAUTH_RING] = sim_now_ms();
        pthread_mutex_unlock(&oauth->lock);
        snprintf(out, out_size, "%s!%08llx%s", oauth->org15, (unsigned long long)serial, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        return 0;
}

int oauth_check(struct oauth *oauth, const char *token, uint64_t *serial)
{
        size_t org_len = strlen(oauth->org15);
        char hex[9], *end;
        int64_t now = sim_now_ms();
        uint64_t s;
        int ok, idle;

        if (!token || strlen(token) != org_len + 1 + 8 + OAUTH_SECRET_LEN ||
            strncmp(token, oauth->org15, org_len) || token[org_len] != '!')
                return -1;
        memcpy(hex, token + org_len + 1, 8);
        hex[8] = '\0';
        s = strtoull(hex, &end, 16);
        if (*end)
                return -1;
        pthread_mutex_lock(&oauth->lock);
        ok = s >= 1 && s < oauth->next_serial && s + OAUTH_RING >= oauth->next_serial &&
             s >= oauth->revoke_mark &&
             !CRYPTO_memcmp(oauth->secrets[s % OAUTH_RING], token + org_len + 9, OAUTH_SECRET_LEN);
        /* An idle session stays dead: its last use is not moved. */
        idle = ok && oauth->cfg->token_idle_timeout_ms > 0 &&
               now - oauth->last_used[s % OAUTH_RING] > oauth->cfg->token_idle_timeout_ms;
        if (ok && !idle)
                oauth->last_used[s % OAUTH_RING] = now;
        pthread_mutex_unlock(&oauth->lock);
        if (idle)
                fprintf(stderr, "sfsim: level=info msg=token-idle serial=%llu idle_timeout_ms=%ld\n",
                        (unsigned long long)s, oauth->cfg->token_idle_timeout_ms);
        if (!ok || idle)
                return -1;
        *serial = s;
        return 0;
}

void oauth_touch(struct oauth *oauth, uint64_t serial)
{
        pthread_mutex_lock(&oauth->lock);
        if (serial >= 1 && serial < oauth->next_serial && serial + OAUTH_RING >= oauth->next_serial)
                oauth->last_used[serial % OAUTH_RING] = sim_now_ms();
        pthread_mutex_unlock(&oauth->lock);
}

int oauth_revoked(struct oauth *oauth, uint64_t serial)
{
        int revoked;

        pthread_mutex_lock(&oauth->lock);
        revoked = serial < oauth->revoke_mark;
        pthread_mutex_unlock(&oauth->lock);
        return revoked;
}

void oauth_revoke_all(struct oauth *oauth)
{
        pthread_mutex_lock(&oauth->lock);
        oauth->revoke_mark = oauth->next_serial;
        pthread_mutex_unlock(&oauth->lock);
}

void oauth_set_instance_url(struct oauth *oauth, const char *url)
{
        pthread_mutex_lock(&oauth->lock);
        snprintf(oauth->instance_url, sizeof(oauth->instance_url), "%s", url);
        pthread_mutex_unlock(&oauth->lock);
}

void oauth_set_answer(struct oauth *oauth, const char *instance_url, int crlf_token)
{
        pthread_mutex_lock(&oauth->lock);
        snprintf(oauth->bad_instance_url, sizeof(oauth->bad_instance_url), "%s",
                 instance_url ? instance_url : "");
        oauth->crlf_token = crlf_token;
        pthread_mutex_unlock(&oauth->lock);
}

uint64_t oauth_tokens_issued(struct oauth *oauth)
{
        uint64_t n;

        pthread_mutex_lock(&oauth->lock);
        n = oauth->next_serial - 1;
        pthread_mutex_unlock(&oauth->lock);
        return n;
}

/* ---- form bodies ----------------------------------------------------- */

struct form {
        char *copy;
        size_t copy_len;
        size_t n;
        struct {
                const char *name, *value;
        } f[OAUTH_FORM_MAX_FIELDS];
};

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decode application/x-www-form-urlencoded text in place. */
static void url_decode(char *s)
{
        char *out = s;

        for (; *s; s++) {
                if (*s == '+') {
                        *out++ = ' ';
                } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                        *out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
                        s += 2;
                } else {
                        *out++ = *s;
                }
        }
        *out = '\0';
}

static int form_parse(struct form *form, const char *body, size_t len)
{
        char *p, *save = NULL, *pair;

        form->n = 0;
        form->copy = malloc(len + 1);
        if (!form->copy)
                return -1;
        memcpy(form->copy, body, len);
        form->copy[len] = '\0';
        form->copy_len = len;
        for (p = form->copy; (pair = strtok_r(p, "&", &save)); p = NULL) {
                char *eq = strchr(pair, '=');

                if (form->n == OAUTH_FORM_MAX_FIELDS)
                        break;
                if (eq)
                        *eq = '\0';
                url_decode(pair);
                if (eq)
                        url_decode(eq + 1);
                form->f[form->n].name = pair;
                form->f[form->n].value = eq ? eq + 1 : "";
                form->n++;
        }
        return 0;
}

static const char *form_get(const struct form *form, const char *name)
{
        size_t i;

        for (i = 0; i < form->n; i++)
                if (!strcmp(form->f[i].name, name))
                        return form->f[i].value;
        return NULL;
}

static void form_free(struct form *form)
{
        if (form->copy) {
                OPENSSL_cleanse(form->copy, form->copy_len);
                free(form->copy);
        }
        form->copy = NULL;
}

/* ---- answers --------------------------------------------------------- */

static char *error_body(const char *error, const char *description)
{
        cJSON *obj = cJSON_CreateObject();
        char *text = NULL;

        if (obj && cJSON_AddStringToObject(obj, "error", error) &&
            cJSON_AddStringToObject(obj, "error_description", description))
                text = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        return text;
}

static int bad_client(char **body)
{
        *body = error_body("invalid_client_id", "client identifier invalid");
        return *body ? 400 : 500;
}

/* invalid_grant with Salesforce's description for the case. */
static int refuse(const char *flow, const char *why, const char *description, char **body)
{
        fprintf(stderr, "sfsim: level=info msg=token-refused flow=%s reason=\"%s\"\n", flow, why);
        *body = error_body("invalid_grant", description);
        return *body ? 400 : 500;
}

static int bad_grant(const char *flow, const char *why, char **body)
{
        return refuse(flow, why, "authentication failure", body);
}

static int same(const char *given, const char *expected)
{
        size_t n;

        if (!given || !expected)
                return 0;
        n = strlen(expected);
        return strlen(given) == n && !CRYPTO_memcmp(given, expected, n);
}

/* @param refresh_token  a rotated refresh token to hand out, or NULL. */
static int grant(struct oauth *oauth, const char *refresh_token, char **body)
{
        char token[128 + 32], issued_at[32], sig_b64[64], instance[512];
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char *msg = NULL;
        cJSON *obj;
        size_t msg_len;

        *body = NULL;
        if (issue(oauth, token, sizeof(token)) == -1)
                return 500;
        snprintf(issued_at, sizeof(issued_at), "%lld", (long long)sim_wall_ms());
        /* signature = Base64(HMAC-SHA256(client secret, id + issued_at)), as Salesforce signs it. */
        msg_len = strlen(oauth->id_url) + strlen(issued_at);
        msg = malloc(msg_len + 1);
        if (!msg)
                return 500;
        snprintf(msg, msg_len + 1, "%s%s", oauth->id_url, issued_at);
        HMAC(EVP_sha256(), oauth->cfg->client_secret, (int)strlen(oauth->cfg->client_secret),
             (const unsigned char *)msg, msg_len, mac, &mac_len);
        free(msg);
        EVP_EncodeBlock((unsigned char *)sig_b64, mac, (int)mac_len);
        pthread_mutex_lock(&oauth->lock);
        snprintf(instance, sizeof(instance), "%s",
                 oauth->bad_instance_url[0] ? oauth->bad_instance_url : oauth->instance_url);
        /* The token stays valid: a client that sends it as given puts a
         * header of the server's choosing into its requests. */
        if (oauth->crlf_token && strlen(token) + 32 < sizeof(token))
                strcat(token, "\r\nX-Sfsim-Injected: 1");
        pthread_mutex_unlock(&oauth->lock);

        obj = cJSON_CreateObject();
        if (obj && cJSON_AddStringToObject(obj, "access_token", token) &&
            cJSON_AddStringToObject(obj, "instance_url", instance) &&
            cJSON_AddStringToObject(obj, "id", oauth->id_url) &&
            cJSON_AddStringToObject(obj, "token_type", "Bearer") &&
            cJSON_AddStringToObject(obj, "issued_at", issued_at) &&
            cJSON_AddStringToObject(obj, "signature", sig_b64) &&
            (!refresh_token || cJSON_AddStringToObject(obj, "refresh_token", refresh_token)))
                *body = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        OPENSSL_cleanse(token, sizeof(token));
        return *body ? 200 : 500;
}

/* ---- JWT bearer ------------------------------------------------------- */

/* Decode base64url without padding; @returns the length, or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
        unsigned int acc = 0;
        int bits = 0;
        size_t i, n = 0;

        for (i = 0; i < len; i++) {
                char c = in[i];
                int v;

                if (c >= 'A' && c <= 'Z')
                        v = c - 'A';
                else if (c >= 'a' && c <= 'z')
                        v = c - 'a' + 26;
                else if (c >= '0' && c <= '9')
                        v = c - '0' + 52;
                else if (c == '-')
                        v = 62;
                else if (c == '_')
                        v = 63;
                else if (c == '=')
                        break;
                else
                        return -1;
                acc = (acc << 6) | (unsigned int)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n == out_size)
                                return -1;
                        out[n++] = (unsigned char)(acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        return (long)n;
}

static cJSON *b64url_json(const char *in, size_t len)
{
        unsigned char buf[4096];
        long n = b64url_decode(in, len, buf, sizeof(buf) - 1);

        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return cJSON_Parse((const char *)buf);
}

static const char *json_str(const cJSON *obj, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* @p aud is @p url, or @p url with one trailing slash. */
static int aud_is(const char *aud, const char *url)
{
        size_t n = strlen(url);

        return !strncmp(aud, url, n) && (aud[n] == '\0' || !strcmp(aud + n, "/"));
}

/*
 * Salesforce takes the authorization server's URL as aud: login or test,
 * or an Experience Cloud site's URL; never the org's My Domain URL, which
 * is what a client that sends its login URL gets wrong.
 */
static int aud_ok(const struct oauth *oauth, const char *aud)
{
        return aud && (aud_is(aud, "https://login.salesforce.com") ||
                       aud_is(aud, "https://test.salesforce.com") ||
                       (oauth->cfg->experience_site && aud_is(aud, oauth->cfg->experience_site)));
}

static int jwt_flow(struct oauth *oauth, const struct form *form, char **body)
{
        const char *assertion = form_get(form, "assertion"), *dot1, *dot2, *iss, *alg;
        cJSON *header = NULL, *claims = NULL, *exp;
        unsigned char sig[1024];
        EVP_MD_CTX *md = NULL;
        long sig_len;
        double exp_s = 0;
        int status, verified;

        if (!assertion || !(dot1 = strchr(assertion, '.')) || !(dot2 = strchr(dot1 + 1, '.')) ||
            strchr(dot2 + 1, '.'))
                return bad_grant("jwt", "assertion is not header.claims.signature", body);
        header = b64url_json(assertion, (size_t)(dot1 - assertion));
        claims = b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
        if (!header || !claims) {
                status = bad_grant("jwt", "header or claims are not base64url JSON", body);
                goto out;
        }
        alg = json_str(header, "alg");
        if (!alg || strcmp(alg, "RS256")) {
                status = bad_grant("jwt", "alg is not RS256", body);
                goto out;
        }
        iss = json_str(claims, "iss");
        if (!same(iss, oauth->cfg->client_id)) {
                status = bad_client(body);
                goto out;
        }
        if (!oauth->jwt_key) {
                status = bad_grant("jwt", "no --jwt-public-key given", body);
                goto out;
        }
        sig_len = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));
        md = EVP_MD_CTX_new();
        verified = sig_len > 0 && md &&
                   EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, oauth->jwt_key) == 1 &&
                   EVP_DigestVerify(md, sig, (size_t)sig_len, (const unsigned char *)assertion,
                                    (size_t)(dot2 - assertion)) == 1;
        if (!verified) {
                status = bad_grant("jwt", "signature does not verify with --jwt-public-key", body);
                goto out;
        }
        if (!same(json_str(claims, "sub"), oauth->cfg->username)) {
                status = bad_grant("jwt", "sub is not the username", body);
                goto out;
        }
        if (!aud_ok(oauth, json_str(claims, "aud"))) {
                status = refuse("jwt", "aud is not login, test or --experience-site",
                                "audience is invalid", body);
                goto out;
        }
        /* exp is epoch seconds, a number or (as in Salesforce's sample) a string. */
        exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
        if (cJSON_IsNumber(exp))
                exp_s = exp->valuedouble;
        else if (cJSON_IsString(exp))
                exp_s = strtod(exp->valuestring, NULL);
        if (exp_s <= (double)time(NULL)) {
                status = bad_grant("jwt", "exp is missing or in the past", body);
                goto out;
        }
        status = grant(oauth, NULL, body);
out:
        EVP_MD_CTX_free(md);
        cJSON_Delete(header);
        cJSON_Delete(claims);
        return status;
}

/*
 * The refresh_token grant. Without rotation the one --refresh-token works
 * forever. With it, the live token is swapped for a new one on each use.
 */
static int refresh_flow(struct oauth *oauth, const char *given, char **body)
{
        char fresh[OAUTH_RT_LEN + 1];
        unsigned long long n;
        size_t i;
        int status, reused = 0;

        if (!oauth->cfg->rotate_refresh_token) {
                if (!same(given, oauth->cfg->refresh_token))
                        return bad_grant("refresh_token", "wrong refresh_token", body);
                return grant(oauth, NULL, body);
        }
        memcpy(fresh, "5Aep861", 7);
        if (random_alnum(fresh + 7, OAUTH_RT_LEN - 7) == -1)
                return 500;
        pthread_mutex_lock(&oauth->lock);
        if (oauth->rt_revoked) {
                pthread_mutex_unlock(&oauth->lock);
                return refuse("refresh_token", "the refresh token family was revoked",
                              "expired access/refresh token", body);
        }
        if (!same(given, oauth->rt_live)) {
                for (i = 0; i < oauth->rt_nretired && i < OAUTH_RT_RETIRED; i++)
                        reused |= same(given, oauth->rt_retired[i]);
                if (reused) {
                        oauth->rt_revoked = 1;
                        oauth->revoke_mark = oauth->next_serial;
                }
                pthread_mutex_unlock(&oauth->lock);
                if (reused)
                        return refuse("refresh_token", "a retired refresh token was reused: "
                                      "the family and its access tokens are revoked",
                                      "expired access/refresh token", body);
                return bad_grant("refresh_token", "wrong refresh_token", body);
        }
        memcpy(oauth->rt_retired[oauth->rt_nretired++ % OAUTH_RT_RETIRED], oauth->rt_live,
               sizeof(oauth->rt_live));
        memcpy(oauth->rt_live, fresh, sizeof(fresh));
        n = ++oauth->rt_rotations;
        pthread_mutex_unlock(&oauth->lock);
        fprintf(stderr, "sfsim: level=info msg=refresh-token-rotated rotations=%llu\n",
                (unsigned long long)n);
        status = grant(oauth, fresh, body);
        OPENSSL_cleanse(fresh, sizeof(fresh));
        return status;
}

int oauth_set_password(struct oauth *oauth, const char *password)
{
        if (!password || !password[0] || strlen(password) >= sizeof(oauth->password))
                return -1;
        pthread_mutex_lock(&oauth->lock);
        snprintf(oauth->password, sizeof(oauth->password), "%s", password);
        pthread_mutex_unlock(&oauth->lock);
        return 0;
}

/* The password now: the last rotation's, else --password. */
static int password_ok(struct oauth *oauth, const char *given)
{
        int ok;

        pthread_mutex_lock(&oauth->lock);
        ok = same(given, oauth->password[0] ? oauth->password : oauth->cfg->password);
        pthread_mutex_unlock(&oauth->lock);
        return ok;
}

int oauth_token_request(struct oauth *oauth, const char *text, size_t len, char **body)
{
        const struct sim_config *cfg = oauth->cfg;
        const char *grant_type, *secret;
        struct form form;
        int status;

        *body = NULL;
        if (form_parse(&form, text, len) == -1)
                return 500;
        grant_type = form_get(&form, "grant_type");
        if (grant_type && !strcmp(grant_type, GRANT_JWT)) {
                status = jwt_flow(oauth, &form, body);
                goto out;
        }
        if (!grant_type || (strcmp(grant_type, "password") && strcmp(grant_type, "refresh_token") &&
                            strcmp(grant_type, "client_credentials"))) {
                *body = error_body("unsupported_grant_type", "grant type not supported");
                status = *body ? 400 : 500;
                goto out;
        }
        if (!same(form_get(&form, "client_id"), cfg->client_id)) {
                status = bad_client(body);
                goto out;
        }
        secret = form_get(&form, "client_secret");
        if (!strcmp(grant_type, "password")) {
                /* Blocked orgs answer exactly as for a wrong password. */
                if (cfg->password_flow_blocked)
                        status = bad_grant("password", "the username-password flow is blocked "
                                           "(--password-flow-blocked)", body);
                else if (!same(secret, cfg->client_secret))
                        status = bad_grant("password", "wrong client_secret", body);
                else if (!same(form_get(&form, "username"), cfg->username) ||
                         !password_ok(oauth, form_get(&form, "password")))
                        status = bad_grant("password", "wrong username or password", body);
                else
                        status = grant(oauth, NULL, body);
        } else if (!strcmp(grant_type, "refresh_token")) {
                /* The client secret is optional in this flow; a wrong one is refused. */
                if (secret && !same(secret, cfg->client_secret))
                        status = bad_grant("refresh_token", "wrong client_secret", body);
                else if (!cfg->refresh_token)
                        status = bad_grant("refresh_token", "no --refresh-token given", body);
                else
                        status = refresh_flow(oauth, form_get(&form, "refresh_token"), body);
        } else {
                /* Only a My Domain login host serves this flow. */
                if (!cfg->my_domain)
                        status = refuse("client_credentials", "not a My Domain (--my-domain)",
                                        "request not supported on this domain", body);
                else if (!same(secret, cfg->client_secret))
                        status = bad_grant("client_credentials", "wrong client_secret", body);
                else
                        status = grant(oauth, NULL, body);
        }
out:
        form_free(&form);
        return status;
}
