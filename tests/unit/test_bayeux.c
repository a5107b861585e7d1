/*
 * bayeux.c: parsing Salesforce's verbatim replies (reference §3, §4) and
 * building exactly the request bodies of reference §3, including the
 * 32,768-byte subscribe packing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bayeux.h"

static char err[256];

/* Reference §3.1, verbatim Salesforce sample. */
static const char HANDSHAKE_REPLY[] =
        "{\n"
        "  \"ext\":{\"replay\":true,\"payload.format\":true},\n"
        "  \"minimumVersion\":\"1.0\",\n"
        "  \"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\",\n"
        "  \"supportedConnectionTypes\":[\"long-polling\"],\n"
        "  \"channel\":\"/meta/handshake\",\n"
        "  \"id\":\"1\",\"version\":\"1.0\",\"successful\":true,\"reestablish\":false}";

/* Reference §5.1 PushTopic event + §3.3 connect reply, as one connect response. */
static const char CONNECT_BATCH[] =
        "[{\n"
        "  \"clientId\": \"lxdl9o32njygi1gj47kgfaga4k\",\n"
        "  \"data\": {\n"
        "    \"event\": {\"createdDate\": \"2016-09-16T19:45:27.454Z\", \"replayId\": 1, \"type\": \"created\"},\n"
        "    \"sobject\": {\"Phone\": \"(415) 555-1212\", \"Id\": \"001D000000KneakIAB\", \"Name\": \"Blackbeard\"}\n"
        "  },\n"
        "  \"channel\": \"/topic/AccountUpdates\"\n"
        "},\n"
        "{\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\",\"advice\":{\"interval\":2000,\"multiple-clients\":true,"
        "\"reconnect\":\"retry\",\"timeout\":110000},\"channel\":\"/meta/connect\",\"id\":\"2\",\"successful\":true}]";

/* Reference §4.1 (a): auth invalidated on /meta/connect; note the numeric id. */
static const char AUTH_INVALID_CONNECT[] =
        "{\n"
        "  \"clientId\": \"1q1ib66fvm7kli1gfoauu95i78g\",\n"
        "  \"advice\": {\"reconnect\": \"none\", \"interval\": 0},\n"
        "  \"channel\": \"/meta/connect\",\n"
        "  \"id\": 7,\n"
        "  \"error\": \"401::Authentication invalid\",\n"
        "  \"successful\": false\n"
        "}";

/* Reference §4.1 (b). */
static const char HANDSHAKE_DENIED[] =
        "{\n"
        "  \"ext\": {\"sfdc\": {\"failureReason\": \"401::Authentication invalid\"}, \"replay\": true, \"payload.format\": true},\n"
        "  \"advice\": {\"reconnect\": \"none\"},\n"
        "  \"channel\": \"/meta/handshake\",\n"
        "  \"id\": \"2x\",\n"
        "  \"error\": \"403::Handshake denied\",\n"
        "  \"successful\": false\n"
        "}";

/* Reference §4.1 (c), first form: no channel at all. */
static const char UNKNOWN_CLIENT_NO_CHANNEL[] =
        "{\"error\":\"403::Unknown client\",\"successful\":false,\"advice\":{\"interval\":0,\"reconnect\":\"handshake\"}}";

/* Reference §3.2 verbatim success. */
static const char SUBSCRIBE_OK[] =
        "{\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\",\"channel\":\"/meta/subscribe\",\"id\":\"15\","
        "\"subscription\":\"/topic/InvoiceStatementUpdates\",\"successful\":true}";

static void parse_ok(struct bayeux_response *resp, const char *body)
{
        err[0] = '\0';
        assert_int_equal(bayeux_response_parse(resp, body, strlen(body), err, sizeof(err)), 0);
}

static void parse_fail(const char *body, const char *expect)
{
        struct bayeux_response resp = { 0 };

        err[0] = '\0';
        assert_int_equal(bayeux_response_parse(&resp, body, strlen(body), err, sizeof(err)), -1);
        if (!strstr(err, expect))
                fail_msg("error \"%s\" does not contain \"%s\"", err, expect);
        assert_null(resp.root);
        assert_int_equal(resp.nmsgs, 0);
        bayeux_response_free(&resp);
}

