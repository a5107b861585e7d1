/*
 * What sfsim tells the replica (HA) tests: per channel, how many subscribed
 * clients hold a /meta/connect now, the most at once and the time two or
 * more did (/admin/stats "pollers", POST /admin/reset-pollers), and every
 * client, live or removed, with its connects (GET /admin/clients). A held
 * poll stops counting when it is answered, when its client disconnects,
 * when its TCP connection closes, and when its client is forgotten.
 */
#include "harness.h"

/*
 * ASYNC_NOTE: a background request's struct async and struct tclient are
 * static, not on the stack: when an assertion fails, cmocka leaves the test
 * while the thread may still write its answer, and the next tests run on.
 */
#define CH "/event/Order__e"
#define CH2 "/event/Other__e"

/* pollers.<channel>.<name> of /admin/stats. */
static double poll_stat(const struct simproc *sp, const char *channel, const char *name)
{
        cJSON *st = stats(sp);
        double v = stat_num(st, "pollers", channel, name);

        cJSON_Delete(st);
        return v;
}

/* Wait until pollers.<channel>.now is @p want (at most @p timeout_ms). @returns the ms it took, or -1. */
static long wait_now(const struct simproc *sp, const char *channel, int want, long timeout_ms)
{
        double t0 = now_s();

        for (;;) {
                if ((int)poll_stat(sp, channel, "now") == want)
                        return (long)((now_s() - t0) * 1000);
                if (now_s() - t0 > (double)timeout_ms / 1000.0)
                        return -1;
                sleep_ms(10);
        }
}

/* A client handshaken, subscribed to @p channel (NULL: none) and past its first connect. */
static void ready(struct tclient *tc, const struct simproc *sp, const char *token, const char *channel)
{
        tclient_init(tc, sp, token);
        bx_handshake(tc);
        if (channel)
                bx_subscribe_ok(tc, channel, "-1");
        cJSON_Delete(bx_connect(tc)); /* the first connect answers at once */
}

static void disconnect(struct tclient *tc)
{
        char body[256];

        snprintf(body, sizeof(body), "[{\"channel\":\"/meta/disconnect\",\"clientId\":\"%s\",\"id\":\"%s\"}]",
                 tc->client_id, next_id(tc));
        cJSON_Delete(bx_send(tc, body));
}

/* The entry of @p id in GET /admin/clients (a detached copy; the caller frees), or NULL. */
static cJSON *client_entry(const struct simproc *sp, const char *id)
{
        cJSON *doc = admin_call(sp, "GET", "/admin/clients", 200), *item, *found = NULL;

        assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "clients")));
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "clients"))
        {
                if (json_str(item, "clientId") && !strcmp(json_str(item, "clientId"), id))
                        found = cJSON_Duplicate(item, 1);
        }
        cJSON_Delete(doc);
        return found;
}

static int entry_bool(const cJSON *entry, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(entry, name);

        assert_true(cJSON_IsBool(item));
        return cJSON_IsTrue(item);
}

static double entry_num(const cJSON *entry, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(entry, name);

        assert_true(cJSON_IsNumber(item));
        return item->valuedouble;
}

/* 2024-01-31T12:00:00.000Z */
static void assert_rfc3339_ms(const char *s)
{
        int y, mo, d, h, mi, sec, ms, n = -1;

        assert_non_null(s);
        assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms, &n), 7);
        assert_int_equal(n, 24);
        assert_int_equal((int)strlen(s), 24);
        assert_true(y >= 2024 && mo >= 1 && mo <= 12);
}

/* Two clients long-polling one channel: max 2 and a growing overlap; a channel only one polls: 1, 0. */
static void test_two_pollers_overlap(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        static struct tclient a, b;       /* static: see ASYNC_NOTE */
        static struct async as_a, as_b;
        double overlap, later;

        fx_restart(fx, args);
        ready(&a, &fx->sim, fx->token, CH);
        ready(&b, &fx->sim, fx->token, CH);
        bx_subscribe_ok(&b, CH2, "-1");
        /* Between polls nobody polls; each first connect (answered at once)
         * counted while it ran, one after the other. */
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 1);

        async_connect(&as_a, &a, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "poll_overlap_ms"), 0);
        async_connect(&as_b, &b, 0);
        sleep_ms(300);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 2);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 2);
        overlap = poll_stat(&fx->sim, CH, "poll_overlap_ms");
        assert_true(overlap >= 250 && overlap < 5000);
        /* Only b polls CH2. */
        assert_int_equal((int)poll_stat(&fx->sim, CH2, "now"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH2, "max_concurrent_pollers"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH2, "poll_overlap_ms"), 0);

        /* An event answers both polls: the overlap stops growing. */
        publish(&fx->sim, "channel=" CH "&count=1", NULL, 0);
        async_join(&as_a);
        async_join(&as_b);
        assert_int_equal((int)as_a.res.status, 200);
        assert_int_equal((int)as_b.res.status, 200);
        hres_free(&as_a.res);
        hres_free(&as_b.res);
        assert_int_equal(wait_now(&fx->sim, CH, 0, 2000) >= 0, 1);
        overlap = poll_stat(&fx->sim, CH, "poll_overlap_ms");
        sleep_ms(300);
        later = poll_stat(&fx->sim, CH, "poll_overlap_ms");
        assert_true(later == overlap);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 2);
}

