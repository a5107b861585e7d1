/*
 * sfsim's CometD endpoint: handshake, cookies, API versions, the request
 * size limit, long-polling connect, subscribe with every replay option,
 * unsubscribe, disconnect, client expiry, and the exact message for each.
 */
#include "harness.h"

#define HANDSHAKE_BODY                                                                                 \
        "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"          \
        "[\"long-polling\"],\"id\":\"1\"}]"

static cJSON *post_expect(struct tclient *tc, const char *path, const char *body, long status)
{
        struct hres res;
        cJSON *json;

        bx_raw(tc, path, body, 0, &res);
        if (res.rc != CURLE_OK || res.status != status) {
                print_error("POST %s: curl=%d HTTP %ld (expected %ld): %s\n", path ? path : T_API,
                            (int)res.rc, res.status, status, res.body);
                hres_free(&res);
                fail();
        }
        json = cJSON_Parse(res.body);
        hres_free(&res);
        return json;
}

static void test_handshake(void **state)
{
        struct fixture *fx = *state;
        char first[64];
        struct hres res;
        cJSON *arr;
        const char *id;

        bx_raw(&fx->tc, NULL, HANDSHAKE_BODY, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 200);
        arr = cJSON_Parse(res.body);
        id = json_str(cJSON_GetArrayItem(arr, 0), "clientId");
        assert_non_null(id);
        /* 26 characters of [a-z0-9], like Salesforce's clientIds. */
        assert_int_equal(strlen(id), 26);
        assert_int_equal(strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789"), 26);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/handshake\",\"id\":\"1\",\"version\":\"1.0\","
                    "\"minimumVersion\":\"1.0\",\"supportedConnectionTypes\":[\"long-polling\"],"
                    "\"successful\":true,\"ext\":{\"replay\":true,\"payload.format\":true}}]",
                    id);
        /* The session cookie and a load-balancer cookie. */
        assert_non_null(strstr(res.headers, "Set-Cookie: BAYEUX_BROWSER="));
        assert_non_null(strstr(res.headers, "; Path=/; HttpOnly\r\n"));
        assert_non_null(strstr(res.headers, "Set-Cookie: sfdc-stream="));
        assert_non_null(strstr(res.headers, "Content-Type: application/json"));
        /* Every handshake gets its own clientId and cookie. */
        snprintf(first, sizeof(first), "%s", id);
        cJSON_Delete(arr);
        hres_free(&res);
        bx_handshake(&fx->tc);
        assert_string_not_equal(fx->tc.client_id, first);
}

static void test_handshake_without_token(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;

        fx->tc.token[0] = '\0';
        arr = bx_send(&fx->tc, HANDSHAKE_BODY);
        assert_json(arr,
                    "[{\"channel\":\"/meta/handshake\",\"id\":\"1\",\"successful\":false,"
                    "\"error\":\"403::Handshake denied\",\"ext\":{\"sfdc\":{\"failureReason\":"
                    "\"401::Request requires authentication\"}},\"advice\":{\"reconnect\":\"none\"}}]");
        cJSON_Delete(arr);
}

static void test_handshake_with_unknown_token(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;
        const char *bad[] = { "00D000000000001!00000001AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                              "garbage", "00D000000000001!ffffffffAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(fx->tc.token, sizeof(fx->tc.token), "%s", bad[i]);
                arr = bx_send(&fx->tc, HANDSHAKE_BODY);
                assert_json(arr,
                            "[{\"channel\":\"/meta/handshake\",\"id\":\"1\",\"successful\":false,"
                            "\"error\":\"403::Handshake denied\",\"ext\":{\"sfdc\":{\"failureReason\":"
                            "\"401::Authentication invalid\"}},\"advice\":{\"reconnect\":\"none\"}}]");
                cJSON_Delete(arr);
        }
}

