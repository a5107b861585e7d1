/*
 * One Salesforce streaming session, as a state machine driven by the run
 * loop: OAuth login, handshake, subscribe every route from its replay ID,
 * long-poll /meta/connect, and the recovery the "Staying alive" table asks
 * for (re-login, re-handshake, backoff, stall watchdog). A response with
 * events is held until the bridge has its verdict on them (session_batch);
 * the session never talks to Kafka.
 */
#ifndef SFB_SESSION_H
#define SFB_SESSION_H

#include "bayeux.h"
#include "config.h"
#include "auth.h"
#include "http.h"

struct session;

/* What became of a batch the bridge took (see session_batch()). */
enum session_verdict {
        SESSION_BATCH_COMMITTED, /* in Kafka: go on with the rest of the response */
        SESSION_BATCH_REBUILD    /* not in Kafka: re-handshake, resubscribe from the committed IDs */
};

struct session_hooks {
        void *ctx;
        /** The replay ID to subscribe rt from: the committed one, else rt->start. */
        long long (*replay_from)(void *ctx, const struct config_route *rt);
        /** May be NULL. Non-zero, with a sentence in why: on_invalid_replay all must not
         *  replay everything of rt now (its daily allocation is nearly spent). */
        int (*replay_all_refused)(void *ctx, const struct config_route *rt, char *why,
                                  size_t why_size);
};

/* A replay gap the session handled (on_invalid_replay applied), for the
 * bridge to record (audit trail, sf.gap record, new stored position) in
 * its next batch. */
struct session_gap {
        const struct config_route *rt;
        long long lost_after;        /* the stored replay ID Salesforce no longer retains */
        long long resubscribed_from; /* REPLAY_ALL or REPLAY_NEW; 0 under policy fail */
        char detected_at[40];        /* RFC 3339 UTC, ms: when Salesforce refused it */
};

/* Probe mode (`check --online`): what a route's subscribe reply said. */
enum session_probe {
        SESSION_PROBE_NONE,        /* not answered (yet) */
        SESSION_PROBE_OK,          /* subscribed */
        SESSION_PROBE_REPLAY_GONE, /* the replay ID is no longer retained */
        SESSION_PROBE_REFUSED,     /* refused (no access, limits): why says Salesforce's words */
        SESSION_PROBE_FATAL        /* refused for good at start (the channel does not exist) */
};

struct session_opts {
        int probe;                  /* check --online: log in, handshake, subscribe each route
                                     * once, report, never connect nor recover */
        int start_probe;            /* with probe: the run's proof before it claims its name;
                                     * session-wide errors (5xx, transport, busy) are retried
                                     * with backoff as a run does, a route's refusal is reported */
        long backoff_base_ms;       /* transport/5xx/auth retries: first at once, then this doubling */
        long backoff_cap_ms;        /* 60000 */
        long limit_backoff_base_ms; /* too busy, org limits: minutes in production */
        long limit_backoff_cap_ms;
        long route_backoff_base_ms; /* a quarantined route's retries: 0 means 5000 (5 s) */
        long route_backoff_cap_ms;  /* 0 means 300000 (5 min) */
        long min_handshake_gap_ms;  /* handshakes at least this far apart (1000); 0: no gap */
        long connect_retry_window_ms; /* a failing /meta/connect is retried on the same
                                       * clientId this long: 0 means 30000 (30 s) */
        size_t metrics_slot;        /* whose readiness this session's state is (metrics.h
                                     * group mode): the unit's slot; 0 outside group mode */
};

/** @returns a new session, free with session_destroy(). @remark cfg, http and hooks are borrowed. */
struct session *session_new(const struct config *cfg, struct http *http,
                            const struct session_opts *opts, const struct session_hooks *hooks,
                            char *errstr, size_t errstr_size);
void session_destroy(struct session *sess);

/**
 * @brief Advance: start whatever request is due, handle finished ones.
 *        Call after every http_poll() and after each batch call below.
 * @returns 0, or -1 when the session cannot go on (errstr says why; exit 3).
 */
int session_step(struct session *sess, char *errstr, size_t errstr_size);

/**
 * @returns the response whose events (msgs of kind BAYEUX_EVENT) wait for
 *          the bridge, or NULL. While one waits the session does nothing
 *          else: no request goes out and the rest of the response (the
 *          connect reply, advice, errors) is read only after the verdict.
 * @remark valid until session_batch_produced() or session_batch_done().
 */
const struct bayeux_response *session_batch(const struct session *sess);