static void test_parse_handshake_object(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *msg;

        (void)state;
        parse_ok(&resp, HANDSHAKE_REPLY);
        assert_int_equal(resp.nmsgs, 1);
        msg = &resp.msgs[0];
        assert_int_equal(msg->kind, BAYEUX_HANDSHAKE);
        assert_string_equal(msg->channel, "/meta/handshake");
        assert_int_equal(msg->successful, 1);
        assert_string_equal(msg->client_id, "41kdiuvgig2tfxdh9weakuiwyh");
        assert_int_equal(msg->replay_ext, 1);
        assert_int_equal(msg->id, 1);
        assert_null(msg->error);
        assert_null(msg->failure_reason);
        assert_int_equal(msg->advice.reconnect, BAYEUX_RECONNECT_UNSET);
        assert_int_equal(msg->advice.interval_ms, -1);
        assert_int_equal(msg->advice.timeout_ms, -1);
        assert_ptr_equal(msg->json, resp.root);
        bayeux_response_free(&resp);
}

static void test_parse_connect_batch(void **state)
{
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, CONNECT_BATCH);
        assert_int_equal(resp.nmsgs, 2);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_EVENT);
        assert_string_equal(resp.msgs[0].channel, "/topic/AccountUpdates");
        assert_int_equal(resp.msgs[0].successful, -1);
        assert_int_equal(resp.msgs[0].id, -1);
        assert_int_equal(resp.msgs[1].kind, BAYEUX_CONNECT);
        assert_int_equal(resp.msgs[1].successful, 1);
        assert_int_equal(resp.msgs[1].id, 2);
        assert_int_equal(resp.msgs[1].advice.reconnect, BAYEUX_RECONNECT_RETRY);
        assert_int_equal(resp.msgs[1].advice.interval_ms, 2000);
        assert_int_equal(resp.msgs[1].advice.timeout_ms, 110000);
        bayeux_response_free(&resp);
}

static void test_parse_errors_and_failure_reason(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *msg;

        (void)state;
        parse_ok(&resp, AUTH_INVALID_CONNECT);
        msg = &resp.msgs[0];
        assert_int_equal(msg->kind, BAYEUX_CONNECT);
        assert_int_equal(msg->successful, 0);
        assert_int_equal(msg->id, 7);
        assert_string_equal(msg->error, "401::Authentication invalid");
        assert_null(msg->failure_reason);
        assert_int_equal(msg->advice.reconnect, BAYEUX_RECONNECT_NONE);
        assert_int_equal(msg->advice.interval_ms, 0);
        assert_int_equal(msg->advice.timeout_ms, -1);

        /* Parsing again into the same response replaces what it held. */
        parse_ok(&resp, HANDSHAKE_DENIED);
        assert_int_equal(resp.nmsgs, 1);
        msg = &resp.msgs[0];
        assert_int_equal(msg->kind, BAYEUX_HANDSHAKE);
        assert_int_equal(msg->successful, 0);
        assert_int_equal(msg->id, -1);  /* "2x" */
        assert_string_equal(msg->error, "403::Handshake denied");
        assert_string_equal(msg->failure_reason, "401::Authentication invalid");
        assert_int_equal(msg->replay_ext, 1);
        assert_int_equal(msg->advice.reconnect, BAYEUX_RECONNECT_NONE);

        parse_ok(&resp, SUBSCRIBE_OK);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_SUBSCRIBE);
        assert_string_equal(resp.msgs[0].subscription, "/topic/InvoiceStatementUpdates");
        assert_int_equal(resp.msgs[0].id, 15);
        bayeux_response_free(&resp);
}

static void test_parse_reply_without_channel(void **state)
{
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, UNKNOWN_CLIENT_NO_CHANNEL);
        assert_int_equal(resp.nmsgs, 1);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_OTHER_META);
        assert_string_equal(resp.msgs[0].channel, "");
        assert_string_equal(resp.msgs[0].error, "403::Unknown client");
        assert_int_equal(resp.msgs[0].advice.reconnect, BAYEUX_RECONNECT_HANDSHAKE);
        bayeux_response_free(&resp);
}

static void test_parse_classifies_meta_channels(void **state)
{
        static const char body[] =
                "[{\"channel\":\"/meta/unsubscribe\",\"successful\":true},"
                "{\"channel\":\"/meta/disconnect\",\"successful\":true},"
                "{\"channel\":\"/meta/whatever\",\"successful\":true},"
                "{\"channel\":\"/meta\",\"data\":{}},"
                "{\"channel\":\"/event/Low_Ink__e\",\"data\":{}},"
                "{\"channel\":\"/meta/connectX\",\"successful\":false}]";
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, body);
        assert_int_equal(resp.nmsgs, 6);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_UNSUBSCRIBE);
        assert_int_equal(resp.msgs[1].kind, BAYEUX_DISCONNECT);
        assert_int_equal(resp.msgs[2].kind, BAYEUX_OTHER_META);
        assert_int_equal(resp.msgs[3].kind, BAYEUX_EVENT);
        assert_int_equal(resp.msgs[4].kind, BAYEUX_EVENT);
        assert_int_equal(resp.msgs[5].kind, BAYEUX_OTHER_META);
        bayeux_response_free(&resp);
}

