/*
 * sfsim's fault injection: every fault of the admin API, each with the exact
 * message (or transport failure) a client sees, its count semantics (the
 * next N matching requests, or until clear), and its effect on held polls.
 */
#include "harness.h"

#define AUTH_INVALID_CONNECT                                                                           \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"401::Authentication invalid\",\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define HANDSHAKE_DENIED_AUTH                                                                          \
        "[{\"channel\":\"/meta/handshake\",\"id\":\"%s\",\"successful\":false,"                          \
        "\"error\":\"403::Handshake denied\",\"ext\":{\"sfdc\":{\"failureReason\":"                      \
        "\"401::Authentication invalid\"}},\"advice\":{\"reconnect\":\"none\"}}]"

#define TOO_BUSY_HANDSHAKE                                                                             \
        "[{\"channel\":\"/meta/handshake\",\"id\":\"%s\",\"successful\":false,"                          \
        "\"error\":\"401::Authentication invalid\",\"ext\":{\"sfdc\":{\"failureReason\":"                \
        "\"503::Server is too busy.  Please try your request again later.\"}},"                          \
        "\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define TOO_BUSY_CONNECT                                                                               \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"401::Authentication invalid\",\"ext\":{\"sfdc\":{\"failureReason\":"                \
        "\"503::Server is too busy.  Please try your request again later.\"}},"                          \
        "\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define CONCURRENT_LIMIT                                                                               \
        "[{\"channel\":\"/meta/handshake\",\"id\":\"%s\",\"successful\":false,"                          \
        "\"error\":\"403::Organization concurrent user limit exceeded\",\"advice\":{\"reconnect\":\"none\"}}]"

#define UNKNOWN_CLIENT                                                                                 \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"403::Unknown client\",\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]"

#define UNKNOWN_CLIENT_NONE                                                                            \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"403::Unknown client\",\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define UNKNOWN_CLIENT_NO_ADVICE                                                                       \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":false,"        \
        "\"error\":\"403::Unknown client\"}]"

/* CometD's server-side disconnect says reconnect: none. */
#define SERVER_DISCONNECT                                                                              \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/disconnect\",\"successful\":true},"                   \
        "{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":true,"          \
        "\"advice\":{\"reconnect\":\"none\",\"interval\":0}}]"

#define SERVER_DISCONNECT_HANDSHAKE                                                                    \
        "[{\"clientId\":\"%s\",\"channel\":\"/meta/disconnect\",\"successful\":true},"                   \
        "{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\",\"successful\":true,"          \
        "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]"

static const char *const long_poll[] = { "--connect-timeout-ms", "20000", NULL };
/* revoke-tokens also moves the org to the other instance host; these tests
 * look at the tokens alone, on one host (test_hosts.c covers the move). */
static const char *const long_poll_one_host[] = { "--connect-timeout-ms", "20000", "--single-host", NULL };
static const char *const one_host[] = { "--single-host", NULL };

/* A handshake message with id @p id. */
static void handshake_body(char *body, size_t size, const char *id)
{
        snprintf(body, size,
                 "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"
                 "[\"long-polling\"],\"id\":\"%s\"}]",
                 id);
}

/* Handshake, subscribe to @p channel from -1, and do the first (immediate) connect. */
static void ready_client(struct tclient *tc, const char *channel)
{
        bx_handshake(tc);
        if (channel)
                bx_subscribe_ok(tc, channel, "-1");
        cJSON_Delete(bx_connect(tc));
}

/* Join a held connect and assert it answered @p fmt quickly. */
#define assert_async_json(as, ...)                                                                     \
        do {                                                                                           \
                cJSON *json_;                                                                          \
                async_join(as);                                                                        \
                assert_int_equal((as)->res.rc, CURLE_OK);                                              \
                assert_int_equal((as)->res.status, 200);                                               \
                assert_true((as)->res.secs < 8.0);                                                     \
                json_ = cJSON_Parse((as)->res.body);                                                   \
                assert_json(json_, __VA_ARGS__);                                                       \
                cJSON_Delete(json_);                                                                   \
                hres_free(&(as)->res);                                                                 \
        } while (0)

static void test_revoke_tokens_held_poll(void **state)
{
        struct fixture *fx = *state;
        char held[32], body[512], old_token[256];
        struct async as;
        cJSON *arr, *json, *st;

        fx_restart(fx, long_poll_one_host);
        ready_client(&fx->tc, "/topic/T");
        async_connect(&as, &fx->tc, 0);
        snprintf(held, sizeof(held), "%s", fx->tc.last_id);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=revoke-tokens", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"revoke-tokens\"}");
        cJSON_Delete(json);
        /* The held long-poll answers at once. */
        assert_async_json(&as, AUTH_INVALID_CONNECT, fx->tc.client_id, held);
        /* So does every later connect with that token ... */
        arr = bx_connect(&fx->tc);
        assert_json(arr, AUTH_INVALID_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        /* ... and a handshake with it is denied. */
        handshake_body(body, sizeof(body), next_id(&fx->tc));
        arr = bx_send(&fx->tc, body);
        assert_json(arr, HANDSHAKE_DENIED_AUTH, fx->tc.last_id);
        cJSON_Delete(arr);
        /* A new login gets a valid token; the old one stays revoked. */
        snprintf(old_token, sizeof(old_token), "%s", fx->token);
        login(&fx->sim, fx->token, sizeof(fx->token));
        tclient_init(&fx->tc, &fx->sim, fx->token);
        ready_client(&fx->tc, "/topic/T");
        tclient_init(&fx->tc, &fx->sim, old_token);
        handshake_body(body, sizeof(body), "7");
        arr = bx_send(&fx->tc, body);
        assert_json(arr, HANDSHAKE_DENIED_AUTH, "7");
        cJSON_Delete(arr);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "tokens_issued", NULL, NULL), 2);
        cJSON_Delete(st);
}

