/*
 * Metrics and health: the bridge's counters, gauges and connect-latency
 * histogram, rendered as Prometheus text (exposition format 0.0.4), plus the
 * liveness (heartbeat) and readiness state behind /healthz and /readyz.
 *
 * The state is process-wide (one bridge per process) and guarded by one
 * mutex: the main thread writes, the httpd thread reads. Labelled series live
 * in a fixed table of METRICS_MAX_LABEL_SETS entries; a label set is
 * allocated the first time it is seen and never again, so the per-event call
 * costs a hash lookup and an add.
 *
 * Cardinality: the families whose labels come from data (channel, topic,
 * dead-letter reason: a CDC entity name or a stored replay record can make
 * any number of them) hold at most metrics_max_series_set() label sets each
 * and together at most METRICS_MAX_LABEL_SETS - METRICS_CORE_RESERVE; a new
 * label set beyond either goes to the family's one overflow series, every
 * label "__overflow__" (METRICS_OVERFLOW_LABEL), so counts still add up.
 * The families whose labels the code names (reauth and recovery causes,
 * limit names, group events, units) draw on the reserve, which data can
 * never fill, so they always appear. A label value longer than
 * METRICS_LABEL_MAX bytes also goes to the overflow series (a code-named
 * family's is dropped). Every diverted or dropped write is counted in
 * sfbridge_metrics_label_overflow_total.
 */
#ifndef SFB_METRICS_H
#define SFB_METRICS_H

#include <stddef.h>
#include "buf.h"

#define METRICS_MAX_LABEL_SETS 4096
#define METRICS_CORE_RESERVE 512            /* of the above, only for code-named label sets */
#define METRICS_MAX_SERIES_DEFAULT 200      /* label sets per data-derived family */
#define METRICS_OVERFLOW_LABEL "__overflow__"
#define METRICS_LABEL_MAX 512               /* bytes per label value */
#define METRICS_HEALTH_MAX_AGE_DEFAULT 30.0 /* seconds */

/**
 * @brief Reset every metric and record the build info labels.
 * @param bridge_name  the config's `name` (copied).
 * @param version      the build version (copied).
 * @returns 0, or -1 when out of memory or a name is NULL.
 * @remark The heartbeat starts at the time of this call; readiness starts
 *         false with the reason "starting".
 * @locality main thread, before httpd_start().
 */
int metrics_init(const char *bridge_name, const char *version);

/**
 * @brief Cap the label sets of each data-derived family (see the top of
 *        this file); 0 restores METRICS_MAX_SERIES_DEFAULT.
 * @remark metrics_init() keeps the cap. Label sets already made stay.
 * @locality main thread, after metrics_init().
 */
void metrics_max_series_set(size_t per_family);

/**
 * @brief Free every label set and the build info strings.
 * @locality main thread, after httpd_stop().
 */
void metrics_shutdown(void);

/*
 * Writers. Each takes the mutex briefly; none allocates once its label set
 * was seen. A NULL label value counts as "".
 * @locality any thread (the main loop in practice).
 */

/*
 * Channel labels: the functions taking a `channel` take a route's label
 * (config.h): a channel ("/data/X", rendered channel="/data/X") or, with
 * orgs:, "<org>:<channel>", rendered org="<org>",channel="<channel>".
 */

/** @brief sfbridge_events_total{channel,topic} += n (events produced to Kafka). */
void metrics_events_add(const char *channel, const char *topic, unsigned long n);
/** @brief sfbridge_handshakes_total += 1 (successful /meta/handshake). */
void metrics_handshake_inc(void);
/**
 * @brief sfbridge_sessions_opened_total += 1: a handshake succeeded and
 *        opened a new clientId (the start probe's included), each one of
 *        the org's concurrent-client slots until disconnected or expired.
 */
void metrics_session_opened_inc(void);
/** @brief sfbridge_reauth_total{cause} += 1 (the auth flow was re-run). */
void metrics_reauth_inc(const char *cause);
/** @brief sfbridge_recoveries_total{cause,action} += 1, for every recovery of any kind. */
void metrics_recovery_inc(const char *cause, const char *action);
/**
 * @brief Observe one /meta/connect round trip in sfbridge_connect_seconds.
 * @remark Buckets 0.005 s … 120 s suit long-polls; NaN and negatives are ignored.
 */
void metrics_connect_observe(double seconds);
/** @brief sfbridge_kafka_errors_total += n. */
void metrics_kafka_errors_add(unsigned long n);
/** @brief sfbridge_replay_id{channel} = replay_id (last committed). */
void metrics_replay_id_set(const char *channel, long long replay_id);
/**
 * @brief Remember when the channel's last event was received.
 * @param unix_time  seconds since the epoch (wall clock).
 * @remark sfbridge_last_event_age_seconds{channel} is now - unix_time,
 *         computed at scrape time (never negative).
 */