/* A subscribe while a connect is held makes that poll count for the new channel too. */
static void test_subscribe_while_polling(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        static struct async as;           /* static: see ASYNC_NOTE */

        fx_restart(fx, args);
        ready(&fx->tc, &fx->sim, fx->token, CH);
        async_connect(&as, &fx->tc, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        bx_subscribe_ok(&fx->tc, CH2, "-1");
        assert_int_equal((int)poll_stat(&fx->sim, CH2, "now"), 1);
        disconnect(&fx->tc);
        async_join(&as);
        hres_free(&as.res);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH2, "now"), 0);
}

/*
 * A planned handoff: a's /meta/disconnect ends its held poll at once, so b
 * polling right after never overlaps; a stays listed as disconnected.
 */
static void test_disconnect_ends_poll(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        static struct tclient a, b;       /* static: see ASYNC_NOTE */
        static struct async as_a, as_b;
        cJSON *entry;

        fx_restart(fx, args);
        ready(&a, &fx->sim, fx->token, CH);
        async_connect(&as_a, &a, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        entry = client_entry(&fx->sim, a.client_id);
        assert_non_null(entry);
        assert_int_equal(entry_bool(entry, "polling"), 1);
        cJSON_Delete(entry);

        disconnect(&a);
        /* Counted out under the lock of the disconnect itself. */
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 0);
        async_join(&as_a);
        assert_true(as_a.res.secs < 5.0);
        hres_free(&as_a.res);

        ready(&b, &fx->sim, fx->token, CH);
        async_connect(&as_b, &b, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "poll_overlap_ms"), 0);

        entry = client_entry(&fx->sim, a.client_id);
        assert_non_null(entry);
        assert_int_equal(entry_bool(entry, "disconnected"), 1);
        assert_int_equal(entry_bool(entry, "polling"), 0);
        assert_string_equal(json_str(entry, "state"), "disconnected");
        assert_rfc3339_ms(json_str(entry, "ended"));
        assert_json(cJSON_GetObjectItemCaseSensitive(entry, "subscriptions"), "[\"" CH "\"]");
        cJSON_Delete(entry);

        disconnect(&b);
        async_join(&as_b);
        hres_free(&as_b.res);
}

/*
 * A replica killed mid-poll: its TCP connection closes, and the poll stops
 * counting within a fraction of a second, long before the connect timeout.
 */
static void test_closed_connection_ends_poll(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "30000", NULL };
        static struct tclient a, b;       /* static: see ASYNC_NOTE */
        static struct async as_a, as_b;
        double t_closed;
        long took;
        cJSON *entry;

        fx_restart(fx, args);
        ready(&a, &fx->sim, fx->token, CH);
        /* curl gives up after 800 ms and closes the connection. */
        async_connect(&as_a, &a, 800);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        async_join(&as_a);
        t_closed = now_s();
        assert_int_equal(as_a.res.rc, CURLE_OPERATION_TIMEDOUT);
        hres_free(&as_a.res);
        took = wait_now(&fx->sim, CH, 0, 5000);
        assert_true(took >= 0);
        /* sfsim looks every 50 ms; 1 s leaves room for a loaded machine, and
         * without the check the poll would last the 30 s connect timeout. */
        assert_true(now_s() - t_closed < 1.0);

        /* Still a live client (it may come back), just not polling. */
        entry = client_entry(&fx->sim, a.client_id);
        assert_non_null(entry);
        assert_string_equal(json_str(entry, "state"), "live");
        assert_int_equal(entry_bool(entry, "polling"), 0);
        assert_int_equal((int)entry_num(entry, "connects"), 2);
        cJSON_Delete(entry);

        ready(&b, &fx->sim, fx->token, CH);
        async_connect(&as_b, &b, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "poll_overlap_ms"), 0);
        disconnect(&b);
        async_join(&as_b);
        hres_free(&as_b.res);
}

