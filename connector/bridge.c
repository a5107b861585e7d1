/*
 * The run loop. A single instance runs one unit made of the whole config.
 * A replica of a group (coordination:) runs the units Kafka's group
 * protocol assigned to it: it claims each (unit_claim), steps them side by
 * side on one libcurl multi handle, drains one before its partition goes
 * back, and gives up every one at once when its membership may be gone
 * (lost assignment, or a pause longer than the group would wait for it).
 */
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "group.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "unit.h"
#include "units.h"

/* How often a replica serves its group membership when nothing else wakes it. */
#define GROUP_TURN_MS 250

static long long mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain_fd(int fd)
{
        char tmp[64];

        if (fd < 0)
                return;
        while (read(fd, tmp, sizeof(tmp)) > 0)
                ;
}

/* SIGHUP's reload, run from the loop (main.c sets it; see bridge_on_reload()). */
static volatile sig_atomic_t *reload_flag;
static int (*reload_fn)(void *arg);
static void *reload_arg;

void bridge_on_reload(volatile sig_atomic_t *flag, int (*fn)(void *arg), void *arg)
{
        reload_flag = flag;
        reload_fn = fn;
        reload_arg = arg;
}

/* @returns 1 when a reload changed the credentials. */
static int bridge_reload_due(void)
{
        if (!reload_flag || !*reload_flag)
                return 0;
        *reload_flag = 0;
        return reload_fn(reload_arg) == 1;
}

/* ---- single instance ---- */

static int run_single(const struct config *cfg, struct http *http, int wake_fd,
                      volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
        struct unit_env env = { .http = http, .wake_fd = wake_fd, .stop = stop };
        struct unit *u = unit_new(cfg, &env, errstr, errstr_size);
        long long stop_at = 0;
        int rc = EXIT_FATAL, st;

        if (!u)
                return EXIT_FATAL;
        st = unit_start(u, errstr, errstr_size);
        if (st == UNIT_STOPPED) {
                rc = EXIT_CLEAN;
                goto out;
        }
        if (st != UNIT_OK)
                goto out;
        while (!*stop) {
                int took, timeout;

                metrics_heartbeat();
                if (bridge_reload_due())
                        unit_credentials_changed(u);
                if (unit_turn(u, &took, errstr, errstr_size) != UNIT_OK)
                        goto out;
                timeout = took ? 0 : unit_timeout_ms(u, 1000);
                if (http_poll(http, timeout, wake_fd) == -1) {
                        snprintf(errstr, errstr_size, "libcurl multi failure");
                        goto out;
                }
                drain_fd(wake_fd);
        }
        rc = EXIT_CLEAN;
        stop_at = mono_ms();
out:
        if (rc == EXIT_CLEAN) {
                unit_drain(u);
                log_msg(LOG_INFO, "stopped", "ms=%lld", mono_ms() - (stop_at ? stop_at : mono_ms()));
        } else {
                unit_fail(u);
        }
        unit_destroy(u);
        return rc;
}

/* ---- one replica of a group ---- */

enum slot_state {
        SLOT_UNOWNED,
        SLOT_CLAIMING, /* assigned: claim and load until unit_claim() says OK */
        SLOT_RUNNING,  /* claimed: logging in, subscribing, then batches */
        SLOT_FAILED    /* unit-fatal: keeps its partition, not ready, until a config change */
};

struct slot {
        struct config view;      /* the unit's view of the config (units borrow it) */
        struct unit *u;
        enum slot_state state;
        int partition;           /* -1: not on the coordination topic (override >= P) */
        long long assigned_at;   /* monotonic ms */
        long long retry_at;      /* claiming: next try */
        struct backoff bo;
        int started;             /* unit_started said */
        int assigned;            /* the group lists its partition as ours */
};

struct replica {
        const struct config *cfg;
        struct http *http;
        int wake_fd;
        volatile sig_atomic_t *stop;
        struct group *group;
        int nparts;
        struct slot *slots;      /* one per cfg->units entry */
        int32_t unknown[64];     /* assigned partitions no unit maps to */
        size_t nunknown;
        int joined;
        long long rejoin_at;     /* units were given up while the group may still list them
                                  * as ours: rejoin then (monotonic ms), unless a revoke came */
        char member_logged[256]; /* the member ID group_joined last named */              /* units were given up while the group may still list them */
};