static void test_revoke_tokens_between_polls(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr;

        fx_restart(fx, one_host);
        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=revoke-tokens");
        arr = bx_connect(&fx->tc);
        assert_json(arr, AUTH_INVALID_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        /* The session died with its authentication: even a valid token finds no client. */
        login(&fx->sim, fx->tc.token, sizeof(fx->tc.token));
        arr = bx_connect(&fx->tc);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

static void test_too_busy(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[1];
        char body[512];
        cJSON *arr, *json;

        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=too-busy&count=1", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"too-busy\",\"count\":1}");
        cJSON_Delete(json);
        handshake_body(body, sizeof(body), "h1");
        arr = bx_send(&fx->tc, body);
        assert_json(arr, TOO_BUSY_HANDSHAKE, "h1");
        cJSON_Delete(arr);
        /* count=1: the next handshake goes through. */
        ready_client(&fx->tc, "/topic/X");
        /* On a connect it carries the clientId; the session survives it. */
        fault(&fx->sim, "kind=too-busy&count=1");
        arr = bx_connect(&fx->tc);
        assert_json(arr, TOO_BUSY_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        assert_int_equal(publish(&fx->sim, "channel=/topic/X", ids, 1), 1);
        connect_expect_events(&fx->tc, ids, 1, 110000);
        /* Without a count it lasts until clear. */
        fault(&fx->sim, "kind=too-busy");
        handshake_body(body, sizeof(body), "h2");
        arr = bx_send(&fx->tc, body);
        assert_json(arr, TOO_BUSY_HANDSHAKE, "h2");
        cJSON_Delete(arr);
        handshake_body(body, sizeof(body), "h3");
        arr = bx_send(&fx->tc, body);
        assert_json(arr, TOO_BUSY_HANDSHAKE, "h3");
        cJSON_Delete(arr);
        fault(&fx->sim, "kind=clear");
        bx_handshake(&fx->tc);
}

static void test_concurrent_limit(void **state)
{
        struct fixture *fx = *state;
        char body[512];
        cJSON *arr, *st;
        int i;

        fault(&fx->sim, "kind=concurrent-limit&count=2");
        for (i = 0; i < 2; i++) {
                handshake_body(body, sizeof(body), i ? "b" : "a");
                arr = bx_send(&fx->tc, body);
                assert_json(arr, CONCURRENT_LIMIT, i ? "b" : "a");
                cJSON_Delete(arr);
        }
        bx_handshake(&fx->tc);
        fault(&fx->sim, "kind=concurrent-limit");
        for (i = 0; i < 3; i++) {
                handshake_body(body, sizeof(body), "c");
                arr = bx_send(&fx->tc, body);
                assert_json(arr, CONCURRENT_LIMIT, "c");
                cJSON_Delete(arr);
        }
        fault(&fx->sim, "kind=clear");
        bx_handshake(&fx->tc);
        /* The fault is not the org's limit: clients_refused counts only that. */
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients_refused", NULL, NULL), 0);
        cJSON_Delete(st);
}

static void test_max_clients(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--max-clients", "1", "--client-expiry-ms", "500", NULL };
        struct tclient other;
        char body[512];
        cJSON *arr, *st;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        tclient_init(&other, &fx->sim, fx->token);
        handshake_body(body, sizeof(body), "2nd");
        arr = bx_send(&other, body);
        assert_json(arr, CONCURRENT_LIMIT, "2nd");
        cJSON_Delete(arr);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients_refused", NULL, NULL), 1);
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 1);
        cJSON_Delete(st);
        /* Once the first client is gone there is room again. */
        sleep_ms(1200);
        bx_handshake(&other);
}

static void test_forget_clients(void **state)
{
        struct fixture *fx = *state;
        struct tclient idle;
        struct async as;
        char held[32];
        cJSON *json, *arr, *st;

        fx_restart(fx, long_poll);
        tclient_init(&idle, &fx->sim, fx->token);
        ready_client(&idle, NULL);
        ready_client(&fx->tc, "/topic/T");
        async_connect(&as, &fx->tc, 0);
        snprintf(held, sizeof(held), "%s", fx->tc.last_id);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=forget-clients", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"forget-clients\",\"clients\":2}");
        cJSON_Delete(json);
        assert_async_json(&as, UNKNOWN_CLIENT, fx->tc.client_id, held);
        arr = bx_connect(&idle);
        assert_json(arr, UNKNOWN_CLIENT, idle.client_id, idle.last_id);
        cJSON_Delete(arr);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 0);
        assert_int_equal((int)stat_num(st, "channels", "/topic/T", "subscribers"), 0);
        cJSON_Delete(st);
        /* A new handshake works. */
        ready_client(&fx->tc, NULL);
}