/* A frozen client's poll (connection open, nobody reading) ends at the connect timeout. */
static void test_connect_timeout_ends_poll(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "1000", NULL };
        static struct async as;           /* static: see ASYNC_NOTE */
        long took;

        fx_restart(fx, args);
        ready(&fx->tc, &fx->sim, fx->token, CH);
        async_connect(&as, &fx->tc, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        took = wait_now(&fx->sim, CH, 0, 5000);
        assert_true(took >= 400 && took < 2500);
        async_join(&as);
        assert_int_equal((int)as.res.status, 200);
        hres_free(&as.res);
}

/* forget-clients ends the count too; a held poll of a forgotten client is no poller. */
static void test_forgotten_client_ends_poll(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        static struct async as;           /* static: see ASYNC_NOTE */
        cJSON *entry;

        fx_restart(fx, args);
        ready(&fx->tc, &fx->sim, fx->token, CH);
        async_connect(&as, &fx->tc, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        fault(&fx->sim, "kind=forget-clients");
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 0);
        async_join(&as);
        hres_free(&as.res);
        entry = client_entry(&fx->sim, fx->tc.client_id);
        assert_non_null(entry);
        assert_string_equal(json_str(entry, "state"), "forgotten");
        assert_int_equal(entry_bool(entry, "disconnected"), 0);
        cJSON_Delete(entry);
}

/* POST /admin/reset-pollers: the mark drops to the current count, the overlap to 0. */
static void test_reset_pollers(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        static struct tclient a, b;       /* static: see ASYNC_NOTE */
        static struct async as_a, as_b;
        double before, after;
        cJSON *json;

        fx_restart(fx, args);
        ready(&a, &fx->sim, fx->token, CH);
        ready(&b, &fx->sim, fx->token, CH);
        async_connect(&as_a, &a, 0);
        async_connect(&as_b, &b, 0);
        sleep_ms(400);
        before = poll_stat(&fx->sim, CH, "poll_overlap_ms");
        assert_true(before >= 400);
        /* Reset while two poll: the open overlap counts from the reset. */
        json = admin_call(&fx->sim, "POST", "/admin/reset-pollers", 200);
        assert_json(json, "{\"reset\":1}");
        cJSON_Delete(json);
        after = poll_stat(&fx->sim, CH, "poll_overlap_ms");
        assert_true(after < before && after < 300);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 2);

        disconnect(&a);
        async_join(&as_a);
        hres_free(&as_a.res);
        json = admin_call(&fx->sim, "POST", "/admin/reset-pollers", 200);
        cJSON_Delete(json);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "now"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 1);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "poll_overlap_ms"), 0);
        disconnect(&b);
        async_join(&as_b);
        hres_free(&as_b.res);
        json = admin_call(&fx->sim, "GET", "/admin/reset-pollers", 405);
        cJSON_Delete(json);
}

/* Every member of an /admin/clients entry, and connects counted even after the client is gone. */
static void test_clients_list(void **state)
{
        struct fixture *fx = *state;
        char first[32], last[32];
        cJSON *doc, *entry, *arr;

        doc = admin_call(&fx->sim, "GET", "/admin/clients", 200);
        assert_json(doc, "{\"clients\":[]}");
        cJSON_Delete(doc);

        bx_handshake(&fx->tc);
        entry = client_entry(&fx->sim, fx->tc.client_id);
        assert_non_null(entry);
        assert_members(entry, "clientId,created,last_connect,connects,subscriptions,polling,disconnected,"
                              "state,ended,peer_port");
        assert_rfc3339_ms(json_str(entry, "created"));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(entry, "last_connect")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(entry, "ended")));
        assert_int_equal((int)entry_num(entry, "connects"), 0);
        assert_json(cJSON_GetObjectItemCaseSensitive(entry, "subscriptions"), "[]");
        assert_string_equal(json_str(entry, "state"), "live");
        assert_int_equal(entry_bool(entry, "polling"), 0);
        assert_int_equal(entry_bool(entry, "disconnected"), 0);
        assert_true(entry_num(entry, "peer_port") > 0 && entry_num(entry, "peer_port") < 65536);
        cJSON_Delete(entry);

        bx_subscribe_ok(&fx->tc, CH, "-1");
        bx_subscribe_ok(&fx->tc, CH2, "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        entry = client_entry(&fx->sim, fx->tc.client_id);
        assert_int_equal((int)entry_num(entry, "connects"), 1);
        assert_rfc3339_ms(json_str(entry, "last_connect"));
        snprintf(first, sizeof(first), "%s", json_str(entry, "last_connect"));
        assert_json(cJSON_GetObjectItemCaseSensitive(entry, "subscriptions"), "[\"" CH "\",\"" CH2 "\"]");
        cJSON_Delete(entry);

        /* Gone, and a connect naming it still counts (a zombie's would show). */
        disconnect(&fx->tc);
        sleep_ms(20);
        arr = bx_connect(&fx->tc);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"), "403::Unknown client");
        cJSON_Delete(arr);
        entry = client_entry(&fx->sim, fx->tc.client_id);
        assert_non_null(entry);
        assert_int_equal((int)entry_num(entry, "connects"), 2);
        snprintf(last, sizeof(last), "%s", json_str(entry, "last_connect"));
        assert_true(strcmp(last, first) > 0);
        assert_string_equal(json_str(entry, "state"), "disconnected");
        cJSON_Delete(entry);

        /* Two clients: listed oldest first. */
        {
                struct tclient other;
                const cJSON *list;

                tclient_init(&other, &fx->sim, fx->token);
                bx_handshake(&other);
                doc = admin_call(&fx->sim, "GET", "/admin/clients", 200);
                list = cJSON_GetObjectItemCaseSensitive(doc, "clients");
                assert_int_equal(cJSON_GetArraySize(list), 2);
                assert_string_equal(json_str(cJSON_GetArrayItem(list, 0), "clientId"), fx->tc.client_id);
                assert_string_equal(json_str(cJSON_GetArrayItem(list, 1), "clientId"), other.client_id);
                cJSON_Delete(doc);
        }
}

