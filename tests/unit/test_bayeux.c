/*
 * bayeux.c: parsing Salesforce's verbatim replies (reference §3, §4) and
 * events (§5) in one pass, with values kept as the exact bytes Salesforce
 * sent; building exactly the request bodies of reference §3, including the
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

#include <cjson/cJSON.h>  /* an independent parser, to read back built bodies */

#include "bayeux.h"
#include "sf_messages.h"

static char err[256];

/* Reference §3.1, verbatim Salesforce sample. */
static char *HANDSHAKE_REPLY; /* handshake-reply.json */

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
static char *AUTH_INVALID_CONNECT; /* connect-error-401-auth-invalid.json */

/* Reference §4.1 (b). */
static char *HANDSHAKE_DENIED; /* handshake-error-403-denied-401.json */

/* Reference §4.1 (c), first form: no channel at all. */
static char *UNKNOWN_CLIENT_NO_CHANNEL; /* error-403-unknown-client-bare.json */

/* Reference §3.2 verbatim success. */
static char *SUBSCRIBE_OK; /* subscribe-reply.json */

/* Reference §5.1, verbatim. */
static char *PUSHTOPIC; /* event-pushtopic.json */

/* Reference §5.2 (the inferred full wrapper). */
static const char GENERIC[] =
        "{\"data\":{\"event\":{\"createdDate\":\"2016-09-16T19:45:27.454Z\",\"replayId\":5},"
        "\"payload\":\"hello \\\"you\\\"\"},\"channel\":\"/u/notifications\"}";

/* Reference §5.3, verbatim. */
static char *PLATFORM_EVENT; /* event-platform.json */

/* Reference §5.4, verbatim. */
static char *CDC; /* event-cdc.json */

/* The verbatim messages above, read from tests/data/salesforce/ once. */
static int load_messages(void **state)
{
        (void)state;
        HANDSHAKE_REPLY = sf_message("handshake-reply.json", NULL);
        AUTH_INVALID_CONNECT = sf_message("connect-error-401-auth-invalid.json", NULL);
        HANDSHAKE_DENIED = sf_message("handshake-error-403-denied-401.json", NULL);
        UNKNOWN_CLIENT_NO_CHANNEL = sf_message("error-403-unknown-client-bare.json", NULL);
        SUBSCRIBE_OK = sf_message("subscribe-reply.json", NULL);
        PUSHTOPIC = sf_message("event-pushtopic.json", NULL);
        PLATFORM_EVENT = sf_message("event-platform.json", NULL);
        CDC = sf_message("event-cdc.json", NULL);
        return 0;
}

static int free_messages(void **state)
{
        (void)state;
        free(HANDSHAKE_REPLY);
        free(AUTH_INVALID_CONNECT);
        free(HANDSHAKE_DENIED);
        free(UNKNOWN_CLIENT_NO_CHANNEL);
        free(SUBSCRIBE_OK);
        free(PUSHTOPIC);
        free(PLATFORM_EVENT);
        free(CDC);
        return 0;
}

/*
 * Values a double cannot hold, escapes a re-encoder would rewrite, keys out
 * of order: all must reach Kafka as sent.
 */
#define EXACT_PAYLOAD                                                                      \
        "{\"Z__c\":9007199254740993,\"A__c\":123456789012345678,"                          \
        "\"Pi__c\":3.14159265358979323846,\"Huge__c\":1e400,\"Neg__c\":-0.0,"              \
        "\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\"\",\"Utf8__c\":\"caf\xc3\xa9\"," \
        "\"Id\":\"a01\"}"
#define EXACT_EVENT "{\"EventUuid\":\"u-1\",\"replayId\":9223372036854775807}"
#define EXACT_DATA "{\"schema\":\"s1\",\"payload\":" EXACT_PAYLOAD ",\"event\":" EXACT_EVENT "}"
#define EXACT_MESSAGE "{\"channel\":\"/event/Order__e\",\"data\":" EXACT_DATA "}"

static void parse_ok(struct bayeux_response *resp, const char *body)
{
        err[0] = '\0';
        if (bayeux_response_parse(resp, body, strlen(body), err, sizeof(err)) != 0)
                fail_msg("parse failed: %s", err);
        assert_string_equal(err, "");
}

/* A body refused with exactly this message; the response holds nothing. */
static void parse_fail(const char *body, const char *expect)
{
        struct bayeux_response resp = { 0 };

        err[0] = '\0';
        if (bayeux_response_parse(&resp, body, strlen(body), err, sizeof(err)) != -1)
                fail_msg("\"%s\" accepted", body);
        if (strcmp(err, expect) != 0)
                fail_msg("\"%s\": error \"%s\", expected \"%s\"", body, err, expect);
        assert_int_equal(resp.nmsgs, 0);
        bayeux_response_free(&resp);
}

/* Parse a body holding one event; returns it. */
static const struct bayeux_msg *one_event(struct bayeux_response *resp, const char *body)
{
        parse_ok(resp, body);
        assert_int_equal(resp->nmsgs, 1);
        assert_int_equal(resp->msgs[0].kind, BAYEUX_EVENT);
        return &resp->msgs[0];
}

/*
 * A value is exactly @p expect, found at its place in @p body (it points
 * into the body, it is not a copy), with the given whitespace flag.
 */
