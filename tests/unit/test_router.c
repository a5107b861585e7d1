/*
 * router.c: the Kafka record of an event, as DESIGN.md "What lands in
 * Kafka" says: topic template, key, value and the sf.* headers in order.
 * The value is the JSON text Salesforce sent, byte for byte, with only the
 * whitespace outside strings removed. Events come from bayeux.c's parser;
 * the config and routes are built by hand (config.o is not linked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "router.h"

static const char PUSHTOPIC[] =
        "{\"clientId\":\"lxdl9o32njygi1gj47kgfaga4k\",\"data\":{\"event\":{\"createdDate\":"
        "\"2016-09-16T19:45:27.454Z\",\"replayId\":1,\"type\":\"created\"},\"sobject\":{\"Phone\":"
        "\"(415) 555-1212\",\"Id\":\"001D000000KneakIAB\",\"Name\":\"Blackbeard\"}},"
        "\"channel\":\"/topic/AccountUpdates\"}";

static const char PLATFORM_EVENT[] =
        "{\"data\":{\"schema\":\"dffQ2QLzDNHqwB8_sHMxdA\",\"payload\":{\"CreatedDate\":"
        "\"2023-04-09T18:31:40.517Z\",\"CreatedById\":\"005D0000001cSZs\",\"Printer_Model__c\":\"XZO-5\","
        "\"Serial_Number__c\":\"12345\",\"Ink_Percentage__c\":0.2},\"event\":{\"EventUuid\":"
        "\"2ec0e371-1395-457f-9275-be1b527a72f7\",\"replayId\":2112}},\"channel\":\"/event/Low_Ink__e\"}";

static const char CDC[] =
        "{\"data\":{\"schema\":\"IeRuaY6cbI_HsV8Rv1Mc5g\",\"payload\":{\"ChangeEventHeader\":{"
        "\"entityName\":\"Account\",\"recordIds\":[\"001xx000003DGb2AAG\"],\"changeType\":\"CREATE\","
        "\"commitTimestamp\":1501010206653,\"commitNumber\":92847272780},\"Name\":\"Acme\"},"
        "\"event\":{\"replayId\":6421}},\"channel\":\"/data/ChangeEvents\"}";

static const char GENERIC[] =
        "{\"data\":{\"event\":{\"createdDate\":\"2016-09-16T19:45:27.454Z\",\"replayId\":5},"
        "\"payload\":\"he said \\\"hi\\\"\"},\"channel\":\"/u/notifications\"}";

/* An event with neither a time, a UUID, a record ID nor an entity. */
static const char BARE[] =
        "{\"data\":{\"event\":{\"replayId\":77},\"payload\":{\"x\":1}},\"channel\":\"/data/ChangeEvents\"}";

/*
 * One platform event twice: as compact text and with whitespace wherever
 * JSON allows it (spaces, tabs, CR LF), including inside strings, where it
 * is data. Numbers no double holds, escapes and key order must survive.
 */
static const char ORDER_COMPACT[] =
        "{\"channel\":\"/event/Order__e\",\"data\":{\"schema\":\"s1\",\"payload\":{"
        "\"Z__c\":9007199254740993,\"A__c\":123456789012345678,\"Pi__c\":3.14159265358979323846,"
        "\"Huge__c\":1e400,\"Neg__c\":-0.0,\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \","
        "\"Gaps__c\":\" a\\tb  c , d : \",\"Utf8__c\":\"caf\xc3\xa9\",\"List__c\":[1,[],{}],"
        "\"Null__c\":null,\"Id\":\"a01\"},\"event\":{\"EventUuid\":\"u-1\",\"replayId\":9007199254740993}}}";

static const char ORDER_SPACED[] =
        "{\r\n"
        "  \"channel\" : \"/event/Order__e\" ,\r\n"
        "  \"data\" : {\n"
        "    \"schema\":\t\"s1\",\n"
        "    \"payload\" : {\n"
        "      \"Z__c\" : 9007199254740993 ,\n"
        "      \"A__c\" : 123456789012345678,\n"
        "      \"Pi__c\" :3.14159265358979323846 ,\n"
        "      \"Huge__c\": 1e400,\n"
        "      \"Neg__c\"\t:\t-0.0,\n"
        "      \"Text__c\" : \"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \" ,\n"
        "      \"Gaps__c\" : \" a\\tb  c , d : \",\n"
        "      \"Utf8__c\" : \"caf\xc3\xa9\",\n"
        "      \"List__c\" : [ 1 , [ ] , { } ] ,\n"
        "      \"Null__c\" : null ,\n"
        "      \"Id\" : \"a01\"\n"
        "    } ,\n"
        "    \"event\" : { \"EventUuid\" : \"u-1\" , \"replayId\" : 9007199254740993 }\n"
        "  }\n"
        "}";

