/*
 * event.c: recognising the four event shapes of reference §5 (verbatim
 * samples as fixtures), replayId validation and the CDC commitTimestamp
 * rendering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "event.h"

/* Reference §5.1, verbatim. */
static const char PUSHTOPIC[] =
        "{\n"
        "  \"clientId\": \"lxdl9o32njygi1gj47kgfaga4k\",\n"
        "  \"data\": {\n"
        "    \"event\": {\"createdDate\": \"2016-09-16T19:45:27.454Z\", \"replayId\": 1, \"type\": \"created\"},\n"
        "    \"sobject\": {\"Phone\": \"(415) 555-1212\", \"Id\": \"001D000000KneakIAB\", \"Name\": \"Blackbeard\"}\n"
        "  },\n"
        "  \"channel\": \"/topic/AccountUpdates\"\n"
        "}";

/* Reference §5.2 (the inferred full wrapper). */
static const char GENERIC[] =
        "{\"data\":{\"event\":{\"createdDate\":\"2016-09-16T19:45:27.454Z\",\"replayId\":5},"
        "\"payload\":\"hello\"},\"channel\":\"/u/notifications\"}";

/* Reference §5.3, verbatim. */
static const char PLATFORM_EVENT[] =
        "{\n"
        "  \"data\": {\n"
        "    \"schema\": \"dffQ2QLzDNHqwB8_sHMxdA\",\n"
        "    \"payload\": {\n"
        "      \"CreatedDate\": \"2023-04-09T18:31:40.517Z\",\n"
        "      \"CreatedById\": \"005D0000001cSZs\",\n"
        "      \"Printer_Model__c\": \"XZO-5\",\n"
        "      \"Serial_Number__c\": \"12345\",\n"
        "      \"Ink_Percentage__c\": 0.2\n"
        "    },\n"
        "    \"event\": {\"EventUuid\": \"2ec0e371-1395-457f-9275-be1b527a72f7\", \"replayId\": 2112}\n"
        "  },\n"
        "  \"channel\": \"/event/Low_Ink__e\"\n"
        "}";

/* Reference §5.4, verbatim. */
static const char CDC[] =
        "{\n"
        "  \"data\": {\n"
        "    \"schema\": \"IeRuaY6cbI_HsV8Rv1Mc5g\",\n"
        "    \"payload\": {\n"
        "      \"ChangeEventHeader\": {\n"
        "        \"entityName\": \"Account\",\n"
        "        \"recordIds\": [\"<record_ID>\"],\n"
        "        \"changeType\": \"CREATE\",\n"
        "        \"changeOrigin\": \"com.salesforce.core\",\n"
        "        \"transactionKey\": \"001b7375-0086-250e-e6ca-b99bc3a8b69f\",\n"
        "        \"sequenceNumber\": 1,\n"
        "        \"isTransactionEnd\": true,\n"
        "        \"commitTimestamp\": 1501010206653,\n"
        "        \"commitNumber\": 92847272780,\n"
        "        \"commitUser\": \"<User_ID>\"\n"
        "      },\n"
        "      \"Name\": \"Acme\",\n"
        "      \"Description\": \"Everyone is talking about the cloud. But what does it mean?\",\n"
        "      \"OwnerId\": \"<Owner_ID>\",\n"
        "      \"CreatedDate\": \"2017-07-25T19:16:44Z\",\n"
        "      \"CreatedById\": \"<User_ID>\",\n"
        "      \"LastModifiedDate\": \"2017-07-25T19:16:44Z\",\n"
        "      \"LastModifiedById\": \"<User_ID>\"\n"
        "    },\n"
        "    \"event\": {\"replayId\": 6421}\n"
        "  },\n"
        "  \"channel\": \"/data/ChangeEvents\"\n"
        "}";

static char err[256];

static cJSON *parse_json(const char *text)
{
        cJSON *root = cJSON_Parse(text);

        assert_non_null(root);
        return root;
}

static void test_channel_kind(void **state)
{
        (void)state;
        assert_int_equal(event_channel_kind("/topic/AccountUpdates"), SF_CHANNEL_TOPIC);
        assert_int_equal(event_channel_kind("/event/Low_Ink__e"), SF_CHANNEL_EVENT);
        assert_int_equal(event_channel_kind("/data/ChangeEvents"), SF_CHANNEL_DATA);
        assert_int_equal(event_channel_kind("/data/AccountChangeEvent"), SF_CHANNEL_DATA);
        assert_int_equal(event_channel_kind("/u/notifications"), SF_CHANNEL_GENERIC);
        assert_int_equal(event_channel_kind("/topicX/a"), SF_CHANNEL_UNKNOWN);
        assert_int_equal(event_channel_kind("/meta/connect"), SF_CHANNEL_UNKNOWN);
        assert_int_equal(event_channel_kind(""), SF_CHANNEL_UNKNOWN);
}