static void assert_value(const struct bayeux_value *v, const char *body, const char *expect,
                         int blanks)
{
        const char *at = strstr(body, expect);

        assert_non_null(at);
        if (v->len != strlen(expect) || !v->p || memcmp(v->p, expect, v->len) != 0)
                fail_msg("value \"%.*s\" is not \"%s\"", (int)v->len, v->p ? v->p : "", expect);
        assert_ptr_equal(v->p, at);
        if (v->blanks != blanks)
                fail_msg("value \"%s\": blanks %d, expected %d", expect, v->blanks, blanks);
}

static void assert_problem_text(const struct bayeux_msg *msg, const char *expect)
{
        char text[256];

        text[0] = '\0';
        bayeux_event_problem_text(msg, text, sizeof(text));
        assert_string_equal(text, expect);
}

/* ------------------------------------------------------------ meta replies */

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
        assert_null(msg->subscription);
        assert_int_equal(msg->advice.reconnect, BAYEUX_RECONNECT_UNSET);
        assert_int_equal(msg->advice.interval_ms, -1);
        assert_int_equal(msg->advice.timeout_ms, -1);
        /* The whole object is the message, as sent. */
        assert_value(&msg->message, HANDSHAKE_REPLY, HANDSHAKE_REPLY, 1);
        assert_int_equal(msg->data.len, 0);
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
        assert_int_equal(resp.msgs[0].problem, BAYEUX_EVENT_OK);
        assert_true(resp.msgs[0].replay_id == 1);
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
        assert_null(msg->client_id);

        parse_ok(&resp, SUBSCRIBE_OK);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_SUBSCRIBE);
        assert_string_equal(resp.msgs[0].subscription, "/topic/InvoiceStatementUpdates");
        assert_int_equal(resp.msgs[0].id, 15);
        assert_null(resp.msgs[0].error);
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

/* Strings and keys are decoded before they are compared: "\/" is "/". */
static void test_parse_decodes_escaped_strings_and_keys(void **state)
{
        static const char body[] =
                "[{\"chann\\u0065l\":\"\\/meta\\/connect\",\"successful\":true,"
                "\"clientId\":\"a\\u00e9\\\"b\",\"error\":\"403::Unknown \\u0063lient\"}]";
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, body);
        assert_int_equal(resp.nmsgs, 1);
        assert_int_equal(resp.msgs[0].kind, BAYEUX_CONNECT);
        assert_string_equal(resp.msgs[0].channel, "/meta/connect");
        assert_string_equal(resp.msgs[0].client_id, "a\xc3\xa9\"b");
        assert_string_equal(resp.msgs[0].error, "403::Unknown client");
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
        parse_fail("", "response is empty, expected a JSON array");
        parse_fail("\"just a string\"", "response is neither a JSON array nor an object");
        parse_fail("42", "response is neither a JSON array nor an object");
        parse_fail("[1,2]  ]", "response element 0 is not a JSON object");
        parse_fail("[{\"channel\":\"/meta/connect\",\"successful\":true}, 3]",
                   "response element 1 is not a JSON object");
        parse_fail("[{\"clientId\":\"x\"}]", "response element 0 has no channel");
        parse_fail("[{\"channel\":5,\"successful\":true}]",
                   "response element 0 has a channel that is not a string");
        /* Events without a channel cannot be routed: the response is refused. */
        parse_fail("{\"data\":{\"event\":{\"replayId\":1}}}", "response element 0 has no channel");
        parse_fail("{\"channel\":7,\"data\":{\"event\":{\"replayId\":1}}}",
                   "response element 0 has a channel that is not a string");
        parse_fail("[1]", "response element 0 is not a JSON object");
}

/* JSON errors name what is wrong and the byte offset where it is. */
static void test_parse_not_json_offsets(void **state)
{
        static const char deep_prefix[] = "[{\"channel\":\"/a\",\"data\":";
        char deep[256], expect[128];
        size_t n;
        int i;

        (void)state;
        parse_fail("[", "response is not JSON: unterminated array at byte offset 1");
        parse_fail("[{", "response is not JSON: unterminated object at byte offset 2");
        parse_fail("[{\"channel\":}]", "response is not JSON: expected a value at byte offset 12");
        parse_fail("[{\"channel\":\"/a\",\"successful\":true},",
                   "response is not JSON: unexpected end of input at byte offset 36");
        parse_fail("[{\"channel\":\"/a\\q\"}]",
                   "response is not JSON: bad escape in a string at byte offset 15");
        parse_fail("[{\"channel\":\"/a\x01\"}]",
                   "response is not JSON: control character in a string at byte offset 15");
        parse_fail("[{\"channel\":\"/a\"} {\"channel\":\"/b\"}]",
                   "response is not JSON: expected ',' or ']' at byte offset 18");
        parse_fail("[{\"channel\":\"/a\",}]",
                   "response is not JSON: expected a string key at byte offset 17");
        parse_fail("[{\"channel\":\"/a\",\"data\":{\"x\":01}}]",
                   "response is not JSON: expected ',' or '}' at byte offset 30");
        parse_fail("[{\"channel\":\"/a\",\"data\":{\"event\":{\"replayId\":1.}}}]",
                   "response is not JSON: bad number at byte offset 46");
        parse_fail("[{\"channel\":\"/a\",\"data\":{\"payload\":[1,]}}]",
                   "response is not JSON: expected a value at byte offset 38");
        parse_fail("[{\"channel\":\"/a\",\"successful\":tru}]",
                   "response is not JSON: bad literal (expected true, false or null) at byte offset 30");
        /* A missing closing brace, at every level the parser walks. */
        parse_fail("[{\"channel\":\"/u/n\",\"advice\":{\"interval\":1}]",
                   "response is not JSON: expected ',' or '}' at byte offset 42");
        parse_fail("{\"channel\":\"/u/n\",\"data\":{\"event\":{\"replayId\":5}}",
                   "response is not JSON: unterminated object at byte offset 49");
        parse_fail("[{\"channel\":\"/a\",\"data\":{\"event\":{\"replayId\":1}]",
                   "response is not JSON: expected ',' or '}' at byte offset 47");
        parse_fail("[{\"channel\":\"/a\",\"data\":{\"payload\":{\"a\":1}}]",
                   "response is not JSON: expected ',' or '}' at byte offset 43");
        parse_fail("[{\"channel\":\"/meta/connect\" \"successful\":true}]",
                   "response is not JSON: expected ',' or '}' at byte offset 28");
        parse_fail("[]  ]", "response is not JSON: unexpected data after the value at byte offset 4");
        parse_fail("{\"channel\":\"/meta/connect\",\"successful\":true} x",
                   "response is not JSON: unexpected data after the value at byte offset 46");
        parse_fail("[] []", "response is not JSON: unexpected data after the value at byte offset 3");

        /* Too deep is refused where the level past JSON_MAX_DEPTH opens. */
        n = (size_t)snprintf(deep, sizeof(deep), "%s", deep_prefix);
        for (i = 0; i < JSON_MAX_DEPTH; i++)
                deep[n++] = '[';
        deep[n] = '\0';
        snprintf(expect, sizeof(expect),
                 "response is not JSON: nested too deeply at byte offset %zu",
                 strlen(deep_prefix) + JSON_MAX_DEPTH - 2);
        parse_fail(deep, expect);
}

