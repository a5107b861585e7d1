/*
 * Salesforce's limits resource, polled beside the session (see org_limits.h).
 */
#include "org_limits.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "log.h"
#include "metrics.h"

#define ORG_LIMITS_TIMEOUT_MS 30000     /* one poll, whole exchange */
#define ORG_LIMITS_RETRY_MAX_MS 60000   /* a failed poll is retried sooner than the next one */

static const char *const org_limits_names[ORG_LIMITS_NNAMES] = {
        [ORG_LIMITS_DAILY_PLATFORM] = "DailyDeliveredPlatformEvents",
        [ORG_LIMITS_DAILY_PUSHTOPIC] = "DailyDurableStreamingApiEvents",
        [ORG_LIMITS_DAILY_GENERIC] = "DailyDurableGenericStreamingApiEvents",
        [ORG_LIMITS_CLIENTS] = "DurableStreamingApiConcurrentClients",
        [ORG_LIMITS_MONTHLY_PLATFORM] = "MonthlyPlatformEventsUsageEntitlement",
};

struct org_limits {
        const struct config *cfg;
        struct http *http;
        struct http_xfer x;
        int xfer_ok;
        long poll_ms;                /* 0: off */
        long long next_at;           /* monotonic ms of the next poll; 0: at once */
        int failing;                 /* the last poll failed: said once until one works */
        int level[ORG_LIMITS_NNAMES];    /* org_limits_level() last said, per name */
        struct org_limits_report last;   /* the last reading */
        int have;                    /* last holds a reading */
};

const char *org_limits_name_text(enum org_limits_name name)
{
        return org_limits_names[name];
}

static int org_limits_number(const cJSON *obj, const char *member, long long *out)
{
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, member);

        if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) || n->valuedouble < -9e15 ||
            n->valuedouble > 9e15)
                return -1;
        *out = (long long)n->valuedouble;
        return 0;
}

int org_limits_parse(const char *json, size_t len, struct org_limits_report *out, char *errstr,
                 size_t errstr_size)
{
        cJSON *root = cJSON_ParseWithLength(json, len);
        int i, rc = 0;

        memset(out, 0, sizeof(*out));
        if (!cJSON_IsObject(root)) {
                snprintf(errstr, errstr_size, "the limits answer is not a JSON object");
                cJSON_Delete(root);
                return -1;
        }
        for (i = 0; i < ORG_LIMITS_NNAMES && rc == 0; i++) {
                const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, org_limits_names[i]);
                struct org_limits_value *v = &out->v[i];

                if (!obj)
                        continue;
                if (!cJSON_IsObject(obj) || org_limits_number(obj, "Max", &v->max) == -1 ||
                    org_limits_number(obj, "Remaining", &v->remaining) == -1) {
                        snprintf(errstr, errstr_size,
                                 "%s in the limits answer is not {\"Max\":N,\"Remaining\":N}",
                                 org_limits_names[i]);
                        rc = -1;
                        break;
                }
                v->present = 1;
        }
        cJSON_Delete(root);
        if (rc == -1)
                memset(out, 0, sizeof(*out));
        return rc;
}

enum org_limits_name org_limits_daily_of(const char *channel)
{
        if (!strncmp(channel, "/topic/", 7))
                return ORG_LIMITS_DAILY_PUSHTOPIC;
        if (!strncmp(channel, "/u/", 3))
                return ORG_LIMITS_DAILY_GENERIC;
        return ORG_LIMITS_DAILY_PLATFORM;
}

int org_limits_level(const struct org_limits_value *v)
{
        if (!v->present || v->max <= 0)
                return 0;
        /* remaining/max < 5 % without floating point: 20 * remaining < max. */
        if (v->remaining * 20 < v->max)
                return 2;
        if (v->remaining * 5 < v->max)
                return 1;
        return 0;
}

struct org_limits *org_limits_new(const struct config *cfg, struct http *http, char *errstr,
                          size_t errstr_size)
{
        struct org_limits *lim = calloc(1, sizeof(*lim));

        if (!lim) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        lim->cfg = cfg;
        lim->http = http;
        lim->poll_ms = (long)cfg->sf.limits_poll_s * 1000L;
        if (lim->poll_ms > 0) {
                if (http_xfer_init(http, &lim->x, errstr, errstr_size) == -1) {
                        org_limits_destroy(lim);
                        return NULL;
                }
                lim->xfer_ok = 1;
        }
        return lim;
}

void org_limits_destroy(struct org_limits *lim)
{
        if (!lim)
                return;
        if (lim->xfer_ok)
                http_xfer_cleanup(&lim->x);
        free(lim);
}

