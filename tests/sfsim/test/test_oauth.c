/*
 * sfsim's OAuth token endpoint: the four flows, the exact success and error
 * bodies Salesforce sends, the JWT signature check, tokens accepted by the
 * CometD endpoint in each header style, and no secret in sfsim's output.
 */
#include "harness.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define BAD_GRANT "{\"error\":\"invalid_grant\",\"error_description\":\"authentication failure\"}"
#define BAD_AUDIENCE "{\"error\":\"invalid_grant\",\"error_description\":\"audience is invalid\"}"
#define BAD_DOMAIN "{\"error\":\"invalid_grant\",\"error_description\":\"request not supported on this domain\"}"
#define EXPIRED_RT "{\"error\":\"invalid_grant\",\"error_description\":\"expired access/refresh token\"}"
#define BAD_CLIENT "{\"error\":\"invalid_client_id\",\"error_description\":\"client identifier invalid\"}"

/* Post @p form and assert the HTTP status and the exact JSON body. */
static void expect_answer_at(const struct simproc *sp, const char *form, long status,
                             const char *body, const char *file, int line)
{
        struct hres res;
        cJSON *json;

        form_post(sp, form, NULL, &res);
        if (res.rc != CURLE_OK || res.status != status) {
                print_error("%s:%d: %s: curl=%d HTTP %ld (expected %ld): %s\n", file, line, form,
                            (int)res.rc, res.status, status, res.body);
                hres_free(&res);
                _fail(file, line);
        }
        json = cJSON_Parse(res.body);
        assert_json_at(json, file, line, "%s", body);
        cJSON_Delete(json);
        hres_free(&res);
}

#define expect_answer(sp, form, status, body) expect_answer_at((sp), (form), (status), (body), __FILE__, __LINE__)

/* Assert a successful token answer, exactly as Salesforce shapes it. */
static void check_grant_at(const struct simproc *sp, const char *form, const char *file, int line)
{
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char expect_id[512], msg[1024], sig[128], instance[256];
        const char *issued_at;
        struct hres res;
        cJSON *json;
        long long ms;

        form_post(sp, form, NULL, &res);
        if (res.rc != CURLE_OK || res.status != 200) {
                print_error("%s:%d: %s: HTTP %ld: %s\n", file, line, form, res.status, res.body);
                hres_free(&res);
                _fail(file, line);
        }
        assert_non_null(strstr(res.headers, "Content-Type: application/json"));
        json = cJSON_Parse(res.body);
        assert_members_at(json, "access_token,instance_url,id,token_type,issued_at,signature", file, line);
        snprintf(expect_id, sizeof(expect_id), "%s/id/" T_ORG_ID "/" T_USER_ID, sp->url);
        /* The org's instance host, not the login host (/admin/stats names it). */
        current_instance(sp, instance, sizeof(instance));
        assert_string_not_equal(instance, sp->url);
        assert_string_equal(json_str(json, "instance_url"), instance);
        assert_string_equal(json_str(json, "id"), expect_id);
        assert_string_equal(json_str(json, "token_type"), "Bearer");
        /* access_token looks like Salesforce's: <15-char org id>!<opaque> */
        assert_non_null(json_str(json, "access_token"));
        assert_int_equal(strncmp(json_str(json, "access_token"), "00D000000000001!", 16), 0);
        /* issued_at: a string of epoch milliseconds, now. */
        issued_at = json_str(json, "issued_at");
        assert_non_null(issued_at);
        ms = strtoll(issued_at, NULL, 10);
        assert_true(llabs(ms - (long long)time(NULL) * 1000) < 60000);
        /* signature = base64(HMAC-SHA256(client secret, id + issued_at)) */
        snprintf(msg, sizeof(msg), "%s%s", expect_id, issued_at);
        HMAC(EVP_sha256(), T_CLIENT_SECRET, (int)strlen(T_CLIENT_SECRET), (unsigned char *)msg,
             strlen(msg), mac, &mac_len);
        EVP_EncodeBlock((unsigned char *)sig, mac, (int)mac_len);
        assert_string_equal(json_str(json, "signature"), sig);
        cJSON_Delete(json);
        hres_free(&res);
}

