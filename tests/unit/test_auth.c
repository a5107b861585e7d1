/*
 * auth: the token request each flow sends and how answers are read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"

#define SECRET "s3cr3t&=+ %value"

static struct config *make_config(enum auth_flow flow)
{
        static struct config cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.sf.login_url = "https://login.example.com/";
        cfg.sf.api_version = "59.0";
        cfg.sf.flow = flow;
        cfg.sf.client_id = "client id/1";
        cfg.sf.client_secret = SECRET;
        cfg.sf.username = "bridge@example.com";
        cfg.sf.password = SECRET "pw";
        cfg.sf.refresh_token = SECRET "rt";
        cfg.sf.audience = "https://login.salesforce.com";
        return &cfg;
}

static void form_escape_encodes_reserved(void **state)
{
        struct buf b;

        (void)state;
        buf_init(&b, 1024);
        assert_int_equal(auth_form_escape(&b, "a b&c=d+e%f~g.h_i-j/k"), 0);
        assert_string_equal(b.data, "a%20b%26c%3Dd%2Be%25f~g.h_i-j%2Fk");
        buf_free(&b);
}

static void password_flow_request(void **state)
{
        char url[256], err[256];
        struct buf b;

        (void)state;
        buf_init(&b, 4096);
        assert_int_equal(auth_build_request(make_config(AUTH_PASSWORD), NULL, url, sizeof(url), &b, err, sizeof(err)), 0);
        assert_string_equal(url, "https://login.example.com/services/oauth2/token");
        assert_string_equal(b.data, "grant_type=password&client_id=client%20id%2F1"
                            "&client_secret=s3cr3t%26%3D%2B%20%25value"
                            "&username=bridge%40example.com&password=s3cr3t%26%3D%2B%20%25valuepw");
        buf_free(&b);
}

static void refresh_and_client_credentials_requests(void **state)
{
        char url[256], err[256];
        struct buf b;

        (void)state;
        buf_init(&b, 4096);
        assert_int_equal(auth_build_request(make_config(AUTH_REFRESH_TOKEN), NULL, url, sizeof(url), &b, err, sizeof(err)), 0);
        assert_string_equal(b.data, "grant_type=refresh_token&client_id=client%20id%2F1"
                            "&client_secret=s3cr3t%26%3D%2B%20%25value&refresh_token=s3cr3t%26%3D%2B%20%25valuert");
        assert_int_equal(auth_build_request(make_config(AUTH_CLIENT_CREDENTIALS), NULL, url, sizeof(url), &b, err, sizeof(err)), 0);
        assert_string_equal(b.data, "grant_type=client_credentials&client_id=client%20id%2F1"
                            "&client_secret=s3cr3t%26%3D%2B%20%25value");
        buf_free(&b);
}

static void jwt_flow_missing_key_names_file(void **state)
{
        char url[256], err[512];
        struct buf b;
        struct config *cfg = make_config(AUTH_JWT);

        (void)state;
        cfg->sf.private_key_file = "/nonexistent/sf.pem";
        buf_init(&b, 4096);
        assert_int_equal(auth_build_request(cfg, NULL, url, sizeof(url), &b, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "/nonexistent/sf.pem"));
        buf_free(&b);
}

/* The claims of the assertion in a JWT token request body, decoded. */
static void assertion_claims(const char *form, char *out, size_t out_size)
{
        const char *a = strstr(form, "assertion="), *dot1, *dot2;
        char b64[2048];
        size_t n, i;
        int len;

        assert_non_null(a);
        dot1 = strchr(a, '.');
        assert_non_null(dot1);
        dot2 = strchr(dot1 + 1, '.');
        assert_non_null(dot2);
        n = (size_t)(dot2 - dot1 - 1);
        assert_true(n + 4 < sizeof(b64) && (n + 4) / 4 * 3 < out_size);
        for (i = 0; i < n; i++)
                b64[i] = dot1[1 + i] == '-' ? '+' : dot1[1 + i] == '_' ? '/' : dot1[1 + i];
        while (i % 4)
                b64[i++] = '=';
        b64[i] = '\0';
        len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64, (int)i);
        assert_true(len > 0);
        out[len] = '\0';
}

