/*
 * Metrics: process-wide counters, gauges and one histogram behind one mutex,
 * rendered as Prometheus text exposition 0.0.4. Labelled series sit in a
 * fixed array (insertion order, so scrapes are stable) indexed by a small
 * open-addressing hash; the hash never fills because it has twice as many
 * slots as the array.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define METRICS_HASH_SLOTS (2 * METRICS_MAX_LABEL_SETS) /* a power of two */

/* The labelled families; the rest are plain fields of struct metrics_state. */
enum metrics_family {
        FAM_EVENTS,     /* channel, topic: count */
        FAM_REAUTH,     /* cause: count */
        FAM_RECOVERY,   /* cause, action: count */
        FAM_REPLAY_ID,  /* channel: ival */
        FAM_LAST_EVENT, /* channel: dval (unix time) */
        FAM_CDC_GAP,    /* channel: count */
        FAM_DEAD_LETTER, /* channel, reason: count */
        FAM_ROUTE_UP,   /* channel: ival (1 subscribed, 0 quarantined or not yet) */
        FAM_COMMIT_AGE, /* channel: dval (monotonic seconds: known committed as of then) */
        FAM_SF_LIMIT_MAX,       /* name: ival */
        FAM_SF_LIMIT_REMAINING, /* name: ival */
        FAM_REDELIVERED,        /* channel: count */
        FAM_REBALANCE,          /* event: count (group mode) */
        FAM_UNIT_FENCED,        /* unit, cause: count (group mode) */
        FAM_COUNT
};

/*
 * Does data choose this family's label values? Channels and topics do (a
 * CDC entity name, a stored replay record's channel), so do dead-letter
 * reasons; causes, actions, limit names, group events and unit ids come
 * from tables in the code or the config.
 */
static int family_is_data(enum metrics_family fam)
{
        switch (fam) {
        case FAM_REAUTH:
        case FAM_RECOVERY:
        case FAM_SF_LIMIT_MAX:
        case FAM_SF_LIMIT_REMAINING:
        case FAM_REBALANCE:
        case FAM_UNIT_FENCED:
        case FAM_COUNT:
                return 0;
        default:
                return 1;
        }
}

struct series {
        enum metrics_family fam;
        uint32_t hash;
        char *l1;                 /* one allocation holds l1 and l2 */
        char *l2;                 /* NULL for single-label families */
        unsigned long long count;
        long long ival;
        double dval;
};

/* Upper bounds of sfbridge_connect_seconds: quick replies when events are
 * waiting, up to Salesforce's ~110 s long-poll hold and the client timeout. */
static const double connect_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                          2.5,   5,    10,    30,   60,  90,   110, 120 };
#define NBUCKETS (sizeof(connect_buckets) / sizeof(connect_buckets[0]))

/* Upper bounds of sfbridge_unit_takeover_seconds and _handoff_seconds: a
 * handoff takes ~1-5 s, a crash takeover ~10-15 s on defaults (HA.md §2.7). */
static const double unit_buckets[] = { 0.1, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60 };
#define NUNIT_BUCKETS (sizeof(unit_buckets) / sizeof(unit_buckets[0]))

/* Room for the larger bucket list: NBUCKETS >= NUNIT_BUCKETS. */
struct histogram {
        unsigned long long counts[NBUCKETS]; /* not cumulative; +Inf is count */
        unsigned long long count;
        double sum;
};

#define METRICS_FAILED_MAX 256

/*
 * What one unit reports: its session, its producer and its readiness. A
 * single instance has one, slot 0; in group mode each configured unit has
 * the slot of its index in cfg->units.
 */
struct slot_state {
        unsigned long in_flight;
        unsigned long long in_flight_bytes;
        double backoff_s;
        int up;

        int handshaken;
        int all_subscribed;
        int stalled;
        const char *not_ready_reason;               /* static string or NULL */
        char quarantined[METRICS_QUARANTINE_MAX];   /* "" or the routes set aside, and why */

        /* Kafka cannot take a commit (metrics_kafka_failing). */
        int kafka_failing;
        double kafka_since;                         /* monotonic seconds */
        char kafka_what[64];
        char kafka_err[METRICS_KAFKA_ERR_MAX];
        /* Commit freshness (metrics_kafka_settled, metrics_commit_route). */
        int settled;
        double wait_since;                          /* monotonic seconds: the wait began */

        /* Group mode only. */
        char *unit_id;                              /* owned by ms */
        int owned;
        char failed[METRICS_FAILED_MAX];            /* "" or why the unit is FAILED */
};

struct metrics_state {
        char *name;
        char *version;

        struct series series[METRICS_MAX_LABEL_SETS];
        size_t nseries;
        unsigned short slots[METRICS_HASH_SLOTS]; /* index + 1; 0 = empty */
        unsigned long long label_overflow;
        size_t fam_series[FAM_COUNT];             /* label sets per family, overflow's not */
        size_t data_series;                       /* label sets of data-derived families */

        unsigned long long handshakes;
        unsigned long long sessions_opened;
        unsigned long long kafka_errors;
        unsigned long long replay_gaps;

        struct histogram connect;

        struct timespec heartbeat;                  /* CLOCK_MONOTONIC */
        double health_max_age_s;

        struct slot_state unit[METRICS_MAX_UNITS];

