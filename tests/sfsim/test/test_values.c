/*
 * Exact values on the wire: publish's fields= text lands in the event
 * verbatim (numbers past 2^53, long decimals, \u escapes, key order, its own
 * whitespace), pretty=1 adds insignificant whitespace only outside strings,
 * and --first-replay-id starts replay IDs past 2^53, written and read as
 * exact integers everywhere (events, the publish answer, stats, subscribe).
 * Everything is checked on the raw text: cJSON would round the very numbers
 * under test.
 */
#include "harness.h"

#define BIG "9007199254740993" /* 2^53 + 1: no double holds it */

/* Every kind of value the bridge must not touch, keys deliberately unsorted. */
static const char fields_text[] =
        "{\"Zeta__c\":" BIG ",\"Big__c\":123456789012345678,\"Pi__c\":3.14159265358979323846,"
        "\"Huge__c\":1e400,\"Neg__c\":-0.0,"
        "\"Text__c\":\"caf\\u00e9 \\ud83d\\ude00 a\\/b \\\"q\\\"\",\"Alpha__c\":null}";

/* The same with whitespace of its own, and structural characters inside a string. */
static const char fields_spaced[] =
        "{ \"b\" : [ 1e400 ,\t-0.0 ] ,\r\n \"a\" : \"{ [ , : \\\" ] }\" }";

/* POST /admin/publish?QUERY&fields=<FIELDS url-encoded>; @returns the raw answer (caller frees). */
static struct hres publish_fields(const struct simproc *sp, const char *query, const char *fields,
                                  long expect)
{
        char url[4096], *enc = NULL;
        struct http_opts opts = { sp->cainfo, NULL, 0 };
        struct hres res;
        CURL *curl = curl_easy_init();

        if (fields)
                enc = curl_easy_escape(curl, fields, 0);
        snprintf(url, sizeof(url), "%s/admin/publish?%s%s%s", sp->url, query, enc ? "&fields=" : "",
                 enc ? enc : "");
        curl_free(enc);
        curl_easy_cleanup(curl);
        http_do("POST", url, NULL, NULL, 0, &opts, &res);
        if (res.rc != CURLE_OK || res.status != expect) {
                print_error("publish %s: HTTP %ld (expected %ld): %s\n", query, res.status, expect,
                            res.body);
                fail();
        }
        return res;
}

/* Publish and expect success, the answer unused. */
static void publish_ok(const struct simproc *sp, const char *query, const char *fields)
{
        struct hres res = publish_fields(sp, query, fields, 200);

        hres_free(&res);
}

/* Subscribe a fresh client to @p channel from @p replay; @returns the raw connect answer. */
static struct hres fetch_raw(struct fixture *fx, const char *channel, const char *replay)
{
        char body[256];
        struct hres res;

        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, channel, replay);
        bx_connect_body(&fx->tc, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.status, 200);
        return res;
}

#define assert_contains(hay, needle) assert_contains_at((hay), (needle), __FILE__, __LINE__)

static void assert_contains_at(const char *hay, const char *needle, const char *file, int line)
{
        if (!strstr(hay, needle)) {
                print_error("%s:%d: [%s]\n  not found in [%.3000s]\n", file, line, needle, hay);
                _fail(file, line);
        }
}

/* @p text without whitespace outside strings, into @p out. */
static void strip_ws(const char *text, char *out, size_t size)
{
        int in_string = 0, escaped = 0;
        size_t n = 0;

        for (; *text && n + 1 < size; text++) {
                if (in_string) {
                        if (escaped)
                                escaped = 0;
                        else if (*text == '\\')
                                escaped = 1;
                        else if (*text == '"')
                                in_string = 0;
                } else if (*text == '"') {
                        in_string = 1;
                } else if (strchr(" \t\r\n", *text)) {
                        continue;
                }
                out[n++] = *text;
        }
        out[n] = '\0';
}

