/*
 * sfsim's org limits: delivery accounting per allocation (re-deliveries
 * included), GET /services/data/vXX.X/limits in Salesforce's shape and only
 * with a valid Bearer token, --daily-delivery-limit, --max-clients with the
 * live and peak counts in /admin/stats, and the limit faults (daily-limit,
 * server-limit, subscribe-denied), each with its exact wire message.
 */
#include "harness.h"

#define DAILY_LIMIT_CONNECT                                                                            \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"403::Organization total events daily limit exceeded\","                             \
        "\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define SERVER_LIMIT_HANDSHAKE                                                                         \
        "[{\"channel\":\"/meta/handshake\",\"id\":\"%s\",\"successful\":false,"                          \
        "\"error\":\"403::Handshake denied\",\"advice\":{\"reconnect\":\"none\"},"                       \
        "\"ext\":{\"sfdc\":{\"failureReason\":\"403::To protect all customers from excessive use and "   \
        "Denial of Service attacks, we limit the number of simultaneous connections per server.  Your "  \
        "request has been denied because this limit has been exceeded.  Please try your request again "  \
        "later.\"},\"replay\":true,\"payload.format\":true}}]"

#define LIMITS_DOC                                                                                     \
        "{\"DailyDeliveredPlatformEvents\":{\"Max\":%d,\"Remaining\":%d},"                               \
        "\"DailyDurableGenericStreamingApiEvents\":{\"Max\":%d,\"Remaining\":%d},"                       \
        "\"DailyDurableStreamingApiEvents\":{\"Max\":%d,\"Remaining\":%d},"                              \
        "\"DurableStreamingApiConcurrentClients\":{\"Max\":%d,\"Remaining\":%d}}"

/* The instance URL a password login names: REST lives there, beside CometD. */
static void instance_url(const struct simproc *sp, char *out, size_t size)
{
        struct hres res;
        cJSON *json;
        const char *url;

        form_post(sp,
                  "grant_type=password&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET
                  "&username=user%40example.com&password=" T_PASSWORD,
                  NULL, &res);
        assert_int_equal(res.status, 200);
        json = cJSON_Parse(res.body);
        url = json_str(json, "instance_url");
        assert_non_null(url);
        snprintf(out, size, "%s", url);
        cJSON_Delete(json);
        hres_free(&res);
}

/* @p method @p path on the instance with Authorization @p auth (NULL: none); asserts HTTP @p expect. */
static cJSON *rest_get(const struct simproc *sp, const char *method, const char *path, const char *auth,
                       long expect)
{
        struct http_opts opts = { sp->cainfo, NULL, 0 };
        const char *headers[2] = { auth, NULL };
        char url[1024], inst[512];
        struct hres res;
        cJSON *json;

        instance_url(sp, inst, sizeof(inst));
        snprintf(url, sizeof(url), "%s%s", inst, path);
        http_do(method, url, auth ? headers : NULL, NULL, 0, &opts, &res);
        if (res.rc != CURLE_OK || res.status != expect) {
                print_error("%s %s: curl=%d HTTP %ld (expected %ld): %s\n", method, path, (int)res.rc,
                            res.status, expect, res.body);
                hres_free(&res);
                fail();
        }
        assert_non_null(strstr(res.headers, "application/json"));
        json = cJSON_Parse(res.body);
        hres_free(&res);
        assert_non_null(json);
        return json;
}

static cJSON *limits_now(struct fixture *fx)
{
        char auth[300];

        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", fx->token);
        return rest_get(&fx->sim, "GET", "/services/data/v59.0/limits", auth, 200);
}

/* The resource: Salesforce's shape and an Enterprise org's allocations by default; a token needed. */
static void test_limits_resource(void **state)
{
        struct fixture *fx = *state;
        char auth[300];
        cJSON *json;

        json = limits_now(fx);
        assert_json(json, LIMITS_DOC, 25000, 25000, 200000, 200000, 200000, 200000, 1000, 1000);
        cJSON_Delete(json);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", fx->token);
        json = rest_get(&fx->sim, "GET", "/services/data/v66.0/limits/", auth, 200);
        cJSON_Delete(json);
        json = rest_get(&fx->sim, "GET", "/services/data/v59.0/limits", NULL, 401);
        assert_json(json, "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]");
        cJSON_Delete(json);
        json = rest_get(&fx->sim, "GET", "/services/data/v59.0/limits", "Authorization: Bearer forged", 401);
        cJSON_Delete(json);
        json = rest_get(&fx->sim, "POST", "/services/data/v59.0/limits", auth, 405);
        cJSON_Delete(json);
        json = rest_get(&fx->sim, "GET", "/services/data/v59.0/sobjects", auth, 404);
        assert_json(json, "[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]");
        cJSON_Delete(json);
        /* A revoked token no longer reads it. */
        fault(&fx->sim, "kind=revoke-tokens");
        json = rest_get(&fx->sim, "GET", "/services/data/v59.0/limits", auth, 401);
        cJSON_Delete(json);
}

/* Every event put into a response counts against its kind's allocation, re-deliveries too. */
static void test_delivery_accounting(void **state)
{
        struct fixture *fx = *state;
        struct tclient other;
        uint64_t ev[3], tp[2], gen[1];
        cJSON *json, *arr;
        int got = 0, i;

        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/Lim__e", "-1");
        bx_subscribe_ok(&fx->tc, "/topic/LimT", "-1");
        bx_subscribe_ok(&fx->tc, "/u/LimG", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/event/Lim__e&count=3", ev, 3), 3);
        assert_int_equal(publish(&fx->sim, "channel=/topic/LimT&count=2", tp, 2), 2);
        assert_int_equal(publish(&fx->sim, "channel=/u/LimG&count=1", gen, 1), 1);
        for (i = 0; i < 6 && got < 6; i++) {
                arr = bx_connect(&fx->tc);
                got += n_events(arr);
                cJSON_Delete(arr);
        }
        assert_int_equal(got, 6);
        /* A second subscriber replaying everything: the same 3 events count again. */
        tclient_init(&other, &fx->sim, fx->token);
        bx_handshake(&other);
        bx_subscribe_ok(&other, "/event/Lim__e", "-2");
        connect_expect_events(&other, ev, 3, 110000);
        json = limits_now(fx);
        assert_json(json, LIMITS_DOC, 25000, 25000 - 6, 200000, 200000 - 1, 200000, 200000 - 2, 1000, 1000 - 2);
        cJSON_Delete(json);
        json = stats(&fx->sim);
        assert_json(cJSON_GetObjectItemCaseSensitive(json, "deliveries"),
                    "{\"platform\":6,\"pushtopic\":2,\"generic\":1}");
        cJSON_Delete(json);
}

/* --daily-delivery-limit: delivery stops at the allocation, then connects answer 403. */
static void test_daily_delivery_limit(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--daily-delivery-limit", "5", NULL };
        uint64_t ids[8];
        cJSON *arr, *json;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/data/AccountChangeEvent", "-1");
        bx_subscribe_ok(&fx->tc, "/topic/Other", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/data/AccountChangeEvent&count=8", ids, 8), 8);
        connect_expect_events(&fx->tc, ids, 5, 110000);
        arr = bx_connect(&fx->tc);
        assert_json(arr, DAILY_LIMIT_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        json = limits_now(fx);
        assert_json(json, LIMITS_DOC, 5, 0, 5, 5, 5, 5, 1000, 999);
        cJSON_Delete(json);
        /* The spent allocation is the platform one: a PushTopic-only client still gets events. */
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/Other", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/topic/Other&count=2", ids, 2), 2);
        connect_expect_events(&fx->tc, ids, 2, 110000);
}

/* The daily-limit fault: connects answer 403 for its count, then deliver again. */
static void test_daily_limit_fault(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[2];
        cJSON *arr;
        int i;

        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/Day__e", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        fault(&fx->sim, "kind=daily-limit&count=2");
        for (i = 0; i < 2; i++) {
                arr = bx_connect(&fx->tc);
                assert_json(arr, DAILY_LIMIT_CONNECT, fx->tc.client_id, fx->tc.last_id);
                cJSON_Delete(arr);
        }
        assert_int_equal(publish(&fx->sim, "channel=/event/Day__e&count=2", ids, 2), 2);
        connect_expect_events(&fx->tc, ids, 2, 110000);
        fault(&fx->sim, "kind=daily-limit");
        arr = bx_connect(&fx->tc);
        assert_json(arr, DAILY_LIMIT_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        fault(&fx->sim, "kind=clear");
        assert_int_equal(publish(&fx->sim, "channel=/event/Day__e&count=1", ids, 1), 1);
        connect_expect_events(&fx->tc, ids, 1, 110000);
}

/* The server-limit fault: reference §4.1 (d), word for word. */
static void test_server_limit(void **state)
{
        struct fixture *fx = *state;
        char body[512];
        cJSON *arr, *st;

        fault(&fx->sim, "kind=server-limit&count=1");
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"
                 "[\"long-polling\"],\"id\":\"s1\"}]");
        arr = bx_send(&fx->tc, body);
        assert_json(arr, SERVER_LIMIT_HANDSHAKE, "s1");
        cJSON_Delete(arr);
        bx_handshake(&fx->tc);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "handshakes_denied", NULL, NULL), 1);
        cJSON_Delete(st);
}

/* subscribe-denied: one channel's subscribes get its kind's 403; others subscribe; clear lifts it. */
static void test_subscribe_denied(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr, *json;
        char *text;

        bx_handshake(&fx->tc);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=subscribe-denied&channel=/data/AccountChangeEvent",
                          200);
        assert_json(json, "{\"ok\":true,\"kind\":\"subscribe-denied\",\"count\":-1}");
        cJSON_Delete(json);
        arr = bx_subscribe(&fx->tc, "/data/AccountChangeEvent", "-1");
        assert_json(arr, "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                         "\"subscription\":\"/data/AccountChangeEvent\",\"successful\":false,"
                         "\"error\":\"403::User not allowed to subscribe CDC without View All Data permissions\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        bx_subscribe_ok(&fx->tc, "/data/ContactChangeEvent", "-1");
        fault(&fx->sim, "kind=subscribe-denied&channel=/topic/Deny");
        arr = bx_subscribe(&fx->tc, "/topic/Deny", "-1");
        assert_json(arr, "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                         "\"subscription\":\"/topic/Deny\",\"successful\":false,"
                         "\"error\":\"403::Subscriber does not have access to the entity in this topic\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        fault(&fx->sim, "kind=subscribe-denied&channel=/u/DenyG");
        arr = bx_subscribe(&fx->tc, "/u/DenyG", "-1");
        text = cJSON_PrintUnformatted(arr);
        assert_non_null(strstr(text, "\"error\":\"403::No access on channel\""));
        free(text);
        cJSON_Delete(arr);
        fault(&fx->sim, "kind=clear");
        bx_subscribe_ok(&fx->tc, "/u/DenyG", "-1");
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=subscribe-denied", 400);
        text = cJSON_PrintUnformatted(json);
        assert_non_null(strstr(text, "subscribe-denied needs parameter 'channel'"));
        free(text);
        cJSON_Delete(json);
}

/* redeliver: the next connect sends again what was delivered, and it counts again. */
static void test_redeliver(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[3];
        cJSON *json;

        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/Re__e", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/event/Re__e&count=3", ids, 3), 3);
        connect_expect_events(&fx->tc, ids, 3, 110000);
        fault(&fx->sim, "kind=redeliver&count=1");
        connect_expect_events(&fx->tc, ids, 3, 110000);
        json = stats(&fx->sim);
        assert_json(cJSON_GetObjectItemCaseSensitive(json, "deliveries"),
                    "{\"platform\":6,\"pushtopic\":0,\"generic\":0}");
        assert_json(cJSON_GetObjectItemCaseSensitive(json, "faults"), "{}");
        cJSON_Delete(json);
}