/* What Kafka must get, written out in full. */
static const char ORDER_PAYLOAD[] =
        "{\"Z__c\":9007199254740993,\"A__c\":123456789012345678,\"Pi__c\":3.14159265358979323846,"
        "\"Huge__c\":1e400,\"Neg__c\":-0.0,\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \","
        "\"Gaps__c\":\" a\\tb  c , d : \",\"Utf8__c\":\"caf\xc3\xa9\",\"List__c\":[1,[],{}],"
        "\"Null__c\":null,\"Id\":\"a01\"}";

static const char ORDER_DATA[] =
        "{\"schema\":\"s1\",\"payload\":{\"Z__c\":9007199254740993,\"A__c\":123456789012345678,"
        "\"Pi__c\":3.14159265358979323846,\"Huge__c\":1e400,\"Neg__c\":-0.0,"
        "\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \",\"Gaps__c\":\" a\\tb  c , d : \","
        "\"Utf8__c\":\"caf\xc3\xa9\",\"List__c\":[1,[],{}],\"Null__c\":null,\"Id\":\"a01\"},"
        "\"event\":{\"EventUuid\":\"u-1\",\"replayId\":9007199254740993}}";

static const char ORDER_MESSAGE[] =
        "{\"channel\":\"/event/Order__e\",\"data\":{\"schema\":\"s1\",\"payload\":{"
        "\"Z__c\":9007199254740993,\"A__c\":123456789012345678,\"Pi__c\":3.14159265358979323846,"
        "\"Huge__c\":1e400,\"Neg__c\":-0.0,\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\" \","
        "\"Gaps__c\":\" a\\tb  c , d : \",\"Utf8__c\":\"caf\xc3\xa9\",\"List__c\":[1,[],{}],"
        "\"Null__c\":null,\"Id\":\"a01\"},\"event\":{\"EventUuid\":\"u-1\",\"replayId\":9007199254740993}}}";

struct fixture {
        const char *body;
        struct bayeux_response resp;
        const struct bayeux_msg *ev;
        struct router_record rec;
        struct buf scratch;
};

static char err[256];

static struct config make_config(const char *name)
{
        struct config cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.name = (char *)name;
        return cfg;
}

static struct config_route make_route(const char *channel, const char *topic, enum route_key key,
                                      enum route_value value)
{
        struct config_route rt;

        memset(&rt, 0, sizeof(rt));
        rt.channel = (char *)channel;
        rt.topic = (char *)topic;
        rt.key = key;
        rt.value = value;
        rt.start = REPLAY_NEW;
        return rt;
}

/* Parse json (one event) as the session would. */
static void load(struct fixture *fx, const char *json)
{
        memset(fx, 0, sizeof(*fx));
        fx->body = json;
        buf_init(&fx->scratch, 1 << 20);
        if (bayeux_response_parse(&fx->resp, json, strlen(json), err, sizeof(err)) != 0)
                fail_msg("parse: %s", err);
        assert_int_equal(fx->resp.nmsgs, 1);
        fx->ev = &fx->resp.msgs[0];
        assert_int_equal(fx->ev->kind, BAYEUX_EVENT);
        assert_int_equal(fx->ev->problem, BAYEUX_EVENT_OK);
}

static void unload(struct fixture *fx)
{
        bayeux_response_free(&fx->resp);
        buf_free(&fx->scratch);
}

static int render(struct fixture *fx, const struct config *cfg, const struct config_route *rt,
                  int *warned)
{
        return router_render(cfg, rt, fx->ev, &fx->rec, &fx->scratch, warned, err, sizeof(err));
}

/* The value is exactly @p expect (it is not NUL-terminated: compare by length). */
static void assert_value(const struct router_record *rec, const char *expect)
{
        size_t n = strlen(expect);

        assert_non_null(rec->value);
        if (rec->value_len != n || memcmp(rec->value, expect, n) != 0)
                fail_msg("value\n  \"%.*s\" (%zu bytes), expected\n  \"%s\" (%zu bytes)",
                         (int)rec->value_len, rec->value, rec->value_len, expect, n);
}

/* A value without whitespace is borrowed from the body, not copied. */
static void assert_borrowed(const struct fixture *fx)
{
        size_t len = strlen(fx->body);

        assert_true(fx->rec.value >= fx->body && fx->rec.value + fx->rec.value_len <= fx->body + len);
}

static void assert_header(const struct router_record *rec, size_t i, const char *name,
                          const char *value)
{
        assert_true(i < rec->nheaders);
        assert_string_equal(rec->headers[i].name, name);
        assert_int_equal(rec->headers[i].value_len, strlen(value));
        assert_memory_equal(rec->headers[i].value, value, strlen(value));
}