/* Text that starts no value at all still says where. */
static void test_parse_not_json_at_start(void **state)
{
        (void)state;
        parse_fail("x", "response is not JSON: expected a value at byte offset 0");
        parse_fail("  <html>", "response is not JSON: expected a value at byte offset 2");
        parse_fail("   ", "response is not JSON: unexpected end of input at byte offset 3");
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
        /* Cut inside the array: refused, nothing read past len. */
        assert_int_equal(bayeux_response_parse(&resp, copy, len - 1, err, sizeof(err)), -1);
        assert_string_equal(err, "response is not JSON: unterminated array at byte offset 46");
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

/* ------------------------------------------------------------------ events */

static void test_pushtopic(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, PUSHTOPIC);
        assert_string_equal(ev->channel, "/topic/AccountUpdates");
        assert_int_equal(ev->problem, BAYEUX_EVENT_OK);
        assert_true(ev->replay_id == 1);
        assert_string_equal(ev->event_time, "2016-09-16T19:45:27.454Z");
        assert_null(ev->event_uuid);
        assert_string_equal(ev->record_id, "001D000000KneakIAB");
        assert_null(ev->entity);
        assert_null(ev->change_type);
        assert_value(&ev->message, PUSHTOPIC, PUSHTOPIC, 1);
        /* PushTopic has no payload: the sobject is the payload. */
        assert_value(&ev->payload, PUSHTOPIC,
                     "{\"Phone\": \"(415) 555-1212\", \"Id\": \"001D000000KneakIAB\", \"Name\": \"Blackbeard\"}",
                     1);
        assert_value(&ev->data, PUSHTOPIC,
                     "{\n"
                     "    \"event\": {\"createdDate\": \"2016-09-16T19:45:27.454Z\", \"replayId\": 1, \"type\": \"created\"},\n"
                     "    \"sobject\": {\"Phone\": \"(415) 555-1212\", \"Id\": \"001D000000KneakIAB\", \"Name\": \"Blackbeard\"}\n"
                     "  }",
                     1);
        assert_problem_text(ev, "event on /topic/AccountUpdates is fine");
        bayeux_response_free(&resp);
}

/* A generic /u/ payload is a string: its value is the literal, quotes and escapes as sent. */
static void test_generic(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, GENERIC);
        assert_string_equal(ev->channel, "/u/notifications");
        assert_int_equal(ev->problem, BAYEUX_EVENT_OK);
        assert_true(ev->replay_id == 5);
        assert_value(&ev->payload, GENERIC, "\"hello \\\"you\\\"\"", 0);
        assert_string_equal(ev->event_time, "2016-09-16T19:45:27.454Z");
        assert_null(ev->record_id);
        assert_null(ev->event_uuid);
        bayeux_response_free(&resp);
}

static void test_platform_event(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, PLATFORM_EVENT);
        assert_string_equal(ev->channel, "/event/Low_Ink__e");
        assert_true(ev->replay_id == 2112);
        assert_string_equal(ev->event_uuid, "2ec0e371-1395-457f-9275-be1b527a72f7");
        /* No data.event.createdDate on platform events: payload.CreatedDate. */
        assert_string_equal(ev->event_time, "2023-04-09T18:31:40.517Z");
        assert_value(&ev->payload, PLATFORM_EVENT,
                     "{\n"
                     "      \"CreatedDate\": \"2023-04-09T18:31:40.517Z\",\n"
                     "      \"CreatedById\": \"005D0000001cSZs\",\n"
                     "      \"Printer_Model__c\": \"XZO-5\",\n"
                     "      \"Serial_Number__c\": \"12345\",\n"
                     "      \"Ink_Percentage__c\": 0.2\n"
                     "    }",
                     1);
        assert_null(ev->record_id);
        assert_null(ev->entity);
        assert_null(ev->change_type);
        bayeux_response_free(&resp);
}