static void test_parse_advice_bounds(void **state)
{
        static const char body[] =
                "[{\"channel\":\"/meta/connect\",\"successful\":false,"
                "\"advice\":{\"reconnect\":\"sideways\",\"interval\":-5,\"timeout\":1e300}},"
                "{\"channel\":\"/meta/connect\",\"successful\":\"true\","
                "\"advice\":{\"reconnect\":7,\"interval\":\"10\",\"timeout\":12.9}},"
                "{\"channel\":\"/meta/connect\",\"advice\":\"none\",\"id\":\"99999999999999999999\"}]";
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, body);
        assert_int_equal(resp.msgs[0].advice.reconnect, BAYEUX_RECONNECT_UNSET);
        assert_int_equal(resp.msgs[0].advice.interval_ms, -1);
        assert_int_equal(resp.msgs[0].advice.timeout_ms, BAYEUX_ADVICE_MAX_MS);
        assert_int_equal(resp.msgs[1].successful, -1);  /* a string is not a boolean */
        assert_int_equal(resp.msgs[1].advice.reconnect, BAYEUX_RECONNECT_UNSET);
        assert_int_equal(resp.msgs[1].advice.interval_ms, -1);
        assert_int_equal(resp.msgs[1].advice.timeout_ms, 12);
        assert_int_equal(resp.msgs[2].advice.interval_ms, -1);
        assert_int_equal(resp.msgs[2].id, -1);  /* too large for an id */
        bayeux_response_free(&resp);
}

static void test_parse_rejects_bad_bodies(void **state)
{
        (void)state;
        parse_fail("", "empty");
        parse_fail("[{\"channel\":}]", "not JSON: syntax error at byte offset 12");
        parse_fail("[{\"a\":1},", "byte offset 8");
        parse_fail("[1,2]  ]", "unexpected data after the value at byte offset 7");
        parse_fail("\"just a string\"", "neither a JSON array nor an object");
        parse_fail("42", "neither a JSON array nor an object");
        parse_fail("[{\"channel\":\"/meta/connect\",\"successful\":true}, 3]", "response element 1 is not a JSON object");
        parse_fail("[{\"clientId\":\"x\"}]", "response element 0 has no channel");
        parse_fail("[{\"channel\":5,\"successful\":true}]", "response element 0 has a channel that is not a string");
}

static void test_parse_respects_length(void **state)
{
        /* The body is not NUL-terminated where len ends: the rest is not read. */
        static const char body[] = "[{\"channel\":\"/meta/connect\",\"successful\":true}]GARBAGE";
        struct bayeux_response resp = { 0 };
        size_t len = strlen(body) - strlen("GARBAGE");
        char *copy = malloc(len);

        (void)state;
        assert_non_null(copy);
        memcpy(copy, body, len);  /* exactly len bytes: ASan sees any overread */
        assert_int_equal(bayeux_response_parse(&resp, copy, len, err, sizeof(err)), 0);
        assert_int_equal(resp.nmsgs, 1);
        assert_int_equal(resp.msgs[0].successful, 1);
        free(copy);
        bayeux_response_free(&resp);
}

static void test_parse_empty_array(void **state)
{
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, " [ ] ");
        assert_int_equal(resp.nmsgs, 0);
        bayeux_response_free(&resp);
}