#define check_grant(sp, form) check_grant_at((sp), (form), __FILE__, __LINE__)

#define PASSWORD_FORM(id, secret, user, pass)                                                          \
        "grant_type=password&client_id=" id "&client_secret=" secret "&username=" user "&password=" pass

static void test_password_flow(void **state)
{
        struct fixture *fx = *state;

        check_grant(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "user%40example.com", T_PASSWORD));
        /* Fields may come in any order; + decodes to a space, %xx to a byte. */
        check_grant(&fx->sim, "password=pass-word-7Hq2&username=user@example.com&client_secret="
                              T_CLIENT_SECRET "&client_id=" T_CLIENT_ID "&grant_type=password");
}

static void test_password_bad_credentials(void **state)
{
        struct fixture *fx = *state;

        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "user%40example.com", "wrong"),
                      400, BAD_GRANT);
        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "other%40example.com", T_PASSWORD),
                      400, BAD_GRANT);
        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, "wrong-secret", "user%40example.com", T_PASSWORD),
                      400, BAD_GRANT);
        /* A prefix of the password is not the password. */
        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "user%40example.com", "pass-word"),
                      400, BAD_GRANT);
        expect_answer(&fx->sim, "grant_type=password&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET
                                "&username=user%40example.com",
                      400, BAD_GRANT);
}

static void test_unknown_client_id(void **state)
{
        struct fixture *fx = *state;

        expect_answer(&fx->sim, PASSWORD_FORM("someone-else", T_CLIENT_SECRET, "user%40example.com", T_PASSWORD),
                      400, BAD_CLIENT);
        expect_answer(&fx->sim, "grant_type=client_credentials&client_secret=" T_CLIENT_SECRET, 400, BAD_CLIENT);
        expect_answer(&fx->sim, "grant_type=refresh_token&client_id=nope&refresh_token=x", 400, BAD_CLIENT);
}

static void test_unsupported_grant(void **state)
{
        struct fixture *fx = *state;
        struct hres res;
        char url[512];

        expect_answer(&fx->sim, "grant_type=authorization_code&client_id=" T_CLIENT_ID, 400,
                      "{\"error\":\"unsupported_grant_type\",\"error_description\":\"grant type not supported\"}");
        expect_answer(&fx->sim, "client_id=" T_CLIENT_ID, 400,
                      "{\"error\":\"unsupported_grant_type\",\"error_description\":\"grant type not supported\"}");
        snprintf(url, sizeof(url), "%s/services/oauth2/token", fx->sim.url);
        http_do("GET", url, NULL, NULL, 0, NULL, &res);
        assert_int_equal(res.status, 405);
        hres_free(&res);
}

static void test_client_credentials_flow(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--my-domain", NULL };

        /* Salesforce serves this flow on a My Domain login host only. */
        expect_answer(&fx->sim, "grant_type=client_credentials&client_id=" T_CLIENT_ID
                                "&client_secret=" T_CLIENT_SECRET, 400, BAD_DOMAIN);
        fx_restart(fx, args);
        check_grant(&fx->sim, "grant_type=client_credentials&client_id=" T_CLIENT_ID
                              "&client_secret=" T_CLIENT_SECRET);
        expect_answer(&fx->sim, "grant_type=client_credentials&client_id=" T_CLIENT_ID "&client_secret=nope",
                      400, BAD_GRANT);
        expect_answer(&fx->sim, "grant_type=client_credentials&client_id=" T_CLIENT_ID, 400, BAD_GRANT);
}