static void test_cdc(void **state)
{
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, CDC);
        assert_string_equal(ev->channel, "/data/ChangeEvents");
        assert_true(ev->replay_id == 6421);
        assert_string_equal(ev->entity, "Account");
        assert_string_equal(ev->record_id, "<record_ID>");
        assert_string_equal(ev->change_type, "CREATE");
        /* commitTimestamp 1501010206653 wins over payload.CreatedDate. */
        assert_string_equal(ev->event_time, "2017-07-25T19:16:46.653Z");
        /* Rendered into the response's arena, not a static buffer. */
        assert_true(ev->event_time >= resp.arena && ev->event_time < resp.arena + resp.arena_cap);
        assert_null(ev->event_uuid);
        bayeux_response_free(&resp);
}

static void test_change_types(void **state)
{
        static const char *const types[] = { "CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE",
                                             "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE",
                                             "GAP_OVERFLOW" };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                char text[256];

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/data/ChangeEvents\",\"data\":{\"payload\":{"
                         "\"ChangeEventHeader\":{\"entityName\":\"Lead\",\"changeType\":\"%s\"}},"
                         "\"event\":{\"replayId\":3}}}", types[i]);
                assert_string_equal(one_event(&resp, text)->change_type, types[i]);
                assert_string_equal(resp.msgs[0].entity, "Lead");
        }
        bayeux_response_free(&resp);
}

static void test_cdc_commit_timestamp_rendering(void **state)
{
        static const struct {
                const char *ts;
                const char *text;
        } cases[] = {
                { "1795425523123", "2026-11-23T09:18:43.123Z" },
                { "0", "1970-01-01T00:00:00.000Z" },
                { "1501010206005", "2017-07-25T19:16:46.005Z" },
                { "253402300799999", "9999-12-31T23:59:59.999Z" },
                { "\"2020-01-01T00:00:00Z\"", "2020-01-01T00:00:00Z" },  /* already text */
                { "253402300800000", NULL },  /* year 10000 */
                { "9223372036854775807", NULL },
                { "-5", NULL },
                { "1e300", NULL },
                { "true", NULL },
                { "\"\"", NULL },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev;
                char text[512];

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/data/AccountChangeEvent\",\"data\":{\"payload\":{"
                         "\"ChangeEventHeader\":{\"entityName\":\"Account\",\"commitTimestamp\":%s}},"
                         "\"event\":{\"replayId\":1}}}", cases[i].ts);
                ev = one_event(&resp, text);
                if (cases[i].text && (!ev->event_time || strcmp(ev->event_time, cases[i].text)))
                        fail_msg("commitTimestamp %s: \"%s\", expected \"%s\"", cases[i].ts,
                                 ev->event_time ? ev->event_time : "(null)", cases[i].text);
                if (!cases[i].text && ev->event_time)
                        fail_msg("commitTimestamp %s: \"%s\", expected none", cases[i].ts,
                                 ev->event_time);
        }
        bayeux_response_free(&resp);
}

/* createdDate, else commitTimestamp, else payload.CreatedDate, whatever the member order. */
static void test_event_time_precedence(void **state)
{
        static const struct {
                const char *data;
                const char *time;
        } cases[] = {
                { "{\"payload\":{\"CreatedDate\":\"C\",\"ChangeEventHeader\":{\"commitTimestamp\":0}},"
                  "\"event\":{\"replayId\":1,\"createdDate\":\"E\"}}", "E" },
                { "{\"event\":{\"createdDate\":\"E\",\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"commitTimestamp\":0},\"CreatedDate\":\"C\"}}", "E" },
                { "{\"payload\":{\"CreatedDate\":\"C\",\"ChangeEventHeader\":{\"commitTimestamp\":0}},"
                  "\"event\":{\"replayId\":1}}", "1970-01-01T00:00:00.000Z" },
                { "{\"payload\":{\"ChangeEventHeader\":{\"commitTimestamp\":\"T\"},\"CreatedDate\":\"C\"},"
                  "\"event\":{\"replayId\":1}}", "T" },
                { "{\"payload\":{\"CreatedDate\":\"C\"},\"event\":{\"replayId\":1}}", "C" },
                /* An empty createdDate is no time. */
                { "{\"payload\":{\"CreatedDate\":\"C\"},\"event\":{\"replayId\":1,\"createdDate\":\"\"}}", "C" },
                /* CreatedDate of a PushTopic sobject is not the event time. */
                { "{\"sobject\":{\"CreatedDate\":\"S\"},\"event\":{\"replayId\":1}}", NULL },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev;
                char text[512];

                snprintf(text, sizeof(text), "{\"channel\":\"/data/X\",\"data\":%s}", cases[i].data);
                ev = one_event(&resp, text);
                if (cases[i].time ? !ev->event_time || strcmp(ev->event_time, cases[i].time)
                                  : ev->event_time != NULL)
                        fail_msg("case %zu: event time \"%s\", expected \"%s\"", i,
                                 ev->event_time ? ev->event_time : "(null)",
                                 cases[i].time ? cases[i].time : "(null)");
        }
        bayeux_response_free(&resp);
}