/* Once warm, the msgs array is reused: same pointer, same capacity. */
static void test_parse_reuses_msgs(void **state)
{
        struct bayeux_response resp = { 0 };
        struct bayeux_msg *warm;
        struct buf body;
        size_t cap;
        int i;

        (void)state;
        buf_init(&body, 1 << 20);
        assert_int_equal(buf_append(&body, "[", 1), 0);
        for (i = 0; i < 100; i++)
                assert_int_equal(buf_printf(&body, "%s{\"channel\":\"/u/n\",\"data\":{\"event\":{\"replayId\":%d},"
                                            "\"payload\":\"p\"}}", i ? "," : "", i), 0);
        assert_int_equal(buf_append(&body, "]", 1), 0);

        assert_int_equal(bayeux_response_parse(&resp, body.data, body.len, err, sizeof(err)), 0);
        assert_int_equal(resp.nmsgs, 100);
        warm = resp.msgs;
        cap = resp.cap;
        assert_true(cap >= 100);
        for (i = 0; i < 5; i++) {
                parse_ok(&resp, CONNECT_BATCH);
                assert_int_equal(resp.nmsgs, 2);
                assert_ptr_equal(resp.msgs, warm);
                assert_int_equal(resp.cap, cap);
                assert_int_equal(bayeux_response_parse(&resp, body.data, body.len, err, sizeof(err)), 0);
                assert_ptr_equal(resp.msgs, warm);
                assert_int_equal(resp.cap, cap);
        }
        /* A failed parse keeps the capacity too. */
        assert_int_equal(bayeux_response_parse(&resp, "[", 1, err, sizeof(err)), -1);
        assert_ptr_equal(resp.msgs, warm);
        assert_int_equal(resp.nmsgs, 0);
        assert_null(resp.root);
        bayeux_response_free(&resp);
        assert_null(resp.msgs);
        /* ...and it can be parsed into again after free. */
        parse_ok(&resp, CONNECT_BATCH);
        bayeux_response_free(&resp);
        buf_free(&body);
}

/* ---------------------------------------------------------------- builders */

static void test_build_handshake_exact(void **state)
{
        struct buf out;
        unsigned long id = 0;

        (void)state;
        buf_init(&out, BAYEUX_MAX_BODY);
        assert_int_equal(bayeux_build_handshake(&out, &id), 0);
        assert_string_equal(out.data,
                "[{\"channel\":\"/meta/handshake\",\"supportedConnectionTypes\":[\"long-polling\"],"
                "\"version\":\"1.0\",\"minimumVersion\":\"1.0\",\"id\":\"1\",\"ext\":{\"replay\":true}}]");
        assert_int_equal(out.len, strlen(out.data));
        assert_int_equal(id, 1);
        buf_free(&out);
}

static void test_build_connect_disconnect_unsubscribe_exact(void **state)
{
        struct buf out;
        unsigned long id = 2;

        (void)state;
        buf_init(&out, BAYEUX_MAX_BODY);
        assert_int_equal(bayeux_build_connect(&out, "41kdiuvgig2tfxdh9weakuiwyh", &id), 0);
        assert_string_equal(out.data,
                "[{\"channel\":\"/meta/connect\",\"connectionType\":\"long-polling\","
                "\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\",\"id\":\"3\"}]");
        assert_int_equal(bayeux_build_connect(&out, "41kdiuvgig2tfxdh9weakuiwyh", &id), 0);
        assert_non_null(strstr(out.data, "\"id\":\"4\""));
        assert_int_equal(bayeux_build_unsubscribe(&out, "c1", "/topic/Foo", &id), 0);
        assert_string_equal(out.data,
                "[{\"channel\":\"/meta/unsubscribe\",\"subscription\":\"/topic/Foo\","
                "\"clientId\":\"c1\",\"id\":\"5\"}]");
        assert_int_equal(bayeux_build_disconnect(&out, "c1", &id), 0);
        assert_string_equal(out.data, "[{\"channel\":\"/meta/disconnect\",\"clientId\":\"c1\",\"id\":\"6\"}]");
        assert_int_equal(id, 6);
        buf_free(&out);
}

static void test_build_respects_ceiling(void **state)
{
        struct buf out;
        unsigned long id = 0;

        (void)state;
        buf_init(&out, 40);
        assert_int_equal(bayeux_build_handshake(&out, &id), -1);
        assert_int_equal(id, 0);
        assert_int_equal(out.len, 0);
        assert_int_equal(bayeux_build_connect(&out, "41kdiuvgig2tfxdh9weakuiwyh", &id), -1);
        assert_int_equal(id, 0);
        assert_int_equal(out.len, 0);
        buf_free(&out);
}