void metrics_last_event_set(const char *channel, double unix_time);
/** @brief sfbridge_replay_gaps_total += 1 (invalid replay ID, events lost). */
void metrics_replay_gaps_inc(void);
/** @brief sfbridge_cdc_gap_events_total{channel} += n (CDC GAP_* events of a committed batch). */
void metrics_cdc_gap_add(const char *channel, unsigned long n);
/**
 * @brief sfbridge_dead_letters_total{channel,reason} += n (events of a
 *        committed batch written to kafka.dead_letter_topic; reason is a
 *        short token: too_large, illegal_topic, unreadable, …).
 */
void metrics_dead_letters_add(const char *channel, const char *reason, unsigned long n);
/** @brief sfbridge_kafka_in_flight = n (events awaiting acknowledgement). */
void metrics_in_flight_set(unsigned long n);
/** @brief sfbridge_kafka_in_flight_bytes = bytes (their value + key + headers). */
void metrics_in_flight_bytes_set(unsigned long long bytes);
/** @brief sfbridge_backoff_seconds = seconds (current backoff delay, 0 when none). */
void metrics_backoff_set(double seconds);
/** @brief sfbridge_up = up ? 1 : 0. */
void metrics_up_set(int up);
/** @brief sfbridge_route_up{channel} = up ? 1 : 0 (subscribed, or quarantined / not yet). */
void metrics_route_up_set(const char *channel, int up);

/** @brief Salesforce's allocation @p name (limits resource): its Max and Remaining. */
void metrics_sf_limit_set(const char *name, long long max, long long remaining);

/** @brief Count @p n events Salesforce sent again at or before the route's committed replay ID. */
void metrics_redelivered_add(const char *channel, unsigned long n);

#define METRICS_QUARANTINE_MAX 1024
/**
 * @brief Name the quarantined routes and why (copied, truncated to
 *        METRICS_QUARANTINE_MAX), e.g. "route quarantined: /topic/B
 *        (403::Restricted channel)"; NULL or "" when none. While set the
 *        bridge is not ready and /readyz says this text (after the other
 *        reasons, which come first).
 */
void metrics_quarantine_set(const char *text);

#define METRICS_KAFKA_ERR_MAX 400
/**
 * @brief Say that Kafka cannot take a commit, or (what NULL) that it took one.
 * @param what    NULL to clear; else what fails, e.g. "commit", "delivery",
 *                "start (replay_topic)" (copied).
 * @param err     the Kafka error, or NULL (copied, truncated to
 *                METRICS_KAFKA_ERR_MAX).
 * @param ago_ms  how long before now the failure began (0: now).
 * @remark The first call of an outage starts its clock; later ones only
 *         update what and err. While set the bridge is not ready, before
 *         every other reason: "kafka: <what> failing since <n> s: <err>"
 *         ("starting: kafka: …" before the first session). The clock also
 *         holds sfbridge_last_commit_age_seconds back (see
 *         metrics_commit_route()).
 */
void metrics_kafka_failing(const char *what, const char *err, long long ago_ms);

/**
 * @brief The bridge holds nothing that awaits a commit (no open or pending
 *        batch, no unacknowledged event): every route is as fresh as now.
 * @remark Call once per loop iteration; the step from settled to not
 *         settled is remembered as the start of the wait.
 */
void metrics_kafka_settled(int settled);

/**
 * @brief The route's replay position is known committed in Kafka as of now:
 *        a commit carried its replay ID, or it had nothing uncommitted when
 *        another batch committed. Creates the route's
 *        sfbridge_last_commit_age_seconds{channel} series.
 * @remark The age is computed at scrape time: 0 while settled and Kafka is
 *         not failing, else seconds since the later of this call and the
 *         start of the current wait (metrics_kafka_settled()); it keeps
 *         growing for every route while commits fail.
 */
void metrics_commit_route(const char *channel);

/**
 * @brief Record that the main loop is alive.
 * @remark Call once per loop iteration; /healthz fails when the last call is
 *         older than the health threshold. Cheap: one clock read under the mutex.
 */
void metrics_heartbeat(void);

/**
 * @brief Set the readiness state behind /readyz and sfbridge_ready.
 * @param handshaken      a Bayeux session is established.
 * @param all_subscribed  every route is subscribed.
 * @param stalled         the long-poll stalled (no answer within stall_timeout_s).
 * @param reason          NULL, or why the bridge is not ready (e.g. "auth
 *                        rejected", "concurrent user limit"). A non-NULL
 *                        reason makes the bridge not ready whatever the flags
 *                        say, so a backoff on an org limit can hold
 *                        readiness false while still handshaken.
 * @remark Ready iff handshaken && all_subscribed && !stalled && !reason.
 *         The pointer is kept, not copied: pass a string literal.
 */
void metrics_ready_set(int handshaken, int all_subscribed, int stalled, const char *reason);

/**
 * @brief Append the whole exposition (HELP and TYPE for every family) to @p out.
 * @returns 0, or -1 when out's ceiling was reached or memory ran out (out
 *          then holds a truncated text the caller must not serve).
 * @locality any thread (the httpd thread in practice).
 */
int metrics_render(struct buf *out);