static void test_pushtopic(void **state)
{
        cJSON *msg = parse_json(PUSHTOPIC);
        struct sf_event ev;

        (void)state;
        assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
        assert_ptr_equal(ev.msg, msg);
        assert_ptr_equal(ev.data, cJSON_GetObjectItem(msg, "data"));
        assert_ptr_equal(ev.payload, cJSON_GetObjectItem(ev.data, "sobject"));
        assert_string_equal(ev.channel, "/topic/AccountUpdates");
        assert_int_equal(ev.kind, SF_CHANNEL_TOPIC);
        assert_int_equal(ev.replay_id, 1);
        assert_string_equal(ev.event_time, "2016-09-16T19:45:27.454Z");
        assert_null(ev.event_uuid);
        assert_string_equal(ev.record_id, "001D000000KneakIAB");
        assert_null(ev.entity);
        assert_null(ev.change_type);
        assert_false(event_is_gap(&ev));
        cJSON_Delete(msg);
}

static void test_generic(void **state)
{
        cJSON *msg = parse_json(GENERIC);
        struct sf_event ev;

        (void)state;
        assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
        assert_int_equal(ev.kind, SF_CHANNEL_GENERIC);
        assert_int_equal(ev.replay_id, 5);
        assert_true(cJSON_IsString(ev.payload));
        assert_string_equal(ev.payload->valuestring, "hello");
        assert_string_equal(ev.event_time, "2016-09-16T19:45:27.454Z");
        assert_null(ev.record_id);
        assert_null(ev.event_uuid);
        cJSON_Delete(msg);
}

static void test_platform_event(void **state)
{
        cJSON *msg = parse_json(PLATFORM_EVENT);
        struct sf_event ev;

        (void)state;
        assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
        assert_int_equal(ev.kind, SF_CHANNEL_EVENT);
        assert_int_equal(ev.replay_id, 2112);
        assert_string_equal(ev.event_uuid, "2ec0e371-1395-457f-9275-be1b527a72f7");
        /* No data.event.createdDate on platform events: payload.CreatedDate. */
        assert_string_equal(ev.event_time, "2023-04-09T18:31:40.517Z");
        assert_ptr_equal(ev.payload, cJSON_GetObjectItem(ev.data, "payload"));
        assert_null(ev.record_id);
        assert_null(ev.entity);
        cJSON_Delete(msg);
}

static void test_cdc(void **state)
{
        cJSON *msg = parse_json(CDC);
        struct sf_event ev;

        (void)state;
        assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
        assert_int_equal(ev.kind, SF_CHANNEL_DATA);
        assert_int_equal(ev.replay_id, 6421);
        assert_string_equal(ev.entity, "Account");
        assert_string_equal(ev.record_id, "<record_ID>");
        assert_string_equal(ev.change_type, "CREATE");
        /* commitTimestamp 1501010206653 wins over payload.CreatedDate. */
        assert_string_equal(ev.event_time, "2017-07-25T19:16:46.653Z");
        assert_ptr_equal(ev.event_time, ev.event_time_buf);
        assert_null(ev.event_uuid);
        assert_false(event_is_gap(&ev));
        cJSON_Delete(msg);
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
                { "-5", NULL },
                { "1e300", NULL },
                { "true", NULL },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char text[512];
                struct sf_event ev;
                cJSON *msg;

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/data/AccountChangeEvent\",\"data\":{\"payload\":{"
                         "\"ChangeEventHeader\":{\"entityName\":\"Account\",\"commitTimestamp\":%s}},"
                         "\"event\":{\"replayId\":1}}}", cases[i].ts);
                msg = parse_json(text);
                assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
                if (cases[i].text)
                        assert_string_equal(ev.event_time, cases[i].text);
                else
                        assert_null(ev.event_time);
                cJSON_Delete(msg);
        }
}

static void test_gap_events(void **state)
{
        static const char *const types[] = { "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                                             "GAP_UNDELETE", "GAP_OVERFLOW" };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                cJSON *msg = parse_json(CDC);
                cJSON *header = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(msg, "data"),
                                                                        "payload"), "ChangeEventHeader");
                struct sf_event ev;

                cJSON_ReplaceItemInObject(header, "changeType", cJSON_CreateString(types[i]));
                assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
                assert_string_equal(ev.change_type, types[i]);
                assert_true(event_is_gap(&ev));
                cJSON_Delete(msg);
        }
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
                  "\"ChangeEventHeader\":{\"recordIds\":[]},\"Id\":\"p1\"}}}", "p1" },
                { "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"Id\":\"p2\"}}}", "p2" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{\"replayId\":1},\"sobject\":{"
                  "\"Name\":\"x\"}}}", NULL },
                { "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},\"payload\":{"
                  "\"ChangeEventHeader\":{\"recordIds\":[7]}}}}", NULL },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cJSON *msg = parse_json(cases[i].json);
                struct sf_event ev;

                assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
                if (cases[i].record_id)
                        assert_string_equal(ev.record_id, cases[i].record_id);
                else
                        assert_null(ev.record_id);
                cJSON_Delete(msg);
        }
}