static size_t replica_owned(const struct replica *r)
{
        size_t i, n = 0;

        for (i = 0; i < r->cfg->nunits; i++)
                if (r->slots[i].state != SLOT_UNOWNED)
                        n++;
        return n;
}

static void slot_release(struct replica *r, size_t i)
{
        struct slot *s = &r->slots[i];

        unit_destroy(s->u);
        s->u = NULL;
        s->state = SLOT_UNOWNED;
        s->started = 0;
        metrics_unit_failed_set(i, NULL);
        metrics_unit_owned_set(i, 0);
}

/* Give a unit up without committing anything more (HA.md ABANDON). */
static void slot_abandon(struct replica *r, size_t i, const char *cause)
{
        struct slot *s = &r->slots[i];

        log_msg(LOG_WARN, "unit_lost", "unit=%s cause=%s partition=%d action=abandon",
                r->cfg->units[i].id, cause, s->partition);
        if (s->u)
                unit_abandon(s->u);
        slot_release(r, i);
}

/* The unit cannot go on (HA.md FAILED): it keeps its partition, not ready, until a config change. */
static void slot_failed(struct replica *r, size_t i, const char *err)
{
        struct slot *s = &r->slots[i];

        log_msg(LOG_ERROR, "unit_failed", "unit=%s err=\"%s\"", r->cfg->units[i].id, err);
        if (s->u) {
                unit_fail(s->u);
                unit_destroy(s->u);
                s->u = NULL;
        }
        s->state = SLOT_FAILED;
        metrics_unit_failed_set(i, err);
}

static void replica_rejoin_later(struct replica *r);

/* A newer owner record or the broker fenced the unit: give it up, and rejoin if the group does not move it. */
static void slot_fenced(struct replica *r, size_t i)
{
        char cause[32]; /* the unit's own text goes with it */

        snprintf(cause, sizeof(cause), "%s", unit_lost_cause(r->slots[i].u));
        metrics_unit_fenced_inc(i, cause);
        slot_abandon(r, i, cause);
        replica_rejoin_later(r);
}

static void slot_assign(struct replica *r, size_t i)
{
        struct slot *s = &r->slots[i];
        struct unit_env env = { .http = r->http, .wake_fd = r->wake_fd, .stop = r->stop,
                                .slot = i, .group_mode = 1,
                                .member_id = group_member_id(r->group) };
        char err[512];

        if (s->state != SLOT_UNOWNED)
                return;
        log_msg(LOG_INFO, "unit_assigned", "unit=%s partition=%d", r->cfg->units[i].id,
                s->partition);
        s->assigned_at = mono_ms();
        s->retry_at = 0;
        backoff_init(&s->bo, 500, 10000);
        if (!(s->u = unit_new(&s->view, &env, err, sizeof(err)))) {
                slot_failed(r, i, err);
                return;
        }
        s->state = SLOT_CLAIMING;
        metrics_unit_owned_set(i, 1);
}

static void slot_revoke(struct replica *r, size_t i, int lost)
{
        struct slot *s = &r->slots[i];
        long long t0 = mono_ms();

        if (s->state == SLOT_UNOWNED)
                return;
        if (lost) {
                slot_abandon(r, i, "session_timeout");
                return;
        }
        if (s->u && s->state == SLOT_RUNNING)
                unit_drain(s->u);
        else if (s->u)
                unit_fail(s->u); /* claimed or claiming: nothing open to commit */
        slot_release(r, i);
        log_msg(LOG_INFO, "unit_revoked", "unit=%s lost=0 drain_ms=%lld partition=%d",
                r->cfg->units[i].id, mono_ms() - t0, s->partition);
        metrics_unit_handoff_observe((double)(mono_ms() - t0) / 1000.0);
}

static void unknown_set(struct replica *r, int32_t p, int held)
{
        size_t i;

        for (i = 0; i < r->nunknown; i++)
                if (r->unknown[i] == p)
                        break;
        if (held && i == r->nunknown && r->nunknown < sizeof(r->unknown) / sizeof(r->unknown[0])) {
                r->unknown[r->nunknown++] = p;
                log_msg(LOG_ERROR, "unit_unknown", "partition=%d topic=%s err=\"no unit of this "
                        "config maps to this partition: do all replicas run the same routing "
                        "file?\"", (int)p, r->cfg->coord.topic);
                metrics_unit_unknown(1, (int)r->nunknown);
        } else if (!held && i < r->nunknown) {
                r->unknown[i] = r->unknown[--r->nunknown];
                metrics_unit_unknown(0, (int)r->nunknown);
        }
}