static void test_refresh_token_flow(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--refresh-token", "5Aep861-refresh.tok", NULL };

        /* Without --refresh-token no refresh token is accepted. */
        expect_answer(&fx->sim, "grant_type=refresh_token&client_id=" T_CLIENT_ID "&client_secret="
                                T_CLIENT_SECRET "&refresh_token=5Aep861-refresh.tok",
                      400, BAD_GRANT);
        fx_restart(fx, args);
        check_grant(&fx->sim, "grant_type=refresh_token&client_id=" T_CLIENT_ID "&client_secret="
                              T_CLIENT_SECRET "&refresh_token=5Aep861-refresh.tok");
        /* The client secret may be left out of this flow, but not be wrong. */
        check_grant(&fx->sim, "grant_type=refresh_token&client_id=" T_CLIENT_ID
                              "&refresh_token=5Aep861-refresh.tok");
        expect_answer(&fx->sim, "grant_type=refresh_token&client_id=" T_CLIENT_ID "&client_secret=bad"
                                "&refresh_token=5Aep861-refresh.tok",
                      400, BAD_GRANT);
        expect_answer(&fx->sim, "grant_type=refresh_token&client_id=" T_CLIENT_ID "&client_secret="
                                T_CLIENT_SECRET "&refresh_token=5Aep861-other",
                      400, BAD_GRANT);
}

#define RT_FORM(rt) \
        "grant_type=refresh_token&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET "&refresh_token=" rt

/* A refresh grant that must succeed; @returns its access token and refresh token (or ""). */
static void refresh_ok(const struct simproc *sp, const char *rt, char *access, size_t access_size,
                       char *next_rt, size_t next_rt_size)
{
        char form[512];
        struct hres res;
        cJSON *json;

        snprintf(form, sizeof(form), RT_FORM("%s"), rt);
        form_post(sp, form, NULL, &res);
        if (res.rc != CURLE_OK || res.status != 200) {
                print_error("refresh: HTTP %ld: %s\n", res.status, res.body);
                hres_free(&res);
                fail();
        }
        json = cJSON_Parse(res.body);
        snprintf(access, access_size, "%s", json_str(json, "access_token") ? json_str(json, "access_token") : "");
        snprintf(next_rt, next_rt_size, "%s", json_str(json, "refresh_token") ? json_str(json, "refresh_token") : "");
        cJSON_Delete(json);
        hres_free(&res);
}

static void test_refresh_token_rotation(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--refresh-token", "5Aep861-first.tok", "--rotate-refresh-token", NULL };
        char access1[256], access2[256], rt2[128], rt3[128], dummy[128], form[512];

        /* Without rotation the answer carries no refresh token and the token stays. */
        fx_restart(fx, (const char *const[]){ "--refresh-token", "5Aep861-first.tok", NULL });
        refresh_ok(&fx->sim, "5Aep861-first.tok", access1, sizeof(access1), rt2, sizeof(rt2));
        assert_string_equal(rt2, "");
        refresh_ok(&fx->sim, "5Aep861-first.tok", access1, sizeof(access1), rt2, sizeof(rt2));

        fx_restart(fx, args);
        refresh_ok(&fx->sim, "5Aep861-first.tok", access1, sizeof(access1), rt2, sizeof(rt2));
        assert_int_equal(strncmp(rt2, "5Aep861", 7), 0);
        assert_string_not_equal(rt2, "5Aep861-first.tok");
        /* Twice in a row: each refresh hands out the next one. */
        refresh_ok(&fx->sim, rt2, access2, sizeof(access2), rt3, sizeof(rt3));
        assert_string_not_equal(rt3, rt2);
        tclient_init(&fx->tc, &fx->sim, access1);
        bx_handshake(&fx->tc);
        /* An unknown token is just refused. */
        expect_answer(&fx->sim, RT_FORM("5Aep861-never-issued"), 400, BAD_GRANT);
        refresh_ok(&fx->sim, rt3, access2, sizeof(access2), dummy, sizeof(dummy));
        snprintf(rt3, sizeof(rt3), "%s", dummy);
        /* A retired one coming back revokes the family ... */
        snprintf(form, sizeof(form), RT_FORM("%s"), rt2);
        expect_answer(&fx->sim, form, 400, EXPIRED_RT);
        /* ... the live one with it ... */
        snprintf(form, sizeof(form), RT_FORM("%s"), rt3);
        expect_answer(&fx->sim, form, 400, EXPIRED_RT);
        expect_answer(&fx->sim, RT_FORM("5Aep861-first.tok"), 400, EXPIRED_RT);
        /* ... and every access token. */
        tclient_init(&fx->tc, &fx->sim, access2);
        {
                struct hres res;

                bx_raw(&fx->tc, NULL, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\","
                                      "\"supportedConnectionTypes\":[\"long-polling\"],\"id\":\"1\"}]", 0, &res);
                assert_non_null(strstr(res.body, "401::Authentication invalid"));
                hres_free(&res);
        }
}