static void test_fields_verbatim_in_every_shape(void **state)
{
        struct fixture *fx = *state;
        char want[2048];
        struct hres res;
        cJSON *arr;

        publish_ok(&fx->sim, "channel=/topic/V", fields_text);
        res = fetch_raw(fx, "/topic/V", "-2");
        snprintf(want, sizeof(want),
                 "\"type\":\"created\"},\"sobject\":%s},\"channel\":\"/topic/V\"}", fields_text);
        assert_contains(res.body, want);
        arr = cJSON_Parse(res.body);
        assert_non_null(arr);
        assert_members(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "data"), "event,sobject");
        cJSON_Delete(arr);
        hres_free(&res);

        publish_ok(&fx->sim, "channel=/event/V__e", fields_text);
        res = fetch_raw(fx, "/event/V__e", "-2");
        snprintf(want, sizeof(want), "\"payload\":%s,\"event\":{\"EventUuid\":\"", fields_text);
        assert_contains(res.body, want);
        hres_free(&res);

        publish_ok(&fx->sim, "channel=/u/V", fields_spaced);
        res = fetch_raw(fx, "/u/V", "-2");
        snprintf(want, sizeof(want), "\"payload\":%s},\"channel\":\"/u/V\"}", fields_spaced);
        assert_contains(res.body, want);
        arr = cJSON_Parse(res.body);
        assert_non_null(arr);
        cJSON_Delete(arr);
        hres_free(&res);
}

/* data.payload of the first event of a connect answer. */
static const cJSON *event_payload(const cJSON *arr)
{
        const cJSON *data = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "data");

        return cJSON_GetObjectItem(data, "payload");
}

static void test_fields_merged_after_change_event_header(void **state)
{
        struct fixture *fx = *state;
        char want[2048];
        struct hres res;
        const cJSON *payload, *header;
        cJSON *arr;

        /* The members follow the header as written, whitespace included. */
        publish_ok(&fx->sim, "channel=/data/ChangeEvents&entity=Contact&change_type=UPDATE",
                   fields_spaced);
        res = fetch_raw(fx, "/data/ChangeEvents", "-2");
        snprintf(want, sizeof(want),
                 "\"commitUser\":\"" T_USER_ID "\"},%.*s},\"event\":{\"replayId\":",
                 (int)strlen(fields_spaced) - 2, fields_spaced + 1);
        assert_contains(res.body, want);
        arr = cJSON_Parse(res.body);
        payload = event_payload(arr);
        assert_members(payload, "ChangeEventHeader,b,a");
        header = cJSON_GetObjectItem(payload, "ChangeEventHeader");
        assert_string_equal(json_str(header, "changeType"), "UPDATE");
        assert_string_equal(json_str(header, "entityName"), "Contact");
        cJSON_Delete(arr);
        hres_free(&res);

        /* An empty object leaves the header alone (and a valid payload). */
        publish_ok(&fx->sim, "channel=/data/AccountChangeEvent", "{ }");
        res = fetch_raw(fx, "/data/AccountChangeEvent", "-2");
        assert_contains(res.body, "\"commitUser\":\"" T_USER_ID "\"} },\"event\":{\"replayId\":");
        arr = cJSON_Parse(res.body);
        assert_members(event_payload(arr), "ChangeEventHeader");
        cJSON_Delete(arr);
        hres_free(&res);
}

