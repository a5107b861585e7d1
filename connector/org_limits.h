/*
 * The org's streaming allocations, read from Salesforce's REST limits
 * resource (GET <instance>/services/data/v<api>/limits) every
 * salesforce.limits_poll_s, off the event path: the request shares the run
 * loop's libcurl multi handle and never blocks it. What it reads becomes the
 * gauges sfbridge_sf_limit_max/remaining{name}, a warning below 20 % and an
 * error below 5 % remaining (once per crossing), and the answer to "may a
 * route replay everything now?" (on_invalid_replay: all).
 */
#ifndef SFB_ORG_LIMITS_H
#define SFB_ORG_LIMITS_H

#include <stddef.h>

#include "auth.h"
#include "config.h"
#include "http.h"

/* The limits sfbridge reads; others in the answer are ignored. */
enum org_limits_name {
        ORG_LIMITS_DAILY_PLATFORM,   /* DailyDeliveredPlatformEvents: platform and change events */
        ORG_LIMITS_DAILY_PUSHTOPIC,  /* DailyDurableStreamingApiEvents: /topic/ */
        ORG_LIMITS_DAILY_GENERIC,    /* DailyDurableGenericStreamingApiEvents: /u/ */
        ORG_LIMITS_CLIENTS,          /* DurableStreamingApiConcurrentClients */
        ORG_LIMITS_MONTHLY_PLATFORM, /* MonthlyPlatformEventsUsageEntitlement, when the org has it */
        ORG_LIMITS_NNAMES
};

struct org_limits_value {
        int present;
        long long max;
        long long remaining;
};

struct org_limits_report {
        struct org_limits_value v[ORG_LIMITS_NNAMES];
};

struct org_limits;

/** @returns Salesforce's name of @p name ("DailyDeliveredPlatformEvents"), a static string. */
const char *org_limits_name_text(enum org_limits_name name);

/**
 * @brief Parse a limits resource answer. Pure.
 * @returns 0 with @p out filled (absent names not present), or -1 with
 *          errstr saying what is wrong (not JSON, not an object, a Max or
 *          Remaining that is not a number).
 */
int org_limits_parse(const char *json, size_t len, struct org_limits_report *out, char *errstr,
                 size_t errstr_size);

/**
 * @returns the daily allocation events of @p channel count against:
 *          /topic/ PushTopic, /u/ generic, anything else (/event/, /data/)
 *          the platform one.
 */
enum org_limits_name org_limits_daily_of(const char *channel);

/**
 * @returns 0 (at least 20 % left, or Max 0), 1 (below 20 %), 2 (below 5 %).
 */
int org_limits_level(const struct org_limits_value *v);

/**
 * @returns a new poller, free with org_limits_destroy(), or NULL (out of memory;
 *          errstr says so). poll_s 0: never polls, every question answered
 *          "allowed". @remark cfg and http are borrowed.
 */
struct org_limits *org_limits_new(const struct config *cfg, struct http *http, char *errstr,
                          size_t errstr_size);

/** @brief Cancel a request in flight and free. Accepts NULL. */
void org_limits_destroy(struct org_limits *lim);

/**
 * @brief Start the next poll when it is due and a token is at hand; take
 *        the answer of one that finished. Never blocks. Call each loop.
 * @param tok  the session's current token (borrowed), or NULL.
 */
void org_limits_step(struct org_limits *lim, const struct auth_token *tok, long long now_ms);

/**
 * @returns 1 when the last reading says the daily allocation of @p channel
 *          is nearly spent (below 5 % remaining), with a sentence in @p why;
 *          0 when there is room or nothing is known yet.
 */
int org_limits_nearly_spent(const struct org_limits *lim, const char *channel, char *why, size_t why_size);

#endif