static void test_server_disconnect(void **state)
{
        struct fixture *fx = *state;
        struct tclient idle;
        struct async as;
        char held[32];
        cJSON *json, *arr;

        fx_restart(fx, long_poll);
        tclient_init(&idle, &fx->sim, fx->token);
        ready_client(&idle, NULL);
        ready_client(&fx->tc, NULL);
        async_connect(&as, &fx->tc, 0);
        snprintf(held, sizeof(held), "%s", fx->tc.last_id);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=disconnect", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"disconnect\",\"clients\":2}");
        cJSON_Delete(json);
        /* The held long-poll gets the pushed /meta/disconnect and its reply. */
        assert_async_json(&as, SERVER_DISCONNECT, fx->tc.client_id, fx->tc.client_id, held);
        /* A client between polls gets it on its next connect. */
        arr = bx_connect(&idle);
        assert_json(arr, SERVER_DISCONNECT, idle.client_id, idle.client_id, idle.last_id);
        cJSON_Delete(arr);
        /* Both are forgotten. */
        arr = bx_connect(&fx->tc);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        arr = bx_connect(&idle);
        assert_json(arr, UNKNOWN_CLIENT, idle.client_id, idle.last_id);
        cJSON_Delete(arr);
}

/* disconnect&advice=handshake: the older wording, for clients that need it. */
static void test_server_disconnect_handshake(void **state)
{
        struct fixture *fx = *state;
        cJSON *json, *arr;

        ready_client(&fx->tc, NULL);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=disconnect&advice=handshake", 200);
        cJSON_Delete(json);
        arr = bx_connect(&fx->tc);
        assert_json(arr, SERVER_DISCONNECT_HANDSHAKE, fx->tc.client_id, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        /* clear restores CometD's none. */
        fault(&fx->sim, "kind=clear");
        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=disconnect");
        arr = bx_connect(&fx->tc);
        assert_json(arr, SERVER_DISCONNECT, fx->tc.client_id, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

/* The unknown-client wordings Salesforce has been seen to send, and the
 * same error wrapped in an HTTP 400. */
static void test_forget_clients_variants(void **state)
{
        struct fixture *fx = *state;
        char body[256];
        struct hres res;
        cJSON *arr;

        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=forget-clients&advice=none");
        arr = bx_connect(&fx->tc);
        assert_json(arr, UNKNOWN_CLIENT_NONE, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);

        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=forget-clients&advice=absent");
        arr = bx_connect(&fx->tc);
        assert_json(arr, UNKNOWN_CLIENT_NO_ADVICE, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);

        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=forget-clients&advice=handshake&status=400");
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 400);
        arr = cJSON_Parse(res.body);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        hres_free(&res);
        /* A healthy answer keeps its 200. */
        ready_client(&fx->tc, NULL);

        fault(&fx->sim, "kind=clear");
        fault(&fx->sim, "kind=forget-clients");
        arr = bx_connect(&fx->tc);
        assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
}

/* revoke-tokens&status=401: the Bayeux 401 array in an HTTP 401. */
static void test_revoke_tokens_status(void **state)
{
        struct fixture *fx = *state;
        char body[256];
        struct hres res;
        cJSON *arr;

        fx_restart(fx, one_host);
        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=revoke-tokens&status=401");
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 401);
        arr = cJSON_Parse(res.body);
        assert_json(arr, AUTH_INVALID_CONNECT, fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        hres_free(&res);
}

/* forget-after-first-connect: each new client's first connect answers, its next is refused. */
static void test_forget_after_first_connect(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr, *st;
        int i;

        fx_restart(fx, long_poll);
        fault(&fx->sim, "kind=forget-after-first-connect&count=2");
        for (i = 0; i < 2; i++) {
                bx_handshake(&fx->tc);
                arr = bx_connect(&fx->tc);
                assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 20000);
                cJSON_Delete(arr);
                st = stats(&fx->sim);
                assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 0);
                cJSON_Delete(st);
                arr = bx_connect(&fx->tc);
                assert_json(arr, UNKNOWN_CLIENT, fx->tc.client_id, fx->tc.last_id);
                cJSON_Delete(arr);
        }
        /* The count is spent: the third client lives on (its second connect is held). */
        ready_client(&fx->tc, "/topic/T");
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "clients", NULL, NULL), 1);
        cJSON_Delete(st);
}