static void test_pushtopic_defaults(void **state)
{
        struct config cfg = make_config("acme-prod");
        struct config_route rt = make_route("/topic/AccountUpdates", "salesforce.account-updates",
                                            ROUTE_KEY_REPLAY_ID, ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = -1;

        (void)state;
        load(&fx, PUSHTOPIC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.topic, "salesforce.account-updates");
        assert_int_equal(fx.rec.key_len, 1);
        assert_memory_equal(fx.rec.key, "1", 1);
        assert_value(&fx.rec,
                "{\"event\":{\"createdDate\":\"2016-09-16T19:45:27.454Z\",\"replayId\":1,\"type\":\"created\"},"
                "\"sobject\":{\"Phone\":\"(415) 555-1212\",\"Id\":\"001D000000KneakIAB\",\"Name\":\"Blackbeard\"}}");
        assert_borrowed(&fx);
        assert_int_equal(fx.rec.nheaders, 4);
        assert_header(&fx.rec, 0, "sf.channel", "/topic/AccountUpdates");
        assert_header(&fx.rec, 1, "sf.replay_id", "1");
        assert_header(&fx.rec, 2, "sf.event_time", "2016-09-16T19:45:27.454Z");
        assert_header(&fx.rec, 3, "sf.bridge", "acme-prod");
        assert_string_equal(fx.rec.channel, "/topic/AccountUpdates");
        assert_true(fx.rec.replay_id == 1);
        assert_string_equal(fx.rec.event_time, "2016-09-16T19:45:27.454Z");
        unload(&fx);
}

static void test_pushtopic_payload_is_sobject(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/topic/AccountUpdates", "t", ROUTE_KEY_RECORD_ID,
                                            ROUTE_VALUE_PAYLOAD);
        struct fixture fx;
        int warned;

        (void)state;
        load(&fx, PUSHTOPIC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_value(&fx.rec,
                "{\"Phone\":\"(415) 555-1212\",\"Id\":\"001D000000KneakIAB\",\"Name\":\"Blackbeard\"}");
        assert_int_equal(fx.rec.key_len, strlen("001D000000KneakIAB"));
        assert_memory_equal(fx.rec.key, "001D000000KneakIAB", fx.rec.key_len);
        unload(&fx);
}

static void test_platform_event_headers_and_message_value(void **state)
{
        struct config cfg = make_config("acme-prod");
        struct config_route rt = make_route("/event/Low_Ink__e", "salesforce.orders", ROUTE_KEY_NONE,
                                            ROUTE_VALUE_MESSAGE);
        struct fixture fx;

        (void)state;
        load(&fx, PLATFORM_EVENT);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.key_len, 0);
        /* The whole message, as sent: the body itself. */
        assert_value(&fx.rec, PLATFORM_EVENT);
        assert_ptr_equal(fx.rec.value, fx.body);
        assert_int_equal(fx.rec.nheaders, 5);
        assert_header(&fx.rec, 0, "sf.channel", "/event/Low_Ink__e");
        assert_header(&fx.rec, 1, "sf.replay_id", "2112");
        assert_header(&fx.rec, 2, "sf.event_time", "2023-04-09T18:31:40.517Z");
        assert_header(&fx.rec, 3, "sf.event_uuid", "2ec0e371-1395-457f-9275-be1b527a72f7");
        assert_header(&fx.rec, 4, "sf.bridge", "acme-prod");
        unload(&fx);
}

static void test_cdc_entity_topic_and_record_key(void **state)
{
        struct config cfg = make_config("acme-prod");
        struct config_route rt = make_route("/data/ChangeEvents", "salesforce.cdc.{entity}",
                                            ROUTE_KEY_RECORD_ID, ROUTE_VALUE_PAYLOAD);
        struct fixture fx;
        int warned = -1;

        (void)state;
        load(&fx, CDC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.topic, "salesforce.cdc.Account");
        assert_int_equal(fx.rec.key_len, 18);
        assert_memory_equal(fx.rec.key, "001xx000003DGb2AAG", 18);
        assert_value(&fx.rec,
                "{\"ChangeEventHeader\":{\"entityName\":\"Account\",\"recordIds\":[\"001xx000003DGb2AAG\"],"
                "\"changeType\":\"CREATE\",\"commitTimestamp\":1501010206653,\"commitNumber\":92847272780},"
                "\"Name\":\"Acme\"}");
        assert_int_equal(fx.rec.nheaders, 4);
        assert_header(&fx.rec, 2, "sf.event_time", "2017-07-25T19:16:46.653Z");
        assert_header(&fx.rec, 3, "sf.bridge", "acme-prod");

        /* The template may hold {entity} more than once, anywhere. */
        rt.topic = "{entity}-x-{entity}";
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_string_equal(fx.rec.topic, "Account-x-Account");
        /* A brace that is not {entity} is copied as it is (config refuses such a
         * template; the router still never renders an illegal name as legal). */
        rt.topic = "a{b}{entity";
        assert_int_equal(render(&fx, &cfg, &rt, &warned), ROUTER_ILLEGAL_TOPIC);
        assert_string_equal(fx.rec.topic, "a{b}{entity");
        unload(&fx);
}