/* --max-clients: live and peak clients in /admin/stats and in the limits resource. */
static void test_live_clients(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--max-clients", "2", NULL };
        struct tclient b, c;
        char body[512];
        cJSON *arr, *json;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        tclient_init(&b, &fx->sim, fx->token);
        bx_handshake(&b);
        json = limits_now(fx);
        assert_json(cJSON_GetObjectItemCaseSensitive(json, "DurableStreamingApiConcurrentClients"),
                    "{\"Max\":2,\"Remaining\":0}");
        cJSON_Delete(json);
        tclient_init(&c, &fx->sim, fx->token);
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"
                 "[\"long-polling\"],\"id\":\"c1\"}]");
        arr = bx_send(&c, body);
        assert_json(arr, "[{\"channel\":\"/meta/handshake\",\"id\":\"c1\",\"successful\":false,"
                         "\"error\":\"403::Organization concurrent user limit exceeded\","
                         "\"advice\":{\"reconnect\":\"none\"}}]");
        cJSON_Delete(arr);
        snprintf(body, sizeof(body), "[{\"channel\":\"/meta/disconnect\",\"clientId\":\"%s\",\"id\":\"d1\"}]",
                 b.client_id);
        cJSON_Delete(bx_send(&b, body));
        json = stats(&fx->sim);
        assert_int_equal((int)stat_num(json, "clients", NULL, NULL), 1);
        assert_int_equal((int)stat_num(json, "clients_peak", NULL, NULL), 2);
        cJSON_Delete(json);
        json = limits_now(fx);
        assert_json(cJSON_GetObjectItemCaseSensitive(json, "DurableStreamingApiConcurrentClients"),
                    "{\"Max\":2,\"Remaining\":1}");
        cJSON_Delete(json);
        bx_handshake(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_limits_resource, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_delivery_accounting, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_daily_delivery_limit, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_daily_limit_fault, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_server_limit, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_subscribe_denied, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_redeliver, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_live_clients, fx_setup, fx_teardown),
        };

        return run_group("sfsim limits", tests, sizeof(tests) / sizeof(tests[0]));
}