/* Record ID falls back from recordIds[0] to sobject.Id to payload.Id. */
static void test_record_id_fallbacks(void **state)
{
        static const struct {
                const char *json;
                const char *record_id;
        } cases[] = {
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[\"a1\",\"a2\"]},\"Id\":\"p1\"}}}", "a1" },
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"Id\":\"p1\",\"ChangeEventHeader\":{\"recordIds\":[\"a1\"]}}}}", "a1" },
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[]},\"Id\":\"p1\"}}}", "p1" },
                { "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"Id\":\"p2\"}}}", "p2" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayId\":1},\"sobject\":{"
                  "\"Name\":\"x\"}}}", NULL },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayId\":1},\"sobject\":{"
                  "\"Id\":\"s1\"}}}", "s1" },
                /* sobject.Id comes before payload.Id, in either order. */
                { "{\"channel\":\"/x/T\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"Id\":\"p3\"},\"sobject\":{\"Id\":\"s3\"}}}", "s3" },
                { "{\"channel\":\"/x/T\",\"data\":{\"event\":{\"replayId\":1},\"sobject\":{"
                  "\"Id\":\"s4\"},\"payload\":{\"Id\":\"p4\"}}}", "s4" },
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[7]}}}}", NULL },
                /* recordIds[0] is what counts: a later element is not the record ID. */
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[7,\"a2\"]},\"Id\":\"p5\"}}}", "p5" },
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[\"\",\"a2\"]},\"Id\":\"p6\"}}}", "p6" },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev = one_event(&resp, cases[i].json);

                if (cases[i].record_id ? !ev->record_id || strcmp(ev->record_id, cases[i].record_id)
                                       : ev->record_id != NULL)
                        fail_msg("%s: record ID \"%s\", expected \"%s\"", cases[i].json,
                                 ev->record_id ? ev->record_id : "(null)",
                                 cases[i].record_id ? cases[i].record_id : "(null)");
        }
        bayeux_response_free(&resp);
}

/* Optional fields of the wrong type are ignored, not fatal. */
static void test_wrong_typed_optional_fields(void **state)
{
        static const char text[] =
                "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":3,\"EventUuid\":5,"
                "\"createdDate\":[]},\"payload\":{\"ChangeEventHeader\":{\"entityName\":1,"
                "\"recordIds\":\"a\",\"changeType\":null,\"commitTimestamp\":{}},\"CreatedDate\":2}}}";
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, text);
        assert_int_equal(ev->problem, BAYEUX_EVENT_OK);
        assert_true(ev->replay_id == 3);
        assert_null(ev->event_uuid);
        assert_null(ev->event_time);
        assert_null(ev->entity);
        assert_null(ev->record_id);
        assert_null(ev->change_type);
        assert_true(ev->payload.len > 0);
        bayeux_response_free(&resp);
}

/* A payload that is neither an object nor a string is no payload: the sobject is. */
static void test_payload_choice(void **state)
{
        static const char both[] =
                "{\"channel\":\"/x/T\",\"data\":{\"sobject\":{\"s\":1},\"payload\":{\"p\":1},"
                "\"event\":{\"replayId\":1}}}";
        static const char number[] =
                "{\"channel\":\"/x/T\",\"data\":{\"payload\":5,\"sobject\":{\"s\":1},"
                "\"event\":{\"replayId\":1}}}";
        static const char neither[] =
                "{\"channel\":\"/x/T\",\"data\":{\"payload\":null,\"event\":{\"replayId\":1}}}";
        struct bayeux_response resp = { 0 };

        (void)state;
        assert_value(&one_event(&resp, both)->payload, both, "{\"p\":1}", 0);
        assert_value(&one_event(&resp, number)->payload, number, "{\"s\":1}", 0);
        assert_int_equal(one_event(&resp, neither)->payload.len, 0);
        assert_int_equal(resp.msgs[0].problem, BAYEUX_EVENT_OK);
        bayeux_response_free(&resp);
}

/* ------------------------------------------------------------- replay IDs */

static void test_replay_id_exact(void **state)
{
        static const struct {
                const char *replay;
                long long value;
        } cases[] = {
                { "0", 0 },
                { "6421", 6421 },
                { "9007199254740991", 9007199254740991LL },
                { "9007199254740993", 9007199254740993LL },  /* 2^53 + 1: no double holds it */
                { "9223372036854775806", 9223372036854775806LL },
                { "9223372036854775807", INT64_MAX },
                { "\"12345\"", 12345 },
                { "\"9007199254740993\"", 9007199254740993LL },
                { "\"9223372036854775807\"", INT64_MAX },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev;
                char text[256];

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":%s},\"payload\":{}}}",
                         cases[i].replay);
                ev = one_event(&resp, text);
                if (ev->problem != BAYEUX_EVENT_OK || ev->replay_id != cases[i].value)
                        fail_msg("replayId %s: problem %d, %lld", cases[i].replay, ev->problem,
                                 ev->replay_id);
                assert_int_equal(ev->replay_raw.len, strlen(cases[i].replay));
                assert_memory_equal(ev->replay_raw.p, cases[i].replay, ev->replay_raw.len);
        }
        bayeux_response_free(&resp);
}

static void test_replay_id_bad(void **state)
{
        static const char *const bad[] = {
                "9223372036854775808", "\"9223372036854775808\"", "18446744073709551616",
                "-1", "-3", "-0", "1.5", "1.0", "1e20", "1E2",
                "\"abc\"", "\"12a\"", "\"\"", "\"-1\"", "\" 1\"", "\"0x1\"",
                "true", "false", "null", "{}", "[1]",
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const struct bayeux_msg *ev;
                char text[256], expect[256];

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":%s},\"payload\":{}}}",
                         bad[i]);
                ev = one_event(&resp, text);
                if (ev->problem != BAYEUX_EVENT_BAD_REPLAY_ID)
                        fail_msg("replayId %s: problem %d, expected BAD_REPLAY_ID", bad[i],
                                 ev->problem);
                /* The text names the channel and what was sent, as sent. */
                snprintf(expect, sizeof(expect),
                         "event on /event/E__e: data.event.replayId %s is not an integer in [0, 2^63)",
                         bad[i]);
                assert_problem_text(ev, expect);
        }
        bayeux_response_free(&resp);
}