static void test_password_flow_blocked(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--password-flow-blocked", "--my-domain", NULL };

        assert_int_equal(sim_stop(&fx->sim), 0);
        assert_int_equal(sim_start(&fx->sim, args), 0);
        /* Right credentials, refused as a wrong password is. */
        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "user%40example.com", T_PASSWORD),
                      400, BAD_GRANT);
        /* The other flows are not affected. */
        check_grant(&fx->sim, "grant_type=client_credentials&client_id=" T_CLIENT_ID
                              "&client_secret=" T_CLIENT_SECRET);
}

/* A handshake with @p token: @returns 1 when it succeeded, 0 on 401::Authentication invalid. */
static int handshake_works(struct fixture *fx, const char *token)
{
        struct hres res;
        int ok;

        tclient_init(&fx->tc, &fx->sim, token);
        bx_raw(&fx->tc, NULL, "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\","
                              "\"supportedConnectionTypes\":[\"long-polling\"],\"id\":\"1\"}]", 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        ok = strstr(res.body, "\"successful\":true") != NULL;
        if (!ok)
                assert_non_null(strstr(res.body, "401::Authentication invalid"));
        hres_free(&res);
        return ok;
}

static void test_token_idle_timeout(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--token-idle-timeout-ms", "600", NULL };
        char busy[256], idle[256];
        int i;

        /* The default: tokens never idle out. */
        sleep_ms(700);
        assert_true(handshake_works(fx, fx->token));

        fx_restart(fx, args);
        snprintf(idle, sizeof(idle), "%s", fx->token);
        login(&fx->sim, busy, sizeof(busy));
        /* Used every 200 ms for 1.2 s: alive throughout. */
        for (i = 0; i < 6; i++) {
                assert_true(handshake_works(fx, busy));
                sleep_ms(200);
        }
        /* Unused for 1.2 s: dead, and it stays dead. */
        assert_false(handshake_works(fx, idle));
        assert_false(handshake_works(fx, idle));
        assert_true(handshake_works(fx, busy));
        /* A new login works at once. */
        login(&fx->sim, idle, sizeof(idle));
        assert_true(handshake_works(fx, idle));
}

/* ---- JWT bearer ------------------------------------------------------------- */

static char *b64url(const unsigned char *data, size_t len)
{
        char *out = malloc(4 * ((len + 2) / 3) + 1), *p;
        int n;

        assert_non_null(out);
        n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
        while (n > 0 && out[n - 1] == '=')
                out[--n] = '\0';
        for (p = out; *p; p++) {
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        }
        return out;
}

/* Sign @p claims_json with the PEM key tests/certs/@p key_name (RS256). */
static char *jwt_sign(const char *key_name, const char *claims_json)
{
        char path[1024], *header, *claims, *sig_b64, *signing, *jwt;
        unsigned char sig[1024];
        size_t sig_len = sizeof(sig), n;
        EVP_MD_CTX *md;
        EVP_PKEY *key;
        FILE *fp;

        fp = fopen(cert_path(key_name, path, sizeof(path)), "r");
        assert_non_null(fp);
        key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
        fclose(fp);
        assert_non_null(key);
        header = b64url((const unsigned char *)"{\"alg\":\"RS256\"}", 15);
        claims = b64url((const unsigned char *)claims_json, strlen(claims_json));
        n = strlen(header) + strlen(claims) + 2;
        signing = malloc(n);
        assert_non_null(signing);
        snprintf(signing, n, "%s.%s", header, claims);
        md = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (unsigned char *)signing, strlen(signing)), 1);
        sig_b64 = b64url(sig, sig_len);
        n = strlen(signing) + strlen(sig_b64) + 2;
        jwt = malloc(n);
        assert_non_null(jwt);
        snprintf(jwt, n, "%s.%s", signing, sig_b64);
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(key);
        free(header);
        free(claims);
        free(signing);
        free(sig_b64);
        return jwt;
}