static void test_generic_payload_is_json_string(void **state)
{
        struct config cfg = make_config(NULL);
        struct config_route rt = make_route("/u/notifications", "n", ROUTE_KEY_REPLAY_ID,
                                            ROUTE_VALUE_PAYLOAD);
        struct fixture fx;

        (void)state;
        load(&fx, GENERIC);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        /* A JSON string literal, escapes as sent. */
        assert_value(&fx.rec, "\"he said \\\"hi\\\"\"");
        assert_memory_equal(fx.rec.key, "5", 1);
        assert_header(&fx.rec, fx.rec.nheaders - 1, "sf.bridge", "sfbridge");  /* default name */
        unload(&fx);
}

static void test_missing_fields_warn(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "cdc.{entity}", ROUTE_KEY_RECORD_ID,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = 0;

        (void)state;
        load(&fx, BARE);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_ENTITY | ROUTER_WARN_NO_KEY);
        assert_string_equal(fx.rec.topic, "cdc._unknown");
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.key_len, 0);
        /* Only the headers that are known: no event time, no UUID. */
        assert_int_equal(fx.rec.nheaders, 3);
        assert_header(&fx.rec, 0, "sf.channel", "/data/ChangeEvents");
        assert_header(&fx.rec, 1, "sf.replay_id", "77");
        assert_header(&fx.rec, 2, "sf.bridge", "b");
        assert_null(fx.rec.event_time);
        assert_value(&fx.rec, "{\"event\":{\"replayId\":77},\"payload\":{\"x\":1}}");

        /* *warned is zeroed first: a clean render clears earlier bits. */
        rt.topic = "t";
        rt.key = ROUTE_KEY_REPLAY_ID;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        unload(&fx);
}

static void test_entity_sanitised(void **state)
{
        static const char json[] =
                "{\"data\":{\"event\":{\"replayId\":1},\"payload\":{\"ChangeEventHeader\":"
                "{\"entityName\":\"My Obj/../x\"}}},\"channel\":\"/data/ChangeEvents\"}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "cdc.{entity}", ROUTE_KEY_NONE,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;

        (void)state;
        load(&fx, json);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_string_equal(fx.rec.topic, "cdc.My_Obj_.._x");
        unload(&fx);
}

static void test_errors(void **state)
{
        static const char no_payload[] =
                "{\"data\":{\"event\":{\"replayId\":9}},\"channel\":\"/topic/T\"}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/topic/T", "t", ROUTE_KEY_REPLAY_ID, ROUTE_VALUE_PAYLOAD);
        char topic[400];
        struct fixture fx;

        (void)state;
        load(&fx, no_payload);
        err[0] = '\0';
        assert_int_equal(render(&fx, &cfg, &rt, NULL), -1);
        assert_null(fx.rec.value);
        assert_string_equal(err, "event 9 on /topic/T has neither data.payload nor data.sobject "
                                 "(route /topic/T has value: payload)");

        memset(topic, 'a', sizeof(topic) - 1);
        topic[sizeof(topic) - 1] = '\0';
        rt.topic = topic;
        rt.value = ROUTE_VALUE_DATA;
        err[0] = '\0';
        /* Too long for Kafka: the record is still complete, its topic cut to
         * what it holds, so it can go to a dead-letter topic. */
        assert_int_equal(render(&fx, &cfg, &rt, NULL), ROUTER_ILLEGAL_TOPIC);
        assert_non_null(fx.rec.value);
        assert_int_equal(strlen(fx.rec.topic), 255);
        assert_memory_equal(fx.rec.key, "9", 1);
        assert_header(&fx.rec, 0, "sf.channel", "/topic/T");
        assert_string_equal(err, "route /topic/T renders topic \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" for event 9: topic name is "
                                 "255 bytes, longer than Kafka's limit of 249");

        /* 249 bytes is Kafka's limit. */
        topic[249] = '\0';
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_int_equal(strlen(fx.rec.topic), 249);
        topic[249] = 'a';
        topic[250] = '\0';
        assert_int_equal(render(&fx, &cfg, &rt, NULL), ROUTER_ILLEGAL_TOPIC);
        /* The rendered length counts, {entity} included ("_unknown" here). */
        memset(topic, 'a', 241);
        memcpy(topic + 241, "{entity}", 9);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_int_equal(strlen(fx.rec.topic), 249);
        assert_string_equal(fx.rec.topic + 241, "_unknown");
        memset(topic, 'a', 242);
        memcpy(topic + 242, "{entity}", 9);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), ROUTER_ILLEGAL_TOPIC);
        assert_int_equal(strlen(fx.rec.topic), 250);
        unload(&fx);
}