static void test_api_versions(void **state)
{
        struct fixture *fx = *state;
        const char *paths_ok[] = { "/cometd/37.0", "/cometd/59.0/", "/cometd/66.0" };
        cJSON *arr;
        size_t i;

        arr = post_expect(&fx->tc, "/cometd", HANDSHAKE_BODY, 400);
        assert_json(arr, "[{\"channel\":\"/meta/handshake\",\"id\":\"1\",\"successful\":false,\"error\":"
                         "\"400::API version in the URI is mandatory. URI format: '/cometd/66.0'\"}]");
        cJSON_Delete(arr);
        arr = post_expect(&fx->tc, "/cometd/", HANDSHAKE_BODY, 400);
        assert_json(arr, "[{\"channel\":\"/meta/handshake\",\"id\":\"1\",\"successful\":false,\"error\":"
                         "\"400::API version in the URI is mandatory. URI format: '/cometd/66.0'\"}]");
        cJSON_Delete(arr);
        arr = post_expect(&fx->tc, "/cometd/36.0", HANDSHAKE_BODY, 400);
        assert_json(arr, "[{\"channel\":\"/meta/handshake\",\"id\":\"1\",\"successful\":false,\"error\":"
                         "\"400::Unsupported API version. Only API versions '37.0' and later are supported. "
                         "URI format: '/cometd/66.0'\"}]");
        cJSON_Delete(arr);
        arr = post_expect(&fx->tc, "/cometd/replay/36.0", HANDSHAKE_BODY, 400);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"),
                            "400::Unsupported API version. Only API versions '37.0' and later are supported. "
                            "URI format: '/cometd/66.0'");
        cJSON_Delete(arr);
        arr = post_expect(&fx->tc, "/cometd/abc", HANDSHAKE_BODY, 400);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
        cJSON_Delete(arr);
        for (i = 0; i < sizeof(paths_ok) / sizeof(paths_ok[0]); i++) {
                arr = post_expect(&fx->tc, paths_ok[i], HANDSHAKE_BODY, 200);
                assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
                cJSON_Delete(arr);
        }
}

static void test_request_size_limit(void **state)
{
        struct fixture *fx = *state;
        char *body = malloc(40000);
        struct hres res;
        size_t prefix;
        cJSON *arr;

        assert_non_null(body);
        bx_handshake(&fx->tc);
        /* Exactly 32,768 bytes is accepted ... */
        prefix = (size_t)snprintf(body, 40000,
                                  "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\",\"connectionType\":"
                                  "\"long-polling\",\"id\":\"9\"}",
                                  fx->tc.client_id);
        memset(body + prefix, ' ', 32768 - prefix - 1);
        body[32767] = ']';
        body[32768] = '\0';
        arr = bx_send(&fx->tc, body);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
        cJSON_Delete(arr);
        /* ... one more byte is HTTP 413. */
        memset(body + prefix, ' ', 32769 - prefix - 1);
        body[32768] = ']';
        body[32769] = '\0';
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 413);
        assert_string_equal(res.body, "Maximum Request Size Exceeded\n");
        hres_free(&res);
        free(body);
}

static void test_malformed_request(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;

        arr = post_expect(&fx->tc, NULL, "[{\"channel\":", 400);
        assert_json(arr, "[{\"channel\":\"\",\"successful\":false,\"error\":"
                         "\"400::Invalid message: expected a JSON array of Bayeux messages\"}]");
        cJSON_Delete(arr);
        arr = post_expect(&fx->tc, NULL, "[]", 400);
        assert_non_null(arr);
        cJSON_Delete(arr);
        /* A single object (not an array) is accepted, as CometD does. */
        arr = post_expect(&fx->tc, NULL,
                          "{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"id\":\"1\"}", 200);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
        cJSON_Delete(arr);
}

static void test_cookie_required(void **state)
{
        struct fixture *fx = *state;
        char body[512], expect[512], lb_pair[128];
        const char *lb;
        cJSON *arr;

        bx_handshake(&fx->tc);
        snprintf(expect, sizeof(expect),
                 "400::Client %s has established a session, but no BAYEUX_BROWSER cookie present",
                 fx->tc.client_id);
        lb = strstr(fx->tc.cookies, "sfdc-stream=");
        assert_non_null(lb);
        snprintf(lb_pair, sizeof(lb_pair), "%.*s", (int)strcspn(lb, ";"), lb);
        /* No cookie jar at all: not even the load balancer knows where the
         * client lives, so the app server reached does not know it. */
        fx->tc.send_cookies = 0;
        arr = bx_connect(&fx->tc);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"
                    "\"error\":\"403::Unknown client\",\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        /* The load-balancer cookie alone reaches the right server, which
         * wants its session cookie. */
        fx->tc.send_cookies = 1;
        snprintf(fx->tc.cookies, sizeof(fx->tc.cookies), "%s", lb_pair);
        arr = bx_connect(&fx->tc);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"
                    "\"error\":\"%s\",\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.client_id, fx->tc.last_id, expect);
        cJSON_Delete(arr);
        bx_subscribe_body(&fx->tc, "/topic/Foo", "-1", body, sizeof(body));
        arr = bx_send(&fx->tc, body);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\",\"successful\":false,"
                    "\"error\":\"%s\",\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.client_id, fx->tc.last_id, expect);
        cJSON_Delete(arr);
        /* Another session's cookie is not this session's cookie. */
        snprintf(fx->tc.cookies, sizeof(fx->tc.cookies), "BAYEUX_BROWSER=abcdefghijklmnopqrstuvwxyz; %s",
                 lb_pair);
        arr = bx_connect(&fx->tc);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"), expect);
        cJSON_Delete(arr);
}