static void test_fields_input_checks(void **state)
{
        struct fixture *fx = *state;
        const struct {
                const char *query, *fields, *word;
        } bad[] = {
                { "channel=/event/V__e", "", "one JSON object" },
                { "channel=/event/V__e", "[1]", "one JSON object" },
                { "channel=/event/V__e", "\"text\"", "one JSON object" },
                { "channel=/event/V__e", "{\"a\":1} {}", "one JSON object" },
                { "channel=/event/V__e", "{\"a\":1", "one JSON object" },
                { "channel=/event/V__e", "\xEF\xBB\xBF{}", "one JSON object" },
                { "channel=/data/ChangeEvents", "{\"ChangeEventHeader\":{}}", "ChangeEventHeader" },
                { "channel=/topic/V&size=100", "{}", "'size' or 'fields'" },
                { "channel=/topic/V&pretty=2", NULL, "'pretty'" },
        };
        struct hres res;
        cJSON *json;
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                res = publish_fields(&fx->sim, bad[i].query, bad[i].fields, 400);
                json = cJSON_Parse(res.body);
                assert_members(json, "error");
                if (!strstr(json_str(json, "error"), bad[i].word)) {
                        print_error("%s fields=%s: error '%s' does not mention %s\n", bad[i].query,
                                    bad[i].fields, json_str(json, "error"), bad[i].word);
                        fail();
                }
                cJSON_Delete(json);
                hres_free(&res);
        }
        /* Nothing was published; surrounding whitespace and a header-named
         * member outside CDC are fine. */
        publish_ok(&fx->sim, "channel=/event/V__e", " \n{\"ChangeEventHeader\":1}\t");
        res = fetch_raw(fx, "/event/V__e", "-2");
        assert_contains(res.body, "\"payload\": \n{\"ChangeEventHeader\":1}\t,\"event\":");
        json = cJSON_Parse(res.body);
        assert_int_equal(n_events(json), 1);
        cJSON_Delete(json);
        hres_free(&res);
}

static void test_pretty_adds_whitespace_outside_strings_only(void **state)
{
        struct fixture *fx = *state;
        static char compact[1024], stripped[8192], want[2048];
        struct hres res;
        cJSON *arr;
        char *end;

        publish_ok(&fx->sim, "channel=/event/P__e&pretty=1", fields_spaced);
        publish_ok(&fx->sim, "channel=/event/P__e&pretty=1", NULL);
        res = fetch_raw(fx, "/event/P__e", "-2");
        /* Every whitespace character JSON allows, between tokens. */
        assert_contains(res.body, "[{\r\n\t\"data\" : {\r\n\t\t\"schema\" : \"");
        assert_contains(res.body, "\r\n\t},\r\n\t\"channel\" : \"/event/P__e\"\r\n}");
        /* The string is untouched, structural characters and all. */
        assert_contains(res.body, "\"{ [ , : \\\" ] }\"");
        /* Without the whitespace it is the plain event, fields included. */
        end = strstr(res.body, ",{\"clientId\"");
        assert_non_null(end);
        *end = '\0';
        strip_ws(res.body, stripped, sizeof(stripped));
        strip_ws(fields_spaced, compact, sizeof(compact));
        snprintf(want, sizeof(want), "[{\"data\":{\"schema\":\"");
        assert_int_equal(strncmp(stripped, want, strlen(want)), 0);
        snprintf(want, sizeof(want), "\"payload\":%s,\"event\":{\"EventUuid\":\"", compact);
        assert_contains(stripped, want);
        assert_contains(stripped, "\"payload\":{\"CreatedDate\":\"");
        *end = ',';
        /* Still one valid answer: two events and the connect reply. */
        arr = cJSON_Parse(res.body);
        assert_int_equal(n_events(arr), 2);
        cJSON_Delete(arr);
        hres_free(&res);
}

/* bad_replay_id=1: the replayId no client can read, the rest as usual. */
static void test_bad_replay_id(void **state)
{
        struct fixture *fx = *state;
        struct hres res;
        cJSON *arr;

        publish_ok(&fx->sim, "channel=/topic/B", NULL);
        publish_ok(&fx->sim, "channel=/topic/B&bad_replay_id=1", NULL);
        publish_ok(&fx->sim, "channel=/topic/B&bad_replay_id=1&pretty=1", NULL);
        res = fetch_raw(fx, "/topic/B", "-2");
        assert_contains(res.body, "\"replayId\":\"unreadable-");
        assert_contains(res.body, "\"replayId\" : \"unreadable-");
        arr = cJSON_Parse(res.body); /* still valid JSON */
        assert_non_null(arr);
        assert_int_equal(n_events(arr), 3);
        cJSON_Delete(arr);
        hres_free(&res);
        res = publish_fields(&fx->sim, "channel=/topic/B&bad_replay_id=2", NULL, 400);
        assert_contains(res.body, "'bad_replay_id' must be 0 or 1");
        hres_free(&res);
}