/**
 * @brief Set the health threshold used when metrics_healthy() gets 0.
 * @param max_age_s  seconds; <= 0 restores the default (30 s).
 */
void metrics_health_max_age_set(double max_age_s);

/** @returns seconds since the last metrics_heartbeat() (or metrics_init()). */
double metrics_heartbeat_age(void);

/**
 * @returns 1 when the last heartbeat is at most @p max_age_s old, else 0.
 *          max_age_s <= 0 means the threshold set with
 *          metrics_health_max_age_set() (default 30 s).
 */
int metrics_healthy(double max_age_s);

/**
 * @returns 1 when ready, else 0 with "not ready: <reason>" written to
 *          @p reason (NUL-terminated, truncated to @p n; may be NULL).
 *          A Kafka failure (metrics_kafka_failing()) comes first; then an
 *          explicit reason; then the first failing condition:
 *          "not handshaken", "not all routes subscribed", "stalled", then the
 *          quarantine text (metrics_quarantine_set()). sfbridge_ready is 1
 *          exactly when this returns 1.
 * @remark In group mode a ready member that owns no unit writes "ready:
 *         standby" to @p reason (the /readyz body); otherwise a ready
 *         answer leaves @p reason untouched.
 */
int metrics_ready(char *reason, size_t n);

/*
 * Group mode (coordination:, HA.md §2.5). A process runs several units,
 * each in a slot (its index in cfg->units). The per-unit variants below
 * take a slot; the functions above without one act on slot 0, which is
 * all single-instance mode uses. Until metrics_group_init() nothing of
 * this is rendered and readiness is slot 0's, exactly as before.
 */
#define METRICS_MAX_UNITS 64

/**
 * @brief Enter group mode with these units (ids copied, at most
 *        METRICS_MAX_UNITS). Renders sfbridge_unit_owned{unit} (0 for
 *        each), sfbridge_units_owned, sfbridge_group_rebalances_total{event},
 *        sfbridge_unit_takeover_seconds and sfbridge_unit_handoff_seconds
 *        (histograms), sfbridge_unit_fenced_total{unit,cause},
 *        sfbridge_pause_detected_total, sfbridge_unit_unknown_total.
 *        Readiness from now on: 503 "joining group" until
 *        metrics_group_joined(1); then ready with body "standby" when no
 *        unit is owned; else ready iff no unknown partition and every
 *        owned slot is ready as a single instance would be (handshaken,
 *        subscribed, not stalled, no reason, no quarantine, Kafka not
 *        failing) and not FAILED; the reason names the unit
 *        ("unit emea: not handshaken").
 * @returns 0 or -1 (too many units, out of memory).
 */
int metrics_group_init(const char *const *unit_ids, size_t n);
void metrics_group_joined(int joined);
/** @brief The unit in @p slot is owned (claimed through subscribed) or not; sets unit_owned and units_owned. */
void metrics_unit_owned_set(size_t slot, int owned);
/**
 * @brief FAILED (HA.md §2.2): not ready, naming the unit and why (copied); NULL clears.
 * @remark Counts whether or not the slot is owned, and survives
 *         metrics_unit_owned_set(slot, 0): only NULL clears it.
 */
void metrics_unit_failed_set(size_t slot, const char *why);
/** @param event "assign", "revoke" or "lost". */
void metrics_group_rebalance_inc(const char *event);
/** @brief Assignment -> subscribed, seconds. */
void metrics_unit_takeover_observe(double seconds);
/** @brief Revoke -> unassigned (drained), seconds. */
void metrics_unit_handoff_observe(double seconds);
/** @param cause "producer" or "owner_record". */
void metrics_unit_fenced_inc(size_t slot, const char *cause);
void metrics_pause_detected_inc(void);
/** @brief Count a partition assigned to us that no configured unit maps to; @p now_unknown (how many such are held now) > 0 keeps readiness false. */
void metrics_unit_unknown(int counted, int now_unknown);

/* Slot variants of metrics_ready_set(), metrics_quarantine_set(),
 * metrics_kafka_failing(), metrics_kafka_settled(), metrics_up_set(),
 * metrics_in_flight_set(), metrics_in_flight_bytes_set() and
 * metrics_backoff_set(). In group mode sfbridge_up is 1 when every owned
 * unit is up (1 for a standby), in_flight and in_flight_bytes are sums,
 * backoff the largest, and commit freshness waits while any owned slot is
 * not settled. A slot's state is reset by metrics_unit_owned_set(slot, 0). */
void metrics_unit_ready_set(size_t slot, int handshaken, int all_subscribed, int stalled,
                            const char *reason);
void metrics_unit_quarantine_set(size_t slot, const char *text);
void metrics_unit_kafka_failing(size_t slot, const char *what, const char *err, long long ago_ms);
void metrics_unit_kafka_settled(size_t slot, int settled);
void metrics_unit_up_set(size_t slot, int up);
void metrics_unit_in_flight_set(size_t slot, unsigned long n);
void metrics_unit_in_flight_bytes_set(size_t slot, unsigned long long bytes);
void metrics_unit_backoff_set(size_t slot, double seconds);

#endif
