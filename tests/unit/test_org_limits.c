/*
 * org_limits: reading Salesforce's limits resource (the names sfbridge
 * keeps, the ones it ignores, answers that are not the documented shape),
 * the 20 % / 5 % levels, and which daily allocation a channel spends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "config.h"
#include "org_limits.h"

/* Trimmed from a real answer: the streaming names among others. */
static const char answer[] =
        "{\"ConcurrentAsyncGetReportInstances\":{\"Max\":200,\"Remaining\":200},"
        "\"DailyApiRequests\":{\"Max\":15000,\"Remaining\":14998,\"Ant Migration Tool\":{\"Max\":0,\"Remaining\":0}},"
        "\"DailyDeliveredPlatformEvents\":{\"Max\":50000,\"Remaining\":9999},"
        "\"DailyDurableGenericStreamingApiEvents\":{\"Max\":1000000,\"Remaining\":1000000},"
        "\"DailyDurableStreamingApiEvents\":{\"Max\":1000000,\"Remaining\":2},"
        "\"DurableStreamingApiConcurrentClients\":{\"Max\":2000,\"Remaining\":1998},"
        "\"MonthlyPlatformEventsUsageEntitlement\":{\"Max\":3000000,\"Remaining\":2999000}}";

static void test_parse(void **state)
{
        struct org_limits_report rep;
        char err[256];

        (void)state;
        assert_int_equal(org_limits_parse(answer, strlen(answer), &rep, err, sizeof(err)), 0);
        assert_true(rep.v[ORG_LIMITS_DAILY_PLATFORM].present);
        assert_int_equal(rep.v[ORG_LIMITS_DAILY_PLATFORM].max, 50000);
        assert_int_equal(rep.v[ORG_LIMITS_DAILY_PLATFORM].remaining, 9999);
        assert_int_equal(rep.v[ORG_LIMITS_DAILY_PUSHTOPIC].remaining, 2);
        assert_int_equal(rep.v[ORG_LIMITS_DAILY_GENERIC].max, 1000000);
        assert_int_equal(rep.v[ORG_LIMITS_CLIENTS].remaining, 1998);
        assert_true(rep.v[ORG_LIMITS_MONTHLY_PLATFORM].present);
        assert_int_equal(rep.v[ORG_LIMITS_MONTHLY_PLATFORM].max, 3000000);
        assert_string_equal(org_limits_name_text(ORG_LIMITS_MONTHLY_PLATFORM),
                            "MonthlyPlatformEventsUsageEntitlement");

        /* An org without the monthly entitlement (or an older API) leaves it out. */
        assert_int_equal(org_limits_parse("{\"DailyDeliveredPlatformEvents\":{\"Max\":10,\"Remaining\":10}}",
                                          61, &rep, err, sizeof(err)), 0);
        assert_true(rep.v[ORG_LIMITS_DAILY_PLATFORM].present);
        assert_false(rep.v[ORG_LIMITS_MONTHLY_PLATFORM].present);
        assert_false(rep.v[ORG_LIMITS_CLIENTS].present);
}

static void test_parse_errors(void **state)
{
        struct org_limits_report rep;
        char err[256];
        const char *bad = "{\"DailyDeliveredPlatformEvents\":{\"Max\":\"lots\",\"Remaining\":1}}";

        (void)state;
        assert_int_equal(org_limits_parse("[{\"errorCode\":\"INVALID_SESSION_ID\"}]", 37, &rep, err,
                                          sizeof(err)), -1);
        assert_string_equal(err, "the limits answer is not a JSON object");
        assert_int_equal(org_limits_parse("{\"Daily", 7, &rep, err, sizeof(err)), -1);
        assert_int_equal(org_limits_parse(bad, strlen(bad), &rep, err, sizeof(err)), -1);
        assert_string_equal(err, "DailyDeliveredPlatformEvents in the limits answer is not "
                                 "{\"Max\":N,\"Remaining\":N}");
        assert_false(rep.v[ORG_LIMITS_DAILY_PLATFORM].present);
}

static void test_levels(void **state)
{
        struct org_limits_value v = { 1, 100, 100 };

        (void)state;
        assert_int_equal(org_limits_level(&v), 0);
        v.remaining = 20;
        assert_int_equal(org_limits_level(&v), 0); /* 20 % is not below 20 % */
        v.remaining = 19;
        assert_int_equal(org_limits_level(&v), 1);
        v.remaining = 5;
        assert_int_equal(org_limits_level(&v), 1);
        v.remaining = 4;
        assert_int_equal(org_limits_level(&v), 2);
        v.remaining = 0;
        assert_int_equal(org_limits_level(&v), 2);
        v.max = 0; /* an org without the allocation: nothing to warn about */
        assert_int_equal(org_limits_level(&v), 0);
        v.present = 0;
        v.max = 100;
        assert_int_equal(org_limits_level(&v), 0);
}

static void test_daily_of(void **state)
{
        (void)state;
        assert_int_equal(org_limits_daily_of("/event/Order__e"), ORG_LIMITS_DAILY_PLATFORM);
        assert_int_equal(org_limits_daily_of("/data/ChangeEvents"), ORG_LIMITS_DAILY_PLATFORM);
        assert_int_equal(org_limits_daily_of("/data/AccountChangeEvent"), ORG_LIMITS_DAILY_PLATFORM);
        assert_int_equal(org_limits_daily_of("/topic/Accounts"), ORG_LIMITS_DAILY_PUSHTOPIC);
        assert_int_equal(org_limits_daily_of("/u/Notes"), ORG_LIMITS_DAILY_GENERIC);
}

/* Off (limits_poll_s 0), or nothing read yet: replaying everything is never refused. */
static void test_unknown_allows(void **state)
{
        struct config cfg;
        struct org_limits *lim;
        char err[256], why[256];

        (void)state;
        memset(&cfg, 0, sizeof(cfg));
        cfg.sf.api_version = "59.0";
        lim = org_limits_new(&cfg, NULL, err, sizeof(err));
        assert_non_null(lim);
        org_limits_step(lim, NULL, 0);
        assert_int_equal(org_limits_nearly_spent(lim, "/event/X__e", why, sizeof(why)), 0);
        org_limits_destroy(lim);
        assert_int_equal(org_limits_nearly_spent(NULL, "/event/X__e", why, sizeof(why)), 0);
        org_limits_destroy(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_daily_of),
                cmocka_unit_test(test_unknown_allows),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