/* aud is salesforce.auth.audience, never the login URL the request goes to. */
static void jwt_audience_is_not_login_url(void **state)
{
        char url[256], err[512], claims[2048];
        struct buf b;
        struct config *cfg = make_config(AUTH_JWT);
        const char *root = getenv("SFB_ROOT");
        char key[1024];

        (void)state;
        snprintf(key, sizeof(key), "%s/tests/certs/jwt.key", root ? root : ".");
        if (access(key, R_OK) != 0) {
                print_message("SKIP: %s missing; run `make certs`\n", key);
                skip();
        }
        cfg->sf.login_url = "https://acme.my.salesforce.com/";
        cfg->sf.private_key_file = key;
        buf_init(&b, 16384);
        assert_int_equal(auth_build_request(cfg, NULL, url, sizeof(url), &b, err, sizeof(err)), 0);
        assert_string_equal(url, "https://acme.my.salesforce.com/services/oauth2/token");
        assertion_claims(b.data, claims, sizeof(claims));
        assert_non_null(strstr(claims, "\"aud\":\"https://login.salesforce.com\""));
        assert_null(strstr(claims, "acme"));
        /* A trailing slash is dropped, as Salesforce compares it. */
        cfg->sf.audience = "https://acme.my.site.com/customers/";
        assert_int_equal(auth_build_request(cfg, NULL, url, sizeof(url), &b, err, sizeof(err)), 0);
        assertion_claims(b.data, claims, sizeof(claims));
        assert_non_null(strstr(claims, "\"aud\":\"https://acme.my.site.com/customers\""));
        cfg->sf.audience = NULL;
        assert_int_equal(auth_build_request(cfg, NULL, url, sizeof(url), &b, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "salesforce.auth.audience"));
        buf_free(&b);
}

/* A rotated refresh token replaces the configured one in the request. */
static void refresh_request_uses_rotated_token(void **state)
{
        char url[256], err[256];
        struct buf b;

        (void)state;
        buf_init(&b, 4096);
        assert_int_equal(auth_build_request(make_config(AUTH_REFRESH_TOKEN), "5Aep861.new/token", url,
                                            sizeof(url), &b, err, sizeof(err)), 0);
        assert_non_null(strstr(b.data, "&refresh_token=5Aep861.new%2Ftoken"));
        assert_null(strstr(b.data, "valuert"));
        buf_free(&b);
}

static void rotated_refresh_token_read(void **state)
{
        const char *body = "{\"access_token\":\"00Dxx!AR8.tok\",\"instance_url\":\"https://na1.example.com\","
                           "\"refresh_token\":\"5Aep861.rotated\",\"token_type\":\"Bearer\"}";
        const char *plain = "{\"access_token\":\"00Dxx!AR8.tok\",\"instance_url\":\"https://na1.example.com\"}";
        struct auth_token tok;
        char err[256];

        (void)state;
        assert_int_equal(auth_parse_response(200, body, strlen(body), &tok, err, sizeof(err)), AUTH_OK);
        assert_string_equal(tok.refresh_token, "5Aep861.rotated");
        auth_token_clear(&tok);
        assert_null(tok.refresh_token);
        assert_int_equal(auth_parse_response(200, plain, strlen(plain), &tok, err, sizeof(err)), AUTH_OK);
        assert_null(tok.refresh_token);
        auth_token_clear(&tok);
}

/* Refusals Salesforce words in a way that needs a translation say what to do. */
static void refusal_hints(void **state)
{
        (void)state;
        assert_non_null(strstr(auth_refusal_hint(make_config(AUTH_JWT),
                                                 "HTTP 400 invalid_grant: audience is invalid"),
                               "salesforce.auth.audience"));
        assert_non_null(strstr(auth_refusal_hint(make_config(AUTH_CLIENT_CREDENTIALS),
                                                 "HTTP 400 invalid_grant: request not supported on this domain"),
                               "My Domain"));
        assert_non_null(strstr(auth_refusal_hint(make_config(AUTH_PASSWORD),
                                                 "HTTP 400 invalid_grant: authentication failure"),
                               "block the username-password flow"));
        assert_non_null(strstr(auth_refusal_hint(make_config(AUTH_REFRESH_TOKEN),
                                                 "HTTP 400 invalid_grant: expired access/refresh token"),
                               "refresh_token_file"));
        assert_string_equal(auth_refusal_hint(make_config(AUTH_JWT),
                                              "HTTP 400 invalid_grant: authentication failure"), "");
}

