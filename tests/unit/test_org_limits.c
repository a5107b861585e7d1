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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
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

/* ---- the poller against a small local server ------------------------------ */

static struct {
        int status;          /* what the server answers next */
        const char *body;
        int hits;
        char auth[128];      /* the last Authorization header */
        char path[128];
} srv;

static enum MHD_Result srv_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        struct MHD_Response *resp;
        enum MHD_Result ret;

        (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
        srv.hits++;
        snprintf(srv.auth, sizeof(srv.auth), "%s", auth ? auth : "");
        snprintf(srv.path, sizeof(srv.path), "%s", url);
        resp = MHD_create_response_from_buffer(strlen(srv.body), (void *)srv.body, MHD_RESPMEM_MUST_COPY);
        ret = MHD_queue_response(conn, (unsigned int)srv.status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Step until the request in flight is answered and taken (now_ms + 1). */
static void step_round(struct org_limits *lim, struct http *http, const struct auth_token *tok,
                       long long now_ms)
{
        int hits = srv.hits, i;

        org_limits_step(lim, tok, now_ms);
        for (i = 0; i < 200 && srv.hits == hits; i++)
                http_poll(http, 20, -1);
        for (i = 0; i < 20; i++)
                http_poll(http, 20, -1); /* the answer arrives */
        org_limits_step(lim, tok, now_ms + 1);
}

static size_t count_of(const char *hay, const char *needle)
{
        size_t n = 0;

        while ((hay = strstr(hay, needle))) {
                n++;
                hay++;
        }
        return n;
}

#define LIMITS_JSON(rem)                                                                               \
        "{\"DailyDeliveredPlatformEvents\":{\"Max\":100,\"Remaining\":" rem "},"                       \
        "\"DurableStreamingApiConcurrentClients\":{\"Max\":20,\"Remaining\":19}}"

/*
 * A failing read is logged once and retried at the poll interval; a good one
 * sets the gauges; 20 % and 5 % are each said once per crossing, and the
 * climb back too; the token goes out as a Bearer header and into no log.
 */
static void test_poll(void **state)
{
        struct http_opts hopts = { 0 };
        struct MHD_Daemon *d;
        const union MHD_DaemonInfo *info;
        struct config cfg;
        struct auth_token tok;
        struct org_limits *lim;
        struct http *http;
        char err[256], why[256], url[64], logf[] = "/tmp/test_org_limits.XXXXXX";
        int fd, saved;
        struct buf out;
        char *log_text;
        long n;
        FILE *fp;

        (void)state;
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, srv_answer, NULL,
                             MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
        assert_non_null(d);
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        assert_non_null(info);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
        memset(&cfg, 0, sizeof(cfg));
        cfg.sf.api_version = "59.0";
        cfg.sf.limits_poll_s = 1;
        tok.access_token = "tok-very-secret";
        tok.instance_url = url;
        tok.org_id = NULL;
        tok.user_id = NULL;
        assert_int_equal(metrics_init("t", "0"), 0);
        hopts.connect_timeout_ms = 2000;
        hopts.max_response = 65536;
        http = http_new(&hopts, err, sizeof(err));
        assert_non_null(http);
        lim = org_limits_new(&cfg, http, err, sizeof(err));
        assert_non_null(lim);

        fd = mkstemp(logf);
        assert_true(fd >= 0);
        saved = dup(2);
        dup2(fd, 2);
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);

        srv.status = 500;
        srv.body = "[{\"errorCode\":\"UNKNOWN_EXCEPTION\",\"message\":\"boom\"}]";
        org_limits_step(lim, NULL, 0); /* no token yet: nothing goes out */
        assert_int_equal(srv.hits, 0);
        step_round(lim, http, &tok, 0);
        assert_int_equal(srv.hits, 1);
        assert_string_equal(srv.auth, "Bearer tok-very-secret");
        assert_string_equal(srv.path, "/services/data/v59.0/limits");
        org_limits_step(lim, &tok, 500); /* not due yet */
        http_poll(http, 20, -1);
        assert_int_equal(srv.hits, 1);
        step_round(lim, http, &tok, 1001); /* retried, fails again: not said again */
        assert_int_equal(srv.hits, 2);
        assert_int_equal(org_limits_nearly_spent(lim, "/event/X__e", why, sizeof(why)), 0);

        srv.status = 200;
        srv.body = LIMITS_JSON("15");
        step_round(lim, http, &tok, 2002);
        assert_int_equal(org_limits_nearly_spent(lim, "/event/X__e", why, sizeof(why)), 0);
        srv.body = LIMITS_JSON("4");
        step_round(lim, http, &tok, 3003);
        step_round(lim, http, &tok, 4004);
        assert_int_equal(srv.hits, 5);
        assert_int_equal(org_limits_nearly_spent(lim, "/event/X__e", why, sizeof(why)), 1);
        assert_string_equal(why, "DailyDeliveredPlatformEvents has 4 of 100 left (below 5 %)");
        assert_int_equal(org_limits_nearly_spent(lim, "/data/ChangeEvents", why, sizeof(why)), 1);
        assert_int_equal(org_limits_nearly_spent(lim, "/topic/X", why, sizeof(why)), 0);
        buf_init(&out, 1 << 20);
        assert_int_equal(metrics_render(&out), 0);
        assert_non_null(strstr(out.data, "sfbridge_sf_limit_max{name=\"DailyDeliveredPlatformEvents\"} 100\n"));
        assert_non_null(strstr(out.data, "sfbridge_sf_limit_remaining{name=\"DailyDeliveredPlatformEvents\"} 4\n"));
        assert_non_null(strstr(out.data, "sfbridge_sf_limit_remaining{name=\"DurableStreamingApiConcurrentClients\"} 19\n"));
        buf_free(&out);
        srv.body = LIMITS_JSON("50");
        step_round(lim, http, &tok, 5005);
        assert_int_equal(org_limits_nearly_spent(lim, "/event/X__e", why, sizeof(why)), 0);

        org_limits_destroy(lim);
        http_destroy(http);
        MHD_stop_daemon(d);
        metrics_shutdown();
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        n = lseek(fd, 0, SEEK_END);
        log_text = calloc(1, (size_t)n + 1);
        assert_non_null(log_text);
        fp = fdopen(fd, "r");
        assert_non_null(fp);
        rewind(fp);
        assert_int_equal(fread(log_text, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        unlink(logf);
        assert_int_equal(count_of(log_text, "msg=limits_poll_failed"), 1);
        assert_non_null(strstr(log_text, "HTTP 500"));
        assert_int_equal(count_of(log_text, "msg=limits_poll_ok"), 1);
        assert_int_equal(count_of(log_text, "level=warn msg=sf_limit_low name=DailyDeliveredPlatformEvents "
                                            "max=100 remaining=15 below_percent=20"), 1);
        assert_int_equal(count_of(log_text, "level=error msg=sf_limit_low name=DailyDeliveredPlatformEvents "
                                            "max=100 remaining=4 below_percent=5"), 1);
        assert_int_equal(count_of(log_text, "msg=sf_limit_low"), 2);
        assert_int_equal(count_of(log_text, "msg=sf_limit_recovered name=DailyDeliveredPlatformEvents"), 1);
        assert_null(strstr(log_text, "tok-very-secret"));
        free(log_text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_daily_of),
                cmocka_unit_test(test_unknown_allows),
                cmocka_unit_test(test_poll),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
