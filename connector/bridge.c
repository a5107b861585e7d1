/*
 * The one place where the pieces meet. A batch is everything one
 * /meta/connect answer delivered: it is produced, its replay IDs are
 * committed (in the same Kafka transaction with exactly_once), and only then
 * does the next /meta/connect go out. That ordering is the whole delivery
 * guarantee: Salesforce re-sends whatever was not committed when we
 * resubscribe from the committed IDs.
 */
#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "bayeux.h"
#include "event.h"
#include "fence.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "replay_store.h"
#include "router.h"
#include "session.h"
#include "sink_kafka.h"

/* A healthy commit takes milliseconds. Longer means Kafka is in trouble:
 * hold the batch and retry from the loop, which stays responsive to
 * signals, rather than block in librdkafka. */
#define BRIDGE_COMMIT_TIMEOUT_MS 3000
#define BRIDGE_COMMIT_RETRY_MS 1000

struct bridge {
        const struct config *cfg;
        struct replay_store *rs;
        struct sink *sink;
        struct http *http;
        struct session *sess;
        struct httpd *httpd;
        struct fence *fence;
        int wake_fd;
        volatile sig_atomic_t *stop;
        int commit_pending;          /* a batch awaits its commit: Kafka was unreachable */
        int backpressure;            /* long-polling paused: too many events unacknowledged */
        long long commit_retry_at;
        unsigned long long kafka_errors_seen;
        char fatal[512];
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

static void bridge_sync_kafka_metrics(struct bridge *br)
{
        unsigned long long errs = sink_errors(br->sink);

        if (errs > br->kafka_errors_seen) {
                metrics_kafka_errors_add((unsigned long)(errs - br->kafka_errors_seen));
                br->kafka_errors_seen = errs;
        }
        metrics_in_flight_set((unsigned long)sink_in_flight(br->sink));
        metrics_up_set(!sink_kafka_down(br->sink) && br->sess && session_handshaken(br->sess));
}

/* Close the batch. Returns the session's verdict on it. */
static enum session_verdict bridge_commit(struct bridge *br, int timeout_ms)
{
        char err[512];
        int st = sink_commit(br->sink, timeout_ms, err, sizeof(err));