/* A huge replayId is quoted in the text, but only its first 40 bytes. */
static void test_replay_id_text_is_bounded(void **state)
{
        static const char digits[] = "12345678901234567890123456789012345678901234567890";
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;
        char text[256], expect[256];

        (void)state;
        snprintf(text, sizeof(text),
                 "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":%s}}}", digits);
        ev = one_event(&resp, text);
        assert_int_equal(ev->problem, BAYEUX_EVENT_BAD_REPLAY_ID);
        snprintf(expect, sizeof(expect),
                 "event on /event/E__e: data.event.replayId %.40s is not an integer in [0, 2^63)",
                 digits);
        assert_problem_text(ev, expect);
        bayeux_response_free(&resp);
}

/* An event that cannot be forwarded is still a message, with the reason. */
static void test_event_problems(void **state)
{
        static const struct {
                const char *json;
                enum bayeux_event_problem problem;
                const char *text;
        } cases[] = {
                { "{\"channel\":\"/topic/T\"}", BAYEUX_EVENT_NO_DATA,
                  "event on /topic/T has no data object" },
                { "{\"channel\":\"/topic/T\",\"data\":\"x\"}", BAYEUX_EVENT_NO_DATA,
                  "event on /topic/T has no data object" },
                { "{\"channel\":\"/topic/T\",\"data\":[{\"event\":{\"replayId\":1}}]}",
                  BAYEUX_EVENT_NO_DATA, "event on /topic/T has no data object" },
                { "{\"channel\":\"/topic/T\",\"data\":{}}", BAYEUX_EVENT_NO_EVENT,
                  "event on /topic/T has no data.event object" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":\"x\",\"payload\":{}}}",
                  BAYEUX_EVENT_NO_EVENT, "event on /topic/T has no data.event object" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{}}}", BAYEUX_EVENT_NO_REPLAY_ID,
                  "event on /topic/T has no data.event.replayId" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayid\":1}}}",
                  BAYEUX_EVENT_NO_REPLAY_ID, "event on /topic/T has no data.event.replayId" },
                { "{\"channel\":\"/topic/T\",\"replayId\":1,\"data\":{\"replayId\":1}}",
                  BAYEUX_EVENT_NO_EVENT, "event on /topic/T has no data.event object" },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev = one_event(&resp, cases[i].json);

                if (ev->problem != cases[i].problem)
                        fail_msg("%s: problem %d, expected %d", cases[i].json, ev->problem,
                                 cases[i].problem);
                assert_problem_text(ev, cases[i].text);
        }
        bayeux_response_free(&resp);
}

/* One bad event does not hide the rest of the batch. */
static void test_problem_event_in_batch(void **state)
{
        static const char body[] =
                "[{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayId\":\"x\"}}},"
                "{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayId\":8}}},"
                "{\"channel\":\"/meta/connect\",\"successful\":true}]";
        struct bayeux_response resp = { 0 };

        (void)state;
        parse_ok(&resp, body);
        assert_int_equal(resp.nmsgs, 3);
        assert_int_equal(resp.msgs[0].problem, BAYEUX_EVENT_BAD_REPLAY_ID);
        assert_int_equal(resp.msgs[1].problem, BAYEUX_EVENT_OK);
        assert_true(resp.msgs[1].replay_id == 8);
        assert_int_equal(resp.msgs[2].kind, BAYEUX_CONNECT);
        bayeux_response_free(&resp);
}

/* ------------------------------------------------------------ exact values */

/* message, data and payload are the bytes Salesforce sent, where it sent them. */
static void test_values_are_exact_bytes(void **state)
{
        static const char body[] = "[" EXACT_MESSAGE ",{\"channel\":\"/meta/connect\",\"successful\":true}]";
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        parse_ok(&resp, body);
        assert_int_equal(resp.nmsgs, 2);
        ev = &resp.msgs[0];
        assert_int_equal(ev->problem, BAYEUX_EVENT_OK);
        assert_true(ev->replay_id == INT64_MAX);
        assert_string_equal(ev->event_uuid, "u-1");
        assert_string_equal(ev->record_id, "a01");
        assert_value(&ev->message, body, EXACT_MESSAGE, 0);
        assert_value(&ev->data, body, EXACT_DATA, 0);
        assert_value(&ev->payload, body, EXACT_PAYLOAD, 0);
        assert_int_equal(ev->message.p - body, 1);
        bayeux_response_free(&resp);
}