static void replica_rebalance(void *ctx, enum group_event ev, int lost, const int32_t *parts,
                              size_t n)
{
        struct replica *r = ctx;
        size_t i, k;

        metrics_group_rebalance_inc(ev == GROUP_ASSIGN ? "assign" : lost ? "lost" : "revoke");
        for (k = 0; k < n; k++) {
                int found = 0;

                for (i = 0; i < r->cfg->nunits; i++) {
                        if (r->slots[i].partition != parts[k])
                                continue;
                        found = 1;
                        r->slots[i].assigned = ev == GROUP_ASSIGN;
                        if (ev == GROUP_ASSIGN)
                                slot_assign(r, i);
                        else
                                slot_revoke(r, i, lost);
                }
                if (!found)
                        unknown_set(r, parts[k], ev == GROUP_ASSIGN);
        }
        if (ev == GROUP_ASSIGN && !r->joined) {
                r->joined = 1;
                metrics_group_joined(1);
        }
        if (ev == GROUP_ASSIGN && strcmp(r->member_logged, group_member_id(r->group))) {
                snprintf(r->member_logged, sizeof(r->member_logged), "%s", group_member_id(r->group));
                log_msg(LOG_INFO, "group_joined", "member=%s units=%zu partitions=%zu",
                        r->member_logged, replica_owned(r), n);
        } else {
                log_msg(LOG_INFO, "group_rebalanced", "member=%s event=%s lost=%d partitions=%zu "
                        "units=%zu", group_member_id(r->group), ev == GROUP_ASSIGN ? "assign" : "revoke",
                        lost, n, replica_owned(r));
        }
}

/*
 * A unit was given up while the group may still list its partition as ours
 * (a pause the session survived, a newer owner record). Usually the group
 * says what became of it soon (a lost session, a revoke); librdkafka 2.0.2
 * rejoins by itself after a lost session, and leaving the group on top of
 * that confuses it. So wait one session timeout, then rejoin only if a
 * partition is still ours with nothing running on it: a new assignment
 * then has the units claimed afresh, by us or by another member.
 */
static void replica_rejoin_later(struct replica *r)
{
        r->rejoin_at = mono_ms() + r->cfg->coord.session_timeout_ms;
}

static void replica_rejoin_due(struct replica *r)
{
        char err[512];
        size_t i;
        int idle = 0;

        if (!r->rejoin_at || mono_ms() < r->rejoin_at)
                return;
        r->rejoin_at = 0;
        for (i = 0; i < r->cfg->nunits; i++)
                if (r->slots[i].assigned && r->slots[i].state == SLOT_UNOWNED)
                        idle = 1;
        if (!idle)
                return;
        log_msg(LOG_INFO, "group_rejoin", "reason=\"units given up on partitions still ours\"");
        if (group_rejoin(r->group, err, sizeof(err)))
                log_msg(LOG_WARN, "group_rejoin", "err=\"%s\"", err);
}

/* Every unit at once: our membership may be gone (a pause the group did not wait for). */
static void replica_abandon_all(struct replica *r, const char *cause)
{
        size_t i;

        for (i = 0; i < r->cfg->nunits; i++)
                if (r->slots[i].state != SLOT_UNOWNED) {
                        slot_abandon(r, i, cause);
                        replica_rejoin_later(r);
                }
}

static void slot_claim(struct replica *r, size_t i)
{
        struct slot *s = &r->slots[i];
        char err[512];
        int st;

        if (mono_ms() < s->retry_at)
                return;
        st = unit_claim(s->u, err, sizeof(err));
        switch (st) {
        case UNIT_OK:
                s->state = SLOT_RUNNING;
                log_msg(LOG_INFO, "unit_claimed", "unit=%s partition=%d ms=%lld",
                        r->cfg->units[i].id, s->partition, mono_ms() - s->assigned_at);
                break;
        case UNIT_RETRY: {
                long delay = backoff_next_ms(&s->bo);

                s->retry_at = mono_ms() + delay;
                log_msg(LOG_WARN, "kafka_unavailable", "unit=%s step=claim err=\"%s\" retry_ms=%ld",
                        r->cfg->units[i].id, err, delay);
                break;
        }
        case UNIT_LOST:
                slot_fenced(r, i);
                break;
        default:
                slot_failed(r, i, err);
                break;
        }
}