        switch (st) {
        case SINK_OK:
                if (br->commit_pending)
                        log_msg(LOG_INFO, "kafka_recovered", "err=\"batch committed after retrying\"");
                br->commit_pending = 0;
                return SESSION_BATCH_OK;
        case SINK_RETRY:
                if (!br->commit_pending) {
                        log_msg(LOG_WARN, "kafka_unavailable", "err=\"%s\" cause=kafka_unavailable action=hold_batch", err);
                        metrics_recovery_inc("kafka_unavailable", "hold_batch");
                }
                br->commit_pending = 1;
                br->commit_retry_at = mono_ms() + BRIDGE_COMMIT_RETRY_MS;
                return SESSION_BATCH_OK;
        case SINK_ABORTED:
                br->commit_pending = 0;
                log_msg(LOG_WARN, "batch_aborted", "err=\"%s\"", err);
                return SESSION_BATCH_REBUILD;
        default:
                br->commit_pending = 0;
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                return SESSION_BATCH_FATAL;
        }
}

static enum session_verdict bridge_on_events(void *ctx, const struct bayeux_response *resp,
                                             size_t nevents)
{
        struct bridge *br = ctx;
        const struct config *cfg = br->cfg;
        char err[512];
        double now = wall_seconds();
        size_t i;
        int st;

        (void)nevents;
        /* A newer instance took over: not one more event from this one. */
        if (fence_check(br->fence, br->fatal, sizeof(br->fatal)))
                return SESSION_BATCH_FATAL;
        st = sink_begin(br->sink, err, sizeof(err));
        if (st == SINK_FATAL) {
                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                return SESSION_BATCH_FATAL;
        }
        if (st != SINK_OK) {
                log_msg(LOG_WARN, "kafka_unavailable", "err=\"%s\" action=rebuild", err);
                return SESSION_BATCH_REBUILD;
        }
        for (i = 0; i < resp->nmsgs; i++) {
                const struct bayeux_msg *m = &resp->msgs[i];
                const struct config_route *rt;
                struct router_record rec;
                struct sf_event ev;
                int warned = 0;

                if (m->kind != BAYEUX_EVENT)
                        continue;
                if (event_parse(m->json, &ev, err, sizeof(err)) == -1) {
                        log_msg(LOG_ERROR, "bad_event", "channel=%s err=\"%s\"",
                                m->channel ? m->channel : "", err);
                        metrics_recovery_inc("bad_event", "logged");
                        continue;
                }
                rt = config_find_route(cfg, ev.channel);
                if (!rt) {
                        log_msg(LOG_ERROR, "unrouted_event", "channel=%s replay_id=%lld",
                                ev.channel, ev.replay_id);
                        metrics_recovery_inc("unrouted_event", "logged");
                        continue;
                }
                if (router_render(cfg, rt, &ev, &rec, &warned, err, sizeof(err)) == -1) {
                        log_msg(LOG_ERROR, "bad_event", "channel=%s replay_id=%lld err=\"%s\"",
                                ev.channel, ev.replay_id, err);
                        metrics_recovery_inc("bad_event", "logged");
                        continue;
                }
                if (warned)
                        log_msg(LOG_WARN, "event_incomplete", "channel=%s replay_id=%lld topic=%s",
                                ev.channel, ev.replay_id, rec.topic);
                st = sink_produce(br->sink, &rec, err, sizeof(err));
                if (st == SINK_OK)
                        st = sink_mark(br->sink, rt->channel, ev.replay_id, ev.event_time, err,
                                       sizeof(err));
                if (st != SINK_OK) {
                        /* Nothing of this batch is committed: abort it and
                         * let Salesforce send it again. */
                        char aerr[256];

                        log_msg(LOG_ERROR, "produce_failed",
                                "channel=%s replay_id=%lld topic=%s bytes=%zu err=\"%s\" action=%s",
                                ev.channel, ev.replay_id, rec.topic, rec.value_len, err,
                                "abort_batch_and_resubscribe_from_committed");
                        if (st == SINK_FATAL) {
                                snprintf(br->fatal, sizeof(br->fatal), "%s", err);
                                return SESSION_BATCH_FATAL;
                        }
                        if (sink_abort(br->sink, 5000, aerr, sizeof(aerr)) == SINK_FATAL) {
                                snprintf(br->fatal, sizeof(br->fatal), "%s", aerr);
                                return SESSION_BATCH_FATAL;
                        }
                        bridge_sync_kafka_metrics(br);
                        return SESSION_BATCH_REBUILD;
                }
                metrics_events_add(rt->channel, rec.topic, 1);
                metrics_last_event_set(rt->channel, now);
                metrics_replay_id_set(rt->channel, ev.replay_id);
                if (event_is_gap(&ev))
                        metrics_cdc_gap_inc(rt->channel);
        }
        st = bridge_commit(br, BRIDGE_COMMIT_TIMEOUT_MS);
        bridge_sync_kafka_metrics(br);
        return (enum session_verdict)st;
}

static int bridge_may_connect(void *ctx)
{
        struct bridge *br = ctx;

        size_t in_flight;

        if (br->commit_pending)
                return 0;
        /* Bounded memory: no new events while too many await their ack. */
        in_flight = sink_in_flight(br->sink);
        if (in_flight >= (size_t)br->cfg->kafka.max_in_flight) {
                if (!br->backpressure)
                        log_msg(LOG_WARN, "backpressure", "in_flight=%zu max_in_flight=%d action=pause_long_polling",
                                in_flight, br->cfg->kafka.max_in_flight);
                br->backpressure = 1;
                return 0;
        }
        if (br->backpressure)
                log_msg(LOG_INFO, "backpressure", "in_flight=%zu action=resume_long_polling", in_flight);
        br->backpressure = 0;
        return 1;
}

static long long bridge_replay_from(void *ctx, const struct config_route *rt)
{
        struct bridge *br = ctx;
        long long id;

        if (replay_store_get(br->rs, rt->channel, &id) == 0)
                return id;
        return rt->start;
}

static int bridge_on_invalid_replay(void *ctx, const struct config_route *rt, long long lost_from,
                                    long long *resubscribe_from)
{
        struct bridge *br = ctx;
        const char *policy = config_invalid_replay_name(rt->on_invalid_replay);
        char err[512];
        int st;

        log_msg(LOG_ERROR, "replay_gap", "channel=%s lost_after_replay_id=%lld policy=%s "
                "err=\"Salesforce no longer retains the events after this replay ID\" "
                "cause=invalid_replay action=invalid_replay", rt->channel, lost_from, policy);
        metrics_replay_gaps_inc();
        /* The loss goes on the bus too, for auditors, not only in a log. */
        st = sink_begin(br->sink, err, sizeof(err));
        if (st == SINK_OK)
                st = sink_gap(br->sink, rt->channel, lost_from, policy, err, sizeof(err));
        if (st == SINK_OK)
                st = sink_commit(br->sink, BRIDGE_COMMIT_TIMEOUT_MS, err, sizeof(err));
        if (st != SINK_OK) {
                char aerr[64];
                log_msg(LOG_ERROR, "replay_gap", "channel=%s err=\"gap record not written: %s\"",
                        rt->channel, err);
                sink_abort(br->sink, 5000, aerr, sizeof(aerr));
        }
        switch (rt->on_invalid_replay) {
        case INVALID_REPLAY_ALL:
                *resubscribe_from = REPLAY_ALL;
                return 0;
        case INVALID_REPLAY_NEW:
                *resubscribe_from = REPLAY_NEW;
                return 0;
        case INVALID_REPLAY_FAIL:
                break;
        }
        return -1;
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
static int bridge_retry(struct bridge *br, const char *what,
                        int (*step)(struct bridge *br, char *err, size_t err_size),
                        char *errstr, size_t errstr_size)
{
        struct backoff bo;
        char err[512];

        backoff_init(&bo, 500, 10000);
        for (;;) {
                long delay;
                int rc;

                if (*br->stop)
                        return 1;
                err[0] = '\0';
                rc = step(br, err, sizeof(err));
                if (rc == 0)
                        return 0;
                if (rc == SINK_FATAL) {
                        snprintf(errstr, errstr_size, "%s", err);
                        return -1;
                }
                delay = backoff_next_ms(&bo);
                log_msg(LOG_WARN, "kafka_unavailable", "step=%s err=\"%s\" retry_ms=%ld", what, err, delay);
                metrics_heartbeat();
                http_poll(br->http, (int)delay, br->wake_fd);
                drain_fd(br->wake_fd);
        }
}

static int step_load(struct bridge *br, char *err, size_t err_size)
{
        return replay_store_load(br->rs, 10000, err, err_size) == 0 ? 0 : SINK_RETRY;
}

static int step_start(struct bridge *br, char *err, size_t err_size)
{
        return sink_start(br->sink, 10000, err, err_size);
}

static int step_watch(struct bridge *br, char *err, size_t err_size)
{
        return fence_watch_start(br->fence, 10000, err, err_size) == 0 ? 0 : SINK_RETRY;
}

/* Claim the name on the replay topic; see fence.h. */
static int step_claim(struct bridge *br, char *err, size_t err_size)
{
        struct buf key, value;
        int st;

        buf_init(&key, 1024);
        buf_init(&value, 4096);
        if (fence_claim_encode(br->fence, &key, &value) == -1) {
                buf_free(&key);
                buf_free(&value);
                snprintf(err, err_size, "owner record too large");
                return SINK_FATAL;
        }
        st = sink_begin(br->sink, err, err_size);
        if (st == SINK_OK)
                st = sink_put_record(br->sink, key.data, key.len, value.data, value.len, err, err_size);
        if (st == SINK_OK)
                st = sink_commit(br->sink, 10000, err, err_size);
        if (st == SINK_OK && sink_flush(br->sink, 10000) == -1) {
                snprintf(err, err_size, "owner record not acknowledged within 10 s");
                st = SINK_RETRY;
        }
        if (st != SINK_OK && st != SINK_FATAL) {
                char aerr[128];
                sink_abort(br->sink, 5000, aerr, sizeof(aerr));
        }
        buf_free(&key);
        buf_free(&value);
        return st;
}

/*
 * Start the Kafka side: make sure the replay topic exists, take the
 * transactional.id (Kafka fences an older producer here), claim the name,
 * give an older instance the grace period to see the claim and stop, and
 * only then read the committed replay IDs, so they include its last batch.
 */
static int bridge_start_kafka(struct bridge *br, char *errstr, size_t errstr_size)
{
        long long until;
        int rc;

        if ((rc = bridge_retry(br, "replay_topic", step_load, errstr, errstr_size)) ||
            (rc = bridge_retry(br, "init_transactions", step_start, errstr, errstr_size)) ||
            (rc = bridge_retry(br, "fence_watch", step_watch, errstr, errstr_size)) ||
            (rc = bridge_retry(br, "claim", step_claim, errstr, errstr_size)))
                return rc;
        log_msg(LOG_INFO, "claimed", "name=%s instance=%s grace_ms=%d", br->cfg->name,
                fence_instance(br->fence), FENCE_GRACE_MS);
        until = mono_ms() + FENCE_GRACE_MS;
        while (mono_ms() < until && !*br->stop) {
                if (fence_check(br->fence, errstr, errstr_size))
                        return -1;
                metrics_heartbeat();
                http_poll(br->http, 50, br->wake_fd);
                drain_fd(br->wake_fd);
        }
        if ((rc = bridge_retry(br, "replay_load", step_load, errstr, errstr_size)))
                return rc;
        log_msg(LOG_INFO, "replay_loaded", "topic=%s entries=%zu", br->cfg->kafka.replay_topic,
                replay_store_count(br->rs));
        for (size_t i = 0; i < replay_store_count(br->rs); i++) {
                const struct replay_entry *re = replay_store_entry(br->rs, i);
                metrics_replay_id_set(re->channel, re->replay_id);
        }
        return 0;
}

/*
 * Graceful stop, in DESIGN.md's order, within the 10 s budget even when
 * Kafka is unreachable: a commit blocked when the signal came (3 s), one
 * more commit try (2 s) or the abort (1 s), the flush (at_least_once only:
 * exactly_once has nothing in flight outside a transaction), the disconnect
 * (1 s).
 */
static void bridge_shutdown(struct bridge *br)
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

int bridge_run(const struct config *cfg, int wake_fd, volatile sig_atomic_t *stop,
               char *errstr, size_t errstr_size)
{
        struct bridge br = { 0 };
        struct http_opts hopts = { 0 };
        struct session_opts sopts = { 0 };
        struct session_hooks hooks = { 0 };
        int rc = EXIT_FATAL;
        long long stop_at = 0;

        br.cfg = cfg;
        br.wake_fd = wake_fd;
        br.stop = stop;
        errstr[0] = '\0';

        if (metrics_init(cfg->name, SFBRIDGE_VERSION) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return EXIT_FATAL;
        }
        if (cfg->metrics_listen && cfg->metrics_listen[0] &&
            !(br.httpd = httpd_start(cfg->metrics_listen, errstr, errstr_size)))
                goto out;
        hopts.ca_file = cfg->sf.ca_file;
        hopts.proxy = cfg->sf.proxy;
        if (!(br.http = http_new(&hopts, errstr, errstr_size)) ||
            !(br.rs = replay_store_new(cfg, errstr, errstr_size)) ||
            !(br.sink = sink_new(cfg, br.rs, errstr, errstr_size)) ||
            !(br.fence = fence_new(cfg, errstr, errstr_size)))
                goto out;

        switch (bridge_start_kafka(&br, errstr, errstr_size)) {
        case 1:
                rc = EXIT_CLEAN;
                goto out;
        case -1:
                goto out;
        }

        sopts.backoff_base_ms = 1000;
        sopts.backoff_cap_ms = 60000;
        sopts.limit_backoff_base_ms = (long)cfg->sf.limit_backoff_s * 1000L;
        sopts.limit_backoff_cap_ms = (long)cfg->sf.limit_backoff_s * 8000L;
        hooks.ctx = &br;
        hooks.on_events = bridge_on_events;
        hooks.may_connect = bridge_may_connect;
        hooks.replay_from = bridge_replay_from;
        hooks.on_invalid_replay = bridge_on_invalid_replay;
        if (!(br.sess = session_new(cfg, br.http, &sopts, &hooks, errstr, errstr_size)))
                goto out;

        while (!*stop) {
                int timeout;

                metrics_heartbeat();
                sink_poll(br.sink);
                if (sink_take_delivery_failure(br.sink)) {
                        log_msg(LOG_WARN, "kafka_delivery_failed", "action=resubscribe_from_committed");
                        session_rebuild(br.sess, "kafka_delivery_failed");
                }
                if (br.commit_pending && mono_ms() >= br.commit_retry_at &&
                    bridge_commit(&br, 2000) == SESSION_BATCH_REBUILD)
                        session_rebuild(br.sess, "batch_aborted");
                if (!br.fatal[0])
                        fence_check(br.fence, br.fatal, sizeof(br.fatal));
                if (br.fatal[0]) {
                        snprintf(errstr, errstr_size, "%s", br.fatal);
                        goto out;
                }
                if (session_step(br.sess, errstr, errstr_size) == -1) {
                        if (br.fatal[0])
                                snprintf(errstr, errstr_size, "%s", br.fatal);
                        goto out;
                }
                bridge_sync_kafka_metrics(&br);
                timeout = session_timeout_ms(br.sess, 1000);
                if (br.commit_pending && timeout > BRIDGE_COMMIT_RETRY_MS)
                        timeout = BRIDGE_COMMIT_RETRY_MS;
                if (!bridge_may_connect(&br) && !br.commit_pending && timeout > 10)
                        timeout = 10; /* waiting for acks: poll librdkafka often */
                if (http_poll(br.http, timeout, wake_fd) == -1) {
                        snprintf(errstr, errstr_size, "libcurl multi failure");
                        goto out;
                }
                drain_fd(wake_fd);
        }
        rc = EXIT_CLEAN;
        stop_at = mono_ms();
out:
        if (rc == EXIT_CLEAN) {
                bridge_shutdown(&br);
                if (br.sess)
                        session_disconnect(br.sess, 1000);
                log_msg(LOG_INFO, "stopped", "ms=%lld", mono_ms() - (stop_at ? stop_at : mono_ms()));
        } else if (br.sink) {
                char err[256];
                sink_abort(br.sink, 2000, err, sizeof(err));
        }
        metrics_up_set(0);
        session_destroy(br.sess);
        sink_destroy(br.sink);
        fence_destroy(br.fence);
        replay_store_destroy(br.rs);
        http_destroy(br.http);
        httpd_stop(br.httpd);
        metrics_shutdown();
        return rc;
}