static void test_stall(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "300", NULL };
        char body[256];
        struct async as;
        struct hres res;
        uint64_t ids[2];
        cJSON *json, *arr;

        fx_restart(fx, args);
        ready_client(&fx->tc, "/event/S__e");
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=stall", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"stall\",\"count\":-1}");
        cJSON_Delete(json);
        /* Accepted, never answered: not at the advice timeout, not for events. */
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 1500, &res);
        assert_int_equal(res.rc, CURLE_OPERATION_TIMEDOUT);
        assert_true(res.secs >= 1.4);
        hres_free(&res);
        async_connect(&as, &fx->tc, 15000);
        assert_int_equal(publish(&fx->sim, "channel=/event/S__e&count=2", ids, 2), 2);
        sleep_ms(800);
        assert_false(async_done(&as));
        /* clear releases it: it answers as it would have, events included. */
        fault(&fx->sim, "kind=clear");
        async_join(&as);
        assert_int_equal(as.res.rc, CURLE_OK);
        arr = cJSON_Parse(as.res.body);
        assert_int_equal(n_events(arr), 2);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 0)), ids[0]);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 1)), ids[1]);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 2), 300);
        cJSON_Delete(arr);
        hres_free(&as.res);
}

static void test_stall_count(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "300", NULL };
        struct async as;
        cJSON *arr;

        fx_restart(fx, args);
        ready_client(&fx->tc, NULL);
        fault(&fx->sim, "kind=stall&count=1");
        async_connect(&as, &fx->tc, 2000);
        /* Only one connect stalls: the next is answered at the advice timeout. */
        arr = bx_connect(&fx->tc);
        assert_connect_ok(&fx->tc, cJSON_GetArrayItem(arr, 0), 300);
        cJSON_Delete(arr);
        async_join(&as);
        assert_int_equal(as.res.rc, CURLE_OPERATION_TIMEDOUT);
        hres_free(&as.res);
}