/* {entity} expanded from odd data: a name Kafka refuses is reported, never produced. */
static void test_entity_illegal(void **state)
{
        static const struct {
                const char *entity;
                const char *topic;
                int rc;
        } cases[] = {
                { ".", "{entity}", ROUTER_ILLEGAL_TOPIC },
                { "..", "{entity}", ROUTER_ILLEGAL_TOPIC },
                { "", "{entity}", 0 },    /* an empty entityName renders "_unknown" */
                { "/", "{entity}", 0 },   /* sanitised to "_" */
                { ".", "x{entity}", 0 },
                { "", "it.{entity}", 0 }, /* "it." is a legal name */
        };
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "", ROUTE_KEY_REPLAY_ID,
                                            ROUTE_VALUE_DATA);
        char json[512];
        struct fixture fx;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json),
                         "{\"data\":{\"event\":{\"replayId\":3},\"payload\":{\"ChangeEventHeader\":"
                         "{\"entityName\":\"%s\"}}},\"channel\":\"/data/ChangeEvents\"}",
                         cases[i].entity);
                load(&fx, json);
                rt.topic = (char *)cases[i].topic;
                err[0] = '\0';
                if (render(&fx, &cfg, &rt, NULL) != cases[i].rc)
                        fail_msg("entity \"%s\" in %s: want %d, err %s", cases[i].entity,
                                 cases[i].topic, cases[i].rc, err);
                if (cases[i].rc) {
                        assert_non_null(strstr(err, "route /data/ChangeEvents renders topic"));
                        assert_memory_equal(fx.rec.key, "3", 1);
                        assert_non_null(fx.rec.value);
                }
                unload(&fx);
        }
}

/* The key for replay_id is the decimal ASCII of large IDs too, exactly. */
static void test_large_replay_id_key(void **state)
{
        static const struct {
                const char *json;
                const char *key;
        } cases[] = {
                { "{\"data\":{\"event\":{\"replayId\":9007199254740991},\"payload\":{}},\"channel\":\"/event/E__e\"}",
                  "9007199254740991" },
                { "{\"data\":{\"event\":{\"replayId\":9007199254740993},\"payload\":{}},\"channel\":\"/event/E__e\"}",
                  "9007199254740993" },
                { "{\"data\":{\"event\":{\"replayId\":9223372036854775807},\"payload\":{}},\"channel\":\"/event/E__e\"}",
                  "9223372036854775807" },
                { "{\"data\":{\"event\":{\"replayId\":\"9223372036854775807\"},\"payload\":{}},\"channel\":\"/event/E__e\"}",
                  "9223372036854775807" },
        };
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/event/E__e", "t", ROUTE_KEY_REPLAY_ID, ROUTE_VALUE_DATA);
        struct fixture fx;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                load(&fx, cases[i].json);
                assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
                assert_int_equal(fx.rec.key_len, strlen(cases[i].key));
                assert_memory_equal(fx.rec.key, cases[i].key, fx.rec.key_len);
                assert_header(&fx.rec, 1, "sf.replay_id", cases[i].key);
                unload(&fx);
        }
}

/* ------------------------------------------------------------ exact values */

/*
 * Every value mode, from compact and from spaced input: the same exact text,
 * numbers, escapes and key order untouched, whitespace outside strings gone.
 */