static void test_first_replay_id_past_2_53(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--first-replay-id", BIG, NULL };
        char body[1024], ids[3][24], want[512];
        struct hres pub, res;
        cJSON *arr;
        int n;

        fx_restart(fx, args);
        /* The answer lists exact integers, the first one exactly BIG. */
        pub = publish_fields(&fx->sim, "channel=/event/Big__e&count=3", NULL, 200);
        n = sscanf(pub.body, "{\"replay_ids\":[%23[0-9],%23[0-9],%23[0-9]]}", ids[0], ids[1],
                   ids[2]);
        assert_int_equal(n, 3);
        assert_string_equal(ids[0], BIG);
        assert_true(strlen(ids[1]) == 16 && strlen(ids[2]) == 16);
        assert_true(strcmp(ids[1], ids[0]) > 0 && strcmp(ids[2], ids[1]) > 0);
        hres_free(&pub);
        /* Every channel starts there. */
        pub = publish_fields(&fx->sim, "channel=/topic/Big", NULL, 200);
        assert_string_equal(pub.body, "{\"replay_ids\":[" BIG "]}");
        hres_free(&pub);

        res = fetch_raw(fx, "/event/Big__e", "-2");
        for (n = 0; n < 3; n++) {
                snprintf(want, sizeof(want), "\"replayId\":%s}}", ids[n]);
                assert_contains(res.body, want);
        }
        hres_free(&res);

        /* Stats: exact, not through a double. */
        snprintf(want, sizeof(want), "%s/admin/stats", fx->sim.url);
        http_do("GET", want, NULL, NULL, 0, NULL, &res);
        snprintf(want, sizeof(want), "\"last_replay_id\":%s,\"first_replay_id\":" BIG ",", ids[2]);
        assert_contains(res.body, want);
        hres_free(&res);

        /* Subscribing from the exact first ID (a JSON number past 2^53)
         * delivers exactly the two after it: the ID was not rounded. */
        res = fetch_raw(fx, "/event/Big__e", BIG);
        arr = cJSON_Parse(res.body);
        assert_int_equal(n_events(arr), 2);
        cJSON_Delete(arr);
        assert_null(strstr(res.body, "\"replayId\":" BIG "}"));
        snprintf(want, sizeof(want), "\"replayId\":%s}", ids[1]);
        assert_contains(res.body, want);
        hres_free(&res);
        /* ... and as a string. */
        snprintf(want, sizeof(want), "\"%s\"", ids[1]);
        res = fetch_raw(fx, "/event/Big__e", want);
        arr = cJSON_Parse(res.body);
        assert_int_equal(n_events(arr), 1);
        cJSON_Delete(arr);
        hres_free(&res);
        /* One past the newest is invalid, and the error names it exactly. */
        snprintf(want, sizeof(want), "%llu", strtoull(ids[2], NULL, 10) + 1);
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_body(&fx->tc, "/event/Big__e", want, body, sizeof(body));
        bx_raw(&fx->tc, NULL, body, 0, &res);
        snprintf(body, sizeof(body), "\"error\":\"400::The replayId {%s} you provided was invalid.",
                 want);
        assert_contains(res.body, body);
        hres_free(&res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fields_verbatim_in_every_shape, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_fields_merged_after_change_event_header, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_fields_input_checks, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_pretty_adds_whitespace_outside_strings_only, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_first_replay_id_past_2_53, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_bad_replay_id, fx_setup, fx_teardown),
        };

        return RUN("sfsim values", tests);
}
