/*
 * The one place where the pieces meet. A batch is everything one
 * /meta/connect answer delivered: it is produced, its replay IDs are
 * committed (in the same Kafka transaction with exactly_once), and only then
 * does the next /meta/connect go out. That ordering is the whole delivery
 * guarantee: Salesforce re-sends whatever was not committed when we
 * resubscribe from the committed IDs.
 */

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "bayeux.h"
#include "fence.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "log_limit.h"
#include "metrics.h"
#include "murmur2.h"
#include "recovery.h"
#include "replay_store.h"
#include "router.h"
#include "session.h"
#include "org_limits.h"
#include "sink_kafka.h"
#include "topic_set.h"
#include "unit.h"
#include "units.h"

/* A healthy commit takes milliseconds. Longer means Kafka is in trouble:
 * hold the batch and retry from the loop, which stays responsive to
 * signals, rather than block in librdkafka. */
#define BRIDGE_COMMIT_TIMEOUT_MS 3000
#define BRIDGE_COMMIT_RETRY_MS 1000

/* Per-batch counts by (route, label), applied to the metrics once the batch is committed. */
struct unit_count {
        size_t route;
        char label[256]; /* a topic, or a dead letter's reason */
        unsigned long n;
};

struct unit_tally {
        struct unit_count *list;
        size_t len, cap;
};

struct unit {
        const struct config *cfg;    /* the unit's view (config_unit_view()), or the whole config */
        size_t slot;                 /* its index in the loaded config's units: metrics slot */
        int group_mode;              /* a replica group's unit: lost or fenced releases it, never exit */
        int org_checked;             /* group mode: the org of the first login was compared */
        int lost;                    /* group mode: a newer owner or a fenced producer: never commit again */
        char lost_cause[32];         /* "owner_record" or "producer" */
        char prefix[300];            /* replay and gap keys start "<prefix>:" (units_replay_prefix()) */
        struct replay_store *rs;
        struct sink *sink;
        struct http *http;
        struct session *sess;
        struct org_limits *limits;   /* salesforce.limits_poll_s */
        struct fence *fence;
        int claimed; /* our owner record is on the replay topic: release it on exit */
        int claim_stage;             /* group mode: unit_claim() steps done (0-4) */
        int probing; /* the pre-claim probe: subscribe from -1, nothing is replayed */
        int wake_fd;
        volatile sig_atomic_t *stop;
        int commit_pending;          /* a batch awaits its commit: Kafka was unreachable */
        int backpressure;            /* long-polling paused: too many events or bytes unacknowledged */
        long long commit_retry_at;
        unsigned long long kafka_errors_seen;
        int kafka_failing;           /* Kafka cannot take a commit: not ready until one succeeds */
        unsigned long long commits_seen;   /* sink_commits() when last looked at */
        long long *produced_id;            /* per route: its newest event handed to Kafka */
        unsigned char *produced_set;
        long long *committed_id;           /* per route: its committed replay ID when last looked at */
        unsigned char *committed_set;
        char fatal[512];

        /* The batch being produced or committed. */
        struct buf scratch;            /* values compacted of their whitespace */
        struct unit_tally events;    /* events per (route, topic) */
        long long *last_id;            /* per route: its newest event in the batch */
        unsigned char *last_id_set;
        unsigned long *cdc_gaps;       /* per route: CDC gap events in the batch */
        struct session_gap *gaps;      /* replay gaps recorded in the batch */
        size_t ngaps_in_batch;
        unsigned char *stopped;        /* per route: once held before an event it cannot forward */
        long long *stopped_at;         /* ... that event's replay ID (LLONG_MIN: unreadable) */
        unsigned char *partition_warned; /* per route: said once that events lacked a record ID */
        /* Per route, while nothing is stored for it and it started with -1:
         * the replay ID of the first event seen. If that event's batch fails,
         * a resubscribe with -1 would lose it, so the route comes back with -2
         * and the events before the floor (older than its start) are passed
         * over, counted, not produced. */
        long long *floor_id;
        unsigned char *floor_set;
        unsigned long *floor_skipped;  /* per route: passed over in this batch */
        struct unit_tally dead;      /* dead letters per (route, reason) */
        unsigned long unrouted_dead;   /* dead letters of events no route subscribes to */
        struct topic_set **topics;     /* per route with {entity}: its topics (routes[].max_topics) */
};

static long long mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A cause the bridge sees itself: one log line with cause and action, one
 * count. With a key, what may come thousands of times in one answer: every
 * one counted, the same (cause, key) written once per log_limit window.
 */
static void unit_vrecovery(const char *key, enum log_level lvl, const char *cause, const char *fmt,
                           va_list ap)
{
        struct recovery_decision dec = recovery_local(cause);
        const char *act = recovery_action_name(dec.action);
        char pairs[512], kind[128];

        /* The caller's pairs go to the logger unformatted, so each value is
         * escaped; cause and action are names from recovery's table. */
        snprintf(pairs, sizeof(pairs), "cause=%s action=%s %s", dec.cause, act, fmt);
        if (key) {
                snprintf(kind, sizeof(kind), "%s/%s", dec.cause, key);
                log_vmsg_limited(kind, lvl, "recovery", pairs, ap);
        } else {
                log_vmsg(lvl, "recovery", pairs, ap);
        }
        metrics_recovery_inc(dec.cause, act);
}

