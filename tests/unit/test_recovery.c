/*
 * recovery.c: every row of the table, driven by the verbatim Salesforce
 * messages of the reference (§3, §4.1, §4.2; whole messages are read from
 * tests/data/salesforce/, the fuzzers' seeds), parsed by bayeux.c as the
 * session would. test_every_rule_is_exercised proves every row is reached
 * by some case, on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "recovery.h"
#include "sf_messages.h"

/* A verbatim message of tests/data/salesforce/, read when the case runs. */
#define F(file) "@" file

struct rcase {
        const char *name;
        int transport_error;
        int http_status;
        const char *json;   /* one Bayeux reply, F(file), or NULL for no msg */
        enum recovery_action action;
        const char *cause;
};

static const struct rcase cases[] = {
        /* --- no usable answer --- */
        { "connection reset / DNS / TLS", 1, 0, NULL, ACT_BACKOFF, "transport" },
        { "nothing at all", 0, 0, NULL, ACT_BACKOFF, "transport" },
        { "HTTP 401", 0, 401, NULL, ACT_REAUTH, "http_401" },
        { "HTTP 401 with a body", 0, 401,
          "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\",\"channel\":\"x\"}]",
          ACT_REAUTH, "http_401" },
        { "HTTP 503", 0, 503, NULL, ACT_BACKOFF, "http_5xx" },
        { "HTTP 500", 0, 500, NULL, ACT_BACKOFF, "http_5xx" },
        { "HTTP 413 Maximum Request Size Exceeded", 0, 413, NULL, ACT_BACKOFF, "http_4xx" },
        { "HTTP 400 Unsupported API version", 0, 400, NULL, ACT_BACKOFF, "http_4xx" },
        { "HTTP 302 to a login page", 0, 302, NULL, ACT_BACKOFF, "http_3xx" },
        { "HTTP 204", 0, 204, NULL, ACT_BACKOFF, "http_other" },
        { "HTTP 200 without a reply", 0, 200, NULL, ACT_BACKOFF, "no_reply" },

        /* --- the reply itself --- */
        { "an event passed by mistake", 0, 200,
          "{\"data\":{\"event\":{\"replayId\":1}},\"channel\":\"/topic/AccountUpdates\"}",
          ACT_NONE, "event" },
        { "server-sent /meta/disconnect (Hyperforce)", 0, 200,
          "{\"channel\":\"/meta/disconnect\",\"successful\":true}", ACT_REHANDSHAKE, "server_disconnect" },
        { "server-sent /meta/disconnect without successful", 0, 200,
          "{\"channel\":\"/meta/disconnect\"}", ACT_REHANDSHAKE, "server_disconnect" },
        { "successful connect (verbatim)", 0, 200,
          F("connect-reply.json"), ACT_NONE, "ok" },
        { "successful connect, multiple-clients", 0, 200,
          F("connect-reply-multiple-clients.json"), ACT_NONE, "ok" },
        { "successful handshake (verbatim)", 0, 200,
          F("handshake-reply.json"), ACT_NONE, "ok" },
        { "successful connect, reconnect handshake", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":true,\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}",
          ACT_REHANDSHAKE, "advice_handshake" },
        { "successful connect, reconnect none (CometD server-side disconnect)", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":true,\"advice\":{\"reconnect\":\"none\",\"interval\":0}}",
          ACT_REHANDSHAKE, "advice_none" },
        { "successful subscribe (verbatim)", 0, 200,
          F("subscribe-reply.json"), ACT_NONE, "ok" },

        /* --- what Salesforce says --- */
        { "(e) 503 too busy in failureReason, error says 401", 0, 200,
          F("connect-error-503-too-busy.json"), ACT_BACKOFF_LONG, "too_busy" },
        { "503 too busy on a subscribe, handshake denied", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::Handshake denied\",\"successful\":false,"
          "\"ext\":{\"sfdc\":{\"failureReason\":\"503::Server is too busy. Please try your request again later.\"}}}",
          ACT_BACKOFF_LONG, "too_busy" },
        { "failureReason SERVER_UNAVAILABLE (aio_sf_streaming)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"ext\":{\"sfdc\":{\"failureReason\":\"SERVER_UNAVAILABLE\"}}}",
          ACT_BACKOFF_LONG, "too_busy" },
        { "(d) per-server connection limit", 0, 200,
          F("handshake-error-403-connection-limit.json"), ACT_BACKOFF_LONG, "server_limit" },
        { "concurrent user limit in error", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::Organization concurrent user limit exceeded\","
          "\"successful\":false}", ACT_BACKOFF_LONG, "concurrent_limit" },
        { "concurrent user limit as handshake denied + reconnect none", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::Handshake denied\",\"successful\":false,"
          "\"advice\":{\"reconnect\":\"none\"},\"ext\":{\"sfdc\":{\"failureReason\":"
          "\"403::Organization concurrent user limit exceeded\"}}}", ACT_BACKOFF_LONG, "concurrent_limit" },
        { "API streaming limit has been exceeded (help article)", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::API streaming limit has been exceeded.\","
          "\"successful\":false}", ACT_BACKOFF_LONG, "concurrent_limit" },
        { "daily limit on subscribe (stackexchange, verbatim)", 0, 200,
          F("subscribe-error-403-daily-limit.json"), ACT_BACKOFF_LONG, "daily_limit" },
        { "daily limit on connect", 0, 200,
          "{\"channel\":\"/meta/connect\",\"error\":\"403::Organization total events daily limit exceeded\","
          "\"successful\":false,\"advice\":{\"reconnect\":\"none\"}}", ACT_BACKOFF_LONG, "daily_limit" },
        { "subscription limit for a topic", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"error\":\"403::Subscription limit exceeded for this topic\","
          "\"successful\":false}", ACT_BACKOFF_LONG, "topic_limit" },
        { "(a) 401 Authentication invalid on connect", 0, 200,
          F("connect-error-401-auth-invalid.json"), ACT_REAUTH, "auth_invalid" },
        { "(b) handshake denied, failureReason 401", 0, 200,
          F("handshake-error-403-denied-401.json"), ACT_REAUTH, "auth_invalid" },
        { "no token: 401 Request requires authentication", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::Handshake denied\",\"successful\":false,"
          "\"ext\":{\"sfdc\":{\"failureReason\":\"401::Request requires authentication\"}}}",
          ACT_REAUTH, "auth_invalid" },
        { "(c) unknown client, no channel", 0, 200,
          F("error-403-unknown-client-bare.json"), ACT_REHANDSHAKE, "unknown_client" },
        { "(c) unknown client on connect", 0, 200,
          F("connect-error-403-unknown-client.json"), ACT_REHANDSHAKE, "unknown_client" },
        { "(c) unknown client + reconnect none (faye #492)", 0, 200,
          F("connect-error-403-unknown-client-none.json"), ACT_REHANDSHAKE, "unknown_client" },
        { "402 unknown client (older servers)", 0, 200,
          "{\"channel\":\"/meta/connect\",\"error\":\"402::Unknown client\",\"successful\":false}",
          ACT_REHANDSHAKE, "unknown_client" },
        { "no BAYEUX_BROWSER cookie", 0, 200,
          "{\"channel\":\"/meta/connect\",\"error\":\"400::Client {myClientId} has established a session, but no "
          "BAYEUX_BROWSER cookie present\",\"successful\":false}", ACT_REHANDSHAKE, "no_cookie" },
        { "null replay value (restforce #498)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"subscription\":\"/data/ChangeEvents\",\"successful\":false,"
          "\"error\":\"400::The replayId for channel {/data/ChangeEvents} wasn't found using the provided replay ID "
          "map {{/data/ChangeEvents=null}}. Ensure that the channel name you provided in the replay map is valid "
          "and matches the channel name used for subscribing.\"}", ACT_FATAL, "replay_map" },
        { "invalid replayId, two spaces (EMP #14)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"subscription\":\"/topic/X\",\"successful\":false,\"error\":"
          "\"400::The replayId {1553783} you provided was invalid.  Please provide a valid ID, -2 to replay all "
          "events, or -1 to replay only new events.\"}", ACT_INVALID_REPLAY, "invalid_replay" },
        { "invalid replayId, one space (docs)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"subscription\":\"/topic/X\",\"successful\":false,\"error\":"
          "\"400::The replayId {1} you provided was invalid. Please provide a valid ID, -2 to replay all "
          "events, or -1 to replay only new events.\"}", ACT_INVALID_REPLAY, "invalid_replay" },
        { "channel doesn't exist", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"subscription\":\"/topic/Nope\",\"successful\":false,"
          "\"error\":\"400::The channel you requested to subscribe to doesn't exist {/topic/Nope}\"}",
          ACT_FATAL, "unknown_channel" },
        { "channel doesn\xe2\x80\x99t exist (curly apostrophe)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,"
          "\"error\":\"400::The channel you requested to subscribe to doesn\xe2\x80\x99t exist {/topic/Nope}\"}",
          ACT_FATAL, "unknown_channel" },
        { "channel does not exist (older docs)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,"
          "\"error\":\"400::The channel you requested to subscribe to does not exist {/topic/Nope}\"}",
          ACT_FATAL, "unknown_channel" },
        { "404 Unknown channel (generic)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"404::Unknown channel\"}",
          ACT_FATAL, "unknown_channel" },
        { "unsupported API version", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"successful\":false,\"error\":\"400::Unsupported API version. Only API "
          "versions '37.0' and later are supported. URI format: '/cometd/66.0'\"}", ACT_FATAL, "api_version" },
        { "no access to the entity", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"403::Subscriber does not have access "
          "to the entity in this topic\"}", ACT_BACKOFF_LONG, "no_access" },
        { "not enabled for streaming", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"successful\":false,\"error\":\"403::User not enabled for streaming\"}",
          ACT_BACKOFF_LONG, "no_access" },
        { "CDC without View All Data", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"403::User not allowed to subscribe CDC "
          "without View All Data permissions\"}", ACT_BACKOFF_LONG, "no_access" },
        { "restricted channel", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"403::Restricted channel\"}",
          ACT_BACKOFF_LONG, "no_access" },
        { "no access on channel (generic)", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"403::No access on channel\"}",
          ACT_BACKOFF_LONG, "no_access" },

        /* --- advice, when the text did not decide --- */
        { "advice handshake on an unlisted error", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"500::Internal\","
          "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}", ACT_REHANDSHAKE, "advice_handshake" },
        { "advice handshake without error", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"advice\":{\"reconnect\":\"handshake\"}}",
          ACT_REHANDSHAKE, "advice_handshake" },
        { "handshake denied + reconnect none, no failureReason", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"error\":\"403::Handshake denied\",\"successful\":false,"
          "\"advice\":{\"reconnect\":\"none\"}}", ACT_REAUTH, "auth_denied" },
        { "reconnect none, unlisted 403 in failureReason", 0, 200,
          "{\"channel\":\"/meta/connect\",\"error\":\"500::x\",\"successful\":false,\"advice\":{\"reconnect\":\"none\"},"
          "\"ext\":{\"sfdc\":{\"failureReason\":\"403::Something new\"}}}", ACT_REAUTH, "auth_denied" },
        { "failed connect + advice retry", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"408::Timeout\","
          "\"advice\":{\"reconnect\":\"retry\",\"interval\":1000}}", ACT_RETRY, "advice_retry" },

        /* --- never silent, never an exit on a connect reply --- */
        { "unlisted error, no advice", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"500::Something unexpected\"}",
          ACT_BACKOFF, "connect_error" },
        { "404 Unknown channel on a connect reply", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"404::Unknown channel\"}",
          ACT_BACKOFF, "connect_error" },
        { "channel doesn't exist on a connect reply", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,"
          "\"error\":\"400::The channel you requested to subscribe to doesn't exist {/topic/Nope}\"}",
          ACT_BACKOFF, "connect_error" },
        { "unsupported API version on a connect reply", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"400::Unsupported API version\"}",
          ACT_BACKOFF, "connect_error" },
        { "replay map error on a connect reply", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"400::The replayId for channel "
          "{/topic/X} wasn't found using the provided replay ID map {}\"}", ACT_BACKOFF, "connect_error" },
        { "unlisted error on a subscribe reply", 0, 200,
          "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"error\":\"500::Something unexpected\"}",
          ACT_REHANDSHAKE, "unknown_error" },
        { "advice retry on a failed handshake", 0, 200,
          "{\"channel\":\"/meta/handshake\",\"successful\":false,\"error\":\"500::x\",\"advice\":{\"reconnect\":\"retry\"}}",
          ACT_REHANDSHAKE, "unknown_error" },
        { "reconnect none on a non-auth error", 0, 200,
          "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"500::x\",\"advice\":{\"reconnect\":\"none\"}}",
          ACT_BACKOFF, "connect_error" },
        { "a meta reply without successful", 0, 200, "{\"channel\":\"/meta/connect\"}",
          ACT_BACKOFF, "connect_error" },
        { "a subscribe reply without successful", 0, 200, "{\"channel\":\"/meta/subscribe\"}",
          ACT_REHANDSHAKE, "unknown_error" },
        { "status 0 with a reply counts as 200", 0, 0,
          "{\"channel\":\"/meta/connect\",\"successful\":true}", ACT_NONE, "ok" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct recovery_decision run_case(const struct rcase *rc)
{
        struct bayeux_response resp = { 0 };
        struct recovery_input in;
        struct recovery_decision dec;
        char err[256], *file = NULL;
        const char *json = rc->json;

        memset(&in, 0, sizeof(in));
        in.transport_error = rc->transport_error;
        in.http_status = rc->http_status;
        if (json && json[0] == '@')
                json = file = sf_message(json + 1, NULL);
        if (json) {
                if (bayeux_response_parse(&resp, json, strlen(json), err, sizeof(err)) == -1)
                        fail_msg("%s: fixture does not parse: %s", rc->name, err);
                assert_int_equal(resp.nmsgs, 1);
                in.msg = &resp.msgs[0];
        }
        dec = recovery_classify(&in);
        bayeux_response_free(&resp);
        free(file);
        return dec;
}

/* Causes the bridge sees itself, decided by the same table (recovery_local). */
static const struct {
        const char *cause;
        enum recovery_action action;
} local_cases[] = {
        { "stall", ACT_REHANDSHAKE },
        { "tls", ACT_BACKOFF },
        { "malformed_response", ACT_BACKOFF },
        { "bad_handshake", ACT_BACKOFF },
        { "no_reply", ACT_BACKOFF },
        { "auth_unavailable", ACT_BACKOFF },
        { "auth_rejected", ACT_BACKOFF },
        { "instance_url_rejected", ACT_BACKOFF },
        { "token_rejected", ACT_BACKOFF },
        { "no_request_in_flight", ACT_REHANDSHAKE },
        { "batch_aborted", ACT_REHANDSHAKE },
        { "kafka_delivery_failed", ACT_REHANDSHAKE },
        { "response_too_large", ACT_BACKOFF },
        { "kafka_unavailable", ACT_HOLD_BATCH },
        { "bad_event", ACT_STOP_ROUTE },
        { "poison_event", ACT_DEAD_LETTER },
        { "unrouted_event", ACT_LOG },
        { "route_error", ACT_QUARANTINE },
};

/*
 * Run every case and every local cause; count in hits[rule] which row of
 * the table decided each. @returns how many decided other than expected.
 */
static int walk_cases(int *hits, size_t nhits)
{
        size_t i;
        int bad = 0;

        assert_true(recovery_rule_count() < nhits);
        for (i = 0; i < NCASES; i++) {
                struct recovery_decision dec = run_case(&cases[i]);

                if (dec.action != cases[i].action || !dec.cause || strcmp(dec.cause, cases[i].cause)) {
                        print_error("case \"%s\": got %s/%s (rule %d: %s), want %s/%s\n", cases[i].name,
                                    recovery_action_name(dec.action), dec.cause ? dec.cause : "(null)",
                                    dec.rule, recovery_rule_describe(dec.rule) ? recovery_rule_describe(dec.rule) : "-",
                                    recovery_action_name(cases[i].action), cases[i].cause);
                        bad++;
                }
                assert_true(dec.rule >= 1 && (size_t)dec.rule <= recovery_rule_count());
                hits[dec.rule]++;
        }
        for (i = 0; i < sizeof(local_cases) / sizeof(local_cases[0]); i++) {
                struct recovery_decision dec = recovery_local(local_cases[i].cause);

                if (dec.action != local_cases[i].action || strcmp(dec.cause, local_cases[i].cause)) {
                        print_error("local cause \"%s\": got %s/%s, want %s\n", local_cases[i].cause,
                                    recovery_action_name(dec.action), dec.cause,
                                    recovery_action_name(local_cases[i].action));
                        bad++;
                }
                assert_true(dec.rule >= 1 && (size_t)dec.rule <= recovery_rule_count());
                hits[dec.rule]++;
        }
        return bad;
}

static void test_every_case(void **state)
{
        int hits[128] = { 0 };

        (void)state;
        assert_int_equal(walk_cases(hits, sizeof(hits) / sizeof(hits[0])), 0);
}

/* A cause missing from the table still gets a loud decision, never none. */
static void test_unknown_local_cause(void **state)
{
        struct recovery_decision dec = recovery_local("no_such_cause");

        (void)state;
        assert_int_equal(dec.action, ACT_REHANDSHAKE);
        assert_string_equal(dec.cause, "unknown_error");
}

/*
 * The table has no dead row: each one decided at least one verbatim case.
 * It walks the cases itself, so it holds whatever runs before it (or alone).
 */
static void test_every_rule_is_exercised(void **state)
{
        int rule_hits[128] = { 0 };
        size_t r;
        int missing = 0;

        (void)state;
        walk_cases(rule_hits, sizeof(rule_hits) / sizeof(rule_hits[0]));
        for (r = 1; r <= recovery_rule_count(); r++) {
                assert_non_null(recovery_rule_describe((int)r));
                if (!rule_hits[r]) {
                        print_error("rule %zu (%s) is reached by no case\n", r,
                                    recovery_rule_describe((int)r));
                        missing++;
                }
        }
        assert_int_equal(missing, 0);
        assert_null(recovery_rule_describe(0));
        assert_null(recovery_rule_describe((int)recovery_rule_count() + 1));
}

/* failureReason is read before error, in both directions. */
static void test_failure_reason_before_error(void **state)
{
        static const struct rcase reason_auth = { "error 503, failureReason 401", 0, 200,
                "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"503::Server is too busy.\","
                "\"ext\":{\"sfdc\":{\"failureReason\":\"401::Authentication invalid\"}}}",
                ACT_REAUTH, "auth_invalid" };
        static const struct rcase reason_unknown = { "unlisted failureReason, listed error", 0, 200,
                "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"403::Unknown client\","
                "\"ext\":{\"sfdc\":{\"failureReason\":\"999::Never seen\"}}}",
                ACT_REHANDSHAKE, "unknown_client" };
        struct recovery_decision dec;

        (void)state;
        dec = run_case(&reason_auth);
        assert_int_equal(dec.action, reason_auth.action);
        assert_string_equal(dec.cause, reason_auth.cause);
        dec = run_case(&reason_unknown);
        assert_int_equal(dec.action, reason_unknown.action);
        assert_string_equal(dec.cause, reason_unknown.cause);
}

/* An HTTP status decides even when the body parsed into a reply. */
static void test_http_status_wins(void **state)
{
        static const struct rcase c = { "HTTP 503 with a success body", 0, 503,
                "{\"channel\":\"/meta/connect\",\"successful\":true}", ACT_BACKOFF, "http_5xx" };
        struct recovery_decision dec = run_case(&c);

        (void)state;
        assert_int_equal(dec.action, ACT_BACKOFF);
        assert_string_equal(dec.cause, "http_5xx");
}

/* Exactly the refusals of one channel are per route (quarantined mid-run); session-wide causes are not. */
static void test_per_route_rows(void **state)
{
        static const char *const per_route[] = {
                "403::Restricted channel", "403::No access on channel",
                "403::User not allowed to subscribe CDC without View All Data permissions",
                "403::Subscriber does not have access to the entity in this topic",
                "400::The channel you requested to subscribe to doesn't exist {/topic/X}",
                "404::Unknown channel", "403::Subscription limit exceeded for this topic",
        };
        static const char *const session_wide[] = {
                "403::Unknown client", "401::Authentication invalid", "403::User not enabled for streaming",
                "403::Organization concurrent user limit exceeded", "503::Server is too busy.",
                "403::Organization total events daily limit exceeded", "500::Something unexpected",
                "400::The replayId {5} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.",
        };
        char json[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(per_route) / sizeof(per_route[0]); i++) {
                struct rcase c = { per_route[i], 0, 200, json, ACT_NONE, "" };

                snprintf(json, sizeof(json), "{\"channel\":\"/meta/subscribe\",\"successful\":false,"
                         "\"subscription\":\"/topic/X\",\"error\":\"%s\"}", per_route[i]);
                if (!run_case(&c).per_route)
                        fail_msg("%s should be per route", per_route[i]);
        }
        for (i = 0; i < sizeof(session_wide) / sizeof(session_wide[0]); i++) {
                struct rcase c = { session_wide[i], 0, 200, json, ACT_NONE, "" };

                snprintf(json, sizeof(json), "{\"channel\":\"/meta/subscribe\",\"successful\":false,"
                         "\"subscription\":\"/topic/X\",\"error\":\"%s\"}", session_wide[i]);
                if (run_case(&c).per_route)
                        fail_msg("%s should be session-wide", session_wide[i]);
        }
}

static void test_action_names(void **state)
{
        (void)state;
        assert_string_equal(recovery_action_name(ACT_NONE), "none");
        assert_string_equal(recovery_action_name(ACT_RETRY), "retry");
        assert_string_equal(recovery_action_name(ACT_REHANDSHAKE), "rehandshake");
        assert_string_equal(recovery_action_name(ACT_REAUTH), "reauth");
        assert_string_equal(recovery_action_name(ACT_BACKOFF), "backoff");
        assert_string_equal(recovery_action_name(ACT_BACKOFF_LONG), "backoff_long");
        assert_string_equal(recovery_action_name(ACT_INVALID_REPLAY), "invalid_replay");
        assert_string_equal(recovery_action_name(ACT_FATAL), "fatal");
        assert_string_equal(recovery_action_name(ACT_HOLD_BATCH), "hold_batch");
        assert_string_equal(recovery_action_name(ACT_STOP_ROUTE), "route_stopped");
        assert_string_equal(recovery_action_name(ACT_DEAD_LETTER), "dead_lettered");
        assert_string_equal(recovery_action_name(ACT_LOG), "logged");
        assert_string_equal(recovery_action_name(ACT_QUARANTINE), "quarantine");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                /* First, so that nothing ran before it. */
                cmocka_unit_test(test_every_rule_is_exercised),
                cmocka_unit_test(test_every_case),
                cmocka_unit_test(test_unknown_local_cause),
                cmocka_unit_test(test_per_route_rows),
                cmocka_unit_test(test_failure_reason_before_error),
                cmocka_unit_test(test_http_status_wins),
                cmocka_unit_test(test_action_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