static void success_answer_read(void **state)
{
        const char *body = "{\"access_token\":\"00Dxx!AR8.tok\",\"instance_url\":\"https://na1.example.com\","
                           "\"id\":\"https://login.example.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS\","
                           "\"token_type\":\"Bearer\",\"issued_at\":\"1487324604890\",\"signature\":\"XXX\"}";
        struct auth_token tok;
        char err[256];

        (void)state;
        assert_int_equal(auth_parse_response(200, body, strlen(body), &tok, err, sizeof(err)), AUTH_OK);
        assert_string_equal(tok.access_token, "00Dxx!AR8.tok");
        assert_string_equal(tok.instance_url, "https://na1.example.com");
        assert_string_equal(tok.org_id, "00Dxx0000001gPLEAY");
        assert_string_equal(tok.user_id, "005xx000001SwiUAAS");
        auth_token_clear(&tok);
        assert_null(tok.access_token);
}

static void rejected_answers(void **state)
{
        const char *grant = "{\"error\":\"invalid_grant\",\"error_description\":\"authentication failure\"}";
        const char *client = "{\"error\":\"invalid_client_id\",\"error_description\":\"client identifier invalid\"}";
        struct auth_token tok;
        char err[256];

        (void)state;
        assert_int_equal(auth_parse_response(400, grant, strlen(grant), &tok, err, sizeof(err)), AUTH_REJECTED);
        assert_non_null(strstr(err, "invalid_grant"));
        assert_non_null(strstr(err, "authentication failure"));
        assert_int_equal(auth_parse_response(400, client, strlen(client), &tok, err, sizeof(err)), AUTH_REJECTED);
        assert_non_null(strstr(err, "client identifier invalid"));
}

static void unavailable_and_malformed_answers_retry(void **state)
{
        struct auth_token tok;
        char err[256];

        (void)state;
        assert_int_equal(auth_parse_response(503, "busy", 4, &tok, err, sizeof(err)), AUTH_RETRY);
        assert_non_null(strstr(err, "503"));
        assert_int_equal(auth_parse_response(200, "{not json", 9, &tok, err, sizeof(err)), AUTH_RETRY);
        assert_int_equal(auth_parse_response(200, "{\"instance_url\":\"x\"}", 20, &tok, err, sizeof(err)), AUTH_RETRY);
        assert_null(tok.access_token);
        assert_int_equal(auth_parse_response(429, "{}", 2, &tok, err, sizeof(err)), AUTH_RETRY);
}

static void bearer_and_cometd_url(void **state)
{
        struct auth_token tok = { .access_token = "00Dxx!tok", .instance_url = "https://na1.example.com//" };
        char *bearer = auth_bearer(&tok);
        char *url = auth_cometd_url(&tok, "59.0");

        (void)state;
        assert_string_equal(bearer, "Bearer 00Dxx!tok");
        /* A trailing slash on instance_url must not double the path's. */
        assert_string_equal(url, "https://na1.example.com/cometd/59.0");
        free(bearer);
        free(url);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(form_escape_encodes_reserved),
                cmocka_unit_test(password_flow_request),
                cmocka_unit_test(refresh_and_client_credentials_requests),
                cmocka_unit_test(jwt_flow_missing_key_names_file),
                cmocka_unit_test(jwt_audience_is_not_login_url),
                cmocka_unit_test(refresh_request_uses_rotated_token),
                cmocka_unit_test(rotated_refresh_token_read),
                cmocka_unit_test(refusal_hints),
                cmocka_unit_test(success_answer_read),
                cmocka_unit_test(rejected_answers),
                cmocka_unit_test(unavailable_and_malformed_answers_retry),
                cmocka_unit_test(bearer_and_cometd_url),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