static void test_build_subscribe_exact(void **state)
{
        struct bayeux_sub subs[2] = {
                { "/topic/InvoiceStatementUpdates", -1 },
                { "/topic/TestAccount?Type=Technology Partner&Phone=(415) 555-1212", 1553783 },
        };
        struct buf out;
        unsigned long id = 1;

        (void)state;
        buf_init(&out, BAYEUX_MAX_BODY);
        assert_int_equal(bayeux_build_subscribes(&out, "41kdiuvgig2tfxdh9weakuiwyh", subs, 2,
                                                 BAYEUX_MAX_BODY, &id), 2);
        assert_string_equal(out.data,
                "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\","
                "\"subscription\":\"/topic/InvoiceStatementUpdates\",\"id\":\"2\","
                "\"ext\":{\"replay\":{\"/topic/InvoiceStatementUpdates\":-1}}},"
                "{\"channel\":\"/meta/subscribe\",\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\","
                "\"subscription\":\"/topic/TestAccount?Type=Technology Partner&Phone=(415) 555-1212\","
                "\"id\":\"3\",\"ext\":{\"replay\":{\"/topic/TestAccount\":1553783}}}]");
        assert_int_equal(id, 3);
        subs[0].replay_id = -2;
        assert_int_equal(bayeux_build_subscribes(&out, "c", subs, 1, BAYEUX_MAX_BODY, &id), 1);
        assert_non_null(strstr(out.data, "{\"/topic/InvoiceStatementUpdates\":-2}"));
        assert_non_null(strstr(out.data, "\"id\":\"4\""));
        assert_int_equal(bayeux_build_subscribes(&out, "c", subs, 0, BAYEUX_MAX_BODY, &id), 0);
        assert_string_equal(out.data, "[]");
        assert_int_equal(id, 4);
        buf_free(&out);
}

/* Channel strings with quotes, backslashes and control characters come back
 * intact through a real JSON parser. */
static void test_build_escapes_strings(void **state)
{
        static const char chan[] = "/u/we\"ird\\ch\tan\x01nel/\xc3\xa9?x=\"1\"";
        struct bayeux_sub sub = { chan, 42 };
        struct buf out;
        unsigned long id = 0;
        cJSON *root, *msg, *replay;

        (void)state;
        buf_init(&out, BAYEUX_MAX_BODY);
        assert_int_equal(bayeux_build_subscribes(&out, "id\"\n", &sub, 1, BAYEUX_MAX_BODY, &id), 1);
        root = cJSON_Parse(out.data);
        assert_non_null(root);
        msg = cJSON_GetArrayItem(root, 0);
        assert_string_equal(cJSON_GetObjectItem(msg, "subscription")->valuestring, chan);
        assert_string_equal(cJSON_GetObjectItem(msg, "clientId")->valuestring, "id\"\n");
        replay = cJSON_GetObjectItem(cJSON_GetObjectItem(msg, "ext"), "replay");
        assert_non_null(cJSON_GetObjectItem(replay, "/u/we\"ird\\ch\tan\x01nel/\xc3\xa9"));
        assert_int_equal(cJSON_GetObjectItem(replay, "/u/we\"ird\\ch\tan\x01nel/\xc3\xa9")->valueint, 42);
        cJSON_Delete(root);

        assert_int_equal(bayeux_build_connect(&out, "a\\b\"c\x1f", &id), 0);
        assert_non_null(strstr(out.data, "\"clientId\":\"a\\\\b\\\"c\\u001f\""));
        buf_free(&out);
}

/* Many routes: every body stays under 32,768 bytes, holds as many
 * subscribes as fit, and together they cover every route once, in order. */
static void test_build_subscribes_packs_under_limit(void **state)
{
        enum { N = 1500 };
        static char names[N][80];
        static struct bayeux_sub subs[N];
        struct buf out, one;
        unsigned long id = 10, single_id = 0;
        size_t done = 0, bodies = 0;
        int i;

        (void)state;
        for (i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "/data/Custom_Object_%04d__ChangeEvent%s", i,
                         i % 3 ? "" : "?Filter=On");
                subs[i].channel = names[i];
                subs[i].replay_id = i % 2 ? 1000000 + i : -2;
        }
        buf_init(&out, 1 << 20);
        buf_init(&one, 1 << 20);
        while (done < N) {
                unsigned long before = id;
                cJSON *root;
                int n, j;

                n = bayeux_build_subscribes(&out, "41kdiuvgig2tfxdh9weakuiwyh", subs + done, N - done,
                                            BAYEUX_MAX_BODY, &id);
                assert_true(n >= 1);
                assert_true(out.len <= BAYEUX_MAX_BODY);
                assert_int_equal(id, before + (unsigned long)n);
                root = cJSON_ParseWithLength(out.data, out.len);
                assert_non_null(root);
                assert_int_equal(cJSON_GetArraySize(root), n);
                for (j = 0; j < n; j++) {
                        cJSON *msg = cJSON_GetArrayItem(root, j);
                        char idtext[32];

                        assert_string_equal(cJSON_GetObjectItem(msg, "subscription")->valuestring,
                                            names[done + (size_t)j]);
                        snprintf(idtext, sizeof(idtext), "%lu", before + (unsigned long)j + 1);
                        assert_string_equal(cJSON_GetObjectItem(msg, "id")->valuestring, idtext);
                }
                cJSON_Delete(root);
                /* Maximal: the next subscribe would not have fitted. */
                if (done + (size_t)n < N) {
                        single_id = id;  /* same id, same length */
                        assert_int_equal(bayeux_build_subscribes(&one, "41kdiuvgig2tfxdh9weakuiwyh",
                                                                 subs + done + n, 1, BAYEUX_MAX_BODY,
                                                                 &single_id), 1);
                        /* one = "[" msg "]"; appending it means "," msg before "]" */
                        assert_true(out.len + 1 + (one.len - 2) > BAYEUX_MAX_BODY);
                }
                done += (size_t)n;
                bodies++;
        }
        assert_true(bodies > 1);
        assert_int_equal(id, 10 + N);
        buf_free(&one);
        buf_free(&out);
}