static void unit_recovery(enum log_level lvl, const char *cause, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void unit_recovery(enum log_level lvl, const char *cause, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        unit_vrecovery(NULL, lvl, cause, fmt, ap);
        va_end(ap);
}

static void unit_recovery_limited(const char *key, enum log_level lvl, const char *cause,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void unit_recovery_limited(const char *key, enum log_level lvl, const char *cause,
                                  const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        unit_vrecovery(key, lvl, cause, fmt, ap);
        va_end(ap);
}

/*
 * Kafka cannot take a commit (what: "commit", "produce", "delivery", "start
 * (step)"): not ready, with err as the reason, until a commit succeeds.
 */
static void unit_kafka_failing(struct unit *br, const char *what, const char *err,
                                 long long ago_ms)
{
        br->kafka_failing = 1;
        metrics_unit_kafka_failing(br->slot, what, err && err[0] ? err : sink_last_error(br->sink),
                                   ago_ms);
}

static void unit_kafka_ok(struct unit *br)
{
        if (!br->kafka_failing)
                return;
        br->kafka_failing = 0;
        metrics_unit_kafka_failing(br->slot, NULL, NULL, 0);
}

/*
 * Kafka took a commit: a route whose committed replay ID it moved, or that
 * has nothing uncommitted (never produced, or caught up), is known
 * committed as of now. Once per commit, never per event.
 */
static void unit_commits_taken(struct unit *br)
{
        const struct config *cfg = br->cfg;
        size_t i;

        for (i = 0; i < cfg->nroutes; i++) {
                long long id = 0;
                int has = replay_store_get(br->rs, cfg->routes[i].channel, &id) == 0;
                int moved = has && (!br->committed_set[i] || br->committed_id[i] != id);
                int caught_up = !br->produced_set[i] || (has && br->produced_id[i] == id);

                if (has) {
                        br->committed_id[i] = id;
                        br->committed_set[i] = 1;
                }
                if (moved || caught_up)
                        metrics_commit_route(config_route_label(&cfg->routes[i]));
        }
}

static void unit_sync_kafka_metrics(struct unit *br)
{
        unsigned long long errs = sink_errors(br->sink), commits = sink_commits(br->sink);
        long long pending = sink_pending_ms(br->sink);

        if (errs > br->kafka_errors_seen) {
                metrics_kafka_errors_add((unsigned long)(errs - br->kafka_errors_seen));
                br->kafka_errors_seen = errs;
        }
        if (commits != br->commits_seen) {
                br->commits_seen = commits;
                unit_commits_taken(br);
                if (!br->commit_pending && pending <= BRIDGE_COMMIT_TIMEOUT_MS)
                        unit_kafka_ok(br);
        }
        /* at_least_once: acknowledgements as overdue as a commit that timed out. */
        if (pending > BRIDGE_COMMIT_TIMEOUT_MS)
                unit_kafka_failing(br, "delivery", NULL, pending);
        metrics_unit_kafka_settled(br->slot, !br->commit_pending && sink_settled(br->sink));
        metrics_unit_in_flight_set(br->slot, (unsigned long)sink_in_flight(br->sink));
        metrics_unit_in_flight_bytes_set(br->slot, sink_in_flight_bytes(br->sink));
        metrics_unit_up_set(br->slot, !sink_kafka_down(br->sink) && br->sess &&
                                          session_handshaken(br->sess));
}

/* Count one of route ri under label; the last entry is tried first (a batch is mostly one route). */
static int unit_tally_add(struct unit_tally *t, size_t ri, const char *label)
{
        struct unit_count *c;
        size_t i;

        for (i = t->len; i-- > 0;) {
                c = &t->list[i];
                if (c->route == ri && !strcmp(c->label, label)) {
                        c->n++;
                        return 0;
                }
        }
        if (t->len == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;

                c = realloc(t->list, cap * sizeof(*c));
                if (!c)
                        return -1;
                t->list = c;
                t->cap = cap;
        }
        c = &t->list[t->len++];
        c->route = ri;
        snprintf(c->label, sizeof(c->label), "%s", label);
        c->n = 1;
        return 0;
}

static void unit_batch_reset(struct unit *br)
{
        size_t i;

        br->events.len = 0;
        br->dead.len = 0;
        br->unrouted_dead = 0;
        for (i = 0; i < br->cfg->nroutes; i++) {
                br->last_id_set[i] = 0;
                br->cdc_gaps[i] = 0;
        }
}

/* The gaps of the batch are in Kafka: their routes' stored position is -2
 * now (unit_put_gaps), unless an event of the batch moved it further. */
static void unit_gaps_committed(struct unit *br)
{
        size_t i;

        for (i = 0; i < br->ngaps_in_batch; i++) {
                const struct config_route *rt = br->gaps[i].rt;

                if (rt->on_invalid_replay != INVALID_REPLAY_FAIL &&
                    !br->last_id_set[rt - br->cfg->routes])
                        metrics_replay_id_set(config_route_label(rt), REPLAY_ALL);
        }
        br->ngaps_in_batch = 0;
}

/* The batch is in Kafka: now, and only now, it shows in the metrics. */
static void unit_batch_committed(struct unit *br)
{
        const struct config *cfg = br->cfg;
        double now = wall_seconds();
        size_t i;

        for (i = 0; i < br->events.len; i++)
                metrics_events_add(config_route_label(&cfg->routes[br->events.list[i].route]),
                                   br->events.list[i].label, br->events.list[i].n);
        for (i = 0; i < br->dead.len; i++)
                metrics_dead_letters_add(config_route_label(&cfg->routes[br->dead.list[i].route]),
                                         br->dead.list[i].label, br->dead.list[i].n);
        if (br->unrouted_dead)
                metrics_dead_letters_add("_unrouted", "unrouted", br->unrouted_dead);
        for (i = 0; i < cfg->nroutes; i++) {
                if (!br->last_id_set[i])
                        continue;
                br->produced_id[i] = br->last_id[i];
                br->produced_set[i] = 1;
                metrics_replay_id_set(config_route_label(&cfg->routes[i]), br->last_id[i]);
                metrics_last_event_set(config_route_label(&cfg->routes[i]), now);
                if (br->cdc_gaps[i])
                        metrics_cdc_gap_add(config_route_label(&cfg->routes[i]), br->cdc_gaps[i]);
        }
        unit_gaps_committed(br);
        unit_batch_reset(br);
}


/* The batch did not make it: its gaps go back to the session's list. */
static void unit_batch_lost(struct unit *br)
{
        size_t i;

        for (i = 0; i < br->ngaps_in_batch; i++)
                session_return_gap(br->sess, &br->gaps[i]);
        br->ngaps_in_batch = 0;
        unit_batch_reset(br);
}

/* Close the batch; on a final answer, tell the session. Returns the sink status. */
static int unit_commit(struct unit *br, int timeout_ms)
{
        long long t0 = mono_ms();
        char err[512];
        int st;

        /* A newer instance took over: this one must not commit once more. */
        if (fence_check(br->fence, br->fatal, sizeof(br->fatal)))
                return SINK_FATAL;
        st = sink_commit(br->sink, timeout_ms, err, sizeof(err));
        switch (st) {
        case SINK_OK:
                if (br->commit_pending)
                        log_msg(LOG_INFO, "kafka_recovered", "err=\"batch committed after retrying\"");
                br->commit_pending = 0;
                unit_batch_committed(br);
                session_batch_done(br->sess, SESSION_BATCH_COMMITTED, NULL);
                break;
        case SINK_RETRY:
                if (!br->commit_pending) {
                        unit_recovery(LOG_WARN, "kafka_unavailable", "err=\"%s\"", err);
                }
                br->commit_pending = 1;
                br->commit_retry_at = mono_ms() + BRIDGE_COMMIT_RETRY_MS;
                /* Failing since this commit began, not since it gave up. */
                unit_kafka_failing(br, "commit", err, mono_ms() - t0);
                break;
        case SINK_ABORTED:
                br->commit_pending = 0;
                log_msg(LOG_WARN, "batch_aborted", "err=\"%s\"", err);
                unit_kafka_failing(br, "commit", err, mono_ms() - t0);
                unit_batch_lost(br);
                session_batch_done(br->sess, SESSION_BATCH_REBUILD, "batch_aborted");
                break;
        default:
                br->commit_pending = 0;
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                break;
        }
        unit_sync_kafka_metrics(br);
        return st;
}

static int unit_may_connect(struct unit *br)
{
        const struct config *cfg = br->cfg;
        unsigned long long bytes;
        const char *bound;
        size_t in_flight;

        if (br->commit_pending)
                return 0;
        /* Bounded memory: no new events while too many, or too many bytes,
         * await Kafka. Two loads and two compares: no cost per event. */
        in_flight = sink_in_flight(br->sink);
        bytes = sink_in_flight_bytes(br->sink);
        if (in_flight >= (size_t)cfg->kafka.max_in_flight)
                bound = "max_in_flight";
        else if (bytes > (unsigned long long)cfg->kafka.max_in_flight_bytes)
                bound = "max_in_flight_bytes";
        else
                bound = NULL;
        if (bound) {
                if (!br->backpressure)
                        log_msg(LOG_WARN, "backpressure",
                                "in_flight=%zu in_flight_bytes=%llu bound=%s max_in_flight=%d "
                                "max_in_flight_bytes=%zu action=pause_long_polling",
                                in_flight, bytes, bound, cfg->kafka.max_in_flight,
                                cfg->kafka.max_in_flight_bytes);
                br->backpressure = 1;
                return 0;
        }
        if (br->backpressure)
                log_msg(LOG_INFO, "backpressure",
                        "in_flight=%zu in_flight_bytes=%llu action=resume_long_polling", in_flight,
                        bytes);
        br->backpressure = 0;
        return 1;
}

/* How an operator gets a stopped route going again, by reason. */
static const char *unit_resolve_hint(const char *reason)
{
        if (!strcmp(reason, "too_large"))
                return "raise the topic's max.message.bytes and the producer's message.max.bytes "
                       "(kafka.properties), or set kafka.dead_letter_topic, or move the route past "
                       "it with `sfbridge replay set`; then restart";
        if (!strcmp(reason, "illegal_topic"))
                return "change the route's topic template, or set kafka.dead_letter_topic, or move "
                       "the route past it with `sfbridge replay set`; then restart";
        if (!strcmp(reason, "topic_denied"))
                return "grant the bridge's Kafka principal Write (and Create) on the topic, or set "
                       "kafka.dead_letter_topic, or move the route past it with `sfbridge replay "
                       "set`; then restart";
        if (!strcmp(reason, "topic_missing"))
                return "create the topic (the cluster does not auto-create it), or set "
                       "kafka.dead_letter_topic, or move the route past it with `sfbridge replay "
                       "set`; then restart";
        if (!strcmp(reason, "too_many_topics"))
                return "raise the route's max_topics (each entity is a topic Kafka must hold), or "
                       "set kafka.dead_letter_topic, or move the route past it with `sfbridge replay "
                       "set`; then restart";
        if (!strcmp(reason, "dead_letter_failed"))
                return "make kafka.dead_letter_topic exist and accept the record, or move the route "
                       "past it with `sfbridge replay set`; then restart";
        return "set kafka.dead_letter_topic, or move the route past it with `sfbridge replay set`; "
               "then restart";
}

/* The event's replay ID as text: decimal, or (unreadable) the text as sent. */
static void unit_event_id(const struct bayeux_msg *m, char *out, size_t out_size)
{
        if (m->problem == BAYEUX_EVENT_OK)
                snprintf(out, out_size, "%lld", m->replay_id);
        else if (m->replay_raw.p && m->replay_raw.len)
                snprintf(out, out_size, "%.*s", (int)(m->replay_raw.len < 30 ? m->replay_raw.len : 30),
                         m->replay_raw.p);
        else
                snprintf(out, out_size, "none");
}

/*
 * An event the bridge cannot forward stops its route's progress rather
 * than be skipped: the route is quarantined (session.c), so its later events
 * are held back from Kafka too and its committed replay ID stays just before
 * this one; the quarantine's retry subscribes it again from there, with
 * backoff, and meets the event again until its cause is gone. Other routes
 * go on. The one place a route stops.
 */
static void unit_stop_route(struct unit *br, size_t ri, const struct bayeux_msg *m,
                              const char *reason, const char *topic, const char *why)
{
        long long rid = m->problem == BAYEUX_EVENT_OK ? m->replay_id : LLONG_MIN;
        char id[32];

        if (!session_route_up(br->sess, ri))
                return; /* set aside already, earlier in this batch */
        if (m->problem == BAYEUX_EVENT_OK)
                snprintf(id, sizeof(id), "%lld", m->replay_id);
        else
                snprintf(id, sizeof(id), "unreadable");
        /* Said and counted once per event: the quarantine's retries meet it again. */
        if (!br->stopped[ri] || br->stopped_at[ri] != rid)
                unit_recovery(LOG_ERROR, "bad_event",
                                "channel=%s replay_id=%s reason=%s topic=%s err=\"%s\" resolve=\"%s\"",
                                br->cfg->routes[ri].channel, id, reason, topic, why,
                                unit_resolve_hint(reason));
        else
                log_msg(LOG_WARN, "route_held", "channel=%s replay_id=%s reason=%s err=\"still cannot "
                        "be forwarded\"", br->cfg->routes[ri].channel, id, reason);
        br->stopped[ri] = 1;
        br->stopped_at[ri] = rid;
        session_route_quarantine(br->sess, ri, "bad_event", why);
}

/*
 * An event that cannot be produced where it belongs (reason: a token; why:
 * the text; rec: the rendered record, or NULL when it could not be
 * rendered). With kafka.dead_letter_topic it goes there in this batch;
 * without, or when the dead letter cannot be produced either, its route
 * stops just before it.
 * @returns SINK_OK (dead-lettered: mark it), 1 (the route stopped), or the
 *          sink status of a failed batch (err set).
 */
static int unit_poison(struct unit *br, size_t ri, const struct bayeux_msg *m,
                         const struct router_record *rec, const char *reason, const char *why,
                         int dead_letter_failed, char *err, size_t err_size)
{
        const char *dlq = br->cfg->kafka.dead_letter_topic;
        const char *topic = rec ? rec->topic : br->cfg->routes[ri].topic;
        struct sink_dead_letter dl = { 0 };
        char id[32], detail[1024];
        int st;

        if (!dlq) {
                unit_stop_route(br, ri, m, reason, topic, why);
                return 1;
        }
        if (dead_letter_failed) {
                snprintf(detail, sizeof(detail), "its dead letter to %.250s was refused: %.500s", dlq, why);
                unit_stop_route(br, ri, m, "dead_letter_failed", topic, detail);
                return 1;
        }
        unit_event_id(m, id, sizeof(id));
        dl.channel = m->channel;
        dl.replay_id = id;
        dl.error = why;
        dl.topic = topic;
        if (rec && rec->key) {
                dl.key = rec->key;
                dl.key_len = rec->key_len;
        }
        dl.value = m->message.p;
        dl.value_len = m->message.len;
        st = sink_dead_letter(br->sink, &dl, err, err_size);
        if (st == SINK_POISON) {
                snprintf(detail, sizeof(detail), "%.400s; its dead letter to %.250s cannot be produced either: %.300s",
                         why, dlq, err);
                unit_stop_route(br, ri, m, "dead_letter_failed", topic, detail);
                return 1;
        }
        if (st != SINK_OK)
                return st;
        if (unit_tally_add(&br->dead, ri, reason) == -1) {
                snprintf(err, err_size, "out of memory counting dead letters");
                return SINK_FATAL;
        }
        unit_recovery_limited(reason, LOG_WARN, "poison_event",
                              "channel=%s replay_id=%s reason=%s topic=%s dead_letter_topic=%s err=\"%s\"",
                              m->channel, id, reason, topic, dlq, why);
        return SINK_OK;
}

/*
 * The topic of a route's sf.gap record: the route's topic; a {entity}
 * template has no entity to name, so it goes where an event without one
 * goes (router.c: "_unknown").
 */
static void unit_gap_route_topic(const struct config_route *rt, char *out, size_t out_size)
{
        const char *t = rt->topic, *e;
        size_t len = 0;

        out[0] = '\0';
        while ((e = strstr(t, "{entity}"))) {
                len += (size_t)snprintf(out + len, out_size - len, "%.*s_unknown", (int)(e - t), t);
                if (len >= out_size)
                        return;
                t = e + strlen("{entity}");
        }
        snprintf(out + len, out_size - len, "%s", t);
}

/*
 * Record the gaps the session handled, in the open batch (one transaction
 * with exactly_once), each three ways:
 *  - the audit record, key "<name>:<channel>:gap:<detected_at>", on the
 *    append-only gap topic (replay_gap_topic(): every gap is kept there);
 *  - in-band, a record on the route's topic with header sf.gap, keyed and
 *    partitioned by the channel as a channel-keyed event of the route is,
 *    before any event of the new subscription: consumers of the topic learn
 *    that events were lost, and where;
 *  - the route's replay position, moved to -2 (all or new; fail moves
 *    nothing: the operator decides). Salesforce refused the stored ID and
 *    says nothing of what it still retains, so the only position a restart
 *    can use without meeting the same gap again, and without losing what
 *    was published after the gap (-1 would: those events are not new at
 *    the next start), is "everything retained". Nothing of the route was
 *    delivered since (any event moves the position to its own replay ID,
 *    in this batch too: gaps go first), so -2 re-delivers nothing; under
 *    new it may deliver, late, events older than the gap that the live -1
 *    subscription skipped, when the next re-handshake or start comes
 *    before the route's next event. The mark rides like any replay ID:
 *    committed with the batch, or (at_least_once) once acknowledged.
 */
static int unit_put_gaps(struct unit *br, char *err, size_t err_size)
{
        const struct config *cfg = br->cfg;
        struct session_gap gap;
        struct buf key, value;
        char gap_topic[256];
        int st = SINK_OK;

        buf_init(&key, 8192);
        buf_init(&value, 8192);
        replay_gap_topic(cfg, gap_topic, sizeof(gap_topic));
        while (st == SINK_OK && br->ngaps_in_batch < cfg->nroutes &&
               session_take_gap(br->sess, &gap)) {
                const struct config_route *rt = gap.rt;
                struct router_record rec;

                br->gaps[br->ngaps_in_batch++] = gap;
                if (replay_gap_encode(br->prefix, rt->channel, gap.lost_after,
                                      gap.resubscribed_from,
                                      config_invalid_replay_name(rt->on_invalid_replay),
                                      gap.detected_at, &key, &value)) {
                        snprintf(err, err_size, "gap record of %s too large", rt->channel);
                        st = SINK_FATAL;
                        break;
                }
                st = sink_gap(br->sink, gap_topic, key.data, key.len, value.data, value.len, err,
                              err_size);
                if (st != SINK_OK)
                        break;
                memset(&rec, 0, sizeof(rec));
                unit_gap_route_topic(rt, rec.topic, sizeof(rec.topic));
                rec.key = rt->channel;
                rec.key_len = strlen(rt->channel);
                rec.value = value.data;
                rec.value_len = value.len;
                rec.headers[0] = (struct router_header){ "sf.gap", value.data, value.len };
                rec.headers[1] = (struct router_header){ "sf.channel", rt->channel,
                                                         strlen(rt->channel) };
                rec.headers[2] = (struct router_header){ "sf.bridge", cfg->name, strlen(cfg->name) };
                rec.nheaders = 3;
                rec.channel = rt->channel;
                rec.replay_id = gap.lost_after;
                rec.partition_hash = murmur2_positive(rt->channel, strlen(rt->channel));
                st = sink_produce(br->sink, &rec, err, err_size);
                if (st == SINK_POISON) {
                        /* Kafka can never take it there (the audit record is
                         * written): say so rather than hold the route back. */
                        log_msg(LOG_ERROR, "gap_record_failed", "channel=%s topic=%s err=\"%s\"",
                                rt->channel, rec.topic, err);
                        st = SINK_OK;
                }
                if (st == SINK_OK && rt->on_invalid_replay != INVALID_REPLAY_FAIL)
                        st = sink_mark(br->sink, rt->channel, REPLAY_ALL, NULL, err, err_size);
                if (st == SINK_OK)
                        log_msg(LOG_INFO, "replay_gap_recorded", "channel=%s lost_after_replay_id=%lld "
                                "resumes_from=%s gap_topic=%s topic=%s", rt->channel, gap.lost_after,
                                rt->on_invalid_replay != INVALID_REPLAY_FAIL ? "-2" : "unchanged",
                                gap_topic, rec.topic);
        }
        buf_free(&key);
        buf_free(&value);
        return st;
}

/*
 * Salesforce sent an event at or before the route's committed replay ID
 * again: it counts against the org's daily allocation once more. Counted,
 * and produced as any event (the design keeps no per-event dedup: replay
 * IDs are opaque and need not be contiguous).
 */
static void unit_count_redelivered(struct unit *br, const struct config_route *rt,
                                     const struct bayeux_msg *m)
{
        long long committed;

        if (m->problem != BAYEUX_EVENT_OK || br->probing)
                return;
        if (replay_store_get(br->rs, rt->channel, &committed) == 0 && committed >= 0 &&
            m->replay_id <= committed)
                metrics_redelivered_add(config_route_label(rt), 1);
}

/* A {entity} route's topic: admitted, or poison past routes[].max_topics.
 * @returns NULL, or the poison reason with why set. */
static const char *unit_topic_admit(struct unit *br, size_t ri, const char *topic, char *why,
                                    size_t why_size)
{
        switch (topic_set_admit(br->topics[ri], topic)) {
        case 1:
                return NULL;
        case 0:
                snprintf(why, why_size, "the route already writes to %zu topics (routes[].max_topics); "
                         "%.250s would be one more", topic_set_size(br->topics[ri]), topic);
                return "too_many_topics";
        default:
                snprintf(why, why_size, "out of memory admitting topic %.250s", topic);
                return "too_many_topics";
        }
}

/*
 * An event on a channel no route subscribes to (Salesforce sends only what
 * was subscribed; a proxy or a broken server may not). No route means no
 * replay position it could move past: with kafka.dead_letter_topic it is
 * written there in its batch (reason unrouted), else it is counted and
 * logged, once per window however many come.
 * @returns SINK_OK, or the sink status of a failed batch (err set).
 */
static int unit_unrouted(struct unit *br, const struct bayeux_msg *m, char *err, size_t err_size)
{
        const char *dlq = br->cfg->kafka.dead_letter_topic;
        const char *why = "an event on a channel no route subscribes to";
        struct sink_dead_letter dl = { 0 };
        char id[32];
        int st;

        unit_event_id(m, id, sizeof(id));
        if (!dlq) {
                unit_recovery_limited("unrouted", LOG_ERROR, "unrouted_event",
                                      "channel=%s replay_id=%s err=\"%s\"", m->channel, id, why);
                return SINK_OK;
        }
        dl.channel = m->channel;
        dl.replay_id = id;
        dl.error = why;
        dl.topic = "";
        dl.value = m->message.p;
        dl.value_len = m->message.len;
        st = sink_dead_letter(br->sink, &dl, err, err_size);
        if (st == SINK_POISON) {
                unit_recovery_limited("unrouted", LOG_ERROR, "unrouted_event",
                                      "channel=%s replay_id=%s err=\"%s; its dead letter to %s cannot be "
                                      "produced either: %s\"", m->channel, id, why, dlq, err);
                return SINK_OK;
        }
        if (st != SINK_OK)
                return st;
        br->unrouted_dead++;
        unit_recovery_limited("unrouted", LOG_WARN, "poison_event",
                              "channel=%s replay_id=%s reason=unrouted topic= dead_letter_topic=%s "
                              "err=\"%s\"", m->channel, id, dlq, why);
        return SINK_OK;
}

/*
 * A route that started with -1 and has nothing stored yet: remember its first
 * event (the floor). Should that batch fail, the route is resubscribed with
 * -2 (unit_replay_from) rather than -1, which would lose the batch and every
 * event published until the resubscribe; the retained events older than the
 * floor that -2 brings were never wanted and are passed over here.
 * @returns 1 when the event lies before the floor (pass it over).
 */
static int unit_floor(struct unit *br, const struct config_route *rt, size_t ri, long long id)
{
        long long stored;

        if (br->floor_set[ri]) {
                if (id >= br->floor_id[ri])
                        return 0;
                br->floor_skipped[ri]++;
                return 1;
        }
        if (rt->start != REPLAY_NEW || br->produced_set[ri] ||
            replay_store_get(br->rs, rt->channel, &stored) == 0)
                return 0;
        br->floor_id[ri] = id;
        br->floor_set[ri] = 1;
        return 0;
}

/* One line per route and batch for the events passed over: never silent, never per event. */
static void unit_floor_report(struct unit *br)
{
        size_t i;

        for (i = 0; i < br->cfg->nroutes; i++) {
                if (!br->floor_skipped[i])
                        continue;
                log_msg(LOG_INFO, "replay_before_start",
                        "channel=%s skipped=%lu first_replay_id=%lld reason=\"resubscribed with -2 after "
                        "the route's first batch failed; these events are older than its start (-1)\"",
                        br->cfg->routes[i].channel, br->floor_skipped[i], br->floor_id[i]);
                br->floor_skipped[i] = 0;
        }
}

/*
 * One batch: every event of the response, in order, into one Kafka batch
 * (a transaction with exactly_once) with the replay gaps waiting to be
 * recorded; then the session may send the next long-poll, and the batch
 * commits. A failure anywhere aborts the whole batch and the session
 * resubscribes from the committed IDs: nothing is half-delivered.
 */
static void unit_take_batch(struct unit *br, const struct bayeux_response *resp)
{
        const struct config *cfg = br->cfg;
        char err[512];
        size_t i;
        int st;

        if (fence_check(br->fence, br->fatal, sizeof(br->fatal)))
                return;
        unit_batch_reset(br);
        metrics_unit_kafka_settled(br->slot, 0); /* the batch's wait for its commit starts here */
        st = sink_begin(br->sink, err, sizeof(err));
        if (st == SINK_OK)
                st = unit_put_gaps(br, err, sizeof(err));
        for (i = 0; i < resp->nmsgs && st == SINK_OK; i++) {
                const struct bayeux_msg *m = &resp->msgs[i];
                const struct config_route *rt;
                struct router_record rec;
                const char *reason;
                char why[512];
                size_t ri;
                int warned = 0, rendered, dead_failed;

                if (m->kind != BAYEUX_EVENT)
                        continue;
                rt = config_find_route(cfg, m->channel);
                if (!rt) {
                        st = unit_unrouted(br, m, err, sizeof(err));
                        if (st != SINK_OK)
                                break;
                        continue;
                }
                ri = (size_t)(rt - cfg->routes);
                if (!session_route_up(br->sess, ri))
                        continue; /* held, not lost: its committed replay ID stays before them */
                if (m->problem == BAYEUX_EVENT_OK && unit_floor(br, rt, ri, m->replay_id))
                        continue; /* older than the route's start (-1): never wanted */
                unit_count_redelivered(br, rt, m);
                /* An event that cannot be produced is poison: dead-lettered or its route stops. */
                reason = NULL;
                rendered = 0;
                dead_failed = 0;
                if (m->problem != BAYEUX_EVENT_OK) {
                        bayeux_event_problem_text(m, why, sizeof(why));
                        reason = "unreadable";
                } else {
                        int rc = router_render(cfg, rt, m, &rec, &br->scratch, &warned, why,
                                               sizeof(why));

                        if (rc == -1) {
                                reason = "unreadable";
                        } else {
                                rendered = 1;
                                if (rc == ROUTER_ILLEGAL_TOPIC)
                                        reason = "illegal_topic";
                                else if (br->topics[ri])
                                        reason = unit_topic_admit(br, ri, rec.topic, why, sizeof(why));
                        }
                }
                if (!reason && sink_poison_count(br->sink)) {
                        const char *known, *kerr;
                        char id[32];

                        unit_event_id(m, id, sizeof(id));
                        if (sink_poison_known(br->sink, m->channel, id, &known, &kerr, &dead_failed)) {
                                reason = known;
                                snprintf(why, sizeof(why), "Kafka refused it: %s", kerr);
                        }
                }
                if (!reason) {
                        if (warned & ~ROUTER_WARN_NO_PARTITION_ID)
                                log_msg_limited(rt->channel, LOG_WARN, "event_incomplete",
                                                "channel=%s replay_id=%lld topic=%s", m->channel,
                                                m->replay_id, rec.topic);
                        /* Once per route, not per event: a stream of such events would flood the log. */
                        if ((warned & ROUTER_WARN_NO_PARTITION_ID) && !br->partition_warned[ri]) {
                                br->partition_warned[ri] = 1;
                                log_msg(LOG_WARN, "partition_fallback",
                                        "channel=%s replay_id=%lld topic=%s cause=%s "
                                        "action=partition_by_channel",
                                        m->channel, m->replay_id, rec.topic,
                                        rt->partition_by == ROUTE_PARTITION_ENTITY
                                            ? "no_entity"
                                            : "no_record_id");
                        }
                        st = sink_produce(br->sink, &rec, err, sizeof(err));
                        if (st == SINK_POISON) {
                                reason = sink_poison_reason(br->sink);
                                snprintf(why, sizeof(why), "%s", err);
                                st = SINK_OK;
                        }
                }
                if (reason && st == SINK_OK) {
                        st = unit_poison(br, ri, m, rendered ? &rec : NULL, reason, why, dead_failed,
                                           err, sizeof(err));
                        if (st == 1) {
                                st = SINK_OK;
                                continue; /* the route stopped just before it */
                        }
                }
                if (st == SINK_OK && m->problem == BAYEUX_EVENT_OK)
                        st = sink_mark(br->sink, rt->channel, m->replay_id, m->event_time, err,
                                       sizeof(err));
                if (st != SINK_OK) {
                        log_msg(LOG_ERROR, "produce_failed",
                                "channel=%s replay_id=%lld topic=%s bytes=%zu err=\"%s\" action=%s",
                                m->channel, m->replay_id, rendered ? rec.topic : rt->topic,
                                rendered ? rec.value_len : m->message.len, err,
                                "abort_batch_and_resubscribe_from_committed");
                        break;
                }
                if (m->problem != BAYEUX_EVENT_OK)
                        continue; /* dead-lettered; its replay ID cannot be marked */
                br->last_id[ri] = m->replay_id;
                br->last_id_set[ri] = 1;
                if (reason)
                        continue; /* dead-lettered: not counted as an event of its topic */
                if (unit_tally_add(&br->events, ri, rec.topic) == -1) {
                        snprintf(err, sizeof(err), "out of memory counting events");
                        st = SINK_FATAL;
                        break;
                }
                if (m->change_type && !strncmp(m->change_type, "GAP_", 4))
                        br->cdc_gaps[ri]++;
        }
        buf_trim(&br->scratch, BAYEUX_KEEP_BYTES);
        unit_floor_report(br);
        log_limit_flush(0);
        if (st == SINK_FATAL) {
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                return;
        }
        if (st != SINK_OK) {
                char aerr[256];

                if (sink_abort(br->sink, 5000, aerr, sizeof(aerr)) == SINK_FATAL) {
                        snprintf(br->fatal, sizeof(br->fatal), "%s", aerr);
                        return;
                }
                if (i == 0 || st == SINK_RETRY)
                        log_msg(LOG_WARN, "kafka_unavailable", "err=\"%s\" action=rebuild", err);
                unit_kafka_failing(br, "produce", err, 0);
                unit_batch_lost(br);
                session_batch_done(br->sess, SESSION_BATCH_REBUILD, "batch_aborted");
                unit_sync_kafka_metrics(br);
                return;
        }
        session_set_paused(br->sess, !unit_may_connect(br));
        session_batch_produced(br->sess);
        unit_commit(br, BRIDGE_COMMIT_TIMEOUT_MS);
}

/* Gaps the session handled while no events came: recorded in a batch of their own. */
static void unit_flush_gaps(struct unit *br)
{
        char err[512];
        int st;

        if (br->commit_pending)
                return;
        unit_batch_reset(br);
        st = sink_begin(br->sink, err, sizeof(err));
        if (st == SINK_OK)
                st = unit_put_gaps(br, err, sizeof(err));
        if (br->ngaps_in_batch == 0) {
                if (st == SINK_OK)
                        sink_abort(br->sink, 1000, err, sizeof(err));
                return;
        }
        if (st == SINK_OK)
                st = sink_commit(br->sink, BRIDGE_COMMIT_TIMEOUT_MS, err, sizeof(err));
        if (st == SINK_OK) {
                unit_gaps_committed(br);
                return;
        }
        log_msg(LOG_WARN, "replay_gap", "err=\"gap record not written yet: %s\" action=retry", err);
        if (st == SINK_FATAL) {
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                return;
        }
        unit_kafka_failing(br, "commit", err, 0);
        sink_abort(br->sink, 1000, err, sizeof(err));
        unit_batch_lost(br);
}


static void unit_login_host(const char *url, char *out, size_t out_size);
static int unit_check_org(struct unit *br, int decide_only, char *errstr, size_t errstr_size);

/*
 * Group mode has no probe: the group chose this owner. The org of the first
 * login is compared with the stored positions before the first subscribe
 * uses them; under on_org_change: fail the unit stops before any event.
 */
static void unit_org_first_login(struct unit *br)
{
        const struct auth_token *tok = session_token(br->sess);
        char host[256];

        if (br->org_checked || !tok)
                return;
        br->org_checked = 1;
        unit_login_host(br->cfg->sf.login_url, host, sizeof(host));
        replay_store_set_origin(br->rs, tok->org_id, host);
        if (unit_check_org(br, 0, br->fatal, sizeof(br->fatal)) == 0)
                br->fatal[0] = '\0';
}

static long long unit_replay_from(void *ctx, const struct config_route *rt)
{
        struct unit *br = ctx;
        long long id;

        if (br->probing)
                return REPLAY_NEW;
        if (br->group_mode)
                unit_org_first_login(br);
        if (replay_store_get(br->rs, rt->channel, &id) == 0) {
                br->floor_set[rt - br->cfg->routes] = 0;
                return id;
        }
        if (br->floor_set[rt - br->cfg->routes])
                return REPLAY_ALL; /* its first batch failed: see unit_floor() */
        return rt->start;
}

static int unit_replay_all_refused(void *ctx, const struct config_route *rt, char *why,
                                     size_t why_size)
{
        struct unit *br = ctx;

        return org_limits_nearly_spent(br->limits, rt->channel, why, why_size);
}

static void drain_fd(int fd)
{
        char tmp[64];

        if (fd < 0)
                return;
        while (read(fd, tmp, sizeof(tmp)) > 0)
                ;
}

/* Retry step() with backoff until it succeeds (0), fails for good (-1,
 * errstr set) or a stop is requested (1). Kafka may come up after us. */
static int unit_retry(struct unit *br, const char *what,
                        int (*step)(struct unit *br, char *err, size_t err_size),
                        char *errstr, size_t errstr_size)
{
        struct backoff bo;
        char err[512], step_name[64];

        backoff_init(&bo, 500, 10000);
        for (;;) {
                long long t0 = mono_ms();
                long delay;
                int rc;

                if (*br->stop)
                        return 1;
                err[0] = '\0';
                rc = step(br, err, sizeof(err));
                if (rc == 0) {
                        unit_kafka_ok(br);
                        return 0;
                }
                if (rc == SINK_FATAL) {
                        snprintf(errstr, errstr_size, "%s", err);
                        return -1;
                }
                snprintf(step_name, sizeof(step_name), "start (%s)", what);
                unit_kafka_failing(br, step_name, err, mono_ms() - t0);
                delay = backoff_next_ms(&bo);
                log_msg(LOG_WARN, "kafka_unavailable", "step=%s err=\"%s\" retry_ms=%ld", what, err, delay);
                metrics_heartbeat();
                http_poll(br->http, (int)delay, br->wake_fd);
                drain_fd(br->wake_fd);
        }
}

static int step_load(struct unit *br, char *err, size_t err_size)
{
        return replay_store_load(br->rs, 10000, err, err_size) == 0 ? 0 : SINK_RETRY;
}

static int step_start(struct unit *br, char *err, size_t err_size)
{
        return sink_start(br->sink, 10000, err, err_size);
}

static int step_watch(struct unit *br, char *err, size_t err_size)
{
        return fence_watch_start(br->fence, 10000, err, err_size) == 0 ? 0 : SINK_RETRY;
}

/* Write this instance's owner record, claimed or released, in a batch of
 * its own; see fence.h. */
static int unit_write_owner(struct unit *br, int release, int timeout_ms, char *err,
                              size_t err_size)
{
        struct buf key, value;
        int st;

        buf_init(&key, 1024);
        buf_init(&value, 4096);
        if ((release ? fence_release_encode : fence_claim_encode)(br->fence, &key, &value) == -1) {
                buf_free(&key);
                buf_free(&value);
                snprintf(err, err_size, "owner record too large");
                return SINK_FATAL;
        }
        st = sink_begin(br->sink, err, err_size);
        if (st == SINK_OK)
                st = sink_put_record(br->sink, key.data, key.len, value.data, value.len, err, err_size);
        if (st == SINK_OK)
                st = sink_commit(br->sink, timeout_ms, err, err_size);
        if (st == SINK_OK && sink_flush(br->sink, timeout_ms) == -1) {
                snprintf(err, err_size, "owner record not acknowledged within %d ms", timeout_ms);
                st = SINK_RETRY;
        }
        if (st != SINK_OK && st != SINK_FATAL) {
                char aerr[128];
                sink_abort(br->sink, 1000, aerr, sizeof(aerr));
        }
        buf_free(&key);
        buf_free(&value);
        return st;
}

static int step_claim(struct unit *br, char *err, size_t err_size)
{
        int st = unit_write_owner(br, 0, 10000, err, err_size);

        if (st == SINK_OK)
                br->claimed = 1;
        return st;
}

/* On the way out, after the open batch was committed or aborted: tell a
 * newcomer waiting in fence_await_release() that nothing more will commit. */
static void unit_release(struct unit *br)
{
        char err[512];

        if (!br->claimed)
                return;
        if (unit_write_owner(br, 1, 1000, err, sizeof(err)) == SINK_OK)
                log_msg(LOG_INFO, "released", "name=%s instance=%s", br->cfg->name,
                        fence_instance(br->fence));
        else
                log_msg(LOG_WARN, "released", "name=%s instance=%s err=\"release record not written: %s\"",
                        br->cfg->name, fence_instance(br->fence), err);
}

/* The host (and port) of salesforce.login_url: which login service the org is on. */
static void unit_login_host(const char *url, char *out, size_t out_size)
{
        const char *p = strstr(url, "://"), *end, *at;

        p = p ? p + 3 : url;
        end = p + strcspn(p, "/?#");
        at = memchr(p, '@', (size_t)(end - p));
        if (at)
                p = at + 1;
        snprintf(out, out_size, "%.*s", (int)(end - p), p);
}

/*
 * Replay positions are only meaningful in the org that wrote them: a
 * replay ID of another org (a sandbox refresh, a test -> prod move) would
 * skip or repeat events. Entries without an org (older versions, `replay
 * set`) are accepted: the next commit writes the org. With decide_only the
 * fail policy alone is applied (before the claim: a mismatch must not
 * disturb a running instance).
 * @returns 0 (go on), or -1 with errstr (on_org_change: fail).
 */
/* Show the stored replay IDs of the unit's routes (every stored one outside group mode, as before). */
static void unit_publish_replay_ids(struct unit *br)
{
        for (size_t i = 0; i < replay_store_count(br->rs); i++) {
                const struct replay_entry *re = replay_store_entry(br->rs, i);
                const struct config_route *rt = config_find_route(br->cfg, re->channel);

                if (rt)
                        metrics_replay_id_set(config_route_label(rt), re->replay_id);
                else if (!br->group_mode && !br->cfg->has_orgs)
                        metrics_replay_id_set(re->channel, re->replay_id);
        }
}

static int unit_check_org(struct unit *br, int decide_only, char *errstr, size_t errstr_size)
{
        const struct config *cfg = br->cfg;
        const struct auth_token *tok = session_token(br->sess);
        const char *org = tok && tok->org_id ? tok->org_id : "";
        const struct replay_entry *first = NULL;
        char host[256], channels[512] = "", cmds[1024] = "";
        size_t i, j, n = 0, len = 0, clen = 0;

        if (!org[0])
                return 0; /* the token named no org: nothing to compare */
        unit_login_host(cfg->sf.login_url, host, sizeof(host));
        for (i = 0; i < cfg->nroutes; i++) {
                const struct config_route *rt = &cfg->routes[i];
                const struct replay_entry *re = NULL;

                for (j = 0; j < replay_store_count(br->rs); j++)
                        if (!strcmp(replay_store_entry(br->rs, j)->channel, rt->channel))
                                re = replay_store_entry(br->rs, j);
                if (!re || !re->org[0] || replay_org_same(re->org, org))
                        continue;
                if (!first)
                        first = re;
                n++;
                if (cfg->on_org_change == ORG_CHANGE_START) {
                        if (decide_only)
                                continue;
                        log_msg(LOG_WARN, "org_changed",
                                "channel=%s stored_org=%s stored_login_host=%s stored_replay_id=%lld "
                                "org=%s login_host=%s action=start start=%lld",
                                rt->channel, re->org, re->login_host[0] ? re->login_host : "-",
                                re->replay_id, org, host, rt->start);
                        metrics_recovery_inc("org_changed", "start");
                        replay_store_forget(br->rs, rt->channel);
                        continue;
                }
                if (len < sizeof(channels))
                        len += (size_t)snprintf(channels + len, sizeof(channels) - len, "%s%s",
                                                n > 1 ? ", " : "", rt->channel);
                if (clen < sizeof(cmds))
                        clen += (size_t)snprintf(cmds + clen, sizeof(cmds) - clen,
                                                 "%s`sfbridge replay set -c %s --channel %s --new`",
                                                 n > 1 ? ", " : "", cfg->path ? cfg->path : "FILE",
                                                 rt->channel);
        }
        if (!n || cfg->on_org_change == ORG_CHANGE_START)
                return 0;
        log_msg(LOG_ERROR, "org_changed", "stored_org=%s stored_login_host=%s org=%s login_host=%s "
                "channels=\"%s\" action=fatal policy=fail", first->org,
                first->login_host[0] ? first->login_host : "-", org, host, channels);
        metrics_recovery_inc("org_changed", "fatal");
        snprintf(errstr, errstr_size,
                 "the replay topic %s holds positions of org %s (login host %s) for %s, but this "
                 "start logged in to org %s (login host %s); they would skip or repeat events, so "
                 "nothing was started. To begin this org afresh run %s (or --all), or set "
                 "on_org_change: start; or give this org its own name or kafka.replay_topic",
                 cfg->kafka.replay_topic, first->org, first->login_host[0] ? first->login_host : "?",
                 channels, org, host, cmds);
        return -1;
}

/* Wait ms (or until a stop is asked for). @returns 1 when stopped. */
static int unit_sleep(struct unit *br, long ms)
{
        long long until = mono_ms() + ms;

        while (!*br->stop && mono_ms() < until) {
                long long left = until - mono_ms();

                metrics_heartbeat();
                http_poll(br->http, left > 1000 ? 1000 : (int)left, br->wake_fd);
                drain_fd(br->wake_fd);
        }
        return *br->stop ? 1 : 0;
}

/* Step the probe session until every route answered. @returns 0, 1 (stop) or -1 (errstr). */
static int unit_probe(struct unit *br, char *errstr, size_t errstr_size)
{
        for (;;) {
                if (*br->stop)
                        return 1;
                errstr[0] = '\0';
                if (session_step(br->sess, errstr, errstr_size) == -1)
                        return -1;
                if (session_probed(br->sess))
                        return 0;
                metrics_heartbeat();
                if (http_poll(br->http, session_timeout_ms(br->sess, 1000), br->wake_fd) == -1) {
                        snprintf(errstr, errstr_size, "libcurl multi failure");
                        return -1;
                }
                drain_fd(br->wake_fd);
        }
}

/*
 * The probe's verdict on the routes. A route Salesforce refused: with
 * on_route_error: fail (or a channel that does not exist) the start ends
 * here, unclaimed; with quarantine it goes on, unless another instance
 * holds the name: taking over would trade a working bridge for one with a
 * route set aside, so the start waits (*held set, readiness says why).
 * @returns 0 or -1 (errstr).
 */
static int unit_probe_verdict(struct unit *br, int *held, char *errstr, size_t errstr_size)
{
        const struct config *cfg = br->cfg;
        const char *owner;
        char inst[64], host[128], at[64], text[METRICS_QUARANTINE_MAX];
        size_t i, len;
        int live;

        *held = 0;
        owner = replay_store_owner(br->rs, &len);
        live = fence_owner_live(owner, len, inst, sizeof(inst), host, sizeof(host), at, sizeof(at));
        for (i = 0; i < cfg->nroutes; i++) {
                const char *why = "";
                long long from;
                enum session_probe p = session_probe_route(br->sess, i, &from, &why);

                if (p == SESSION_PROBE_OK || p == SESSION_PROBE_REPLAY_GONE)
                        continue;
                if (p == SESSION_PROBE_FATAL || p == SESSION_PROBE_NONE ||
                    cfg->on_route_error == ROUTE_ERROR_FAIL) {
                        snprintf(errstr, errstr_size,
                                 "Salesforce refused the subscribe of route %s: %s%s; nothing was "
                                 "claimed", cfg->routes[i].channel, why[0] ? why : "no reply",
                                 p == SESSION_PROBE_REFUSED ? " and on_route_error is fail" : "");
                        return -1;
                }
                if (!live)
                        continue; /* nobody to displace: the run quarantines it */
                /* Said at every retry: the operator sees the start is held and by whom. */
                log_msg(LOG_WARN, "start_held", "channel=%s err=\"%s\" previous_instance=%s "
                        "previous_host=%s claimed_at=%s action=retry_probe reason=\"a route is "
                        "refused and another live instance holds the name: not taking over\"",
                        cfg->routes[i].channel, why, inst, host, at);
                snprintf(text, sizeof(text), "start held: route %s refused (%s) while instance %s "
                         "(%s, claimed %s) holds the name %s", cfg->routes[i].channel, why, inst,
                         host, at, cfg->name);
                /* The quarantine text is copied, so it can name the route and the
                 * owner; the flags let it be the reason /readyz gives. */
                metrics_unit_ready_set(br->slot, 1, 1, 0, NULL);
                metrics_unit_quarantine_set(br->slot, text);
                *held = 1;
                return 0;
        }
        return 0;
}

/*
 * Prove the start before disturbing anyone: read the replay topic (Kafka
 * reachable), log in, handshake and have every route's subscribe answered
 * (from -1: nothing is replayed), then leave that Bayeux session. Nothing is
 * written to Kafka before this succeeds, so a start with a bad password, a
 * refused channel or no Kafka leaves a running instance of the same name
 * alone. Transient trouble on either side is retried with backoff.
 * @returns 0, 1 (stop asked for) or -1 (errstr).
 */
static int unit_prove(struct unit *br, char *errstr, size_t errstr_size)
{
        const struct auth_token *tok;
        struct backoff held_bo;
        char host[256];
        int rc, held;

        backoff_init(&held_bo, 2000, 60000);
        backoff_next_ms(&held_bo);
        br->probing = 1;
        for (;;) {
                if ((rc = unit_retry(br, "replay_topic", step_load, errstr, errstr_size)))
                        return rc;
                if ((rc = unit_probe(br, errstr, errstr_size)))
                        return rc;
                session_disconnect(br->sess, 1000);
                if (unit_probe_verdict(br, &held, errstr, errstr_size))
                        return -1;
                if (!held)
                        break;
                if (unit_sleep(br, backoff_next_ms(&held_bo)))
                        return 1;
                session_restart(br->sess, 1);
        }
        br->probing = 0;
        metrics_unit_ready_set(br->slot, 0, 0, 0, NULL);
        metrics_unit_quarantine_set(br->slot, NULL);
        tok = session_token(br->sess);
        unit_login_host(br->cfg->sf.login_url, host, sizeof(host));
        replay_store_set_origin(br->rs, tok ? tok->org_id : NULL, host);
        /* on_org_change: fail stops here, before the claim. */
        if (br->cfg->on_org_change == ORG_CHANGE_FAIL && unit_check_org(br, 1, errstr, errstr_size))
                return -1;
        return 0;
}

/*
 * Start the Kafka side, once unit_prove() passed: take the
 * transactional.id (Kafka fences an older producer here: its open
 * transaction is aborted and it can commit no more), claim the name, wait
 * for a live previous owner to release it (the second line, for brokers
 * that do not fence: librdkafka's mock cluster), and read the committed
 * replay IDs. A first start or one after a clean stop does not wait.
 */
static int unit_start_kafka(struct unit *br, char *errstr, size_t errstr_size)
{
        const char *owner;
        char *previous = NULL, inst[64], host[128], at[64];
        size_t len;
        int rc;

        if ((owner = replay_store_owner(br->rs, &len)) && !(previous = strndup(owner, len))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (fence_owner_live(previous, len, inst, sizeof(inst), host, sizeof(host), at, sizeof(at)))
                log_msg(LOG_WARN, "takeover_pending", "name=%s previous_instance=%s previous_host=%s "
                        "claimed_at=%s err=\"another instance holds this name and replay topic; it "
                        "stops once this one claims it\"", br->cfg->name, inst, host, at);
        if ((rc = unit_retry(br, "init_transactions", step_start, errstr, errstr_size)) ||
            (rc = unit_retry(br, "fence_watch", step_watch, errstr, errstr_size)) ||
            (rc = unit_retry(br, "claim", step_claim, errstr, errstr_size))) {
                free(previous);
                return rc;
        }
        log_msg(LOG_INFO, "claimed", "name=%s instance=%s", br->cfg->name,
                fence_instance(br->fence));
        rc = fence_await_release(br->fence, previous, previous ? len : 0, FENCE_TAKEOVER_MS, errstr,
                                 errstr_size);
        free(previous);
        if (rc)
                return -1;
        if ((rc = unit_retry(br, "replay_load", step_load, errstr, errstr_size)))
                return rc;
        log_msg(LOG_INFO, "replay_loaded", "topic=%s entries=%zu", br->cfg->kafka.replay_topic,
                replay_store_count(br->rs));
        if (unit_check_org(br, 0, errstr, errstr_size))
                return -1;
        unit_publish_replay_ids(br);
        return 0;
}

/*
 * Graceful stop, in DESIGN.md's order, within the 10 s budget even when
 * Kafka is unreachable: a commit blocked when the signal came (3 s), one
 * more commit try (2 s) or the abort (1 s), the flush (at_least_once only:
 * exactly_once has nothing in flight outside a transaction), the disconnect
 * (1 s).
 */
static void unit_shutdown(struct unit *br)
{
        char err[512];

        log_msg(LOG_INFO, "stopping", NULL);
        if (br->sess)
                session_cancel(br->sess); /* /meta/disconnect goes last */
        if (br->sink && br->commit_pending) {
                if (sink_commit(br->sink, 2000, err, sizeof(err)) != SINK_OK) {
                        log_msg(LOG_WARN, "stopping", "err=\"open batch aborted: %s\"", err);
                        sink_abort(br->sink, 1000, err, sizeof(err));
                }
                br->commit_pending = 0;
        }
        if (br->sink && br->cfg->kafka.delivery == DELIVERY_AT_LEAST_ONCE &&
            sink_flush(br->sink, 3000) == -1)
                log_msg(LOG_WARN, "stopping", "err=\"events still unacknowledged after 3 s\" in_flight=%zu",
                        sink_in_flight(br->sink));
}

/* The unit's run ended with br->fatal set: what it comes to. */
static int unit_end(struct unit *br, char *errstr, size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s", br->fatal);
        if (!br->group_mode)
                return UNIT_FAILED;
        if (fence_is_fenced(br->fence))
                snprintf(br->lost_cause, sizeof(br->lost_cause), "owner_record");
        else if (sink_fenced(br->sink))
                snprintf(br->lost_cause, sizeof(br->lost_cause), "producer");
        else
                return UNIT_FAILED;
        br->lost = 1;
        return UNIT_LOST;
}

struct unit *unit_new(const struct config *cfg, const struct unit_env *env, char *errstr,
                      size_t errstr_size)
{
        struct unit *br = calloc(1, sizeof(*br));
        struct session_opts sopts = { 0 };
        struct session_hooks hooks = { 0 };
        size_t n = cfg->nroutes + 1, i;

        if (!br) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        br->cfg = cfg;
        br->slot = env->slot;
        br->group_mode = env->group_mode;
        br->http = env->http;
        br->wake_fd = env->wake_fd;
        br->stop = env->stop;
        units_replay_prefix(cfg, br->prefix, sizeof(br->prefix));
        buf_init(&br->scratch, cfg->sf.max_response_bytes);
        if (!(br->last_id = calloc(n, sizeof(*br->last_id))) || !(br->last_id_set = calloc(n, 1)) ||
            !(br->cdc_gaps = calloc(n, sizeof(*br->cdc_gaps))) ||
            !(br->gaps = calloc(n, sizeof(*br->gaps))) || !(br->stopped = calloc(n, 1)) ||
            !(br->stopped_at = calloc(n, sizeof(*br->stopped_at))) ||
            !(br->partition_warned = calloc(n, 1)) ||
            !(br->produced_id = calloc(n, sizeof(*br->produced_id))) ||
            !(br->produced_set = calloc(n, 1)) ||
            !(br->committed_id = calloc(n, sizeof(*br->committed_id))) ||
            !(br->committed_set = calloc(n, 1)) ||
            !(br->floor_id = calloc(n, sizeof(*br->floor_id))) || !(br->floor_set = calloc(n, 1)) ||
            !(br->floor_skipped = calloc(n, sizeof(*br->floor_skipped))) ||
            !(br->topics = calloc(n, sizeof(*br->topics)))) {
                snprintf(errstr, errstr_size, "out of memory");
                unit_destroy(br);
                return NULL;
        }
        for (i = 0; i < cfg->nroutes; i++) {
                if (!strstr(cfg->routes[i].topic, "{entity}"))
                        continue;
                if (!(br->topics[i] = topic_set_new((size_t)cfg->routes[i].max_topics))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        unit_destroy(br);
                        return NULL;
                }
        }
        /* A single instance proves its start before it claims (then runs for
         * real after session_restart); a group's unit was chosen by the group. */
        sopts.probe = !br->group_mode;
        sopts.start_probe = !br->group_mode;
        sopts.backoff_base_ms = 1000;
        sopts.backoff_cap_ms = 60000;
        sopts.limit_backoff_base_ms = (long)cfg->sf.limit_backoff_s * 1000L;
        sopts.limit_backoff_cap_ms = (long)cfg->sf.limit_backoff_s * 8000L;
        sopts.route_backoff_base_ms = 5000;   /* a quarantined route: 5 s doubling to 5 min */
        sopts.route_backoff_cap_ms = 300000;
        sopts.min_handshake_gap_ms = 1000;    /* a flapping session never loops faster */
        sopts.metrics_slot = br->slot;
        hooks.ctx = br;
        hooks.replay_from = unit_replay_from;
        hooks.replay_all_refused = unit_replay_all_refused;
        if (!(br->rs = replay_store_new(cfg, errstr, errstr_size)) ||
            !(br->sink = sink_new(cfg, br->rs, errstr, errstr_size)) ||
            !(br->fence = fence_new(cfg, errstr, errstr_size)) ||
            !(br->sess = session_new(cfg, br->http, &sopts, &hooks, errstr, errstr_size)) ||
            !(br->limits = org_limits_new(cfg, br->http, errstr, errstr_size))) {
                unit_destroy(br);
                return NULL;
        }
        if (env->member_id)
                fence_set_member(br->fence, env->member_id);
        replay_store_set_stop(br->rs, env->stop);
        return br;
}

void unit_destroy(struct unit *br)
{
        size_t i;

        if (!br)
                return;
        log_limit_flush(1); /* a burst held back is still reported */
        org_limits_destroy(br->limits);
        session_destroy(br->sess);
        sink_destroy(br->sink);
        fence_destroy(br->fence);
        replay_store_destroy(br->rs);
        buf_free(&br->scratch);
        free(br->events.list);
        free(br->last_id);
        free(br->last_id_set);
        free(br->cdc_gaps);
        free(br->gaps);
        free(br->stopped);
        free(br->stopped_at);
        free(br->partition_warned);
        free(br->produced_id);
        free(br->produced_set);
        free(br->committed_id);
        free(br->committed_set);
        free(br->floor_id);
        free(br->floor_set);
        free(br->floor_skipped);
        for (i = 0; br->topics && i < br->cfg->nroutes; i++)
                topic_set_free(br->topics[i]);
        free(br->topics);
        free(br->dead.list);
        free(br);
}

int unit_start(struct unit *br, char *errstr, size_t errstr_size)
{
        /* Claim after proof: nothing before the claim writes to Kafka. */
        switch (unit_prove(br, errstr, errstr_size)) {
        case 1:
                return UNIT_STOPPED;
        case -1:
                return UNIT_FAILED;
        }
        switch (unit_start_kafka(br, errstr, errstr_size)) {
        case 1:
                return UNIT_STOPPED;
        case -1:
                return UNIT_FAILED;
        }
        session_restart(br->sess, 0); /* the probe's token, a new handshake */
        return UNIT_OK;
}

/* One Kafka step of a group claim: 0, or the unit status it came to. */
static int unit_claim_step(struct unit *br, int st, const char *what, const char *err,
                           char *errstr, size_t errstr_size)
{
        if (st == SINK_OK)
                return UNIT_OK;
        if (st == SINK_FATAL) {
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                return unit_end(br, errstr, errstr_size);
        }
        snprintf(errstr, errstr_size, "%s: %s", what, err);
        unit_kafka_failing(br, what, err, 0);
        return UNIT_RETRY;
}

int unit_claim(struct unit *br, char *errstr, size_t errstr_size)
{
        char err[512] = "";
        int rc;

        /* Stages done stay done: a retry goes on where the last try stopped. */
        switch (br->claim_stage) {
        case 0:
                rc = unit_claim_step(br, sink_start(br->sink, 5000, err, sizeof(err)),
                                     "init_transactions", err, errstr, errstr_size);
                if (rc != UNIT_OK)
                        return rc;
                br->claim_stage = 1;
                /* fall through */
        case 1:
                rc = unit_claim_step(br, step_watch(br, err, sizeof(err)), "fence_watch", err,
                                     errstr, errstr_size);
                if (rc != UNIT_OK)
                        return rc;
                br->claim_stage = 2;
                /* fall through */
        case 2:
                rc = unit_claim_step(br, unit_write_owner(br, 0, 5000, err, sizeof(err)), "claim",
                                     err, errstr, errstr_size);
                if (rc != UNIT_OK)
                        return rc;
                br->claimed = 1;
                br->claim_stage = 3;
                if (br->cfg->coord.claim_grace_ms > 0 &&
                    unit_sleep(br, br->cfg->coord.claim_grace_ms))
                        return UNIT_RETRY;
                /* fall through */
        case 3:
                rc = unit_claim_step(br, replay_store_load(br->rs, 5000, err, sizeof(err)) == 0
                                             ? SINK_OK : SINK_RETRY,
                                     "replay_load", err, errstr, errstr_size);
                if (rc != UNIT_OK)
                        return rc;
                br->claim_stage = 4;
                break;
        default:
                break;
        }
        /* A newer claim may already be there (we were slow, or frozen). */
        if (fence_check(br->fence, br->fatal, sizeof(br->fatal)))
                return unit_end(br, errstr, errstr_size);
        unit_kafka_ok(br);
        unit_publish_replay_ids(br);
        return UNIT_OK;
}

int unit_turn(struct unit *br, int *took, char *errstr, size_t errstr_size)
{
        *took = 0;
        sink_poll(br->sink);
        if (sink_take_delivery_failure(br->sink)) {
                unit_kafka_failing(br, "delivery", NULL, 0);
                session_rebuild(br->sess, "kafka_delivery_failed");
        }
        if (br->commit_pending && mono_ms() >= br->commit_retry_at)
                unit_commit(br, 2000);
        if (!br->fatal[0])
                fence_check(br->fence, br->fatal, sizeof(br->fatal));
        if (br->fatal[0])
                return unit_end(br, errstr, errstr_size);
        /* Step the session and take each batch it holds, until it waits on
         * the network (or on a commit held by Kafka). */
        for (;;) {
                const struct bayeux_response *batch;

                session_set_paused(br->sess, !unit_may_connect(br));
                if (session_step(br->sess, errstr, errstr_size) == -1) {
                        /* on_invalid_replay: fail still leaves its gap record. */
                        if (!br->fatal[0] && session_has_gap(br->sess))
                                unit_flush_gaps(br);
                        if (!br->fatal[0])
                                snprintf(br->fatal, sizeof(br->fatal), "%s", errstr);
                        return unit_end(br, errstr, errstr_size);
                }
                if (br->fatal[0]) /* the first login's org check */
                        return unit_end(br, errstr, errstr_size);
                if (!(batch = session_batch(br->sess)))
                        break;
                unit_take_batch(br, batch);
                *took = 1;
                if (br->fatal[0] || br->commit_pending)
                        break;
        }
        if (br->fatal[0])
                return unit_end(br, errstr, errstr_size);
        if (!br->commit_pending && !session_batch(br->sess) && session_has_gap(br->sess))
                unit_flush_gaps(br);
        /* Beside the long-poll on the same multi handle: never waits for it. */
        org_limits_step(br->limits, session_handshaken(br->sess) ? session_token(br->sess) : NULL,
                        mono_ms());
        unit_sync_kafka_metrics(br);
        return UNIT_OK;
}

int unit_timeout_ms(const struct unit *br, int cap_ms)
{
        int timeout = session_timeout_ms(br->sess, cap_ms);

        if (br->commit_pending && timeout > BRIDGE_COMMIT_RETRY_MS)
                timeout = BRIDGE_COMMIT_RETRY_MS;
        if (br->backpressure && !br->commit_pending && timeout > 10)
                timeout = 10; /* waiting for acks: poll librdkafka often */
        return timeout;
}

int unit_subscribed(const struct unit *br)
{
        return br->sess && session_subscribed(br->sess);
}

const char *unit_lost_cause(const struct unit *br)
{
        return br->lost_cause[0] ? br->lost_cause : "fenced";
}

void unit_credentials_changed(struct unit *br)
{
        session_credentials_changed(br->sess);
}

void unit_drain(struct unit *br)
{
        unit_shutdown(br);
        session_disconnect(br->sess, 1000);
        unit_release(br);
        metrics_unit_up_set(br->slot, 0);
}

void unit_fail(struct unit *br)
{
        char err[256];

        session_cancel(br->sess);
        sink_abort(br->sink, 2000, err, sizeof(err));
        if (!br->lost)
                unit_release(br);
        session_disconnect(br->sess, 1000);
        metrics_unit_up_set(br->slot, 0);
}

void unit_abandon(struct unit *br)
{
        char err[256];

        br->lost = 1;
        session_cancel(br->sess);
        sink_purge(br->sink);
        sink_abort(br->sink, 1000, err, sizeof(err));
        session_disconnect(br->sess, 1000);
        metrics_unit_up_set(br->slot, 0);
}