/* blanks is set exactly when a value holds whitespace outside its strings. */
static void test_value_blanks_flag(void **state)
{
        static const struct {
                const char *body;
                const char *message, *data, *payload;
                int message_blanks, data_blanks, payload_blanks;
        } cases[] = {
                /* Compact. */
                { "[{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" s p \"}}}]",
                  "{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" s p \"}}}",
                  "{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" s p \"}}",
                  "{\"a\":\" s p \"}", 0, 0, 0 },
                /* Blanks between the message's members only, and around data. */
                { "[ {\"channel\": \"/x/A\", \"data\" : {\"event\":{\"replayId\":1},\"payload\":{\"a\":1}} } ]",
                  "{\"channel\": \"/x/A\", \"data\" : {\"event\":{\"replayId\":1},\"payload\":{\"a\":1}} }",
                  "{\"event\":{\"replayId\":1},\"payload\":{\"a\":1}}",
                  "{\"a\":1}", 1, 0, 0 },
                /* In data, outside the payload; blanks around the payload value. */
                { "[{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\": 1},\"payload\":\t{\"a\":1}\n}}]",
                  "{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\": 1},\"payload\":\t{\"a\":1}\n}}",
                  "{\"event\":{\"replayId\": 1},\"payload\":\t{\"a\":1}\n}",
                  "{\"a\":1}", 1, 1, 0 },
                /* In the payload: all three. */
                { "[{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":1\r\n}}}]",
                  "{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":1\r\n}}}",
                  "{\"event\":{\"replayId\":1},\"payload\":{\"a\":1\r\n}}",
                  "{\"a\":1\r\n}", 1, 1, 1 },
                /* Deep in the payload, before a closing bracket. */
                { "[{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":[1,[2 ]]}}}]",
                  "{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":[1,[2 ]]}}}",
                  "{\"event\":{\"replayId\":1},\"payload\":{\"a\":[1,[2 ]]}}",
                  "{\"a\":[1,[2 ]]}", 1, 1, 1 },
                /* Escaped quotes do not end a string early. */
                { "[{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" \\\" , \\\\\"}}}]",
                  "{\"channel\":\"/x/A\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" \\\" , \\\\\"}}}",
                  "{\"event\":{\"replayId\":1},\"payload\":{\"a\":\" \\\" , \\\\\"}}",
                  "{\"a\":\" \\\" , \\\\\"}", 0, 0, 0 },
        };
        struct bayeux_response resp = { 0 };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct bayeux_msg *ev = one_event(&resp, cases[i].body);

                assert_int_equal(ev->problem, BAYEUX_EVENT_OK);
                assert_value(&ev->message, cases[i].body, cases[i].message, cases[i].message_blanks);
                assert_value(&ev->data, cases[i].body, cases[i].data, cases[i].data_blanks);
                assert_value(&ev->payload, cases[i].body, cases[i].payload, cases[i].payload_blanks);
        }
        bayeux_response_free(&resp);
}

/* A pretty-printed single object: the message starts at its brace. */
static void test_value_of_pretty_single_object(void **state)
{
        static const char body[] =
                "\n  {\n    \"channel\" : \"/u/n\" ,\n    \"data\" : {\"event\":{\"replayId\":2},"
                "\"payload\":\" p \"}\n  }\n\n";
        struct bayeux_response resp = { 0 };
        const struct bayeux_msg *ev;

        (void)state;
        ev = one_event(&resp, body);
        assert_value(&ev->message, body,
                     "{\n    \"channel\" : \"/u/n\" ,\n    \"data\" : {\"event\":{\"replayId\":2},"
                     "\"payload\":\" p \"}\n  }", 1);
        assert_value(&ev->data, body, "{\"event\":{\"replayId\":2},\"payload\":\" p \"}", 0);
        assert_value(&ev->payload, body, "\" p \"", 0);
        bayeux_response_free(&resp);
}

/* ------------------------------------------------------ memory and reuse */

/* Once warm, parsing the same response again allocates nothing. */
static void test_repeated_parse_no_growth(void **state)
{
        static const char body[] =
                "[" EXACT_MESSAGE "," EXACT_MESSAGE ",{\"channel\":\"/meta/connect\",\"successful\":true,"
                "\"advice\":{\"reconnect\":\"retry\",\"timeout\":110000}}]";
        struct bayeux_response resp = { 0 };
        struct bayeux_msg *msgs;
        char *arena;
        size_t cap, arena_cap;
        int i;

        (void)state;
        parse_ok(&resp, body);
        msgs = resp.msgs;
        cap = resp.cap;
        arena = resp.arena;
        arena_cap = resp.arena_cap;
        assert_non_null(msgs);
        assert_non_null(arena);
        for (i = 0; i < 100; i++) {
                parse_ok(&resp, i % 2 ? body : CONNECT_BATCH);
                assert_ptr_equal(resp.msgs, msgs);
                assert_int_equal(resp.cap, cap);
                assert_ptr_equal(resp.arena, arena);
                assert_int_equal(resp.arena_cap, arena_cap);
                if (i % 2) {
                        assert_int_equal(resp.nmsgs, 3);
                        assert_true(resp.msgs[1].replay_id == INT64_MAX);
                        assert_string_equal(resp.msgs[1].event_uuid, "u-1");
                        assert_value(&resp.msgs[1].payload, body + 1 + strlen(EXACT_MESSAGE),
                                     EXACT_PAYLOAD, 0);
                } else {
                        assert_int_equal(resp.nmsgs, 2);
                        assert_string_equal(resp.msgs[0].event_time, "2016-09-16T19:45:27.454Z");
                }
        }
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
        assert_true(resp.msgs[99].replay_id == 99);
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
        assert_int_equal(resp.cap, cap);
        assert_int_equal(resp.nmsgs, 0);
        bayeux_response_free(&resp);
        assert_null(resp.msgs);
        assert_null(resp.arena);
        assert_int_equal(resp.cap, 0);
        assert_int_equal(resp.arena_cap, 0);
        /* ...and it can be parsed into again after free. */
        parse_ok(&resp, CONNECT_BATCH);
        assert_int_equal(resp.nmsgs, 2);
        bayeux_response_free(&resp);
        buf_free(&body);
}