static void test_build_subscribe_too_big(void **state)
{
        struct bayeux_sub sub;
        struct buf out;
        unsigned long id = 5;
        char *big;
        size_t exact;

        (void)state;
        big = malloc(BAYEUX_MAX_BODY + 100);
        assert_non_null(big);
        memset(big, 'x', BAYEUX_MAX_BODY + 99);
        memcpy(big, "/topic/", 7);
        big[BAYEUX_MAX_BODY + 99] = '\0';
        sub.channel = big;
        sub.replay_id = -1;
        buf_init(&out, 1 << 20);
        assert_int_equal(bayeux_build_subscribes(&out, "c", &sub, 1, BAYEUX_MAX_BODY, &id), -1);
        assert_int_equal(out.len, 0);
        assert_int_equal(id, 5);

        /* The limit is inclusive: a body of exactly `limit` bytes is allowed. */
        big[100] = '\0';
        assert_int_equal(bayeux_build_subscribes(&out, "c", &sub, 1, BAYEUX_MAX_BODY, &id), 1);
        exact = out.len;
        id = 5;
        assert_int_equal(bayeux_build_subscribes(&out, "c", &sub, 1, exact, &id), 1);
        assert_int_equal(out.len, exact);
        id = 5;
        assert_int_equal(bayeux_build_subscribes(&out, "c", &sub, 1, exact - 1, &id), -1);
        assert_int_equal(id, 5);
        buf_free(&out);

        /* out's own ceiling counts as a limit too. */
        buf_init(&out, exact - 1);
        assert_int_equal(bayeux_build_subscribes(&out, "c", &sub, 1, BAYEUX_MAX_BODY, &id), -1);
        buf_free(&out);
        free(big);
}

static void test_base_channel(void **state)
{
        char out[16];

        (void)state;
        assert_string_equal(bayeux_base_channel("/topic/A?x=1", out, sizeof(out)), "/topic/A");
        assert_string_equal(bayeux_base_channel("/event/E__e", out, sizeof(out)), "/event/E__e");
        assert_null(bayeux_base_channel("/event/Very_Long_Name__e", out, sizeof(out)));
        assert_string_equal(bayeux_base_channel("/event/Long_Nam?filter=aaaaaaaaa", out, sizeof(out)),
                            "/event/Long_Nam");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_handshake_object),
                cmocka_unit_test(test_parse_connect_batch),
                cmocka_unit_test(test_parse_errors_and_failure_reason),
                cmocka_unit_test(test_parse_reply_without_channel),
                cmocka_unit_test(test_parse_classifies_meta_channels),
                cmocka_unit_test(test_parse_advice_bounds),
                cmocka_unit_test(test_parse_rejects_bad_bodies),
                cmocka_unit_test(test_parse_respects_length),
                cmocka_unit_test(test_parse_empty_array),
                cmocka_unit_test(test_parse_reuses_msgs),
                cmocka_unit_test(test_build_handshake_exact),
                cmocka_unit_test(test_build_connect_disconnect_unsubscribe_exact),
                cmocka_unit_test(test_build_respects_ceiling),
                cmocka_unit_test(test_build_subscribe_exact),
                cmocka_unit_test(test_build_escapes_strings),
                cmocka_unit_test(test_build_subscribes_packs_under_limit),
                cmocka_unit_test(test_build_subscribe_too_big),
                cmocka_unit_test(test_base_channel),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