static void test_replay_id_forms(void **state)
{
        static const struct {
                const char *replay;
                long long value;      /* when ok */
                const char *error;    /* when not */
        } cases[] = {
                { "0", 0, NULL },
                { "6421", 6421, NULL },
                { "9007199254740991", 9007199254740991LL, NULL },
                { "\"12345\"", 12345, NULL },
                { "\"9007199254740991\"", 9007199254740991LL, NULL },
                { "1.5", 0, "data.event.replayId 1.5 is not an integer" },
                { "-3", 0, "data.event.replayId -3 is negative" },
                { "-1", 0, "is negative" },
                { "9007199254740992", 0, "is too large" },
                { "1e20", 0, "is too large" },
                { "\"9007199254740992\"", 0, "is too large" },
                { "\"12a\"", 0, "\"12a\" is not a non-negative integer" },
                { "\"\"", 0, "is not a non-negative integer" },
                { "\"-1\"", 0, "is not a non-negative integer" },
                { "null", 0, "data.event.replayId is not a number" },
                { "true", 0, "data.event.replayId is not a number" },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char text[256];
                struct sf_event ev;
                cJSON *msg;
                int rc;

                snprintf(text, sizeof(text),
                         "{\"channel\":\"/event/E__e\",\"data\":{\"event\":{\"replayId\":%s},\"payload\":{}}}",
                         cases[i].replay);
                msg = parse_json(text);
                err[0] = '\0';
                rc = event_parse(msg, &ev, err, sizeof(err));
                if (cases[i].error) {
                        assert_int_equal(rc, -1);
                        if (!strstr(err, cases[i].error) || !strstr(err, "/event/E__e"))
                                fail_msg("replayId %s: error \"%s\" lacks \"%s\" or the channel",
                                         cases[i].replay, err, cases[i].error);
                } else {
                        assert_int_equal(rc, 0);
                        assert_true(ev.replay_id == cases[i].value);
                }
                cJSON_Delete(msg);
        }
}

static void test_malformed_events(void **state)
{
        static const struct {
                const char *json;
                const char *error;
        } cases[] = {
                { "{\"data\":{\"event\":{\"replayId\":1}}}", "event has no channel" },
                { "{\"channel\":7,\"data\":{\"event\":{\"replayId\":1}}}", "event has no channel" },
                { "{\"channel\":\"/topic/T\"}", "event on /topic/T has no data object" },
                { "{\"channel\":\"/topic/T\",\"data\":\"x\"}", "event on /topic/T has no data object" },
                { "{\"channel\":\"/topic/T\",\"data\":{}}", "event on /topic/T has no data.event object" },
                { "{\"channel\":\"/topic/T\",\"data\":{\"event\":{}}}",
                  "event on /topic/T has no data.event.replayId" },
                { "[1]", "event has no channel" },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cJSON *msg = parse_json(cases[i].json);
                struct sf_event ev;

                err[0] = '\0';
                assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), -1);
                if (!strstr(err, cases[i].error))
                        fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].json, err, cases[i].error);
                cJSON_Delete(msg);
        }
}

/* Optional fields of the wrong type are ignored, not fatal. */
static void test_wrong_typed_optional_fields(void **state)
{
        static const char text[] =
                "{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":3,\"EventUuid\":5,"
                "\"createdDate\":[]},\"payload\":{\"ChangeEventHeader\":{\"entityName\":1,"
                "\"recordIds\":\"a\",\"changeType\":null,\"commitTimestamp\":{}},\"CreatedDate\":2}}}";
        cJSON *msg = parse_json(text);
        struct sf_event ev;

        (void)state;
        assert_int_equal(event_parse(msg, &ev, err, sizeof(err)), 0);
        assert_int_equal(ev.replay_id, 3);
        assert_null(ev.event_uuid);
        assert_null(ev.event_time);
        assert_null(ev.entity);
        assert_null(ev.record_id);
        assert_null(ev.change_type);
        assert_false(event_is_gap(&ev));
        assert_non_null(ev.payload);
        cJSON_Delete(msg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_channel_kind),
                cmocka_unit_test(test_pushtopic),
                cmocka_unit_test(test_generic),
                cmocka_unit_test(test_platform_event),
                cmocka_unit_test(test_cdc),
                cmocka_unit_test(test_cdc_commit_timestamp_rendering),
                cmocka_unit_test(test_gap_events),
                cmocka_unit_test(test_record_id_fallbacks),
                cmocka_unit_test(test_replay_id_forms),
                cmocka_unit_test(test_malformed_events),
                cmocka_unit_test(test_wrong_typed_optional_fields),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