static void jwt_form(const char *key_name, const char *claims, char *form, size_t size)
{
        char *jwt = jwt_sign(key_name, claims);

        snprintf(form, size, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s",
                 jwt);
        free(jwt);
}

static int jwt_setup(void **state)
{
        char key[1024];
        const char *args[] = { "--jwt-public-key", NULL, NULL };

        if (!certs_present()) {
                *state = NULL;
                return 0;
        }
        args[1] = cert_path("jwt.pub", key, sizeof(key));
        return fx_setup_with(state, args);
}

static void test_jwt_flow(void **state)
{
        struct fixture *fx = *state;
        char form[4096], claims[512];
        long exp;

        if (!fx) {
                print_message("SKIP: tests/certs is missing; run `make certs` to test the JWT flow\n");
                skip();
        }
        exp = (long)time(NULL) + 300;
        /* aud is the authorization server, not the host the assertion is posted to. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://login.salesforce.com", exp);
        jwt_form("jwt.key", claims, form, sizeof(form));
        check_grant(&fx->sim, form);
        /* exp as a string, as in Salesforce's own sample; aud with a trailing slash. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s/\",\"exp\":\"%ld\"}",
                 T_CLIENT_ID, T_USERNAME, "https://test.salesforce.com", exp);
        jwt_form("jwt.key", claims, form, sizeof(form));
        check_grant(&fx->sim, form);
}

static void test_jwt_audiences(void **state)
{
        struct fixture *fx = *state;
        char form[4096], claims[512], key[1024];
        const char *args[] = { "--jwt-public-key", NULL, "--experience-site",
                               "https://acme.my.site.com/customers", NULL };
        const char *refused[] = { NULL, "https://acme.my.salesforce.com", "http://login.salesforce.com",
                                  "https://login.salesforce.com.evil.example", "https://login.salesforce.co",
                                  "https://acme.my.site.com", "" };
        long exp = (long)time(NULL) + 300;
        size_t i;

        if (!fx) {
                print_message("SKIP: tests/certs is missing; run `make certs` to test the JWT flow\n");
                skip();
        }
        /* The emulator's own URL plays the org's My Domain: refused, as Salesforce does. */
        refused[0] = fx->sim.url;
        for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                         T_CLIENT_ID, T_USERNAME, refused[i], exp);
                jwt_form("jwt.key", claims, form, sizeof(form));
                expect_answer(&fx->sim, form, 400, BAD_AUDIENCE);
        }
        /* An Experience Cloud site's URL, once the org has one. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://acme.my.site.com/customers", exp);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_AUDIENCE);
        args[1] = cert_path("jwt.pub", key, sizeof(key));
        fx_restart(fx, args);
        check_grant(&fx->sim, form);
}

static void test_jwt_refused(void **state)
{
        struct fixture *fx = *state;
        char form[4096], claims[512], *jwt;
        long now = (long)time(NULL);

        if (!fx) {
                print_message("SKIP: tests/certs is missing; run `make certs` to test the JWT flow\n");
                skip();
        }
        /* Signed with another key. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://login.salesforce.com", now + 300);
        jwt_form("jwt-other.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
        /* Expired. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://login.salesforce.com", now - 10);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
        /* No exp. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\"}", T_CLIENT_ID,
                 T_USERNAME, "https://login.salesforce.com");
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
        /* The login host's own URL is not an audience Salesforce takes. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, fx->sim.url, now + 300);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_AUDIENCE);
        /* Another user. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"other@example.com\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, "https://login.salesforce.com", now + 300);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
        /* Another consumer key: iss names the client. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"not-our-app\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_USERNAME, "https://login.salesforce.com", now + 300);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_CLIENT);
        /* Tampered claims: the signature no longer matches. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://login.salesforce.com", now + 300);
        jwt = jwt_sign("jwt.key", claims);
        jwt[strlen(jwt) - 5] = jwt[strlen(jwt) - 5] == 'A' ? 'B' : 'A';
        snprintf(form, sizeof(form), "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=%s", jwt);
        free(jwt);
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
        /* Not a JWT at all, and no assertion. */
        expect_answer(&fx->sim, "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=abc", 400,
                      BAD_GRANT);
        expect_answer(&fx->sim, "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer", 400, BAD_GRANT);
}

