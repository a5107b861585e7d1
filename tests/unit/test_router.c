/*
 * router.c: the Kafka record of an event, as DESIGN.md "What lands in
 * Kafka" says: topic template, key, value and the sf.* headers in order.
 * The config and routes are built by hand (config.o is not linked).
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

struct fixture {
        cJSON *msg;
        struct sf_event ev;
        struct router_record rec;
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

static void load(struct fixture *fx, const char *json)
{
        fx->msg = cJSON_Parse(json);
        assert_non_null(fx->msg);
        assert_int_equal(event_parse(fx->msg, &fx->ev, err, sizeof(err)), 0);
}

static void unload(struct fixture *fx)
{
        free(fx->rec.value);
        fx->rec.value = NULL;
        cJSON_Delete(fx->msg);
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.topic, "salesforce.account-updates");
        assert_int_equal(fx.rec.key_len, 1);
        assert_memory_equal(fx.rec.key, "1", 1);
        assert_string_equal(fx.rec.value,
                "{\"event\":{\"createdDate\":\"2016-09-16T19:45:27.454Z\",\"replayId\":1,\"type\":\"created\"},"
                "\"sobject\":{\"Phone\":\"(415) 555-1212\",\"Id\":\"001D000000KneakIAB\",\"Name\":\"Blackbeard\"}}");
        assert_int_equal(fx.rec.value_len, strlen(fx.rec.value));
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.value,
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
        char *expect;

        (void)state;
        load(&fx, PLATFORM_EVENT);
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), 0);
        assert_null(fx.rec.key);
        assert_int_equal(fx.rec.key_len, 0);
        expect = cJSON_PrintUnformatted(fx.msg);
        assert_string_equal(fx.rec.value, expect);
        cJSON_free(expect);
        assert_non_null(strstr(fx.rec.value, "\"channel\":\"/event/Low_Ink__e\""));
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_int_equal(warned, 0);
        assert_string_equal(fx.rec.topic, "salesforce.cdc.Account");
        assert_int_equal(fx.rec.key_len, 18);
        assert_memory_equal(fx.rec.key, "001xx000003DGb2AAG", 18);
        assert_string_equal(fx.rec.value,
                "{\"ChangeEventHeader\":{\"entityName\":\"Account\",\"recordIds\":[\"001xx000003DGb2AAG\"],"
                "\"changeType\":\"CREATE\",\"commitTimestamp\":1501010206653,\"commitNumber\":92847272780},"
                "\"Name\":\"Acme\"}");
        assert_int_equal(fx.rec.nheaders, 4);
        assert_header(&fx.rec, 2, "sf.event_time", "2017-07-25T19:16:46.653Z");
        assert_header(&fx.rec, 3, "sf.bridge", "acme-prod");

        /* The template may hold {entity} more than once, anywhere. */
        rt.topic = "{entity}-x-{entity}";
        free(fx.rec.value);
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_string_equal(fx.rec.topic, "Account-x-Account");
        /* A brace that is not {entity} is copied as it is. */
        rt.topic = "a{b}{entity";
        free(fx.rec.value);
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_string_equal(fx.rec.topic, "a{b}{entity");
        unload(&fx);
}

static void test_generic_payload_is_json_string(void **state)
{
        struct config cfg = make_config(NULL);
        struct config_route rt = make_route("/u/notifications", "n", ROUTE_KEY_REPLAY_ID,
                                            ROUTE_VALUE_PAYLOAD);
        struct fixture fx;
        cJSON *back;

        (void)state;
        load(&fx, GENERIC);
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), 0);
        assert_string_equal(fx.rec.value, "\"he said \\\"hi\\\"\"");
        back = cJSON_Parse(fx.rec.value);
        assert_true(cJSON_IsString(back));
        assert_string_equal(back->valuestring, "he said \"hi\"");
        cJSON_Delete(back);
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, &warned, err, sizeof(err)), 0);
        assert_int_equal(warned, ROUTER_WARN_NO_ENTITY | ROUTER_WARN_NO_KEY);
        assert_string_equal(fx.rec.topic, "cdc._unknown");
        assert_null(fx.rec.key);
        /* Only the headers that are known: no event time, no UUID. */
        assert_int_equal(fx.rec.nheaders, 3);
        assert_header(&fx.rec, 0, "sf.channel", "/data/ChangeEvents");
        assert_header(&fx.rec, 1, "sf.replay_id", "77");
        assert_header(&fx.rec, 2, "sf.bridge", "b");
        assert_null(fx.rec.event_time);
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), 0);
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
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), -1);
        assert_null(fx.rec.value);
        assert_non_null(strstr(err, "event 9 on /topic/T has neither data.payload nor data.sobject"));

        memset(topic, 'a', sizeof(topic) - 1);
        topic[sizeof(topic) - 1] = '\0';
        rt.topic = topic;
        rt.value = ROUTE_VALUE_DATA;
        err[0] = '\0';
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), -1);
        assert_null(fx.rec.value);
        assert_non_null(strstr(err, "longer than 255 bytes"));

        /* 255 bytes is the most the record holds. */
        topic[255] = '\0';
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), 0);
        assert_int_equal(strlen(fx.rec.topic), 255);
        unload(&fx);
}

/* The key for replay_id is the decimal ASCII of large IDs too. */
static void test_large_replay_id_key(void **state)
{
        static const char json[] =
                "{\"data\":{\"event\":{\"replayId\":9007199254740991},\"payload\":{}},\"channel\":\"/event/E__e\"}";
        struct config cfg = make_config("b");
        struct config_route rt = make_route("/event/E__e", "t", ROUTE_KEY_REPLAY_ID, ROUTE_VALUE_DATA);
        struct fixture fx;

        (void)state;
        load(&fx, json);
        assert_int_equal(router_render(&cfg, &rt, &fx.ev, &fx.rec, NULL, err, sizeof(err)), 0);
        assert_int_equal(fx.rec.key_len, 16);
        assert_memory_equal(fx.rec.key, "9007199254740991", 16);
        assert_header(&fx.rec, 1, "sf.replay_id", "9007199254740991");
        unload(&fx);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pushtopic_defaults),
                cmocka_unit_test(test_pushtopic_payload_is_sobject),
                cmocka_unit_test(test_platform_event_headers_and_message_value),
                cmocka_unit_test(test_cdc_entity_topic_and_record_key),
                cmocka_unit_test(test_generic_payload_is_json_string),
                cmocka_unit_test(test_missing_fields_warn),
                cmocka_unit_test(test_entity_sanitised),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_large_replay_id_key),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