        /* Group mode (metrics_group_init): nothing below is rendered before. */
        int group;
        size_t nunits;
        int joined;
        int unknown_now;
        unsigned long long unknown_total;
        unsigned long long pauses;
        struct histogram takeover;
        struct histogram handoff;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
/* Outside ms: metrics_init() keeps it. */
static size_t max_series_per_family = METRICS_MAX_SERIES_DEFAULT;
static struct metrics_state ms = { .health_max_age_s = METRICS_HEALTH_MAX_AGE_DEFAULT,
                                   .unit[0].not_ready_reason = "starting" };

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
        return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

static double mono_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Call with the lock held. */
static void series_free_all(void)
{
        size_t i;

        for (i = 0; i < ms.nseries; i++)
                free(ms.series[i].l1);
        ms.nseries = 0;
        memset(ms.slots, 0, sizeof(ms.slots));
        memset(ms.fam_series, 0, sizeof(ms.fam_series));
        ms.data_series = 0;
}

static uint32_t label_hash(enum metrics_family fam, const char *l1, const char *l2)
{
        uint32_t h = 2166136261u; /* FNV-1a */
        const unsigned char *p;

        h = (h ^ (uint32_t)fam) * 16777619u;
        for (p = (const unsigned char *)l1; *p; p++)
                h = (h ^ *p) * 16777619u;
        h = (h ^ 0xffu) * 16777619u; /* separator: ("ab","c") != ("a","bc") */
        if (l2)
                for (p = (const unsigned char *)l2; *p; p++)
                        h = (h ^ *p) * 16777619u;
        return h;
}

/* Call with the lock held: the existing series of (fam, l1[, l2]), or NULL with *slotp where it goes. */
static struct series *series_find(enum metrics_family fam, const char *l1, const char *l2,
                                  uint32_t h, size_t *slotp)
{
        size_t slot = h & (METRICS_HASH_SLOTS - 1);
        struct series *se;

        while (ms.slots[slot]) {
                se = &ms.series[ms.slots[slot] - 1];
                if (se->hash == h && se->fam == fam && !strcmp(se->l1, l1) &&
                    (!l2 || !strcmp(se->l2, l2)))
                        return se;
                slot = (slot + 1) & (METRICS_HASH_SLOTS - 1);
        }
        *slotp = slot;
        return NULL;
}

/* Call with the lock held: a new series in @p slot, or NULL when out of memory. */
static struct series *series_add(enum metrics_family fam, const char *l1, const char *l2,
                                 uint32_t h, size_t slot)
{
        size_t n1 = strlen(l1), n2 = l2 ? strlen(l2) : 0;
        struct series *se;
        char *mem;

        mem = malloc(n1 + 1 + n2 + 1);
        if (!mem)
                return NULL;
        se = &ms.series[ms.nseries];
        memset(se, 0, sizeof(*se));
        se->fam = fam;
        se->hash = h;
        se->l1 = mem;
        memcpy(se->l1, l1, n1 + 1);
        if (l2) {
                se->l2 = mem + n1 + 1;
                memcpy(se->l2, l2, n2 + 1);
        }
        ms.slots[slot] = (unsigned short)(++ms.nseries);
        return se;
}

/*
 * Call with the lock held: the family's overflow series, made on first use.
 * It always fits: at most FAM_COUNT of them, and the data-derived families
 * stop METRICS_CORE_RESERVE short of the table's end.
 */
static struct series *series_overflow(enum metrics_family fam, int two_labels)
{
        const char *l2 = two_labels ? METRICS_OVERFLOW_LABEL : NULL;
        uint32_t h = label_hash(fam, METRICS_OVERFLOW_LABEL, l2);
        struct series *se;
        size_t slot;

        se = series_find(fam, METRICS_OVERFLOW_LABEL, l2, h, &slot);
        if (se || ms.nseries == METRICS_MAX_LABEL_SETS)
                return se;
        return series_add(fam, METRICS_OVERFLOW_LABEL, l2, h, slot);
}

/*
 * Find the series of (fam, l1[, l2]), creating it the first time. Call with
 * the lock held. A data-derived family past its cap (or the data share of
 * the table), or a label value too long, gets its overflow series instead;
 * a code-named family in those cases, or anyone out of memory, gets NULL.
 * Either way it is counted: a metric is lost, never the event.
 */
static struct series *series_get(enum metrics_family fam, const char *l1, const char *l2)
{
        int data = family_is_data(fam);
        struct series *se;
        size_t slot;
        uint32_t h;

        if (!l1)
                l1 = "";
        h = label_hash(fam, l1, l2);
        se = series_find(fam, l1, l2, h, &slot);
        if (se)
                return se;