/* A rare huge response leaves no huge buffers behind once trimmed. */
static void test_trim_gives_back_large_scratch(void **state)
{
        static const char prefix[] =
                "[{\"channel\":\"/u/big\",\"data\":{\"event\":{\"replayId\":1},\"payload\":\"";
        struct bayeux_response resp = { 0 };
        struct bayeux_msg *msgs;
        struct buf body;
        char chunk[64], *arena;
        size_t n = 0;

        (void)state;
        /* One event whose payload string is bigger than BAYEUX_KEEP_BYTES. */
        memset(chunk, 'x', sizeof(chunk));
        buf_init(&body, 4u << 20);
        assert_int_equal(buf_append(&body, prefix, strlen(prefix)), 0);
        while (body.len < BAYEUX_KEEP_BYTES + 1000)
                assert_int_equal(buf_append(&body, chunk, sizeof(chunk)), 0);
        assert_int_equal(buf_append(&body, "\"}}]", 4), 0);
        assert_int_equal(bayeux_response_parse(&resp, body.data, body.len, err, sizeof(err)), 0);
        assert_int_equal(resp.nmsgs, 1);
        /* The string literal, from its opening quote to its closing one. */
        assert_int_equal(resp.msgs[0].payload.len, body.len - strlen(prefix) - 2);
        assert_true(resp.arena_cap > BAYEUX_KEEP_BYTES);
        msgs = resp.msgs;
        bayeux_response_trim(&resp);
        assert_true(resp.arena_cap <= BAYEUX_KEEP_BYTES);
        /* The small msgs array is kept. */
        assert_ptr_equal(resp.msgs, msgs);

        /* Many messages: the array itself outgrows BAYEUX_KEEP_BYTES. */
        buf_reset(&body);
        assert_int_equal(buf_append(&body, "[", 1), 0);
        while (n * sizeof(struct bayeux_msg) <= BAYEUX_KEEP_BYTES)
                assert_int_equal(buf_printf(&body, "%s{\"successful\":true}", n++ ? "," : ""), 0);
        assert_int_equal(buf_append(&body, "]", 1), 0);
        assert_int_equal(bayeux_response_parse(&resp, body.data, body.len, err, sizeof(err)), 0);
        assert_int_equal(resp.nmsgs, n);
        assert_true(resp.cap * sizeof(struct bayeux_msg) > BAYEUX_KEEP_BYTES);
        bayeux_response_trim(&resp);
        assert_true(resp.cap * sizeof(struct bayeux_msg) <= BAYEUX_KEEP_BYTES);
        assert_true(resp.arena_cap <= BAYEUX_KEEP_BYTES);

        /* A normal response afterwards: trim keeps it and its messages whole. */
        parse_ok(&resp, CONNECT_BATCH);
        msgs = resp.msgs;
        arena = resp.arena;
        bayeux_response_trim(&resp);
        assert_ptr_equal(resp.msgs, msgs);
        assert_ptr_equal(resp.arena, arena);
        assert_int_equal(resp.nmsgs, 2);
        assert_string_equal(resp.msgs[0].channel, "/topic/AccountUpdates");
        assert_string_equal(resp.msgs[1].client_id, "41kdiuvgig2tfxdh9weakuiwyh");
        bayeux_response_free(&resp);
        bayeux_response_trim(&resp);  /* on an empty response: nothing to do */
        assert_null(resp.msgs);
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
                cmocka_unit_test(test_parse_decodes_escaped_strings_and_keys),
                cmocka_unit_test(test_parse_advice_bounds),
                cmocka_unit_test(test_parse_rejects_bad_bodies),
                cmocka_unit_test(test_parse_not_json_offsets),
                cmocka_unit_test(test_parse_not_json_at_start),
                cmocka_unit_test(test_parse_respects_length),
                cmocka_unit_test(test_parse_empty_array),
                cmocka_unit_test(test_pushtopic),
                cmocka_unit_test(test_generic),
                cmocka_unit_test(test_platform_event),
                cmocka_unit_test(test_cdc),
                cmocka_unit_test(test_change_types),
                cmocka_unit_test(test_cdc_commit_timestamp_rendering),
                cmocka_unit_test(test_event_time_precedence),
                cmocka_unit_test(test_record_id_fallbacks),
                cmocka_unit_test(test_wrong_typed_optional_fields),
                cmocka_unit_test(test_payload_choice),
                cmocka_unit_test(test_replay_id_exact),
                cmocka_unit_test(test_replay_id_bad),
                cmocka_unit_test(test_replay_id_text_is_bounded),
                cmocka_unit_test(test_event_problems),
                cmocka_unit_test(test_problem_event_in_batch),
                cmocka_unit_test(test_values_are_exact_bytes),
                cmocka_unit_test(test_value_blanks_flag),
                cmocka_unit_test(test_value_of_pretty_single_object),
                cmocka_unit_test(test_repeated_parse_no_growth),
                cmocka_unit_test(test_parse_reuses_msgs),
                cmocka_unit_test(test_trim_gives_back_large_scratch),
                cmocka_unit_test(test_build_handshake_exact),
                cmocka_unit_test(test_build_connect_disconnect_unsubscribe_exact),
                cmocka_unit_test(test_build_respects_ceiling),
                cmocka_unit_test(test_build_subscribe_exact),
                cmocka_unit_test(test_build_escapes_strings),
                cmocka_unit_test(test_build_subscribes_packs_under_limit),
                cmocka_unit_test(test_build_subscribe_too_big),
                cmocka_unit_test(test_base_channel),
        };

        return cmocka_run_group_tests(tests, load_messages, free_messages);
}