static void test_value_modes_exact(void **state)
{
        static const struct {
                enum route_value mode;
                const char *expect;
        } modes[] = {
                { ROUTE_VALUE_DATA, ORDER_DATA },
                { ROUTE_VALUE_PAYLOAD, ORDER_PAYLOAD },
                { ROUTE_VALUE_MESSAGE, ORDER_MESSAGE },
        };
        static const char *const inputs[] = { ORDER_COMPACT, ORDER_SPACED };
        struct config cfg = make_config("b");
        struct fixture fx;
        size_t i, j;

        (void)state;
        for (j = 0; j < sizeof(inputs) / sizeof(inputs[0]); j++) {
                load(&fx, inputs[j]);
                for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                        struct config_route rt = make_route("/event/Order__e", "orders",
                                                            ROUTE_KEY_RECORD_ID, modes[i].mode);

                        err[0] = '\0';
                        if (render(&fx, &cfg, &rt, NULL) != 0)
                                fail_msg("input %zu mode %d: %s", j, modes[i].mode, err);
                        assert_value(&fx.rec, modes[i].expect);
                        if (j == 0) {
                                assert_borrowed(&fx);  /* nothing to remove: no copy */
                        } else {
                                assert_ptr_equal(fx.rec.value, fx.scratch.data);
                        }
                        /* Key and headers do not depend on the value mode. */
                        assert_int_equal(fx.rec.key_len, 3);
                        assert_memory_equal(fx.rec.key, "a01", 3);
                        assert_int_equal(fx.rec.nheaders, 4);
                        assert_header(&fx.rec, 0, "sf.channel", "/event/Order__e");
                        assert_header(&fx.rec, 1, "sf.replay_id", "9007199254740993");
                        assert_header(&fx.rec, 2, "sf.event_uuid", "u-1");
                        assert_header(&fx.rec, 3, "sf.bridge", "b");
                        assert_true(fx.rec.replay_id == 9007199254740993LL);
                }
                unload(&fx);
        }
}

/* Only the spans that hold whitespace are copied; compact spans stay borrowed. */
static void test_value_compacted_only_when_needed(void **state)
{
        /* data holds blanks (in event), the payload does not. */
        static const char json[] =
                "{\"channel\":\"/u/n\",\"data\":{\"event\":{ \"replayId\" : 3 },"
                "\"payload\":\"he said \\\"hi\\\" , ok\"}}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/u/n", "n", ROUTE_KEY_NONE, ROUTE_VALUE_DATA);
        struct fixture fx;

        (void)state;
        load(&fx, json);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_value(&fx.rec, "{\"event\":{\"replayId\":3},\"payload\":\"he said \\\"hi\\\" , ok\"}");
        assert_ptr_equal(fx.rec.value, fx.scratch.data);

        rt.value = ROUTE_VALUE_PAYLOAD;
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_value(&fx.rec, "\"he said \\\"hi\\\" , ok\"");
        assert_borrowed(&fx);
        unload(&fx);
}

/* Once scratch is warm, compacting the same value again allocates nothing. */
static void test_scratch_reused(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/event/Order__e", "o", ROUTE_KEY_NONE,
                                            ROUTE_VALUE_MESSAGE);
        struct fixture fx;
        char *data;
        size_t cap;
        int i;

        (void)state;
        load(&fx, ORDER_SPACED);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        data = fx.scratch.data;
        cap = fx.scratch.cap;
        assert_non_null(data);
        for (i = 0; i < 10; i++) {
                rt.value = (enum route_value)(i % 3);
                assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
                assert_ptr_equal(fx.scratch.data, data);
                assert_int_equal(fx.scratch.cap, cap);
        }
        rt.value = ROUTE_VALUE_MESSAGE;
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_value(&fx.rec, ORDER_MESSAGE);
        unload(&fx);
}

/* scratch has a ceiling: a value it cannot hold is refused, not truncated. */
static void test_scratch_ceiling(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/event/Order__e", "o", ROUTE_KEY_NONE,
                                            ROUTE_VALUE_PAYLOAD);
        struct fixture fx;

        (void)state;
        load(&fx, ORDER_SPACED);
        buf_free(&fx.scratch);
        buf_init(&fx.scratch, 16);
        err[0] = '\0';
        assert_int_equal(render(&fx, &cfg, &rt, NULL), -1);
        assert_string_equal(err, "out of memory compacting event 9007199254740993 on /event/Order__e");
        /* A compact input needs no scratch at all. */
        unload(&fx);
        load(&fx, ORDER_COMPACT);
        buf_free(&fx.scratch);
        buf_init(&fx.scratch, 16);
        assert_int_equal(render(&fx, &cfg, &rt, NULL), 0);
        assert_value(&fx.rec, ORDER_PAYLOAD);
        unload(&fx);
}

/*
 * partition_hash: Kafka's positive murmur2 of the record ID or the channel.
 * The constants are Utils.toPositive(Utils.murmur2(bytes)) computed outside
 * this code (a Python transcription of Kafka's Java that gives Kafka's own
 * test vectors), so a Java producer keyed by the same ID agrees.
 */