static void test_jwt_without_public_key(void **state)
{
        struct fixture *fx = *state;
        char form[4096], claims[512];

        if (!certs_present()) {
                print_message("SKIP: tests/certs is missing; run `make certs` to test the JWT flow\n");
                skip();
        }
        /* The default fixture has no --jwt-public-key: every assertion is refused. */
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
                 T_CLIENT_ID, T_USERNAME, "https://login.salesforce.com", (long)time(NULL) + 300);
        jwt_form("jwt.key", claims, form, sizeof(form));
        expect_answer(&fx->sim, form, 400, BAD_GRANT);
}

static void test_bad_public_key_file(void **state)
{
        struct simproc sp;
        const char *args[] = { "--jwt-public-key", "/nonexistent/jwt.pub", NULL };
        char *err;
        int status;

        (void)state;
        assert_int_equal(sim_start(&sp, args), -1);
        status = sim_wait(&sp, 10000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        err = sim_stderr(&sp);
        assert_non_null(strstr(err, "--jwt-public-key /nonexistent/jwt.pub: cannot open"));
        free(err);
        close(sp.out_fd);
        unlink(sp.err_path);
}

/* ---- tokens on the CometD endpoint ------------------------------------------ */

static void test_token_header_styles(void **state)
{
        struct fixture *fx = *state;
        const char *schemes[] = { "Bearer", "OAuth", "" };
        size_t i;

        for (i = 0; i < 3; i++) {
                tclient_init(&fx->tc, &fx->sim, fx->token);
                fx->tc.scheme = schemes[i];
                bx_handshake(&fx->tc);
        }
}

static void test_tokens_are_distinct_and_counted(void **state)
{
        struct fixture *fx = *state;
        char token2[256];
        cJSON *st;

        login(&fx->sim, token2, sizeof(token2));
        assert_string_not_equal(fx->token, token2);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "tokens_issued", NULL, NULL), 2);
        cJSON_Delete(st);
        /* Both work. */
        bx_handshake(&fx->tc);
        tclient_init(&fx->tc, &fx->sim, token2);
        bx_handshake(&fx->tc);
}

static void test_no_secret_in_output(void **state)
{
        struct fixture *fx = *state;
        char *err;

        bx_handshake(&fx->tc);
        expect_answer(&fx->sim, PASSWORD_FORM(T_CLIENT_ID, T_CLIENT_SECRET, "user%40example.com", "wrong-pw-77"),
                      400, BAD_GRANT);
        err = sim_stderr(&fx->sim);
        assert_non_null(err);
        assert_null(strstr(err, T_CLIENT_SECRET));
        assert_null(strstr(err, T_PASSWORD));
        assert_null(strstr(err, "wrong-pw-77"));
        assert_null(strstr(err, fx->token));
        assert_null(strstr(err, fx->token + 16)); /* the secret part of the token */
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_password_flow, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_password_bad_credentials, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_unknown_client_id, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_unsupported_grant, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_client_credentials_flow, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_refresh_token_flow, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_refresh_token_rotation, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_password_flow_blocked, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_token_idle_timeout, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_jwt_flow, jwt_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_jwt_audiences, jwt_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_jwt_refused, jwt_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_jwt_without_public_key, fx_setup, fx_teardown),
                cmocka_unit_test(test_bad_public_key_file),
                cmocka_unit_test_setup_teardown(test_token_header_styles, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_tokens_are_distinct_and_counted, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_no_secret_in_output, fx_setup, fx_teardown),
        };

        return RUN("sfsim oauth", tests);
}
