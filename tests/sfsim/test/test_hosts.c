/*
 * sfsim's hosts and load-balancer cookie: the token endpoint names an
 * instance host that is not the login host; CometD and REST are served only
 * there and refused on the login host (and on an instance the org moved
 * away from after revoke-tokens); --single-host puts everything back on one
 * URL; the sfdc-stream cookie pins a client to its app server and expires.
 */
#include "harness.h"

#define WRONG_HOST "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]"
#define NOT_FOUND "[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]"
#define HANDSHAKE_BODY                                                                                 \
        "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"          \
        "[\"long-polling\"],\"id\":\"1\"}]"
#define UNKNOWN_CLIENT                                                                                 \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"     \
        "\"error\":\"403::Unknown client\",\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]"

/* An HTTP exchange whose answer must be @p status with exactly @p json. */
static void expect_answer(const char *method, const char *url, const char *token, const char *body,
                          long status, const char *json)
{
        char auth[400];
        const char *headers[] = { "Content-Type: application/json", auth, NULL };
        struct hres res;
        cJSON *got;

        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        http_do(method, url, headers, body, body ? strlen(body) : 0, NULL, &res);
        if (res.rc != CURLE_OK || res.status != status) {
                print_error("%s %s: curl=%d HTTP %ld (expected %ld): %s\n", method, url, (int)res.rc,
                            res.status, status, res.body);
                hres_free(&res);
                fail();
        }
        got = cJSON_Parse(res.body);
        assert_json(got, "%s", json);
        cJSON_Delete(got);
        hres_free(&res);
}

/* The token answer's instance_url. */
static void login_instance(const struct simproc *sp, char *token, size_t token_size, char *instance,
                           size_t instance_size)
{
        struct hres res;
        cJSON *json;

        form_post(sp,
                  "grant_type=password&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET
                  "&username=user%40example.com&password=" T_PASSWORD,
                  NULL, &res);
        assert_int_equal(res.status, 200);
        json = cJSON_Parse(res.body);
        assert_non_null(json_str(json, "instance_url"));
        assert_non_null(json_str(json, "access_token"));
        snprintf(instance, instance_size, "%s", json_str(json, "instance_url"));
        snprintf(token, token_size, "%s", json_str(json, "access_token"));
        cJSON_Delete(json);
        hres_free(&res);
}

static void test_token_names_the_instance_host(void **state)
{
        struct fixture *fx = *state;
        char token[256], instance[256], url[512];

        login_instance(&fx->sim, token, sizeof(token), instance, sizeof(instance));
        /* Another listener on the same address: another port. */
        assert_int_equal(strncmp(instance, "http://127.0.0.1:", 17), 0);
        assert_string_not_equal(instance, fx->sim.url);
        assert_string_equal(instance, fx->tc.base);
        /* The whole Bayeux session runs there. */
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/H", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        /* The login host answers CometD and REST as Salesforce answers a
         * session on a host that does not serve its org. */
        snprintf(url, sizeof(url), "%s" T_API, fx->sim.url);
        expect_answer("POST", url, token, HANDSHAKE_BODY, 401, WRONG_HOST);
        snprintf(url, sizeof(url), "%s/services/data/v59.0/limits", fx->sim.url);
        expect_answer("GET", url, token, NULL, 401, WRONG_HOST);
        /* The instance host has no token endpoint and no admin API. */
        snprintf(url, sizeof(url), "%s/services/oauth2/token", instance);
        expect_answer("POST", url, token, "grant_type=password", 404, NOT_FOUND);
        snprintf(url, sizeof(url), "%s/admin/stats", instance);
        expect_answer("GET", url, token, NULL, 404, NOT_FOUND);
        /* An unknown REST resource on the instance is the ordinary 404. */
        snprintf(url, sizeof(url), "%s/services/data/v59.0/sobjects", instance);
        expect_answer("GET", url, token, NULL, 404, NOT_FOUND);
        {
                cJSON *st = stats(&fx->sim);

                assert_int_equal((int)stat_num(st, "wrong_host", NULL, NULL), 4);
                assert_string_equal(json_str(st, "instance_url"), instance);
                cJSON_Delete(st);
        }
}