static void test_connect_long_poll(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "2500", NULL };
        double t0;
        cJSON *arr;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        /* The first connect answers at once, with the advice. */
        t0 = now_s();
        arr = bx_connect(&fx->tc);
        assert_true(now_s() - t0 < 2.0);
        assert_int_equal(cJSON_GetArraySize(arr), 1);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 2500);
        cJSON_Delete(arr);
        /* Later ones are held for the advice timeout when nothing is pending. */
        t0 = now_s();
        arr = bx_connect(&fx->tc);
        assert_true(now_s() - t0 >= 2.45);
        assert_true(now_s() - t0 < 8.0);
        assert_int_equal(cJSON_GetArraySize(arr), 1);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 2500);
        cJSON_Delete(arr);
}

static void test_connect_answers_when_events_arrive(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "10000", NULL };
        struct async as;
        uint64_t ids[2];
        cJSON *arr;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/Order__e", "-1");
        cJSON_Delete(bx_connect(&fx->tc)); /* the first, immediate one */
        async_connect(&as, &fx->tc, 0);
        assert_int_equal(publish(&fx->sim, "channel=/event/Order__e&count=2", ids, 2), 2);
        async_join(&as);
        assert_int_equal(as.res.rc, CURLE_OK);
        assert_int_equal(as.res.status, 200);
        assert_true(as.res.secs < 5.0);
        arr = cJSON_Parse(as.res.body);
        /* The events, then the connect reply, in one response array. */
        assert_int_equal(cJSON_GetArraySize(arr), 3);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 0)), ids[0]);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 1)), ids[1]);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 2), 10000);
        cJSON_Delete(arr);
        hres_free(&as.res);
}

static void test_connect_default_advice(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;

        bx_handshake(&fx->tc);
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 110000);
        cJSON_Delete(arr);
}