        if (strlen(l1) > METRICS_LABEL_MAX || (l2 && strlen(l2) > METRICS_LABEL_MAX) ||
            (data && (ms.fam_series[fam] >= max_series_per_family ||
                      ms.data_series >= METRICS_MAX_LABEL_SETS - METRICS_CORE_RESERVE)) ||
            ms.nseries == METRICS_MAX_LABEL_SETS) {
                ms.label_overflow++;
                return data ? series_overflow(fam, l2 != NULL) : NULL;
        }
        se = series_add(fam, l1, l2, h, slot);
        if (!se) {
                ms.label_overflow++;
                return NULL;
        }
        ms.fam_series[fam]++;
        if (data)
                ms.data_series++;
        return se;
}

void metrics_max_series_set(size_t per_family)
{
        pthread_mutex_lock(&metrics_lock);
        max_series_per_family = per_family ? per_family : METRICS_MAX_SERIES_DEFAULT;
        pthread_mutex_unlock(&metrics_lock);
}

/* Call with the lock held: the unit ids of group mode. */
static void group_free_locked(void)
{
        size_t i;

        for (i = 0; i < METRICS_MAX_UNITS; i++) {
                free(ms.unit[i].unit_id);
                ms.unit[i].unit_id = NULL;
        }
}

/* Call with the lock held: the state of a slot as at start ("starting"). */
static void slot_reset_locked(struct slot_state *st, double now)
{
        char *id = st->unit_id;
        char failed[METRICS_FAILED_MAX];

        /* FAILED outlives a release: only metrics_unit_failed_set(NULL) clears it. */
        memcpy(failed, st->failed, sizeof(failed));
        memset(st, 0, sizeof(*st));
        st->unit_id = id;
        memcpy(st->failed, failed, sizeof(failed));
        st->not_ready_reason = "starting";
        st->wait_since = now; /* a start waits until its first settled loop */
}

int metrics_init(const char *bridge_name, const char *version)
{
        char *name, *ver;

        if (!bridge_name || !version)
                return -1;
        name = strdup(bridge_name);
        ver = strdup(version);
        if (!name || !ver) {
                free(name);
                free(ver);
                return -1;
        }

        pthread_mutex_lock(&metrics_lock);
        series_free_all();
        group_free_locked();
        free(ms.name);
        free(ms.version);
        memset(&ms, 0, sizeof(ms));
        ms.name = name;
        ms.version = ver;
        ms.health_max_age_s = METRICS_HEALTH_MAX_AGE_DEFAULT;
        clock_gettime(CLOCK_MONOTONIC, &ms.heartbeat);
        slot_reset_locked(&ms.unit[0], mono_now());
        pthread_mutex_unlock(&metrics_lock);
        return 0;
}

void metrics_shutdown(void)
{
        pthread_mutex_lock(&metrics_lock);
        series_free_all();
        group_free_locked();
        ms.group = 0;
        ms.nunits = 0;
        free(ms.name);
        free(ms.version);
        ms.name = ms.version = NULL;
        pthread_mutex_unlock(&metrics_lock);
}

/* Adds @p n to the counter series of family @p f labelled @p a, @p b. */
static void series_count(enum metrics_family f, const char *a, const char *b, unsigned long n)
{
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(f, a, b);
        if (se)
                se->count += n;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_events_add(const char *channel, const char *topic, unsigned long n)
{
        series_count(FAM_EVENTS, channel, topic ? topic : "", n);
}

void metrics_handshake_inc(void)
{
        pthread_mutex_lock(&metrics_lock);
        ms.handshakes++;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_session_opened_inc(void)
{
        pthread_mutex_lock(&metrics_lock);
        ms.sessions_opened++;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_reauth_inc(const char *cause)
{
        series_count(FAM_REAUTH, cause, NULL, 1);
}

void metrics_recovery_inc(const char *cause, const char *action)
{
        series_count(FAM_RECOVERY, cause, action ? action : "", 1);
}

/* Call with the lock held. */
static void histogram_observe(struct histogram *h, const double *bounds, size_t nbounds,
                              double seconds)
{
        size_t i;

        if (isnan(seconds) || seconds < 0)
                return;
        for (i = 0; i < nbounds; i++) {
                if (seconds <= bounds[i]) {
                        h->counts[i]++;
                        break;
                }
        }
        h->count++;
        h->sum += seconds;
}

void metrics_connect_observe(double seconds)
{
        pthread_mutex_lock(&metrics_lock);
        histogram_observe(&ms.connect, connect_buckets, NBUCKETS, seconds);
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_kafka_errors_add(unsigned long n)
{
        pthread_mutex_lock(&metrics_lock);
        ms.kafka_errors += n;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_replay_id_set(const char *channel, long long replay_id)
{
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_REPLAY_ID, channel, NULL);
        if (se)
                se->ival = replay_id;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_last_event_set(const char *channel, double unix_time)
{
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_LAST_EVENT, channel, NULL);
        if (se)
                se->dval = unix_time;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_replay_gaps_inc(void)
{
        pthread_mutex_lock(&metrics_lock);
        ms.replay_gaps++;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_cdc_gap_add(const char *channel, unsigned long n)
{
        series_count(FAM_CDC_GAP, channel, NULL, n);
}

void metrics_dead_letters_add(const char *channel, const char *reason, unsigned long n)
{
        series_count(FAM_DEAD_LETTER, channel, reason ? reason : "", n);
}

/*
 * Slot writers. A slot beyond METRICS_MAX_UNITS is ignored: the caller's
 * units are checked against it once, in metrics_group_init().
 */
#define SLOT_OK(slot) ((slot) < METRICS_MAX_UNITS)

void metrics_unit_in_flight_set(size_t slot, unsigned long n)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        ms.unit[slot].in_flight = n;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_in_flight_set(unsigned long n)
{
        metrics_unit_in_flight_set(0, n);
}

void metrics_unit_in_flight_bytes_set(size_t slot, unsigned long long bytes)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        ms.unit[slot].in_flight_bytes = bytes;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_in_flight_bytes_set(unsigned long long bytes)
{
        metrics_unit_in_flight_bytes_set(0, bytes);
}

void metrics_unit_kafka_failing(size_t slot, const char *what, const char *err, long long ago_ms)
{
        double now = mono_now();
        struct slot_state *st;

        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        st = &ms.unit[slot];
        if (!what) {
                st->kafka_failing = 0;
        } else {
                if (!st->kafka_failing) {
                        st->kafka_failing = 1;
                        st->kafka_since = now - (ago_ms > 0 ? (double)ago_ms / 1000.0 : 0);
                        /* Every route waits from here at the latest. */
                        if (st->settled || st->kafka_since < st->wait_since)
                                st->wait_since = st->kafka_since;
                }
                snprintf(st->kafka_what, sizeof(st->kafka_what), "%s", what);
                snprintf(st->kafka_err, sizeof(st->kafka_err), "%s", err ? err : "");
        }
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_kafka_failing(const char *what, const char *err, long long ago_ms)
{
        metrics_unit_kafka_failing(0, what, err, ago_ms);
}

void metrics_unit_kafka_settled(size_t slot, int settled)
{
        struct slot_state *st;

        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        st = &ms.unit[slot];
        /* A wait begins when something is left to commit, unless Kafka is
         * failing already: then every route has been waiting since then. */
        if (st->settled && !settled && !st->kafka_failing)
                st->wait_since = mono_now();
        st->settled = settled ? 1 : 0;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_kafka_settled(int settled)
{
        metrics_unit_kafka_settled(0, settled);
}

void metrics_commit_route(const char *channel)
{
        double now = mono_now();
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_COMMIT_AGE, channel, NULL);
        if (se)
                se->dval = now;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_backoff_set(size_t slot, double seconds)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        ms.unit[slot].backoff_s = (isnan(seconds) || seconds < 0) ? 0 : seconds;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_backoff_set(double seconds)
{
        metrics_unit_backoff_set(0, seconds);
}

void metrics_unit_up_set(size_t slot, int up)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        ms.unit[slot].up = up ? 1 : 0;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_up_set(int up)
{
        metrics_unit_up_set(0, up);
}

void metrics_heartbeat(void)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&metrics_lock);
        ms.heartbeat = now;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_ready_set(size_t slot, int handshaken, int all_subscribed, int stalled,
                            const char *reason)
{
        struct slot_state *st;

        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        st = &ms.unit[slot];
        st->handshaken = handshaken ? 1 : 0;
        st->all_subscribed = all_subscribed ? 1 : 0;
        st->stalled = stalled ? 1 : 0;
        st->not_ready_reason = reason;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_ready_set(int handshaken, int all_subscribed, int stalled, const char *reason)
{
        metrics_unit_ready_set(0, handshaken, all_subscribed, stalled, reason);
}

void metrics_route_up_set(const char *channel, int up)
{
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_ROUTE_UP, channel, NULL);
        if (se)
                se->ival = up ? 1 : 0;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_quarantine_set(size_t slot, const char *text)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        snprintf(ms.unit[slot].quarantined, sizeof(ms.unit[slot].quarantined), "%s",
                 text ? text : "");
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_quarantine_set(const char *text)
{
        metrics_unit_quarantine_set(0, text);
}

/*
 * Call with the lock held. Returns NULL when the slot is ready, else the
 * reason (a static string, the slot's own text, or buf when it had to be
 * composed).
 */
static const char *slot_not_ready(const struct slot_state *st, char *buf, size_t n)
{
        if (st->kafka_failing) {
                double age = mono_now() - st->kafka_since;
                const char *starting = st->not_ready_reason && !strcmp(st->not_ready_reason, "starting")
                                           ? "starting: "
                                           : "";

                snprintf(buf, n, "%skafka: %s failing since %.0f s%s%s", starting, st->kafka_what,
                         age < 0 ? 0 : age, st->kafka_err[0] ? ": " : "", st->kafka_err);
                return buf;
        }
        if (st->not_ready_reason)
                return st->not_ready_reason;
        if (!st->handshaken)
                return "not handshaken";
        if (!st->all_subscribed)
                return "not all routes subscribed";
        if (st->stalled)
                return "stalled";
        if (st->quarantined[0])
                return st->quarantined;
        return NULL;
}

/* Room for the longest reason: the quarantine text, or the Kafka one, after a unit's name. */
#define METRICS_REASON_MAX (METRICS_QUARANTINE_MAX + 256)

/*
 * Call with the lock held. Returns NULL when ready, else the reason. A
 * single instance is ready as slot 0 is. A group member first has to join;
 * then a partition no unit maps to, a FAILED unit, and every owned unit in
 * slot order (the first one not ready names itself); owning nothing is a
 * ready standby (*standby set).
 */
static const char *not_ready_reason(char *buf, size_t n, int *standby)
{
        char one[METRICS_REASON_MAX];
        const char *why;
        size_t i, owned = 0;

        if (standby)
                *standby = 0;
        if (!ms.group)
                return slot_not_ready(&ms.unit[0], buf, n);
        if (!ms.joined)
                return "joining group";
        if (ms.unknown_now > 0) {
                snprintf(buf, n, "%d assigned partition%s map%s to no configured unit "
                         "(routing files differ?)", ms.unknown_now,
                         ms.unknown_now == 1 ? "" : "s", ms.unknown_now == 1 ? "s" : "");
                return buf;
        }
        for (i = 0; i < ms.nunits; i++) {
                if (ms.unit[i].failed[0]) {
                        snprintf(buf, n, "unit %s: failed: %s", ms.unit[i].unit_id,
                                 ms.unit[i].failed);
                        return buf;
                }
        }
        for (i = 0; i < ms.nunits; i++) {
                if (!ms.unit[i].owned)
                        continue;
                owned++;
                why = slot_not_ready(&ms.unit[i], one, sizeof(one));
                if (why) {
                        snprintf(buf, n, "unit %s: %s", ms.unit[i].unit_id, why);
                        return buf;
                }
        }
        if (!owned && standby)
                *standby = 1;
        return NULL;
}

int metrics_ready(char *reason, size_t n)
{
        char buf[METRICS_REASON_MAX];
        const char *why;
        int standby;

        pthread_mutex_lock(&metrics_lock);
        why = not_ready_reason(buf, sizeof(buf), &standby);
        if (why && reason && n)
                snprintf(reason, n, "not ready: %s", why);
        else if (standby && reason && n)
                snprintf(reason, n, "ready: standby");
        pthread_mutex_unlock(&metrics_lock);
        return why == NULL;
}

void metrics_health_max_age_set(double max_age_s)
{
        pthread_mutex_lock(&metrics_lock);
        ms.health_max_age_s = (isnan(max_age_s) || max_age_s <= 0) ? METRICS_HEALTH_MAX_AGE_DEFAULT
                                                                    : max_age_s;
        pthread_mutex_unlock(&metrics_lock);
}

double metrics_heartbeat_age(void)
{
        struct timespec now;
        double age;

        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&metrics_lock);
        age = ts_diff(&now, &ms.heartbeat);
        pthread_mutex_unlock(&metrics_lock);
        return age < 0 ? 0 : age;
}

int metrics_healthy(double max_age_s)
{
        double limit;

        if (isnan(max_age_s) || max_age_s <= 0) {
                pthread_mutex_lock(&metrics_lock);
                limit = ms.health_max_age_s;
                pthread_mutex_unlock(&metrics_lock);
        } else {
                limit = max_age_s;
        }
        return metrics_heartbeat_age() <= limit;
}

/*
 * Rendering. Every helper returns 0 or -1 (the buffer refused an append);
 * the first failure ends the render.
 */

/* A sample value in the form Prometheus parses: shortest of %.15g/%.17g that
 * round-trips, and NaN / +Inf / -Inf spelled its way. */
static void fmt_double(char *s, size_t n, double v)
{
        if (isnan(v))
                snprintf(s, n, "NaN");
        else if (isinf(v))
                snprintf(s, n, "%s", v > 0 ? "+Inf" : "-Inf");
        else {
                snprintf(s, n, "%.15g", v);
                if (strtod(s, NULL) != v)
                        snprintf(s, n, "%.17g", v);
        }
}

static int family_head(struct buf *out, const char *name, const char *type, const char *help)
{
        return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name="value" (its first @p len bytes) with backslash, double quote and newline escaped. */
static int put_label_n(struct buf *out, const char *name, const char *value, size_t len)
{
        const char *p, *run, *end = value + len;

        if (buf_printf(out, "%s=\"", name) == -1)
                return -1;
        for (p = run = value;; p++) {
                const char *esc = NULL;

                if (p < end) {
                        if (*p == '\\')
                                esc = "\\\\";
                        else if (*p == '"')
                                esc = "\\\"";
                        else if (*p == '\n')
                                esc = "\\n";
                        else
                                continue;
                }
                if (buf_append(out, run, (size_t)(p - run)) == -1)
                        return -1;
                if (!esc)
                        break;
                if (buf_append(out, esc, 2) == -1)
                        return -1;
                run = p + 1;
        }
        return buf_append(out, "\"", 1);
}

static int put_label(struct buf *out, const char *name, const char *value)
{
        return put_label_n(out, name, value, strlen(value));
}

/*
 * A route's label is its channel, which starts with '/', or
 * "<org>:<channel>" when the config has orgs: (org ids have no ':'):
 * rendered as org="<org>",channel="<channel>", org first.
 */
static int put_channel_label(struct buf *out, const char *label)
{
        const char *colon = label && label[0] != '/' ? strchr(label, ':') : NULL;

        if (!colon)
                return put_label(out, "channel", label);
        if (put_label_n(out, "org", label, (size_t)(colon - label)) == -1 ||
            buf_append(out, ",", 1) == -1)
                return -1;
        return put_label(out, "channel", colon + 1);
}

/* name{l1name="l1"[,l2name="l2"]} value; a "channel" label may carry an org. */
static int put_sample(struct buf *out, const char *name, const char *l1name, const char *l1,
                      const char *l2name, const char *l2, const char *value)
{
        if (buf_printf(out, "%s", name) == -1)
                return -1;
        if (l1name) {
                if (buf_append(out, "{", 1) == -1)
                        return -1;
                if (!strcmp(l1name, "channel") ? put_channel_label(out, l1) == -1
                                               : put_label(out, l1name, l1) == -1)
                        return -1;
                if (l2name &&
                    (buf_append(out, ",", 1) == -1 || put_label(out, l2name, l2) == -1))
                        return -1;
                if (buf_append(out, "}", 1) == -1)
                        return -1;
        }
        return buf_printf(out, " %s\n", value);
}

static int put_scalar_ull(struct buf *out, const char *name, const char *type, const char *help,
                          unsigned long long v)
{
        char val[32];

        snprintf(val, sizeof(val), "%llu", v);
        if (family_head(out, name, type, help) == -1)
                return -1;
        return put_sample(out, name, NULL, NULL, NULL, NULL, val);
}

/* The process-wide view of the slots, as the unlabelled families show it. */
struct slot_totals {
        int up;
        unsigned long long in_flight;
        unsigned long long in_flight_bytes;
        double backoff_s;
        int waiting;       /* something awaits a commit, or Kafka is failing */
        double wait_since; /* monotonic seconds: since when, when waiting */
};

/*
 * Call with the lock held. A single instance is slot 0. A group member
 * sums its owned units, is up when every one is (a standby is up), shows
 * the longest backoff, and waits for a commit since the oldest wait of an
 * owned unit.
 */
static void slot_totals_locked(struct slot_totals *tot)
{
        size_t i, n = ms.group ? ms.nunits : 1;

        memset(tot, 0, sizeof(*tot));
        tot->up = ms.group ? 1 : ms.unit[0].up;
        for (i = 0; i < n; i++) {
                const struct slot_state *st = &ms.unit[i];

                if (ms.group && !st->owned)
                        continue;
                if (ms.group && !st->up)
                        tot->up = 0;
                tot->in_flight += st->in_flight;
                tot->in_flight_bytes += st->in_flight_bytes;
                if (st->backoff_s > tot->backoff_s)
                        tot->backoff_s = st->backoff_s;
                if (!st->settled || st->kafka_failing) {
                        if (!tot->waiting || st->wait_since < tot->wait_since)
                                tot->wait_since = st->wait_since;
                        tot->waiting = 1;
                }
        }
}

/* Every series of one labelled family, in insertion order. */
static int put_family(struct buf *out, enum metrics_family fam, const char *name,
                      const char *type, const char *help, const char *l1name,
                      const char *l2name, const struct timespec *wall)
{
        double mono = fam == FAM_COMMIT_AGE ? mono_now() : 0;
        struct slot_totals tot;
        char val[40];
        size_t i;

        if (fam == FAM_COMMIT_AGE)
                slot_totals_locked(&tot);
        if (family_head(out, name, type, help) == -1)
                return -1;
        for (i = 0; i < ms.nseries; i++) {
                const struct series *se = &ms.series[i];

                if (se->fam != fam)
                        continue;
                switch (fam) {
                case FAM_REPLAY_ID:
                case FAM_ROUTE_UP:
                case FAM_SF_LIMIT_MAX:
                case FAM_SF_LIMIT_REMAINING:
                        snprintf(val, sizeof(val), "%lld", se->ival);
                        break;
                case FAM_LAST_EVENT: {
                        double age = (double)wall->tv_sec + (double)wall->tv_nsec / 1e9 - se->dval;
                        /* Milliseconds are plenty for an age. */
                        fmt_double(val, sizeof(val), age < 0 ? 0 : round(age * 1000) / 1000);
                        break;
                }
                case FAM_COMMIT_AGE: {
                        /* Settled: nothing awaits a commit, so every route is fresh now. */
                        double age = 0;

                        if (tot.waiting)
                                age = mono - (se->dval > tot.wait_since ? se->dval : tot.wait_since);
                        fmt_double(val, sizeof(val), age < 0 ? 0 : round(age * 1000) / 1000);
                        break;
                }
                default:
                        snprintf(val, sizeof(val), "%llu", se->count);
                        break;
                }
                if (put_sample(out, name, l1name, se->l1, l2name, se->l2, val) == -1)
                        return -1;
        }
        return 0;
}

static int put_histogram(struct buf *out, const char *name, const char *help,
                         const struct histogram *h, const double *bounds, size_t nbounds)
{
        unsigned long long cum = 0;
        char sub[128], le[32], val[40];
        size_t i;

        if (family_head(out, name, "histogram", help) == -1)
                return -1;
        snprintf(sub, sizeof(sub), "%s_bucket", name);
        for (i = 0; i < nbounds; i++) {
                cum += h->counts[i];
                fmt_double(le, sizeof(le), bounds[i]);
                snprintf(val, sizeof(val), "%llu", cum);
                if (put_sample(out, sub, "le", le, NULL, NULL, val) == -1)
                        return -1;
        }
        snprintf(val, sizeof(val), "%llu", h->count);
        if (put_sample(out, sub, "le", "+Inf", NULL, NULL, val) == -1)
                return -1;
        snprintf(sub, sizeof(sub), "%s_sum", name);
        fmt_double(val, sizeof(val), h->sum);
        if (put_sample(out, sub, NULL, NULL, NULL, NULL, val) == -1)
                return -1;
        snprintf(sub, sizeof(sub), "%s_count", name);
        snprintf(val, sizeof(val), "%llu", h->count);
        return put_sample(out, sub, NULL, NULL, NULL, NULL, val);
}

/* The families of group mode (HA.md §2.5), after every other one. */
static int render_group_locked(struct buf *out, const struct timespec *wall)
{
        unsigned long long owned = 0;
        size_t i;

        if (family_head(out, "sfbridge_unit_owned", "gauge",
                        "1 while this replica owns the unit (claimed through subscribed), else 0, "
                        "for every configured unit; sum by unit is 1 across the group.") == -1)
                return -1;
        for (i = 0; i < ms.nunits; i++) {
                if (put_sample(out, "sfbridge_unit_owned", "unit", ms.unit[i].unit_id, NULL,
                               NULL, ms.unit[i].owned ? "1" : "0") == -1)
                        return -1;
                owned += ms.unit[i].owned ? 1 : 0;
        }
        if (put_scalar_ull(out, "sfbridge_units_owned", "gauge",
                           "Units this replica owns (0 for a standby).", owned) == -1)
                return -1;
        if (put_family(out, FAM_REBALANCE, "sfbridge_group_rebalances_total", "counter",
                       "Coordination group rebalance callbacks, by event: assign, revoke (planned) "
                       "or lost (session expired).", "event", NULL, wall) == -1)
                return -1;
        if (put_histogram(out, "sfbridge_unit_takeover_seconds",
                          "Time from a unit's assignment to its routes subscribed, in seconds.",
                          &ms.takeover, unit_buckets, NUNIT_BUCKETS) == -1)
                return -1;
        if (put_histogram(out, "sfbridge_unit_handoff_seconds",
                          "Time from a unit's revocation to its release (drained, disconnected), "
                          "in seconds.", &ms.handoff, unit_buckets, NUNIT_BUCKETS) == -1)
                return -1;
        if (put_family(out, FAM_UNIT_FENCED, "sfbridge_unit_fenced_total", "counter",
                       "Units given up because another owner fenced them, by unit and cause: "
                       "producer (transactional.id fenced) or owner_record (a newer claim).",
                       "unit", "cause", wall) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_pause_detected_total", "counter",
                           "Main loop pauses longer than the group session allows (SIGSTOP, VM "
                           "pause, stall): every unit was dropped until the group confirmed it.",
                           ms.pauses) == -1)
                return -1;
        return put_scalar_ull(out, "sfbridge_unit_unknown_total", "counter",
                              "Coordination partitions assigned to this replica that no configured "
                              "unit maps to (replicas run different routing files?).",
                              ms.unknown_total);
}

static int render_locked(struct buf *out, const struct timespec *wall)
{
        char val[40], why[METRICS_REASON_MAX];
        struct slot_totals tot;

        slot_totals_locked(&tot);

        if (family_head(out, "sfbridge_build_info", "gauge",
                        "Build information: version and bridge name; always 1.") == -1)
                return -1;
        if (buf_printf(out, "sfbridge_build_info{") == -1 ||
            put_label(out, "version", ms.version ? ms.version : "") == -1 ||
            buf_append(out, ",", 1) == -1 || put_label(out, "name", ms.name ? ms.name : "") == -1 ||
            buf_printf(out, "} 1\n") == -1)
                return -1;

        if (put_scalar_ull(out, "sfbridge_up", "gauge",
                           "1 while the bridge has a Salesforce session and Kafka is reachable.",
                           (unsigned long long)tot.up) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_ready", "gauge",
                           "1 while /readyz answers 200: handshaken, every route subscribed, no "
                           "stall, no route quarantined, Kafka taking commits.",
                           not_ready_reason(why, sizeof(why), NULL) ? 0ULL : 1ULL) == -1)
                return -1;
        if (put_family(out, FAM_EVENTS, "sfbridge_events_total", "counter",
                       "Events produced to Kafka, by Salesforce channel and Kafka topic.",
                       "channel", "topic", wall) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_handshakes_total", "counter",
                           "Successful Bayeux handshakes.", ms.handshakes) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_sessions_opened_total", "counter",
                           "Bayeux sessions opened: handshakes that got a new clientId, the start "
                           "probe's included (each holds a concurrent-client slot of the org).",
                           ms.sessions_opened) == -1)
                return -1;
        if (put_family(out, FAM_REAUTH, "sfbridge_reauth_total", "counter",
                       "Re-authentications (OAuth flow re-run), by cause.", "cause", NULL,
                       wall) == -1)
                return -1;
        if (put_family(out, FAM_RECOVERY, "sfbridge_recoveries_total", "counter",
                       "Recoveries of every kind, by cause and action taken.", "cause", "action",
                       wall) == -1)
                return -1;
        if (put_histogram(out, "sfbridge_connect_seconds",
                          "Duration of /meta/connect round trips (long-polls), in seconds.",
                          &ms.connect, connect_buckets, NBUCKETS) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_kafka_errors_total", "counter",
                           "Kafka errors (delivery failures and client errors).",
                           ms.kafka_errors) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_kafka_in_flight", "gauge",
                           "Events produced and not yet acknowledged by Kafka.",
                           tot.in_flight) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_kafka_in_flight_bytes", "gauge",
                           "Bytes (value, key and headers) of the events in flight "
                           "(kafka.max_in_flight_bytes).",
                           tot.in_flight_bytes) == -1)
                return -1;
        if (put_family(out, FAM_REPLAY_ID, "sfbridge_replay_id", "gauge",
                       "Last committed replay ID, by channel.", "channel", NULL, wall) == -1)
                return -1;
        if (put_family(out, FAM_LAST_EVENT, "sfbridge_last_event_age_seconds", "gauge",
                       "Seconds since the last event was received, by channel.", "channel", NULL,
                       wall) == -1)
                return -1;
        if (put_family(out, FAM_COMMIT_AGE, "sfbridge_last_commit_age_seconds", "gauge",
                       "Seconds since the route's replay position was last known committed to "
                       "Kafka (0 while nothing awaits a commit), by channel.",
                       "channel", NULL, wall) == -1)
                return -1;
        if (put_scalar_ull(out, "sfbridge_replay_gaps_total", "counter",
                           "Invalid replay IDs (events lost to retention), whatever the policy.",
                           ms.replay_gaps) == -1)
                return -1;
        if (put_family(out, FAM_CDC_GAP, "sfbridge_cdc_gap_events_total", "counter",
                       "Change Data Capture GAP_* events forwarded, by channel.", "channel", NULL,
                       wall) == -1)
                return -1;
        if (put_family(out, FAM_DEAD_LETTER, "sfbridge_dead_letters_total", "counter",
                       "Events that could not be produced, written to kafka.dead_letter_topic, "
                       "by channel and reason.", "channel", "reason", wall) == -1)
                return -1;
        if (put_family(out, FAM_ROUTE_UP, "sfbridge_route_up", "gauge",
                       "1 while the route is subscribed, 0 while quarantined (or not yet subscribed), "
                       "by channel.", "channel", NULL, wall) == -1)
                return -1;
        if (put_family(out, FAM_SF_LIMIT_MAX, "sfbridge_sf_limit_max", "gauge",
                       "Salesforce's allocation (limits resource Max), by limit name; polled every "
                       "salesforce.limits_poll_s.", "name", NULL, wall) == -1)
                return -1;
        if (put_family(out, FAM_SF_LIMIT_REMAINING, "sfbridge_sf_limit_remaining", "gauge",
                       "What is left of Salesforce's allocation (limits resource Remaining), by "
                       "limit name.", "name", NULL, wall) == -1)
                return -1;
        if (put_family(out, FAM_REDELIVERED, "sfbridge_redelivered_events_total", "counter",
                       "Events Salesforce sent again at or before the route's committed replay ID "
                       "(each one counts against the org's daily allocation), by channel.",
                       "channel", NULL, wall) == -1)
                return -1;
        fmt_double(val, sizeof(val), tot.backoff_s);
        if (family_head(out, "sfbridge_backoff_seconds", "gauge",
                        "Current backoff delay before the next attempt, 0 when none.") == -1 ||
            put_sample(out, "sfbridge_backoff_seconds", NULL, NULL, NULL, NULL, val) == -1)
                return -1;
        if (ms.group && render_group_locked(out, wall) == -1)
                return -1;
        return put_scalar_ull(out, "sfbridge_metrics_label_overflow_total", "counter",
                              "Writes to a new label set that went to the family's "
                              "__overflow__ series (or were dropped): the family's cap "
                              "(metrics.max_series_per_family) reached, or a label value too "
                              "long.",
                              ms.label_overflow);
}

int metrics_render(struct buf *out)
{
        struct timespec wall;
        int rc;

        clock_gettime(CLOCK_REALTIME, &wall);
        pthread_mutex_lock(&metrics_lock);
        rc = render_locked(out, &wall);
        pthread_mutex_unlock(&metrics_lock);
        return rc;
}

void metrics_sf_limit_set(const char *name, long long max, long long remaining)
{
        struct series *se;

        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_SF_LIMIT_MAX, name, NULL);
        if (se)
                se->ival = max;
        se = series_get(FAM_SF_LIMIT_REMAINING, name, NULL);
        if (se)
                se->ival = remaining;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_redelivered_add(const char *channel, unsigned long n)
{
        series_count(FAM_REDELIVERED, channel, NULL, n);
}

/* ---- group mode -------------------------------------------------------------- */

int metrics_group_init(const char *const *unit_ids, size_t n)
{
        char *ids[METRICS_MAX_UNITS] = { NULL };
        double now = mono_now();
        size_t i;

        if (n > METRICS_MAX_UNITS || (n && !unit_ids))
                return -1;
        for (i = 0; i < n; i++) {
                ids[i] = strdup(unit_ids[i] ? unit_ids[i] : "");
                if (!ids[i]) {
                        while (i--)
                                free(ids[i]);
                        return -1;
                }
        }

        pthread_mutex_lock(&metrics_lock);
        group_free_locked();
        for (i = 0; i < METRICS_MAX_UNITS; i++) {
                ms.unit[i].unit_id = ids[i];
                ms.unit[i].failed[0] = '\0';
                slot_reset_locked(&ms.unit[i], now);
        }
        ms.group = 1;
        ms.nunits = n;
        ms.joined = 0;
        ms.unknown_now = 0;
        /* The known label values exist from the start, so increase() and
         * alerts on them see a 0 before the first rebalance or fencing. */
        series_get(FAM_REBALANCE, "assign", NULL);
        series_get(FAM_REBALANCE, "revoke", NULL);
        series_get(FAM_REBALANCE, "lost", NULL);
        for (i = 0; i < n; i++) {
                series_get(FAM_UNIT_FENCED, ids[i], "producer");
                series_get(FAM_UNIT_FENCED, ids[i], "owner_record");
        }
        pthread_mutex_unlock(&metrics_lock);
        return 0;
}

void metrics_group_joined(int joined)
{
        pthread_mutex_lock(&metrics_lock);
        ms.joined = joined ? 1 : 0;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_owned_set(size_t slot, int owned)
{
        struct slot_state *st;

        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        st = &ms.unit[slot];
        if (!owned) {
                slot_reset_locked(st, mono_now());
        } else if (!st->owned) {
                /* Its routes wait for a commit from the claim on, not from the last release. */
                st->settled = 0;
                st->wait_since = mono_now();
        }
        st->owned = owned ? 1 : 0;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_failed_set(size_t slot, const char *why)
{
        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        /* An empty reason would read as "not failed": say something. */
        snprintf(ms.unit[slot].failed, sizeof(ms.unit[slot].failed), "%s",
                 !why ? "" : why[0] ? why : "failed");
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_group_rebalance_inc(const char *event)
{
        series_count(FAM_REBALANCE, event, NULL, 1);
}

void metrics_unit_takeover_observe(double seconds)
{
        pthread_mutex_lock(&metrics_lock);
        histogram_observe(&ms.takeover, unit_buckets, NUNIT_BUCKETS, seconds);
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_handoff_observe(double seconds)
{
        pthread_mutex_lock(&metrics_lock);
        histogram_observe(&ms.handoff, unit_buckets, NUNIT_BUCKETS, seconds);
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_fenced_inc(size_t slot, const char *cause)
{
        struct series *se;

        if (!SLOT_OK(slot))
                return;
        pthread_mutex_lock(&metrics_lock);
        se = series_get(FAM_UNIT_FENCED, ms.unit[slot].unit_id, cause ? cause : "");
        if (se)
                se->count++;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_pause_detected_inc(void)
{
        pthread_mutex_lock(&metrics_lock);
        ms.pauses++;
        pthread_mutex_unlock(&metrics_lock);
}

void metrics_unit_unknown(int counted, int now_unknown)
{
        pthread_mutex_lock(&metrics_lock);
        if (counted > 0)
                ms.unknown_total += (unsigned long long)counted;
        ms.unknown_now = now_unknown > 0 ? now_unknown : 0;
        pthread_mutex_unlock(&metrics_lock);
}