static void test_revoke_tokens_moves_the_org(void **state)
{
        struct fixture *fx = *state;
        char token[256], first[256], second[256], third[256], url[512];
        cJSON *arr, *st;

        login_instance(&fx->sim, token, sizeof(token), first, sizeof(first));
        bx_handshake(&fx->tc);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 1);
        cJSON_Delete(st);
        fault(&fx->sim, "kind=revoke-tokens");
        /* New tokens name the other instance host ... */
        login_instance(&fx->sim, token, sizeof(token), second, sizeof(second));
        assert_string_not_equal(second, first);
        assert_string_not_equal(second, fx->sim.url);
        st = stats(&fx->sim);
        assert_string_equal(json_str(st, "instance_url"), second);
        /* ... and the org's sessions ended with its old instance: a client
         * that was between long-polls holds no slot of the org's cap. */
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 0);
        cJSON_Delete(st);
        /* ... and a client that kept the old host fails even with a valid token. */
        snprintf(url, sizeof(url), "%s" T_API, first);
        expect_answer("POST", url, token, HANDSHAKE_BODY, 401, WRONG_HOST);
        snprintf(url, sizeof(url), "%s/services/data/v59.0/limits", first);
        expect_answer("GET", url, token, NULL, 401, WRONG_HOST);
        /* The new host serves the whole session. */
        tclient_init(&fx->tc, &fx->sim, token);
        assert_string_equal(fx->tc.base, second);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/H", "-1");
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 110000);
        cJSON_Delete(arr);
        /* The next move goes back to the first host. */
        fault(&fx->sim, "kind=revoke-tokens");
        login_instance(&fx->sim, token, sizeof(token), third, sizeof(third));
        assert_string_equal(third, first);
        snprintf(url, sizeof(url), "%s" T_API, second);
        expect_answer("POST", url, token, HANDSHAKE_BODY, 401, WRONG_HOST);
}

static void test_single_host(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--single-host", NULL };
        char token[256], instance[256], url[512];
        cJSON *st;

        fx_restart(fx, args);
        login_instance(&fx->sim, token, sizeof(token), instance, sizeof(instance));
        assert_string_equal(instance, fx->sim.url);
        assert_string_equal(fx->tc.base, fx->sim.url);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/H", "-1");
        /* revoke-tokens does not move a one-host org. */
        fault(&fx->sim, "kind=revoke-tokens");
        login_instance(&fx->sim, token, sizeof(token), instance, sizeof(instance));
        assert_string_equal(instance, fx->sim.url);
        snprintf(url, sizeof(url), "%s/services/data/v59.0/sobjects", fx->sim.url);
        expect_answer("GET", url, token, NULL, 404, NOT_FOUND);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "wrong_host", NULL, NULL), 0);
        cJSON_Delete(st);
}

/* The value of cookie @p name in @p headers' Set-Cookie lines, or "" (none). */
static void set_cookie_value(const char *headers, const char *name, char *out, size_t size)
{
        char needle[64];
        const char *p;

        snprintf(needle, sizeof(needle), "Set-Cookie: %s=", name);
        p = strstr(headers, needle);
        if (!p) {
                out[0] = '\0';
                return;
        }
        p += strlen(needle);
        snprintf(out, size, "%.*s", (int)strcspn(p, ";\r\n"), p);
}

/* The Set-Cookie line of cookie @p name, up to its end of line. */
static void set_cookie_line(const char *headers, const char *name, char *out, size_t size)
{
        char needle[64];
        const char *p;

        snprintf(needle, sizeof(needle), "Set-Cookie: %s=", name);
        p = strstr(headers, needle);
        snprintf(out, size, "%.*s", p ? (int)strcspn(p, "\r\n") : 0, p ? p : "");
}

/* Connect with exactly the cookies @p cookies; @returns the answer (caller frees @p res). */
static cJSON *connect_with(struct tclient *tc, const char *cookies, struct hres *res)
{
        char body[256];

        snprintf(tc->cookies, sizeof(tc->cookies), "%s", cookies);
        bx_connect_body(tc, body, sizeof(body));
        bx_raw(tc, NULL, body, 0, res);
        assert_int_equal(res->rc, CURLE_OK);
        assert_int_equal(res->status, 200);
        return cJSON_Parse(res->body);
}