static void test_unknown_client(void **state)
{
        struct fixture *fx = *state;
        char body[512];
        cJSON *arr;

        bx_handshake(&fx->tc);
        snprintf(fx->tc.client_id, sizeof(fx->tc.client_id), "nosuchclient0000000000000a");
        arr = bx_connect(&fx->tc);
        assert_json(arr,
                    "[{\"clientId\":\"nosuchclient0000000000000a\",\"channel\":\"/meta/connect\",\"id\":\"%s\","
                    "\"successful\":false,\"error\":\"403::Unknown client\","
                    "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.last_id);
        cJSON_Delete(arr);
        bx_subscribe_body(&fx->tc, "/topic/Foo", NULL, body, sizeof(body));
        arr = bx_send(&fx->tc, body);
        assert_json(arr,
                    "[{\"clientId\":\"nosuchclient0000000000000a\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                    "\"successful\":false,\"error\":\"403::Unknown client\","
                    "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.last_id);
        cJSON_Delete(arr);
}

static void test_client_expiry(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--client-expiry-ms", "1000", "--connect-timeout-ms", "300", NULL };
        cJSON *arr, *st;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        /* Coming back in time keeps the session alive, across held polls too. */
        cJSON_Delete(bx_connect(&fx->tc));
        sleep_ms(500);
        cJSON_Delete(bx_connect(&fx->tc));
        sleep_ms(500);
        arr = bx_connect(&fx->tc);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
        cJSON_Delete(arr);
        /* Not coming back in time: forgotten. */
        sleep_ms(1600);
        arr = bx_connect(&fx->tc);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\","
                    "\"successful\":false,\"error\":\"403::Unknown client\","
                    "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 0);
        cJSON_Delete(st);
}

static void test_subscribe_channels(void **state)
{
        struct fixture *fx = *state;
        const char *good[] = { "/topic/AccountUpdates", "/event/Order_Placed__e", "/data/ChangeEvents",
                               "/data/AccountChangeEvent", "/data/Custom__ChangeEvent", "/u/Notifications",
                               "/event/LoginEventStream", "/event/LogoutEventStream", "/event/MyChannel__chn",
                               "/data/MyChannel__chn" };
        const char *bad[] = { "/foo/bar", "/event/Bad__x", "/event/_Bad", "/event/Bad_", "/event/__chn",
                              "/topic/", "/data/Whatever", "/data/__chn", "/u/", "/topic/Bad-Name",
                              "/meta/subscribe", "/topic/Gone" };
        const char *args[] = { "--missing-channel", "/topic/Gone", NULL };
        char err[512];
        cJSON *arr;
        size_t i;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                bx_subscribe_ok(&fx->tc, good[i], NULL);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                arr = bx_subscribe(&fx->tc, bad[i], "-1");
                snprintf(err, sizeof(err), "400::The channel you requested to subscribe to doesn't exist {%s}",
                         bad[i]);
                assert_json(arr,
                            "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                            "\"subscription\":\"%s\",\"successful\":false,\"error\":\"%s\"}]",
                            fx->tc.client_id, fx->tc.last_id, bad[i], err);
                cJSON_Delete(arr);
        }
        /* A PushTopic filter rides on the channel name. */
        bx_subscribe_ok(&fx->tc, "/topic/AccountUpdates?Type=Technology", NULL);
        arr = bx_subscribe(&fx->tc, "no-slash", NULL);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"),
                            "400::Channel subscriptions must start with a leading '/'");
        cJSON_Delete(arr);
        arr = bx_subscribe(&fx->tc, "", NULL);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                    "\"successful\":false,\"error\":\"400::Channel name not specified\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

static void test_replay_new_only(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[5];

        publish(&fx->sim, "channel=/topic/T&count=3", NULL, 0);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/T", "-1");
        assert_int_equal(publish(&fx->sim, "channel=/topic/T&count=2", ids, 5), 2);
        connect_expect_events(&fx->tc, ids, 2, 110000);
        /* No ext.replay at all means -1 too. */
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/T", NULL);
        assert_int_equal(publish(&fx->sim, "channel=/topic/T&count=1", ids, 5), 1);
        connect_expect_events(&fx->tc, ids, 1, 110000);
}

static void test_replay_all(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[5];

        assert_int_equal(publish(&fx->sim, "channel=/topic/T&count=3", ids, 5), 3);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/T", "-2");
        connect_expect_events(&fx->tc, ids, 3, 110000);
        /* Then new ones. */
        assert_int_equal(publish(&fx->sim, "channel=/topic/T&count=2", ids, 5), 2);
        connect_expect_events(&fx->tc, ids, 2, 110000);
}

static void test_replay_after_id(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[5];
        char replay[32];

        assert_int_equal(publish(&fx->sim, "channel=/event/E__e&count=5", ids, 5), 5);
        bx_handshake(&fx->tc);
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[1]);
        bx_subscribe_ok(&fx->tc, "/event/E__e", replay);
        connect_expect_events(&fx->tc, ids + 2, 3, 110000);
        /* From the newest ID: nothing yet, then only new events. */
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[4]);
        bx_subscribe_ok(&fx->tc, "/event/E__e", replay);
        assert_int_equal(publish(&fx->sim, "channel=/event/E__e&count=1", ids, 5), 1);
        connect_expect_events(&fx->tc, ids, 1, 110000);
}

static void test_replay_map_with_many_channels(void **state)
{
        struct fixture *fx = *state;
        uint64_t a[3], b[3];
        char body[1024];
        cJSON *arr;

        assert_int_equal(publish(&fx->sim, "channel=/topic/A&count=3", a, 3), 3);
        assert_int_equal(publish(&fx->sim, "channel=/topic/B&count=3", b, 3), 3);
        bx_handshake(&fx->tc);
        /* EMP-Connector sends the whole map on every subscribe. */
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"/topic/B\","
                 "\"id\":\"%s\",\"ext\":{\"replay\":{\"/topic/A\":-2,\"/topic/B\":%llu}}}]",
                 fx->tc.client_id, next_id(&fx->tc), (unsigned long long)b[1]);
        arr = bx_send(&fx->tc, body);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful")));
        cJSON_Delete(arr);
        connect_expect_events(&fx->tc, b + 2, 1, 110000);
}