/* Say each crossing of 20 % and 5 % once, either way. */
static void org_limits_crossings(struct org_limits *lim)
{
        int i;

        for (i = 0; i < ORG_LIMITS_NNAMES; i++) {
                const struct org_limits_value *v = &lim->last.v[i];
                int level = org_limits_level(v);

                if (level == lim->level[i])
                        continue;
                if (level > lim->level[i])
                        log_msg(level == 2 ? LOG_ERROR : LOG_WARN, "sf_limit_low",
                                "name=%s max=%lld remaining=%lld below_percent=%d "
                                "err=\"Salesforce's allocation is nearly spent: deliveries stop "
                                "when it is\"",
                                org_limits_names[i], v->max, v->remaining, level == 2 ? 5 : 20);
                else
                        log_msg(LOG_INFO, "sf_limit_recovered",
                                "name=%s max=%lld remaining=%lld above_percent=%d", org_limits_names[i],
                                v->max, v->remaining, level == 1 ? 5 : 20);
                lim->level[i] = level;
        }
}

static void org_limits_failed(struct org_limits *lim, long long now_ms, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void org_limits_failed(struct org_limits *lim, long long now_ms, const char *fmt, ...)
{
        char err[512];
        long retry = lim->poll_ms < ORG_LIMITS_RETRY_MAX_MS ? lim->poll_ms : ORG_LIMITS_RETRY_MAX_MS;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, sizeof(err), fmt, ap);
        va_end(ap);
        if (!lim->failing)
                log_msg(LOG_WARN, "limits_poll_failed", "err=\"%s\" action=retry retry_s=%ld", err,
                        retry / 1000);
        lim->failing = 1;
        lim->next_at = now_ms + retry;
}

static void org_limits_take(struct org_limits *lim, long long now_ms)
{
        struct org_limits_report rep;
        char err[256];
        int i;

        lim->x.done = 0;
        if (lim->x.curl_code) {
                org_limits_failed(lim, now_ms, "GET limits: %s", lim->x.error);
                return;
        }
        if (lim->x.status != 200) {
                /* The body is Salesforce's error list ([{"errorCode":...}]): no secret in it. */
                org_limits_failed(lim, now_ms, "GET limits: HTTP %ld: %.200s", lim->x.status,
                              lim->x.body.data ? lim->x.body.data : "");
                return;
        }
        if (org_limits_parse(lim->x.body.data, lim->x.body.len, &rep, err, sizeof(err)) == -1) {
                org_limits_failed(lim, now_ms, "%s", err);
                return;
        }
        if (lim->failing)
                log_msg(LOG_INFO, "limits_poll_ok", "after=failures");
        lim->failing = 0;
        lim->last = rep;
        lim->have = 1;
        for (i = 0; i < ORG_LIMITS_NNAMES; i++)
                if (rep.v[i].present)
                        metrics_sf_limit_set(org_limits_names[i], rep.v[i].max, rep.v[i].remaining);
        org_limits_crossings(lim);
        lim->next_at = now_ms + lim->poll_ms;
}

void org_limits_step(struct org_limits *lim, const struct auth_token *tok, long long now_ms)
{
        char url[1024], auth[4096], err[256];
        int n;

        if (!lim || lim->poll_ms <= 0)
                return;
        if (lim->x.done)
                org_limits_take(lim, now_ms);
        if (lim->x.busy || now_ms < lim->next_at)
                return;
        if (!tok || !tok->access_token || !tok->instance_url)
                return; /* not logged in yet: the first poll follows the first login */
        snprintf(url, sizeof(url), "%s/services/data/v%s/limits", tok->instance_url,
                 lim->cfg->sf.api_version);
        n = snprintf(auth, sizeof(auth), "Bearer %s", tok->access_token);
        if (n < 0 || (size_t)n >= sizeof(auth)) {
                org_limits_failed(lim, now_ms, "the access token is too long for the limits request");
        } else if (http_xfer_get(&lim->x, url, auth, ORG_LIMITS_TIMEOUT_MS, err, sizeof(err)) == -1) {
                org_limits_failed(lim, now_ms, "GET limits: %s", err);
        }
        OPENSSL_cleanse(auth, sizeof(auth));
}

int org_limits_nearly_spent(const struct org_limits *lim, const char *channel, char *why, size_t why_size)
{
        enum org_limits_name name = org_limits_daily_of(channel);
        const struct org_limits_value *v;

        if (!lim || !lim->have)
                return 0;
        v = &lim->last.v[name];
        if (org_limits_level(v) < 2)
                return 0;
        snprintf(why, why_size, "%s has %lld of %lld left (below 5 %%)", org_limits_names[name],
                 v->remaining, v->max);
        return 1;
}