/* @returns 1 when the unit took a batch. */
static int slot_turn(struct replica *r, size_t i)
{
        struct slot *s = &r->slots[i];
        char err[512];
        int took = 0, st;

        st = unit_turn(s->u, &took, err, sizeof(err));
        if (st == UNIT_LOST) {
                slot_fenced(r, i);
                return 0;
        }
        if (st != UNIT_OK) {
                slot_failed(r, i, err);
                return 0;
        }
        if (!s->started && unit_subscribed(s->u)) {
                long long ms = mono_ms() - s->assigned_at;

                s->started = 1;
                log_msg(LOG_INFO, "unit_started", "unit=%s takeover_ms=%lld partition=%d",
                        r->cfg->units[i].id, ms, s->partition);
                metrics_unit_takeover_observe((double)ms / 1000.0);
        }
        return took;
}

/* The coordination topic's partition count, retried until Kafka answers. @returns 0, 1 (stop). */
static int replica_partitions(struct replica *r)
{
        struct backoff bo;
        char err[512];

        backoff_init(&bo, 500, 10000);
        while (!*r->stop) {
                long delay;

                if ((r->nparts = group_partitions(r->group, 5000, err, sizeof(err))) > 0)
                        return 0;
                delay = backoff_next_ms(&bo);
                log_msg(LOG_WARN, "kafka_unavailable", "step=coordination_topic err=\"%s\" retry_ms=%ld",
                        err, delay);
                metrics_heartbeat();
                http_poll(r->http, (int)delay, r->wake_fd);
                drain_fd(r->wake_fd);
        }
        return 1;
}

static void replica_views(struct replica *r)
{
        size_t i;

        for (i = 0; i < r->cfg->nunits; i++)
                config_unit_view(r->cfg, i, &r->slots[i].view);
}