static void test_replay_null(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;

        bx_handshake(&fx->tc);
        arr = bx_subscribe(&fx->tc, "/data/ChangeEvents", "null");
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                    "\"subscription\":\"/data/ChangeEvents\",\"successful\":false,\"error\":"
                    "\"400::The replayId for channel {/data/ChangeEvents} wasn't found using the provided "
                    "replay ID map {{/data/ChangeEvents=null}}. Ensure that the channel name you provided in "
                    "the replay map is valid and matches the channel name used for subscribing.\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

#define INVALID_REPLAY                                                                                 \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\",\"subscription\":\"%s\","   \
        "\"successful\":false,\"error\":\"400::The replayId {%s} you provided was invalid.  Please "      \
        "provide a valid ID, -2 to replay all events, or -1 to replay only new events.\"}]"

static void test_replay_invalid(void **state)
{
        struct fixture *fx = *state;
        const char *bad[] = { "-3", "1.5", "\"abc\"", "true" };
        const char *shown[] = { "-3", "1.5", "abc", "true" };
        uint64_t ids[3];
        char replay[32];
        cJSON *arr;
        size_t i;

        assert_int_equal(publish(&fx->sim, "channel=/u/G&count=3", ids, 3), 3);
        bx_handshake(&fx->tc);
        /* Beyond the newest event. */
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[2] + 1000);
        arr = bx_subscribe(&fx->tc, "/u/G", replay);
        assert_json(arr, INVALID_REPLAY, fx->tc.client_id, fx->tc.last_id, "/u/G", replay);
        cJSON_Delete(arr);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                arr = bx_subscribe(&fx->tc, "/u/G", bad[i]);
                assert_json(arr, INVALID_REPLAY, fx->tc.client_id, fx->tc.last_id, "/u/G", shown[i]);
                cJSON_Delete(arr);
        }
        /* A numeric string is a replay ID like any other. */
        snprintf(replay, sizeof(replay), "\"%llu\"", (unsigned long long)ids[0]);
        bx_subscribe_ok(&fx->tc, "/u/G", replay);
        connect_expect_events(&fx->tc, ids + 1, 2, 110000);
}

static void test_replay_outside_retention(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[5];
        char replay[32];
        cJSON *arr, *json;

        assert_int_equal(publish(&fx->sim, "channel=/topic/R&count=5", ids, 5), 5);
        json = admin_call(&fx->sim, "POST", "/admin/retention?keep=2", 200);
        assert_json(json, "{\"dropped\":3}");
        cJSON_Delete(json);
        bx_handshake(&fx->tc);
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[1]);
        arr = bx_subscribe(&fx->tc, "/topic/R", replay);
        assert_json(arr, INVALID_REPLAY, fx->tc.client_id, fx->tc.last_id, "/topic/R", replay);
        cJSON_Delete(arr);
        arr = bx_subscribe(&fx->tc, "/topic/R", "0");
        assert_json(arr, INVALID_REPLAY, fx->tc.client_id, fx->tc.last_id, "/topic/R", "0");
        cJSON_Delete(arr);
        /* From the newest dropped ID, everything after it is still there. */
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[2]);
        bx_subscribe_ok(&fx->tc, "/topic/R", replay);
        connect_expect_events(&fx->tc, ids + 3, 2, 110000);
        /* -2 replays what is retained. */
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/R", "-2");
        connect_expect_events(&fx->tc, ids + 3, 2, 110000);
}

static void test_max_batch(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--max-batch", "3", NULL };
        uint64_t ids[7];

        fx_restart(fx, args);
        assert_int_equal(publish(&fx->sim, "channel=/event/M__e&count=7", ids, 7), 7);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/M__e", "-2");
        connect_expect_events(&fx->tc, ids, 3, 110000);
        connect_expect_events(&fx->tc, ids + 3, 3, 110000);
        connect_expect_events(&fx->tc, ids + 6, 1, 110000);
}

static void test_two_channels_in_order(void **state)
{
        struct fixture *fx = *state;
        uint64_t a[4], b[4], last_a = 0, last_b = 0;
        int got_a = 0, got_b = 0, i;
        const cJSON *ev;
        cJSON *arr;

        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/A", "-1");
        bx_subscribe_ok(&fx->tc, "/event/B__e", "-1");
        publish(&fx->sim, "channel=/topic/A&count=4", a, 4);
        publish(&fx->sim, "channel=/event/B__e&count=4", b, 4);
        arr = bx_connect(&fx->tc);
        assert_int_equal(n_events(arr), 8);
        for (i = 0; i < 8; i++) {
                ev = cJSON_GetArrayItem(arr, i);
                if (!strcmp(json_str(ev, "channel"), "/topic/A")) {
                        assert_true(event_replay_id(ev) > last_a);
                        last_a = event_replay_id(ev);
                        got_a++;
                } else {
                        assert_string_equal(json_str(ev, "channel"), "/event/B__e");
                        assert_true(event_replay_id(ev) > last_b);
                        last_b = event_replay_id(ev);
                        got_b++;
                }
        }
        assert_int_equal(got_a, 4);
        assert_int_equal(got_b, 4);
        assert_int_equal(last_a, a[3]);
        assert_int_equal(last_b, b[3]);
        cJSON_Delete(arr);
}