static void test_close_mid_poll(void **state)
{
        struct fixture *fx = *state;
        struct async as;
        uint64_t ids[1];
        char body[256];
        struct hres res;
        cJSON *json;
        int i;

        fx_restart(fx, long_poll);
        ready_client(&fx->tc, "/topic/C");
        /* A held long-poll: its TCP connection is closed, no answer. */
        async_connect(&as, &fx->tc, 0);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=close-mid-poll&count=1", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"close-mid-poll\",\"count\":1,\"closed\":1}");
        cJSON_Delete(json);
        async_join(&as);
        assert_int_equal(as.res.rc, CURLE_GOT_NOTHING);
        assert_true(as.res.secs < 8.0);
        hres_free(&as.res);
        /* The count is spent: the session goes on. */
        publish(&fx->sim, "channel=/topic/C", ids, 1);
        connect_expect_events(&fx->tc, ids, 1, 20000);
        /* Nothing held: the next connect is closed instead. */
        fault(&fx->sim, "kind=close-mid-poll&count=1");
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_GOT_NOTHING);
        hres_free(&res);
        publish(&fx->sim, "channel=/topic/C", ids, 1);
        connect_expect_events(&fx->tc, ids, 1, 20000);
        /* Without a count: every connect until clear. */
        fault(&fx->sim, "kind=close-mid-poll");
        for (i = 0; i < 2; i++) {
                bx_connect_body(&fx->tc, body, sizeof(body));
                bx_raw(&fx->tc, NULL, body, 0, &res);
                assert_int_equal(res.rc, CURLE_GOT_NOTHING);
                hres_free(&res);
        }
        fault(&fx->sim, "kind=clear");
        publish(&fx->sim, "channel=/topic/C", ids, 1);
        connect_expect_events(&fx->tc, ids, 1, 20000);
}

static void test_http_503(void **state)
{
        struct fixture *fx = *state;
        char body[512], token[256];
        struct hres res;
        int i;

        fault(&fx->sim, "kind=http-503&count=2");
        handshake_body(body, sizeof(body), "1");
        for (i = 0; i < 2; i++) {
                bx_raw(&fx->tc, NULL, body, 0, &res);
                assert_int_equal(res.rc, CURLE_OK);
                assert_int_equal(res.status, 503);
                hres_free(&res);
                /* The token endpoint is not a CometD request. */
                login(&fx->sim, token, sizeof(token));
        }
        bx_handshake(&fx->tc);
        fault(&fx->sim, "kind=http-503");
        for (i = 0; i < 3; i++) {
                bx_raw(&fx->tc, NULL, body, 0, &res);
                assert_int_equal(res.status, 503);
                hres_free(&res);
        }
        fault(&fx->sim, "kind=clear");
        bx_handshake(&fx->tc);
}

static void test_malformed(void **state)
{
        struct fixture *fx = *state;
        char body[256];
        struct hres res;
        uint64_t ids[2];
        cJSON *json;

        ready_client(&fx->tc, "/event/Mal__e");
        assert_int_equal(publish(&fx->sim, "channel=/event/Mal__e&count=2", ids, 2), 2);
        fault(&fx->sim, "kind=malformed&count=1");
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 200);
        json = cJSON_Parse(res.body);
        assert_null(json);
        /* It carries no events: they are still pending. */
        assert_null(strstr(res.body, "replayId"));
        hres_free(&res);
        connect_expect_events(&fx->tc, ids, 2, 110000);
        /* Until clear, every connect reply is malformed. */
        fault(&fx->sim, "kind=malformed");
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_null(cJSON_Parse(res.body));
        hres_free(&res);
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_null(cJSON_Parse(res.body));
        hres_free(&res);
        fault(&fx->sim, "kind=clear");
        publish(&fx->sim, "channel=/event/Mal__e&count=1", ids, 1);
        connect_expect_events(&fx->tc, ids, 1, 110000);
}