static void test_partition_by(void **state)
{
        static const char multi[] =
                "{\"data\":{\"payload\":{\"ChangeEventHeader\":{\"entityName\":\"Account\","
                "\"recordIds\":[\"001xx000003DGb2AAG\",\"001xx000003DGb3AAG\"],\"changeType\":\"UPDATE\"}},"
                "\"event\":{\"replayId\":9}},\"channel\":\"/data/ChangeEvents\"}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "cdc", ROUTE_KEY_REPLAY_ID,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = -1;

        (void)state;
        rt.partition_by = ROUTE_PARTITION_RECORD_ID;
        load(&fx, CDC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_int_equal(fx.rec.partition_hash, 1590565158); /* "001xx000003DGb2AAG", % 8 = 6 */
        /* The key is still the replay ID: partitioning does not touch it. */
        assert_int_equal(fx.rec.key_len, 4);
        assert_memory_equal(fx.rec.key, "6421", 4);

        rt.partition_by = ROUTE_PARTITION_CHANNEL;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(fx.rec.partition_hash, 198521852); /* "/data/ChangeEvents" */

        /* key: librdkafka's murmur2_random partitioner on the key (0013 checks it is Java's). */
        rt.partition_by = ROUTE_PARTITION_KEY;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(fx.rec.partition_hash, ROUTER_PARTITION_BY_KEY);
        /* ... and without a key (no record ID for key: record_id): the channel. */
        rt.key = ROUTE_KEY_RECORD_ID;
        unload(&fx);
        load(&fx, BARE);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_KEY);
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.partition_hash, 198521852); /* "/data/ChangeEvents" */
        rt.key = ROUTE_KEY_REPLAY_ID;
        unload(&fx);

        /* A change of several records goes as a whole, by its first ID. */
        rt.partition_by = ROUTE_PARTITION_RECORD_ID;
        load(&fx, multi);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_int_equal(fx.rec.partition_hash, 1590565158);
        unload(&fx);

        /* partition_by: entity: the entity's partition, whatever the records
         * (a merged change's other records stay with all their changes). */
        rt.partition_by = ROUTE_PARTITION_ENTITY;
        load(&fx, multi);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_int_equal(fx.rec.partition_hash, 810642162); /* murmur2("Account") */
        unload(&fx);
        load(&fx, CDC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(fx.rec.partition_hash, 810642162);
        unload(&fx);
        /* No entityName: the channel, warned. */
        load(&fx, BARE);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_PARTITION_ID);
        assert_int_equal(fx.rec.partition_hash, 198521852); /* "/data/ChangeEvents" */
        unload(&fx);

        /* A PushTopic's whole channel in one partition. */
        rt = make_route("/topic/AccountUpdates", "t", ROUTE_KEY_REPLAY_ID, ROUTE_VALUE_DATA);
        rt.partition_by = ROUTE_PARTITION_CHANNEL;
        load(&fx, PUSHTOPIC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(fx.rec.partition_hash, 716997384);
        unload(&fx);
}

/* No record ID on a record_id route: its channel, one fixed partition, and a warning bit. */
static void test_partition_fallback(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "cdc", ROUTE_KEY_REPLAY_ID,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = 0;

        (void)state;
        rt.partition_by = ROUTE_PARTITION_RECORD_ID;
        load(&fx, BARE);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_PARTITION_ID);
        assert_int_equal(fx.rec.partition_hash, 198521852); /* "/data/ChangeEvents" */
        assert_memory_equal(fx.rec.key, "77", 2);
        /* The same event with partition_by: channel is no warning. */
        rt.partition_by = ROUTE_PARTITION_CHANNEL;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        unload(&fx);
}

/*
 * An overflow event (GAP_OVERFLOW) comes with recordIds [] (CDC guide,
 * "Overflow Events"): it stands for its entity. key: record_id keys it by
 * entityName (a null key would be refused by a compacted topic) and
 * partition_by: record_id hashes the entity; neither is a warning. Any
 * other change event without a record ID still goes by its channel, warned.
 */