static void test_unsubscribe(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "300", NULL };
        char body[512];
        uint64_t ids[2];
        cJSON *arr, *st;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/U", "-1");
        bx_subscribe_ok(&fx->tc, "/topic/V", "-1");
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/unsubscribe\",\"clientId\":\"%s\",\"subscription\":\"/topic/U\","
                 "\"id\":\"%s\"}]",
                 fx->tc.client_id, next_id(&fx->tc));
        arr = bx_send(&fx->tc, body);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/unsubscribe\",\"id\":\"%s\","
                    "\"subscription\":\"/topic/U\",\"successful\":true}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        publish(&fx->sim, "channel=/topic/U&count=2", NULL, 0);
        publish(&fx->sim, "channel=/topic/V&count=2", ids, 2);
        connect_expect_events(&fx->tc, ids, 2, 300);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "channels", "/topic/U", "subscribers"), 0);
        assert_int_equal((int)stat_num(st, "channels", "/topic/V", "subscribers"), 1);
        cJSON_Delete(st);
}

static void test_client_disconnect(void **state)
{
        struct fixture *fx = *state;
        char body[512];
        cJSON *arr;

        bx_handshake(&fx->tc);
        snprintf(body, sizeof(body), "[{\"channel\":\"/meta/disconnect\",\"clientId\":\"%s\",\"id\":\"%s\"}]",
                 fx->tc.client_id, next_id(&fx->tc));
        arr = bx_send(&fx->tc, body);
        assert_json(arr, "[{\"clientId\":\"%s\",\"channel\":\"/meta/disconnect\",\"id\":\"%s\",\"successful\":true}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        arr = bx_connect(&fx->tc);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"), "403::Unknown client");
        cJSON_Delete(arr);
}

static void test_second_connect_supersedes_held_one(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        struct async as;
        char held_id[32];
        cJSON *arr;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        cJSON_Delete(bx_connect(&fx->tc));
        async_connect(&as, &fx->tc, 0);
        snprintf(held_id, sizeof(held_id), "%s", fx->tc.last_id);
        /* A new connect from the same client ends the held one at once, as
         * CometD does; the new one is then held in its place. */
        arr = NULL;
        {
                struct async as2;

                async_connect(&as2, &fx->tc, 3000);
                async_join(&as);
                assert_int_equal(as.res.rc, CURLE_OK);
                assert_true(as.res.secs < 5.0);
                arr = cJSON_Parse(as.res.body);
                assert_json(arr,
                            "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\","
                            "\"successful\":true,\"advice\":{\"reconnect\":\"retry\",\"interval\":0,"
                            "\"timeout\":20000}}]",
                            fx->tc.client_id, held_id);
                cJSON_Delete(arr);
                hres_free(&as.res);
                async_join(&as2);
                /* The newer one is still held: the client times it out. */
                assert_int_equal(as2.res.rc, CURLE_OPERATION_TIMEDOUT);
                hres_free(&as2.res);
        }
}

static void test_publish_over_cometd_denied(void **state)
{
        struct fixture *fx = *state;
        char body[512];
        cJSON *arr;

        bx_handshake(&fx->tc);
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/topic/T\",\"clientId\":\"%s\",\"data\":{},\"id\":\"%s\"}]",
                 fx->tc.client_id, next_id(&fx->tc));
        arr = bx_send(&fx->tc, body);
        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/topic/T\",\"id\":\"%s\",\"successful\":false,"
                    "\"error\":\"403::Publish denied\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_handshake, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_handshake_without_token, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_handshake_with_unknown_token, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_api_versions, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_request_size_limit, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_malformed_request, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_cookie_required, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_connect_long_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_connect_answers_when_events_arrive, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_connect_default_advice, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_unknown_client, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_client_expiry, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_subscribe_channels, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_new_only, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_all, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_after_id, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_map_with_many_channels, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_null, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_invalid, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_outside_retention, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_max_batch, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_two_channels_in_order, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_unsubscribe, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_client_disconnect, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_second_connect_supersedes_held_one, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_publish_over_cometd_denied, fx_setup, fx_teardown),
        };

        return RUN("sfsim cometd", tests);
}