static void test_clear_and_stats(void **state)
{
        struct fixture *fx = *state;
        cJSON *st;

        fault(&fx->sim, "kind=too-busy");
        fault(&fx->sim, "kind=concurrent-limit&count=4");
        fault(&fx->sim, "kind=http-503&count=2");
        fault(&fx->sim, "kind=malformed");
        st = stats(&fx->sim);
        assert_json(cJSON_GetObjectItemCaseSensitive(st, "faults"),
                    "{\"too-busy\":-1,\"concurrent-limit\":4,\"http-503\":2,\"malformed\":-1}");
        cJSON_Delete(st);
        fault(&fx->sim, "kind=clear");
        st = stats(&fx->sim);
        assert_json(cJSON_GetObjectItemCaseSensitive(st, "faults"), "{}");
        cJSON_Delete(st);
        ready_client(&fx->tc, NULL);
}

/* One channel's subscribes refused with 403::Restricted channel; others subscribe; clear lifts it. */
static void test_restricted_channel(void **state)
{
        struct fixture *fx = *state;
        cJSON *arr, *json;
        char *text;

        bx_handshake(&fx->tc);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=restricted-channel&channel=/topic/B", 200);
        assert_json(json, "{\"ok\":true,\"kind\":\"restricted-channel\",\"count\":-1}");
        cJSON_Delete(json);
        arr = bx_subscribe(&fx->tc, "/topic/B", "-1");
        assert_json(arr, "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                         "\"subscription\":\"/topic/B\",\"successful\":false,\"error\":\"403::Restricted channel\"}]",
                    fx->tc.client_id, fx->tc.last_id);
        cJSON_Delete(arr);
        bx_subscribe_ok(&fx->tc, "/topic/A", "-1");
        /* Until clear, not once: the permission stays removed. */
        arr = bx_subscribe(&fx->tc, "/topic/B?Type=x", "-1");
        text = cJSON_PrintUnformatted(arr);
        assert_non_null(strstr(text, "403::Restricted channel"));
        free(text);
        cJSON_Delete(arr);
        fault(&fx->sim, "kind=clear");
        bx_subscribe_ok(&fx->tc, "/topic/B", "-1");
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=restricted-channel", 400);
        text = cJSON_PrintUnformatted(json);
        assert_non_null(strstr(text, "needs parameter 'channel'"));
        free(text);
        cJSON_Delete(json);
}

static void test_fault_input_checks(void **state)
{
        struct fixture *fx = *state;
        cJSON *json;

        json = admin_call(&fx->sim, "POST", "/admin/fault", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'kind' is required\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=explode", 400);
        assert_json(json, "{\"error\":\"fault: unknown kind 'explode' (known: revoke-tokens, forget-clients, "
                          "disconnect, too-busy, concurrent-limit, stall, close-mid-poll, http-503, malformed, "
                          "restricted-channel, subscribe-denied, daily-limit, server-limit, redeliver, "
                          "forget-after-first-connect, connect-unknown-channel, clear)\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=forget-clients&advice=maybe", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'advice' must be none or handshake or absent\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=disconnect&advice=absent", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'advice' must be none or handshake\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=stall&advice=none", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'advice' applies to forget-clients, "
                          "forget-after-first-connect and disconnect only\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=forget-clients&status=99", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'status' must be an HTTP status (200 to 599)\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=too-busy&status=400", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'status' applies to revoke-tokens, "
                          "forget-clients and forget-after-first-connect only\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/fault?kind=stall&count=0", 400);
        assert_json(json, "{\"error\":\"fault: parameter 'count' must be a positive integer\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "GET", "/admin/fault?kind=stall", 405);
        cJSON_Delete(json);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_revoke_tokens_held_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_revoke_tokens_between_polls, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_too_busy, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_limit, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_max_clients, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_forget_clients, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_server_disconnect, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_server_disconnect_handshake, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_forget_clients_variants, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_revoke_tokens_status, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_forget_after_first_connect, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stall, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stall_count, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_close_mid_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_http_503, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_malformed, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_clear_and_stats, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_restricted_channel, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_fault_input_checks, fx_setup, fx_teardown),
        };

        return RUN("sfsim faults", tests);
}