/**
 * @brief The bridge copied the batch's events into its open Kafka batch
 *        and is about to commit. When the response's replies ask for
 *        nothing but the next long-poll (and the session is not paused),
 *        that /meta/connect goes out now, so Salesforce prepares the next
 *        batch while this one commits; its answer is read only after the
 *        verdict. Anything else the replies ask for waits for the verdict.
 */
void session_batch_produced(struct session *sess);

/**
 * @brief The verdict on the batch: committed (the rest of the response is
 *        handled next) or not (a long-poll already out is dropped and the
 *        session is rebuilt from the committed IDs; cause is logged and
 *        counted).
 */
void session_batch_done(struct session *sess, enum session_verdict verdict, const char *cause);

/** @brief Hold (non-zero) or allow the next /meta/connect: the bridge's backpressure. */
void session_set_paused(struct session *sess, int paused);

/** @returns 1 and fills *gap with the oldest replay gap not yet taken, else 0. */
int session_take_gap(struct session *sess, struct session_gap *gap);

/** @returns non-zero while a gap waits to be taken. */
int session_has_gap(const struct session *sess);

/** @brief Give a gap back (its record could not be written): taken again later. */
void session_return_gap(struct session *sess, const struct session_gap *gap);

/** @returns ms until the session next needs session_step() without network activity (backoff end, connect interval), capped at cap_ms. */
int session_timeout_ms(const struct session *sess, int cap_ms);

/**
 * @brief Abandon the long-poll and rebuild the session from the committed
 *        IDs (cause is logged and counted). While a batch awaits its
 *        verdict the rebuild happens at the verdict.
 */
void session_rebuild(struct session *sess, const char *cause);

/**
 * @brief The credentials in the config changed (SIGHUP): a login refused
 *        with the old ones, waiting out its backoff, is retried now. A
 *        working session is left alone; its next login reads the new ones.
 */
void session_credentials_changed(struct session *sess);

/** @brief Abandon the request in flight, if any (first step of a graceful stop). */
void session_cancel(struct session *sess);

/** @brief Stop: cancel the request in flight and send /meta/disconnect (bounded wait). */
void session_disconnect(struct session *sess, long timeout_ms);

/** @returns non-zero once a probe-mode session has every route's answer (then session_disconnect). */
int session_probed(const struct session *sess);

/**
 * @brief After a probe (session_probed(), then session_disconnect()): probe
 *        again (probe non-zero) or run for real (0), with the token of the
 *        probe's login when it has one: a new handshake, each route
 *        subscribed from the hooks' replay_from.
 */
void session_restart(struct session *sess, int probe);

/** @returns route i's probe verdict; *from is the replay ID it asked for, *why Salesforce's words. */
enum session_probe session_probe_route(const struct session *sess, size_t i, long long *from,
                                       const char **why);

/** @returns the token of the login (instance URL, org), or NULL before one succeeded. */
const struct auth_token *session_token(const struct session *sess);

/** @returns the CometD endpoint in use, or NULL before a login. */
const char *session_cometd_url(const struct session *sess);

/**
 * @brief Quarantine route @p route (an index into cfg->routes) that is
 *        subscribed: /meta/unsubscribe its channel in the live session
 *        (between long-polls), hold back its events from then on (they are
 *        not in session_batch(): they stay after its committed replay ID),
 *        and retry its subscribe alone from the committed replay ID (the
 *        hooks' replay_from) with backoff, 5 s doubling to 5 min with
 *        jitter. Logged once (cause, action=quarantine) and counted;
 *        readiness is false naming the route and @p reason meanwhile.
 *        Events of the route still arriving from the old subscription
 *        are dropped when their replay ID is not above the route's floor
 *        (its committed ID at the resubscribe, then each ID handed on).
 *        A no-op for a route already quarantined. Always quarantines
 *        (on_route_error applies to Salesforce's refusals only).
 * @remark Callable while the bridge holds a batch: the rest of that batch's
 *         events of the route must then be skipped by the caller
 *         (session_route_up() says 0).
 */
void session_route_quarantine(struct session *sess, size_t route, const char *cause,
                              const char *reason);

/** @returns 0 while route @p route is quarantined (its events are not deliverable), else 1. */
int session_route_up(const struct session *sess, size_t route);

/** @returns 1 while handshaken and every route's subscribe was answered. */
int session_subscribed(const struct session *sess);

/** @returns 1 while a Bayeux session is established with valid credentials. */
int session_handshaken(const struct session *sess);

#endif