static void test_lb_cookie_pins_the_client(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "300", NULL };
        char lb[128], fresh[128], browser[64], cookies[300], line[256];
        struct hres res;
        cJSON *arr, *st;

        fx_restart(fx, args);
        bx_raw(&fx->tc, NULL, HANDSHAKE_BODY, 0, &res);
        assert_int_equal(res.status, 200);
        arr = cJSON_Parse(res.body);
        snprintf(fx->tc.client_id, sizeof(fx->tc.client_id), "%s", json_str(cJSON_GetArrayItem(arr, 0), "clientId"));
        cJSON_Delete(arr);
        /* Set at handshake, for 3 hours by default. */
        set_cookie_value(res.headers, "sfdc-stream", lb, sizeof(lb));
        set_cookie_value(res.headers, "BAYEUX_BROWSER", browser, sizeof(browser));
        set_cookie_line(res.headers, "sfdc-stream", line, sizeof(line));
        assert_true(lb[0] == '!');
        assert_non_null(strstr(line, "; Path=/; Max-Age=10800; HttpOnly"));
        hres_free(&res);

        /* The right cookies: the connect is answered. */
        snprintf(cookies, sizeof(cookies), "BAYEUX_BROWSER=%s; sfdc-stream=%s", browser, lb);
        arr = connect_with(&fx->tc, cookies, &res);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 300);
        assert_null(strstr(res.headers, "sfdc-stream="));
        cJSON_Delete(arr);
        hres_free(&res);

        /* Another load-balancer cookie: routed elsewhere, unknown there, and
         * the balancer pins the client to the server it chose. */
        snprintf(cookies, sizeof(cookies), "BAYEUX_BROWSER=%s; sfdc-stream=!0.0.0badc0de", browser);
        arr = connect_with(&fx->tc, cookies, &res);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        set_cookie_value(res.headers, "sfdc-stream", fresh, sizeof(fresh));
        assert_true(fresh[0] == '!');
        assert_string_not_equal(fresh, lb);
        cJSON_Delete(arr);
        hres_free(&res);

        /* Missing: the same. */
        snprintf(cookies, sizeof(cookies), "BAYEUX_BROWSER=%s", browser);
        arr = connect_with(&fx->tc, cookies, &res);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        assert_non_null(strstr(res.headers, "Set-Cookie: sfdc-stream=!"));
        cJSON_Delete(arr);
        hres_free(&res);

        /* The client itself still lives on its own server. */
        snprintf(cookies, sizeof(cookies), "BAYEUX_BROWSER=%s; sfdc-stream=%s", browser, lb);
        arr = connect_with(&fx->tc, cookies, &res);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 300);
        cJSON_Delete(arr);
        hres_free(&res);

        /* A handshake that brings a live cookie keeps it: no new one is set,
         * and its client is reached with it. */
        snprintf(fx->tc.cookies, sizeof(fx->tc.cookies), "sfdc-stream=%s", fresh);
        bx_raw(&fx->tc, NULL, HANDSHAKE_BODY, 0, &res);
        assert_int_equal(res.status, 200);
        assert_null(strstr(res.headers, "sfdc-stream="));
        arr = cJSON_Parse(res.body);
        snprintf(fx->tc.client_id, sizeof(fx->tc.client_id), "%s", json_str(cJSON_GetArrayItem(arr, 0), "clientId"));
        cJSON_Delete(arr);
        hres_free(&res);
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 300);
        cJSON_Delete(arr);

        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "lb_refused", NULL, NULL), 2);
        cJSON_Delete(st);
}

static void test_lb_cookie_expires(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--lb-cookie-ttl-ms", "1200", NULL };
        char lb[128], fresh[128], line[256];
        struct hres res;
        cJSON *arr;

        fx_restart(fx, args);
        bx_raw(&fx->tc, NULL, HANDSHAKE_BODY, 0, &res);
        arr = cJSON_Parse(res.body);
        snprintf(fx->tc.client_id, sizeof(fx->tc.client_id), "%s", json_str(cJSON_GetArrayItem(arr, 0), "clientId"));
        cJSON_Delete(arr);
        set_cookie_value(res.headers, "sfdc-stream", lb, sizeof(lb));
        set_cookie_line(res.headers, "sfdc-stream", line, sizeof(line));
        /* Max-Age in whole seconds, rounded up. */
        assert_non_null(strstr(line, "; Max-Age=2;"));
        hres_free(&res);
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 110000);
        cJSON_Delete(arr);
        /* Past its lifetime the cookie no longer routes to the client's
         * server, even from a client that still sends it. */
        sleep_ms(1400);
        assert_non_null(strstr(fx->tc.cookies, lb));
        arr = connect_with(&fx->tc, fx->tc.cookies, &res);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        set_cookie_value(res.headers, "sfdc-stream", fresh, sizeof(fresh));
        assert_true(fresh[0] == '!');
        assert_string_not_equal(fresh, lb);
        cJSON_Delete(arr);
        hres_free(&res);
        /* A new handshake with the fresh cookie works again. */
        bx_handshake(&fx->tc);
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 110000);
        cJSON_Delete(arr);
}

static void test_lb_cookie_without_expiry(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--lb-cookie-ttl-ms", "0", NULL };
        char line[256];
        struct hres res;

        fx_restart(fx, args);
        bx_raw(&fx->tc, NULL, HANDSHAKE_BODY, 0, &res);
        set_cookie_line(res.headers, "sfdc-stream", line, sizeof(line));
        assert_int_equal(strncmp(line, "Set-Cookie: sfdc-stream=!", 25), 0);
        assert_null(strstr(line, "Max-Age"));
        hres_free(&res);
}

static void test_options_checked(void **state)
{
        const char *args[] = { "--listen", "127.0.0.1:0", "--client-id", "i", "--client-secret", "s",
                               "--username", "u", "--password", "p", "--lb-cookie-ttl-ms", "-1", NULL };
        struct simproc sp;

        (void)state;
        /* A bad lifetime is refused before anything listens. */
        assert_int_equal(sim_spawn(&sp, args, 1), -1);
        assert_true(sim_stderr_wait(&sp, "--lb-cookie-ttl-ms: '-1' is not an integer from 0 to", 5000));
        sim_wait(&sp, 5000);
        if (sp.out_fd >= 0)
                close(sp.out_fd);
        unlink(sp.err_path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_token_names_the_instance_host, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_revoke_tokens_moves_the_org, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_single_host, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_lb_cookie_pins_the_client, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_lb_cookie_expires, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_lb_cookie_without_expiry, fx_setup, fx_teardown),
                cmocka_unit_test(test_options_checked),
        };

        return RUN("sfsim hosts", tests);
}