static void test_overflow_by_entity(void **state)
{
        static const char overflow[] =
                "{\"data\":{\"schema\":\"s\",\"payload\":{\"ChangeEventHeader\":{\"entityName\":\"Account\","
                "\"recordIds\":[],\"changeType\":\"GAP_OVERFLOW\",\"changedFields\":[],"
                "\"commitTimestamp\":1501010206653}},\"event\":{\"replayId\":1099511627777}},"
                "\"channel\":\"/data/ChangeEvents\"}";
        static const char no_ids[] =
                "{\"data\":{\"payload\":{\"ChangeEventHeader\":{\"entityName\":\"Account\","
                "\"recordIds\":[],\"changeType\":\"UPDATE\"}},\"event\":{\"replayId\":5}},"
                "\"channel\":\"/data/ChangeEvents\"}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/data/ChangeEvents", "cdc.{entity}", ROUTE_KEY_RECORD_ID,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = -1;

        (void)state;
        rt.partition_by = ROUTE_PARTITION_RECORD_ID;
        load(&fx, overflow);
        assert_null(fx.ev->record_id);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.topic, "cdc.Account");
        assert_int_equal(fx.rec.key_len, 7);
        assert_memory_equal(fx.rec.key, "Account", 7);
        assert_int_equal(fx.rec.partition_hash, 810642162); /* murmur2("Account") */
        assert_header(&fx.rec, 1, "sf.replay_id", "1099511627777");
        /* partition_by: key hashes the same key, so it lands in the same place. */
        rt.partition_by = ROUTE_PARTITION_KEY;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_int_equal(fx.rec.partition_hash, ROUTER_PARTITION_BY_KEY);
        /* key: replay_id keeps the replay ID; the partition is still the entity's. */
        rt.key = ROUTE_KEY_REPLAY_ID;
        rt.partition_by = ROUTE_PARTITION_RECORD_ID;
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_memory_equal(fx.rec.key, "1099511627777", 13);
        assert_int_equal(fx.rec.partition_hash, 810642162);
        unload(&fx);

        /* Not an overflow: a change event without its record is odd, and said. */
        rt.key = ROUTE_KEY_RECORD_ID;
        load(&fx, no_ids);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_KEY | ROUTER_WARN_NO_PARTITION_ID);
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.partition_hash, 198521852); /* "/data/ChangeEvents" */
        unload(&fx);
}

/* key: event_uuid: a platform event's EventUuid; without one, no key (warned). */
static void test_event_uuid_key(void **state)
{
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/event/Low_Ink__e", "t", ROUTE_KEY_EVENT_UUID,
                                            ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = -1;

        (void)state;
        load(&fx, PLATFORM_EVENT);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, 0);
        assert_int_equal(fx.rec.key_len, 36);
        assert_memory_equal(fx.rec.key, "2ec0e371-1395-457f-9275-be1b527a72f7", 36);
        assert_int_equal(fx.rec.partition_hash, 807920392); /* channel: the memset default */
        unload(&fx);

        rt.channel = "/topic/AccountUpdates";
        load(&fx, PUSHTOPIC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_KEY);
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.key_len, 0);
        unload(&fx);
}

/* orgs: {org} renders the view's org id, every record carries sf.org. */
static void test_org_topic_and_header(void **state)
{
        struct config cfg = make_config("acme-prod");
        struct config_route rt = make_route("/data/ChangeEvents", "sf.{org}.cdc.{entity}",
                                            ROUTE_KEY_RECORD_ID, ROUTE_VALUE_DATA);
        struct fixture fx;
        int warned = -1;

        (void)state;
        cfg.has_orgs = 1;
        cfg.org_id = "emea";
        cfg.unit = "emea";
        load(&fx, CDC);
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_string_equal(fx.rec.topic, "sf.emea.cdc.Account");
        assert_header(&fx.rec, fx.rec.nheaders - 1, "sf.org", "emea");
        assert_header(&fx.rec, fx.rec.nheaders - 2, "sf.bridge", "acme-prod");
        /* The top level's routes are org "default". */
        cfg.org_id = NULL;
        cfg.unit = "default";
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_string_equal(fx.rec.topic, "sf.default.cdc.Account");
        assert_header(&fx.rec, fx.rec.nheaders - 1, "sf.org", "default");
        /* Without orgs: no sf.org header (single-instance records unchanged). */
        cfg.has_orgs = 0;
        rt.topic = "sf.cdc.{entity}";
        assert_int_equal(render(&fx, &cfg, &rt, &warned), 0);
        assert_header(&fx.rec, fx.rec.nheaders - 1, "sf.bridge", "acme-prod");
        for (size_t i = 0; i < fx.rec.nheaders; i++)
                assert_string_not_equal(fx.rec.headers[i].name, "sf.org");
        unload(&fx);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_org_topic_and_header),
                cmocka_unit_test(test_pushtopic_defaults),
                cmocka_unit_test(test_pushtopic_payload_is_sobject),
                cmocka_unit_test(test_platform_event_headers_and_message_value),
                cmocka_unit_test(test_cdc_entity_topic_and_record_key),
                cmocka_unit_test(test_generic_payload_is_json_string),
                cmocka_unit_test(test_missing_fields_warn),
                cmocka_unit_test(test_entity_sanitised),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_entity_illegal),
                cmocka_unit_test(test_overflow_by_entity),
                cmocka_unit_test(test_large_replay_id_key),
                cmocka_unit_test(test_value_modes_exact),
                cmocka_unit_test(test_value_compacted_only_when_needed),
                cmocka_unit_test(test_scratch_reused),
                cmocka_unit_test(test_scratch_ceiling),
                cmocka_unit_test(test_partition_by),
                cmocka_unit_test(test_partition_fallback),
                cmocka_unit_test(test_event_uuid_key),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