/*
 * The client-cap scenario of the HA tests: a replica dies mid-poll with
 * --max-clients 1; its poll ends when the connection closes, its slot only
 * when it expires (--client-expiry-ms), and it stays listed as expired.
 */
static void test_dead_client_expires(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--max-clients", "1", "--client-expiry-ms", "1500", "--connect-timeout-ms",
                               "20000", NULL };
        static struct tclient b;
        static struct async as;
        cJSON *arr, *entry;
        double t0;
        int ok = 0;

        fx_restart(fx, args);
        ready(&fx->tc, &fx->sim, fx->token, CH);
        async_connect(&as, &fx->tc, 500);
        async_join(&as);
        hres_free(&as.res);
        t0 = now_s();
        assert_true(wait_now(&fx->sim, CH, 0, 2000) >= 0);

        tclient_init(&b, &fx->sim, fx->token);
        while (!ok && now_s() - t0 < 10.0) {
                char body[256];

                snprintf(body, sizeof(body),
                         "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\","
                         "\"supportedConnectionTypes\":[\"long-polling\"],\"id\":\"%s\"}]",
                         next_id(&b));
                arr = bx_send(&b, body);
                ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful"));
                if (!ok)
                        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"),
                                            "403::Organization concurrent user limit exceeded");
                cJSON_Delete(arr);
                if (!ok)
                        sleep_ms(100);
        }
        assert_int_equal(ok, 1);
        /* Not before the expiry: 1.5 s after its last response, less the 0.5 s poll. */
        assert_true(now_s() - t0 >= 0.8);
        entry = client_entry(&fx->sim, fx->tc.client_id);
        assert_non_null(entry);
        assert_string_equal(json_str(entry, "state"), "expired");
        assert_rfc3339_ms(json_str(entry, "ended"));
        cJSON_Delete(entry);
}

/* Two emulators (two orgs) side by side count their own pollers. */
static void test_two_orgs(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--connect-timeout-ms", "20000", NULL };
        const char *args2[] = { "--connect-timeout-ms", "20000", "--org-id", "00D000000000002AAA", NULL };
        static struct tclient a, b;       /* static: see ASYNC_NOTE */
        static struct async as_a, as_b;
        char token2[256];

        fx_restart(fx, args);
        assert_int_equal(sim_start(&fx->sim2, args2), 0);
        assert_string_not_equal(fx->sim.url, fx->sim2.url);
        login(&fx->sim2, token2, sizeof(token2));
        ready(&a, &fx->sim, fx->token, CH);
        ready(&b, &fx->sim2, token2, CH);
        async_connect(&as_a, &a, 0);
        async_connect(&as_b, &b, 0);
        assert_int_equal((int)poll_stat(&fx->sim, CH, "max_concurrent_pollers"), 1);
        assert_int_equal((int)poll_stat(&fx->sim2, CH, "max_concurrent_pollers"), 1);
        assert_null(client_entry(&fx->sim, b.client_id));
        disconnect(&a);
        disconnect(&b);
        async_join(&as_a);
        async_join(&as_b);
        hres_free(&as_a.res);
        hres_free(&as_b.res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_two_pollers_overlap, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_subscribe_while_polling, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_disconnect_ends_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_closed_connection_ends_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_connect_timeout_ends_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_forgotten_client_ends_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_reset_pollers, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_clients_list, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_dead_client_expires, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_two_orgs, fx_setup, fx_teardown),
        };

        return RUN("sfsim pollers and clients", tests);
}