static int run_group(const struct config *cfg, struct http *http, int wake_fd,
                     volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
        struct replica r = { .cfg = cfg, .http = http, .wake_fd = wake_fd, .stop = stop };
        const char *ids[METRICS_MAX_UNITS];
        long long pause_ms = cfg->coord.session_timeout_ms - cfg->coord.heartbeat_interval_ms;
        long long paused_ms = 0;
        size_t i;
        int rc = EXIT_FATAL;

        if (cfg->nunits > METRICS_MAX_UNITS) {
                snprintf(errstr, errstr_size, "%zu units: at most %d", cfg->nunits, METRICS_MAX_UNITS);
                return EXIT_FATAL;
        }
        for (i = 0; i < cfg->nunits; i++)
                ids[i] = cfg->units[i].id;
        if (metrics_group_init(ids, cfg->nunits) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return EXIT_FATAL;
        }
        if (!(r.slots = calloc(cfg->nunits, sizeof(*r.slots)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return EXIT_FATAL;
        }
        replica_views(&r);
        if (!(r.group = group_new(cfg, replica_rebalance, &r, errstr, errstr_size)))
                goto out;
        if (replica_partitions(&r)) {
                rc = EXIT_CLEAN;
                goto out;
        }
        for (i = 0; i < cfg->nunits; i++)
                r.slots[i].partition = units_partition(cfg, i, r.nparts);
        if (group_subscribe(r.group, errstr, errstr_size))
                goto out;
        log_msg(LOG_INFO, "group_joining", "group=%s topic=%s partitions=%d units=%zu",
                cfg->coord.group, cfg->coord.topic, r.nparts, cfg->nunits);
        while (!*stop) {
                int took = 0, timeout = GROUP_TURN_MS;
                long long t0;

                /* The wait for the network lasted far longer than asked, longer
                 * than the group waits for a member: the process was frozen
                 * (SIGSTOP, a VM pause), where it spends nearly all its time.
                 * The group may have given our units to another member already,
                 * before librdkafka's own thread can tell us: nothing of ours
                 * may go on before it is given up. (A long commit or drain is
                 * work, not a pause: it is not measured.) */
                if (paused_ms > pause_ms) {
                        log_msg(LOG_WARN, "pause_detected", "gap_ms=%lld units=%zu", paused_ms,
                                replica_owned(&r));
                        metrics_pause_detected_inc();
                        replica_abandon_all(&r, "pause");
                }
                metrics_heartbeat();
                if (bridge_reload_due()) {
                        replica_views(&r); /* the swapped credentials */
                        for (i = 0; i < cfg->nunits; i++)
                                if (r.slots[i].u)
                                        unit_credentials_changed(r.slots[i].u);
                }
                group_poll(r.group);
                replica_rejoin_due(&r);
                for (i = 0; i < cfg->nunits && !*stop; i++) {
                        struct slot *s = &r.slots[i];

                        if (s->state == SLOT_CLAIMING) {
                                slot_claim(&r, i);
                                group_poll(r.group);
                        }
                        if (s->state != SLOT_RUNNING)
                                continue;
                        group_poll(r.group); /* a revoke is served before the next commit */
                        if (s->state != SLOT_RUNNING)
                                continue;
                        took |= slot_turn(&r, i);
                        if (s->state == SLOT_RUNNING) {
                                int t = unit_timeout_ms(s->u, GROUP_TURN_MS);

                                if (t < timeout)
                                        timeout = t;
                        }
                }
                /* A claim retried later waits at most one GROUP_TURN_MS too long. */
                for (i = 0; i < cfg->nunits; i++)
                        if (r.slots[i].state == SLOT_CLAIMING && r.slots[i].retry_at <= mono_ms())
                                timeout = 0;
                if (took)
                        timeout = 0;
                t0 = mono_ms();
                if (http_poll(http, timeout, wake_fd) == -1) {
                        snprintf(errstr, errstr_size, "libcurl multi failure");
                        goto out;
                }
                paused_ms = mono_ms() - t0 - timeout;
                drain_fd(wake_fd);
        }
        rc = EXIT_CLEAN;
out:
        /* A planned stop: every unit drains before the group hears we leave. */
        for (i = 0; r.slots && i < cfg->nunits; i++) {
                struct slot *s = &r.slots[i];
                long long t0 = mono_ms();

                if (s->state == SLOT_UNOWNED)
                        continue;
                if (s->u && s->state == SLOT_RUNNING && rc == EXIT_CLEAN)
                        unit_drain(s->u);
                else if (s->u)
                        unit_fail(s->u);
                log_msg(LOG_INFO, "unit_revoked", "unit=%s lost=0 drain_ms=%lld partition=%d",
                        cfg->units[i].id, mono_ms() - t0, s->partition);
                slot_release(&r, i);
        }
        if (r.group) {
                group_close(r.group, 5000);
                group_destroy(r.group);
        }
        free(r.slots);
        if (rc == EXIT_CLEAN)
                log_msg(LOG_INFO, "stopped", NULL);
        return rc;
}

int bridge_run(const struct config *cfg, int wake_fd, volatile sig_atomic_t *stop, char *errstr,
               size_t errstr_size)
{
        struct http_opts hopts = { 0 };
        const struct config_sf *sf;
        struct httpd *httpd = NULL;
        struct http *http = NULL;
        int rc = EXIT_FATAL;

        errstr[0] = '\0';
        if (metrics_init(cfg->name, SFBRIDGE_VERSION) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return EXIT_FATAL;
        }
        /* Data-derived label sets are capped, but a configured route always has room. */
        metrics_max_series_set((size_t)cfg->metrics_max_series > cfg->nroutes + 1
                                       ? (size_t)cfg->metrics_max_series : cfg->nroutes + 1);
        /* Every route's freshness gauge exists from the start, its age counted from here. */
        if (!cfg->coord.enabled)
                for (size_t i = 0; i < cfg->nroutes; i++)
                        metrics_commit_route(config_route_label(&cfg->routes[i]));
        if (cfg->metrics_listen && cfg->metrics_listen[0]) {
                struct httpd_opts ho = { .listen = cfg->metrics_listen,
                                         .token = cfg->metrics_token,
                                         .allow = cfg->metrics_allow };

                if (!(httpd = httpd_start_opts(&ho, errstr, errstr_size)))
                        goto out;
        }
        /* One multi handle serves every unit: the first org's trust store
         * and proxy serve them all (README: orgs share ca_file and proxy). */
        sf = cfg->norgs ? &cfg->orgs[0].sf : &cfg->sf;
        hopts.ca_file = sf->ca_file;
        hopts.proxy = sf->proxy;
        hopts.max_response = sf->max_response_bytes;
        if (!(http = http_new(&hopts, errstr, errstr_size)))
                goto out;
        if (cfg->coord.enabled)
                rc = run_group(cfg, http, wake_fd, stop, errstr, errstr_size);
        else
                rc = run_single(cfg, http, wake_fd, stop, errstr, errstr_size);
out:
        metrics_up_set(0);
        http_destroy(http);
        httpd_stop(httpd);
        metrics_shutdown();
        return rc;
}
