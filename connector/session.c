/*
 * The Salesforce side of the bridge. Every request goes through libcurl's
 * multi handle, so the run loop never blocks on Salesforce. The rule that
 * keeps the bridge from losing events: whenever anything unexpected
 * happens, start a new Bayeux session and subscribe every route from its
 * last committed replay ID; Salesforce replays what we had not committed.
 */
#include "session.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "backoff.h"
#include "log.h"
#include "metrics.h"
#include "recovery.h"
#include "token_file.h"
#include "trust.h"

/* Requests other than the long-poll get this long. */
#define SESSION_REQUEST_TIMEOUT_MS 30000L

/*
 * Salesforce forgets a client ~40 s after its last answer. A /meta/connect
 * that failed without Salesforce saying the client is gone (transport
 * error, 5xx, timeout) is retried on the same clientId, with a short
 * backoff, for this long after the first failure of the series; only
 * then is a new session opened (each one holds a concurrent-client slot).
 */
#define SESSION_RETRY_WINDOW_MS 30000L
#define SESSION_RETRY_CAP_MS 5000L
/* advice.interval above this would outlive the client: clamped. */
#define SESSION_INTERVAL_MAX_MS 30000L
/* The long-poll's HTTP timeout is advice.timeout plus this (CometD's
 * maxNetworkDelay), never more than stall_timeout_s. */
#define SESSION_POLL_MARGIN_MS 10000L
/* A best-effort /meta/disconnect of an abandoned clientId gets this long. */
#define SESSION_BYE_TIMEOUT_MS 2000L

enum sess_state {
        S_LOGIN,            /* need a token */
        S_LOGIN_WAIT,
        S_HANDSHAKE,        /* need a clientId */
        S_HANDSHAKE_WAIT,
        S_SUBSCRIBE,        /* some routes still to subscribe */
        S_SUBSCRIBE_WAIT,
        S_CONNECT,          /* next long-poll due (after interval, when the bridge allows) */
        S_CONNECT_WAIT,
        S_BACKOFF,          /* until deadline, then state_after */
        S_BATCH,            /* a response's events wait for the bridge (session_batch) */
        S_COMMIT_WAIT,      /* the bridge commits them; a pipelined connect may be out */
        S_UNSUBSCRIBE_WAIT, /* a quarantined route's /meta/unsubscribe is out */
        S_PROBED,           /* probe mode: every route answered its subscribe */
        S_DEAD
};

static const char *const state_names[] = {
        "login", "login_wait", "handshake", "handshake_wait", "subscribe", "subscribe_wait",
        "connect", "connect_wait", "backoff", "batch", "commit_wait", "unsubscribe_wait", "probed",
        "dead"
};

struct session_sub {
        const struct config_route *rt;
        long long from;     /* replay ID the subscribe asks for */
        int pending;        /* still to subscribe in this Bayeux session */
        int in_request;     /* part of the subscribe request in flight */
        int gap_pending;    /* a replay gap for the bridge to record */
        struct session_gap gap;
        /* After a handled gap the position moves to -2 (see session_from);
         * until the bridge's store says so, the session knows it. */
        int gap_resume;
        long long gap_resume_after; /* the stored ID that was no longer retained */
        enum session_probe probe;  /* probe mode: what the subscribe reply said */
        char probe_why[256];

        /* Quarantine (on_route_error): the route is out of the session,
         * its events are held back, and it is retried alone. */
        int quarantined;
        int retrying;       /* the subscribe in flight is its retry */
        int unsub_pending;  /* subscribed in the live session: /meta/unsubscribe to send */
        int drain;          /* unsubscribed: wait for one /meta/connect answer (the events
                             * queued for the old subscription) before resubscribing */
        int ever_up;        /* subscribed at least once: sfbridge_route_up is meaningful */
        long long retry_at; /* monotonic ms of the next retry */
        struct backoff bo;
        char why[256];      /* Salesforce's words, or the caller's reason */
        /* Stale events of an unsubscribed subscription may still arrive in
         * this Bayeux session: events at or below floor are dropped. */
        int floor_on;
        long long floor;
        int bo_dirty;       /* back from quarantine: reset bo once an event is handed on */
        size_t held;        /* events held back from the response being read */
};

struct session {
        const struct config *cfg;
        struct http *http;
        struct session_opts opts;
        struct session_hooks hooks;

        struct http_xfer oauth;
        struct http_xfer cometd;   /* its cookie jar is the Bayeux session's */
        struct buf req;
        struct bayeux_response resp;
        struct bayeux_sub *batch;  /* scratch for building subscribe requests */

        struct auth_token tok;
        /* refresh_token flow: the token to present when it has rotated (or
         * came from refresh_token_file), else NULL for the configured one;
         * rt_base is the configured one it replaced, so a new one put in
         * the config by a reload is noticed. Both secret. */
        char *rt;
        char *rt_base;
        int rt_warned;
        char *auth_header;
        char *cometd_url;
        char client_id[128];
        unsigned long msg_id;

        enum sess_state state;
        enum sess_state state_after;
        long long deadline_ms;
        struct backoff bo;
        struct backoff limit_bo;
        struct backoff connect_bo;  /* a failed /meta/connect retried on the same clientId */
        long long fail_since_ms;    /* first connect failure of the current series; 0: none */
        int connects_ok;            /* successful /meta/connect answers on this clientId */
        long advice_timeout_ms;     /* the server's last advice.timeout (0: none yet) */
        long poll_timeout_ms;       /* the HTTP timeout of the long-poll in flight */
        int warned_interval;
        long long last_handshake_ms; /* when the last /meta/handshake went out; 0: never */
        int bye_out;                /* an abandoned clientId's /meta/disconnect is in flight */
        char bye_id[128];

        struct session_sub *subs;
        size_t nsubs;

        int ever_logged_in;
        int running;         /* every route was subscribed once: route errors are per route now */
        int auth_failed;
        int stalled;
        int handshaken;
        long long connect_started_ms;
        int warned_advice_timeout;

        /* The batch hand-over (session_batch and what follows). */
        enum sess_state batch_from; /* the *_WAIT state whose response holds the batch */
        int resp_ready;             /* sess->resp is parsed, its events taken: read the rest */
        int events_taken;
        int connect_out;            /* a /meta/connect went out while the batch committed */
        int connect_answered;       /* a /meta/connect answered since the last route retry:
                                     * retries go between long-polls, never right after a subscribe */
        int paused;                 /* the bridge holds the next /meta/connect */
        const char *deferred_rebuild; /* a rebuild asked for while a batch awaited its verdict */
};

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_secret(char **s)
{
        if (*s) {
                memset(*s, 0, strlen(*s));
                free(*s);
                *s = NULL;
        }
}

/* A refresh token kept by an earlier run wins over the configured one: the
 * configured one may have been rotated away (and presenting it again would
 * revoke them all). */
static int session_load_refresh_token(struct session *sess, char *errstr, size_t errstr_size)
{
        const struct config *cfg = sess->cfg;
        char err[512];
        int rc;

        if (cfg->sf.flow != AUTH_REFRESH_TOKEN || !cfg->sf.refresh_token_file)
                return 0;
        rc = token_file_read(cfg->sf.refresh_token_file, &sess->rt, err, sizeof(err));
        if (rc == -1) {
                snprintf(errstr, errstr_size, "salesforce.auth.refresh_token_file: %s", err);
                return -1;
        }
        if (rc == 0) {
                log_msg(LOG_INFO, "refresh_token_file", "file=%s action=use_configured_token "
                        "reason=\"no token kept yet\"", cfg->sf.refresh_token_file);
                return 0;
        }
        if (cfg->sf.refresh_token && !(sess->rt_base = strdup(cfg->sf.refresh_token))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        log_msg(LOG_INFO, "refresh_token_file", "file=%s action=use_kept_token",
                cfg->sf.refresh_token_file);
        return 0;
}

/* Keep @p token as the one to present: in the file when there is one. */
static void session_keep_refresh_token(struct session *sess, const char *token, const char *why)
{
        const char *file = sess->cfg->sf.refresh_token_file;
        char err[512];

        if (!file) {
                /* Said once loudly: the next restart is what breaks. */
                log_msg(sess->rt_warned ? LOG_INFO : LOG_ERROR, "refresh_token_rotated",
                        "persisted=no err=\"the connected app rotates refresh tokens and "
                        "salesforce.auth.refresh_token_file is not set: the new token lives only "
                        "in memory; after a restart the configured refresh_token is refused "
                        "(and Salesforce revokes every token issued from it). Set "
                        "salesforce.auth.refresh_token_file, turn refresh token rotation off in the "
                        "connected app, or use the jwt flow\" action=continue");
                sess->rt_warned = 1;
                return;
        }
        if (token_file_write(file, token, err, sizeof(err)) == -1) {
                log_msg(LOG_ERROR, "refresh_token_rotated",
                        "persisted=no file=%s err=\"%s; the new token lives only in memory until "
                        "the next rotation is written\" action=continue", file, err);
                return;
        }
        log_msg(LOG_INFO, "refresh_token_rotated", "persisted=yes file=%s reason=%s", file, why);
}

/* The token endpoint answered with a new refresh token: present it from now on. */
static void session_adopt_refresh_token(struct session *sess)
{
        const struct config *cfg = sess->cfg;

        if (cfg->sf.flow != AUTH_REFRESH_TOKEN || !sess->tok.refresh_token)
                return;
        if (!sess->rt_base && cfg->sf.refresh_token)
                sess->rt_base = strdup(cfg->sf.refresh_token);
        free_secret(&sess->rt);
        sess->rt = sess->tok.refresh_token;
        sess->tok.refresh_token = NULL;
        session_keep_refresh_token(sess, sess->rt, "rotation");
}

/*
 * The refresh token to present. A reload that put a new one in the config
 * wins; then the file, which another process sharing it (`check --online`,
 * the next instance of a rolling restart) may have rotated since: presenting
 * the token it retired would revoke them all.
 */
static const char *session_refresh_token(struct session *sess)
{
        const struct config *cfg = sess->cfg;
        const char *configured = cfg->sf.refresh_token, *file = cfg->sf.refresh_token_file;
        char err[512], *kept = NULL;
        int rc;

        if (cfg->sf.flow != AUTH_REFRESH_TOKEN)
                return NULL;
        if (sess->rt && configured && sess->rt_base && strcmp(configured, sess->rt_base)) {
                free_secret(&sess->rt);
                free_secret(&sess->rt_base);
                if (file)
                        session_keep_refresh_token(sess, configured, "configured_token_changed");
                return NULL;
        }
        if (!file)
                return sess->rt;
        rc = token_file_read(file, &kept, err, sizeof(err));
        if (rc == -1) {
                log_msg(LOG_ERROR, "refresh_token_file", "err=\"%s\" action=use_token_in_memory", err);
        } else if (rc == 1 && (!sess->rt || strcmp(kept, sess->rt))) {
                if (sess->rt)
                        log_msg(LOG_INFO, "refresh_token_file", "file=%s action=use_kept_token "
                                "reason=\"rotated by another process\"", file);
                if (!sess->rt_base && configured)
                        sess->rt_base = strdup(configured);
                free_secret(&sess->rt);
                sess->rt = kept;
                kept = NULL;
        }
        free_secret(&kept);
        return sess->rt;
}

struct session *session_new(const struct config *cfg, struct http *http,
                            const struct session_opts *opts, const struct session_hooks *hooks,
                            char *errstr, size_t errstr_size)
{
        struct session *sess = calloc(1, sizeof(*sess));
        size_t i;

        if (!sess) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        sess->cfg = cfg;
        sess->http = http;
        sess->opts = *opts;
        sess->hooks = *hooks;
        buf_init(&sess->req, BAYEUX_MAX_BODY);
        backoff_init(&sess->bo, opts->backoff_base_ms, opts->backoff_cap_ms);
        backoff_init(&sess->limit_bo, opts->limit_backoff_base_ms, opts->limit_backoff_cap_ms);
        backoff_init(&sess->connect_bo, opts->backoff_base_ms,
                     opts->backoff_cap_ms < SESSION_RETRY_CAP_MS ? opts->backoff_cap_ms
                                                                 : SESSION_RETRY_CAP_MS);
        /* A limit is not lifted by retrying at once: wait from the first time. */
        backoff_next_ms(&sess->limit_bo);
        sess->nsubs = cfg->nroutes;
        sess->subs = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*sess->subs));
        sess->batch = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*sess->batch));
        if (!sess->subs || !sess->batch) {
                snprintf(errstr, errstr_size, "out of memory");
                session_destroy(sess);
                return NULL;
        }
        for (i = 0; i < cfg->nroutes; i++) {
                struct session_sub *sub = &sess->subs[i];

                sub->rt = &cfg->routes[i];
                backoff_init(&sub->bo, opts->route_backoff_base_ms > 0 ? opts->route_backoff_base_ms : 5000,
                             opts->route_backoff_cap_ms > 0 ? opts->route_backoff_cap_ms : 300000);
                /* A refusal is not lifted by retrying at once: wait from the first time. */
                backoff_next_ms(&sub->bo);
                metrics_route_up_set(config_route_label(sub->rt), 0);
        }
        if (session_load_refresh_token(sess, errstr, errstr_size) == -1) {
                session_destroy(sess);
                return NULL;
        }
        if (http_xfer_init(http, &sess->oauth, errstr, errstr_size) == -1 ||
            http_xfer_init(http, &sess->cometd, errstr, errstr_size) == -1) {
                session_destroy(sess);
                return NULL;
        }
        sess->state = S_LOGIN;
        return sess;
}

static void session_forget_token(struct session *sess)
{
        auth_token_clear(&sess->tok);
        if (sess->auth_header) {
                memset(sess->auth_header, 0, strlen(sess->auth_header));
                free(sess->auth_header);
                sess->auth_header = NULL;
        }
        free(sess->cometd_url);
        sess->cometd_url = NULL;
}

void session_destroy(struct session *sess)
{
        if (!sess)
                return;
        http_xfer_cleanup(&sess->oauth);
        http_xfer_cleanup(&sess->cometd);
        session_forget_token(sess);
        free_secret(&sess->rt);
        free_secret(&sess->rt_base);
        bayeux_response_free(&sess->resp);
        buf_free(&sess->req);
        free(sess->subs);
        free(sess->batch);
        free(sess);
}

/* Readiness names every quarantined route and why. */
static void session_publish_quarantine(struct session *sess)
{
        char text[METRICS_QUARANTINE_MAX];
        size_t i, len = 0;
        int n = 0;

        text[0] = '\0';
        for (i = 0; i < sess->nsubs; i++) {
                const struct session_sub *sub = &sess->subs[i];
                int w;

                if (!sub->quarantined)
                        continue;
                w = snprintf(text + len, sizeof(text) - len, "%s%s (%s)",
                             n++ ? "; " : "route quarantined: ", sub->rt->channel, sub->why);
                if (w < 0 || (size_t)w >= sizeof(text) - len)
                        break;
                len += (size_t)w;
        }
        metrics_unit_quarantine_set(sess->opts.metrics_slot, text);
}

static void publish_readiness(struct session *sess)
{
        const char *reason = NULL;
        int all = 1;
        size_t i;

        for (i = 0; i < sess->nsubs; i++)
                if (sess->subs[i].pending)
                        all = 0;
        if (sess->auth_failed)
                reason = "credentials rejected";
        else if (sess->stalled)
                reason = "stalled";
        else if (!sess->handshaken)
                reason = "not handshaken";
        else if (!all)
                reason = "not every route subscribed";
        metrics_unit_ready_set(sess->opts.metrics_slot, sess->handshaken, all, sess->stalled,
                               reason);
        session_publish_quarantine(sess);
}

int session_subscribed(const struct session *sess)
{
        size_t i;

        if (!session_handshaken(sess))
                return 0;
        for (i = 0; i < sess->nsubs; i++)
                if (sess->subs[i].pending)
                        return 0;
        return 1;
}

int session_handshaken(const struct session *sess)
{
        return sess->handshaken && !sess->auth_failed;
}

/* Wait per bo, then go to next. The first retry of a series is immediate. */
static void session_backoff(struct session *sess, struct backoff *bo, enum sess_state next)
{
        long delay = backoff_next_ms(bo);

        metrics_unit_backoff_set(sess->opts.metrics_slot, (double)delay / 1000.0);
        if (delay <= 0) {
                sess->state = next;
                return;
        }
        log_msg(LOG_INFO, "backoff", "delay_ms=%ld then=%s", delay, state_names[next]);
        sess->deadline_ms = now_ms() + delay;
        sess->state_after = next;
        sess->state = S_BACKOFF;
}

static void session_drop_bayeux(struct session *sess)
{
        size_t i;

        http_xfer_cancel(&sess->cometd);
        sess->bye_out = 0;  /* cancelled with the rest */
        sess->client_id[0] = '\0';
        sess->handshaken = 0;
        sess->fail_since_ms = 0;
        sess->connects_ok = 0;
        backoff_reset(&sess->connect_bo);
        for (i = 0; i < sess->nsubs; i++) {
                struct session_sub *sub = &sess->subs[i];

                /* A quarantined route stays out: it is retried alone, when due. */
                sub->pending = !sub->quarantined;
                sub->in_request = 0;
                sub->retrying = 0;
                sub->unsub_pending = 0;
                sub->drain = 0;
                sub->floor_on = 0;
        }
}

/* Did Salesforce say this client is gone? Then there is nothing to disconnect. */
static int session_client_gone(const char *cause)
{
        static const char *const gone[] = {
                "unknown_client", "server_disconnect", "advice_handshake", "no_cookie",
        };
        size_t i;

        for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
                if (!strcmp(cause, gone[i]))
                        return 1;
        return 0;
}

/*
 * Drop the Bayeux session; a clientId Salesforce may still know gets a
 * best-effort /meta/disconnect (short timeout, failure ignored), so it
 * does not hold one of the org's concurrent-client slots for its last
 * 40 s. The request rides on the session's own transfer (its cookie jar
 * holds the client's BAYEUX_BROWSER cookie); the next handshake waits
 * for it.
 */
static void session_abandon(struct session *sess, const char *cause)
{
        char id[sizeof(sess->client_id)], err[256];
        int alive = sess->handshaken && sess->client_id[0] && !sess->opts.probe &&
                    !session_client_gone(cause);

        snprintf(id, sizeof(id), "%s", sess->client_id);
        session_drop_bayeux(sess);
        if (!alive)
                return;
        if (bayeux_build_disconnect(&sess->req, id, &sess->msg_id) == -1 ||
            http_xfer_post(&sess->cometd, sess->cometd_url, "application/json", sess->auth_header,
                           sess->req.data, sess->req.len, SESSION_BYE_TIMEOUT_MS, err,
                           sizeof(err)) == -1) {
                log_msg(LOG_WARN, "disconnect", "client_id=%s reason=abandoned err=\"could not send "
                        "/meta/disconnect\"", id);
                return;
        }
        log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/disconnect client_id=%s reason=abandoned", id);
        snprintf(sess->bye_id, sizeof(sess->bye_id), "%s", id);
        sess->bye_out = 1;
}

/* The abandoned clientId's /meta/disconnect finished: say how, nothing else. */
static void session_bye_done(struct session *sess)
{
        struct http_xfer *x = &sess->cometd;

        if (!sess->bye_out || x->busy)
                return;
        x->done = 0;
        sess->bye_out = 0;
        if (x->curl_code)
                log_msg(LOG_INFO, "disconnect", "client_id=%s reason=abandoned err=\"%s\"",
                        sess->bye_id, x->error);
        else
                log_msg(LOG_INFO, "disconnect", "client_id=%s reason=abandoned status=%ld",
                        sess->bye_id, x->status);
}

/* One log line and one count per recovery, then the move the table asks for. */
static int session_recover(struct session *sess, struct recovery_decision dec, const char *detail,
                           char *errstr, size_t errstr_size)
{
        const char *act = recovery_action_name(dec.action);

        if (dec.action == ACT_NONE)
                return 0;
        if (sess->opts.probe && (!sess->opts.start_probe || dec.action == ACT_FATAL)) {
                /* A probe reports; it does not recover. */
                snprintf(errstr, errstr_size, "%s (%s)", detail && detail[0] ? detail : dec.cause,
                         dec.cause);
                sess->state = S_DEAD;
                return -1;
        }
        log_msg(dec.action == ACT_RETRY ? LOG_INFO : LOG_WARN, "recovery",
                "cause=%s action=%s state=%s detail=\"%s\"", dec.cause, act,
                state_names[sess->state], detail ? detail : "");
        metrics_recovery_inc(dec.cause, act);

        switch (dec.action) {
        case ACT_NONE:
                break;
        case ACT_RETRY:
                sess->state = S_CONNECT;
                break;
        case ACT_REHANDSHAKE:
                session_abandon(sess, dec.cause);
                session_backoff(sess, &sess->bo, S_HANDSHAKE);
                break;
        case ACT_REAUTH:
                metrics_reauth_inc(dec.cause);
                session_drop_bayeux(sess);
                session_forget_token(sess);
                session_backoff(sess, &sess->bo, S_LOGIN);
                break;
        case ACT_BACKOFF:
                session_abandon(sess, dec.cause);
                session_backoff(sess, &sess->bo, sess->auth_header ? S_HANDSHAKE : S_LOGIN);
                break;
        case ACT_BACKOFF_LONG:
                session_abandon(sess, dec.cause);
                session_backoff(sess, &sess->limit_bo, sess->auth_header ? S_HANDSHAKE : S_LOGIN);
                break;
        case ACT_INVALID_REPLAY:
                /* A subscribe reply names its route and is handled there;
                 * on any other reply nothing says which channel: start a
                 * new session, whose subscribe replies will say. */
                session_abandon(sess, dec.cause);
                session_backoff(sess, &sess->bo, S_HANDSHAKE);
                break;
        case ACT_FATAL:
                snprintf(errstr, errstr_size, "%s: %s", dec.cause, detail ? detail : "");
                sess->state = S_DEAD;
                return -1;
        case ACT_HOLD_BATCH:
        case ACT_STOP_ROUTE:
        case ACT_DEAD_LETTER:
        case ACT_LOG:
        case ACT_QUARANTINE:
                break; /* the bridge's moves, never an answer's (a route's refusal is read route by route) */
        }
        publish_readiness(sess);
        return 0;
}

void session_credentials_changed(struct session *sess)
{
        if (sess->auth_failed && sess->state == S_BACKOFF && sess->state_after == S_LOGIN) {
                log_msg(LOG_INFO, "backoff", "delay_ms=0 then=%s reason=credentials_changed",
                        state_names[S_LOGIN]);
                sess->deadline_ms = now_ms();
        }
}

void session_rebuild(struct session *sess, const char *cause)
{
        struct recovery_decision dec = recovery_local(cause);
        char err[8];

        if (sess->state == S_BATCH || sess->state == S_COMMIT_WAIT) {
                /* Resubscribing now would start from IDs the pending batch
                 * is about to move: wait for its verdict. */
                sess->deferred_rebuild = cause;
                return;
        }
        session_recover(sess, dec, "", err, sizeof(err));
}

/*
 * A /meta/connect failed and Salesforce did not say the client is gone:
 * while the series of failures is younger than SESSION_RETRY_WINDOW_MS,
 * connect again on the same clientId after a short backoff.
 * @returns 1 when a retry is scheduled, 0 when the table's move applies.
 */
static int session_retry_connect(struct session *sess, const char *cause, const char *detail)
{
        long long now = now_ms();
        long delay;

        if (!sess->handshaken || !sess->client_id[0] || sess->opts.probe)
                return 0;
        if (!sess->fail_since_ms)
                sess->fail_since_ms = now;
        if (now - sess->fail_since_ms >= (sess->opts.connect_retry_window_ms > 0
                                          ? sess->opts.connect_retry_window_ms
                                          : SESSION_RETRY_WINDOW_MS))
                return 0;
        delay = backoff_next_ms(&sess->connect_bo);
        /* A failure all the same: warn, as every other failure is. */
        log_msg(LOG_WARN, "recovery", "cause=%s action=retry state=%s detail=\"%s\" client_id=%s "
                "retry_in_ms=%ld failing_for_ms=%lld", cause, state_names[sess->state], detail,
                sess->client_id, delay, now - sess->fail_since_ms);
        metrics_recovery_inc(cause, recovery_action_name(ACT_RETRY));
        sess->state = S_CONNECT;
        sess->deadline_ms = now + delay;
        publish_readiness(sess);
        return 1;
}

/* A transfer that got no usable answer: classify it from curl's code and the status. */
static int session_transport_failure(struct session *sess, struct http_xfer *x, int is_connect,
                                     char *errstr, size_t errstr_size)
{
        struct recovery_input in = { 0 };
        struct recovery_decision dec;
        char detail[600];

        if (x->curl_code == CURLE_OPERATION_TIMEDOUT && is_connect) {
                /* The watchdog: Salesforce held the long-poll past
                 * advice.timeout (+ margin) or stall_timeout_s, which it
                 * never does when healthy. */
                sess->stalled = 1;
                dec = recovery_local("stall");
                snprintf(detail, sizeof(detail), "no answer to /meta/connect within %ld ms",
                         sess->poll_timeout_ms);
                if (session_retry_connect(sess, dec.cause, detail))
                        return 0;
                return session_recover(sess, dec, detail, errstr, errstr_size);
        }
        if (http_xfer_is_too_large(x)) {
                /* Salesforce will send the same batch again: only a larger
                 * ceiling gets past it. Nothing is lost meanwhile. */
                log_msg(LOG_ERROR, "response_too_large",
                        "bytes=%zu limit=%zu state=%s action=rebuild_with_backoff "
                        "resolve=\"raise salesforce.max_response_bytes above bytes (memory "
                        "needed grows with it); the bridge resubscribes from the committed "
                        "replay IDs meanwhile\"", x->too_large, http_max_response(sess->http),
                        state_names[sess->state]);
                return session_recover(sess, recovery_local("response_too_large"), x->error,
                                       errstr, errstr_size);
        }
        in.transport_error = x->curl_code != 0;
        in.http_status = (int)x->status;
        dec = recovery_classify(&in);
        if (x->curl_code && http_xfer_is_tls_error(x)) {
                dec = recovery_local("tls");
                snprintf(detail, sizeof(detail), "TLS failure talking to Salesforce: %s%s", x->error,
                         sess->cfg->sf.ca_file ? "" : " (set salesforce.ca_file to add a trust anchor)");
        } else if (x->curl_code) {
                snprintf(detail, sizeof(detail), "%s", x->error);
        } else {
                snprintf(detail, sizeof(detail), "HTTP %ld", x->status);
        }
        if (is_connect && (!strcmp(dec.cause, "transport") || !strcmp(dec.cause, "http_5xx")) &&
            session_retry_connect(sess, dec.cause, detail))
                return 0;
        if (x->curl_code && !http_xfer_is_tls_error(x) && sess->state == S_HANDSHAKE_WAIT &&
            x == &sess->cometd && dec.action == ACT_BACKOFF && !sess->handshaken) {
                /* The instance host gave no answer at all to a handshake:
                 * the org may have moved (instance_url changes with an org
                 * migration or instance refresh). Log in again before the
                 * next handshake, so the token answer names the host to
                 * use now instead of the one cached at the last login. */
                log_msg(LOG_WARN, "relogin", "cause=instance_unreachable instance_url=%s detail=\"%s\"",
                        sess->tok.instance_url ? sess->tok.instance_url : "", detail);
                session_forget_token(sess);
        }
        return session_recover(sess, dec, detail, errstr, errstr_size);
}

/*
 * Credentials that worked before were refused (an admin may be rotating
 * them, or a key file is half rotated): keep trying at the capped pace, not
 * ready meanwhile, so a fix needs no restart.
 */
static void session_auth_retry(struct session *sess, const char *why)
{
        sess->auth_failed = 1;
        log_msg(LOG_ERROR, "auth_rejected", "flow=%s err=\"%s\" cause=auth_rejected action=backoff",
                config_flow_name(sess->cfg->sf.flow), why);
        metrics_recovery_inc("auth_rejected",
                             recovery_action_name(recovery_local("auth_rejected").action));
        publish_readiness(sess);
        session_backoff(sess, &sess->bo, S_LOGIN);
}

static int session_start_login(struct session *sess, char *errstr, size_t errstr_size)
{
        char url[1024];
        struct buf form;
        int rc;

        buf_init(&form, 64 * 1024);
        if (auth_build_request(sess->cfg, session_refresh_token(sess), url, sizeof(url), &form,
                               errstr, errstr_size) == -1) {
                buf_free(&form);
                if (!sess->ever_logged_in)
                        return -1;
                /* The JWT key file broke after a login worked (a rotation
                 * half done): like a refusal, so fixing the file needs no restart. */
                session_auth_retry(sess, errstr);
                errstr[0] = '\0';
                return 0;
        }
        /* The URL names the login host only; the form holds the secrets. */
        log_msg(LOG_DEBUG, "oauth_request", "flow=%s url=%s", config_flow_name(sess->cfg->sf.flow), url);
        rc = http_xfer_post(&sess->oauth, url, "application/x-www-form-urlencoded", NULL,
                            form.data, form.len, SESSION_REQUEST_TIMEOUT_MS, errstr, errstr_size);
        memset(form.data, 0, form.len);
        buf_free(&form);
        if (rc == -1)
                return -1;
        sess->state = S_LOGIN_WAIT;
        return 0;
}

/*
 * Refuse an answer of the token endpoint before anything of it is used: a
 * value that goes into a header or a record (token, org and user IDs) with
 * control bytes could inject request headers (token_rejected), and the
 * bearer token goes only to an instance_url that trust_instance_url()
 * accepts (instance_url_rejected: another scheme reaches other services,
 * another host receives the token, plain http shows it to the network).
 * The rejected URL is never contacted. At the first login this stops the
 * start (exit 3, the operator must look); later it is a counted recovery
 * that logs in again after a backoff, as a refused login is.
 * @returns 0 when the answer may be used; 1 when it was refused, with
 *          sess->state S_DEAD (errstr) at the first login, else a backoff.
 */
static int session_untrusted_answer(struct session *sess, char *errstr, size_t errstr_size)
{
        const struct auth_token *tok = &sess->tok;
        const char *flow = config_flow_name(sess->cfg->sf.flow), *field = NULL, *cause;
        char host[256], detail[640];
        enum trust_verdict v;

        if (!trust_header_value(tok->access_token))
                field = "access_token";
        else if (tok->refresh_token && !trust_header_value(tok->refresh_token))
                field = "refresh_token";
        else if (tok->org_id && !trust_header_value(tok->org_id))
                field = "org_id";
        else if (tok->user_id && !trust_header_value(tok->user_id))
                field = "user_id";
        if (field) {
                cause = "token_rejected";
                snprintf(detail, sizeof(detail), "the token endpoint's %s holds control characters "
                         "(CR, LF or another byte below 0x20): not used, so it cannot inject request "
                         "headers", field);
                log_msg(LOG_ERROR, "token_rejected", "flow=%s field=%s err=\"%s\"", flow, field, detail);
        } else {
                /* A rotated refresh token is adopted even when the URL is
                 * refused: the old one is retired, and presenting it again
                 * would revoke the whole family. */
                session_adopt_refresh_token(sess);
                v = trust_instance_url(tok->instance_url, sess->cfg->sf.login_url,
                                       sess->cfg->sf.allowed_hosts, host, sizeof(host));
                if (v == TRUST_OK)
                        return 0;
                cause = "instance_url_rejected";
                snprintf(detail, sizeof(detail), "the token endpoint named an instance_url on host %s "
                         "that may not receive the access token (%s): %s; not contacted. %s",
                         host[0] ? host : "(none)", trust_verdict_name(v),
                         v == TRUST_SCHEME ? "only https is used" :
                         v == TRUST_PLAIN_HTTP ? "plain http only when salesforce.login_url is http" :
                         v == TRUST_HOST ? "neither a Salesforce domain nor the login host" :
                         "not https://host[:port] (no userinfo, path, query or fragment)",
                         v == TRUST_HOST ? "If that host is right, list it in salesforce.allowed_hosts" :
                         "salesforce.allowed_hosts admits more hosts, never another scheme or syntax");
                log_msg(LOG_ERROR, "instance_url_rejected", "cause=%s host=%s flow=%s err=\"%s\"",
                        trust_verdict_name(v), host, flow, detail);
        }
        session_forget_token(sess);
        if (!sess->ever_logged_in) {
                snprintf(errstr, errstr_size, "login (%s flow) refused by sfbridge: %s", flow, detail);
                sess->state = S_DEAD;
                return 1;
        }
        if (session_recover(sess, recovery_local(cause), detail, errstr, errstr_size) == -1)
                sess->state = S_DEAD;
        return 1;
}

static int session_login_done(struct session *sess, char *errstr, size_t errstr_size)
{
        struct http_xfer *x = &sess->oauth;
        char err[512], why[1024];
        enum auth_outcome out;

        log_msg(LOG_DEBUG, "oauth_response", "flow=%s http_status=%ld curl_error=\"%s\"",
                config_flow_name(sess->cfg->sf.flow), x->status, x->curl_code ? x->error : "");
        if (x->curl_code)
                return session_transport_failure(sess, x, 0, errstr, errstr_size);
        out = auth_parse_response(x->status, x->body.data, x->body.len, &sess->tok, err, sizeof(err));
        memset(x->body.data, 0, x->body.len);  /* it held the token */
        if (out == AUTH_REJECTED) {
                if (!sess->ever_logged_in) {
                        snprintf(errstr, errstr_size, "login as %s failed (%s flow): %s%s",
                                 sess->cfg->sf.username ? sess->cfg->sf.username : sess->cfg->sf.client_id,
                                 config_flow_name(sess->cfg->sf.flow), err,
                                 auth_refusal_hint(sess->cfg, err));
                        sess->state = S_DEAD;
                        return -1;
                }
                snprintf(why, sizeof(why), "%s%s", err, auth_refusal_hint(sess->cfg, err));
                session_auth_retry(sess, why);
                return 0;
        }
        if (out == AUTH_RETRY) {
                return session_recover(sess, recovery_local("auth_unavailable"), err, errstr,
                                       errstr_size);
        }
        if (session_untrusted_answer(sess, errstr, errstr_size))
                return sess->state == S_DEAD ? -1 : 0;
        sess->auth_failed = 0;
        sess->ever_logged_in = 1;
        sess->auth_header = auth_bearer(&sess->tok);
        sess->cometd_url = auth_cometd_url(&sess->tok, sess->cfg->sf.api_version);
        if (!sess->auth_header || !sess->cometd_url) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        log_msg(LOG_INFO, "login", "flow=%s instance_url=%s org_id=%s",
                config_flow_name(sess->cfg->sf.flow), sess->tok.instance_url,
                sess->tok.org_id ? sess->tok.org_id : "");
        sess->state = S_HANDSHAKE;
        return 0;
}

static int session_post(struct session *sess, enum sess_state wait_state, long timeout_ms,
                        char *errstr, size_t errstr_size)
{
        if (sess->req.toobig) {
                snprintf(errstr, errstr_size, "Bayeux request larger than %d bytes", BAYEUX_MAX_BODY);
                return -1;
        }
        if (http_xfer_post(&sess->cometd, sess->cometd_url, "application/json", sess->auth_header,
                           sess->req.data, sess->req.len, timeout_ms, errstr, errstr_size) == -1)
                return -1;
        sess->state = wait_state;
        return 0;
}

static int session_start_handshake(struct session *sess, char *errstr, size_t errstr_size)
{
        long long now = now_ms();

        if (sess->bye_out) {
                if (sess->cometd.busy)
                        return 0;  /* the abandoned client's disconnect first */
                session_bye_done(sess);
        }
        /* A session that flaps must not handshake in a tight loop, whatever
         * the backoff says: at least min_handshake_gap_ms apart. */
        if (sess->last_handshake_ms && now - sess->last_handshake_ms < sess->opts.min_handshake_gap_ms) {
                sess->deadline_ms = sess->last_handshake_ms + sess->opts.min_handshake_gap_ms;
                sess->state_after = S_HANDSHAKE;
                sess->state = S_BACKOFF;
                log_msg(LOG_DEBUG, "backoff", "delay_ms=%lld then=%s reason=handshake_gap",
                        sess->deadline_ms - now, state_names[S_HANDSHAKE]);
                return 0;
        }
        sess->last_handshake_ms = now;
        session_drop_bayeux(sess);
        /* A new Bayeux session starts with no cookies: a stale BAYEUX_BROWSER
         * from the old one would confuse the server. */
        http_xfer_clear_cookies(&sess->cometd);
        sess->msg_id = 0;
        if (bayeux_build_handshake(&sess->req, &sess->msg_id) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/handshake id=%lu", sess->msg_id);
        return session_post(sess, S_HANDSHAKE_WAIT, SESSION_REQUEST_TIMEOUT_MS, errstr, errstr_size);
}

/* --log-level debug: what came back, one line per reply and one for the
 * events (a count, never their contents or the Bayeux cookie). */
static void session_debug_answer(const struct session *sess, const struct http_xfer *x)
{
        static const char *const reconnect_names[] = { "", "retry", "handshake", "none" };
        size_t i, nevents = 0;

        if (!log_enabled(LOG_DEBUG))
                return;
        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];

                if (m->kind == BAYEUX_EVENT) {
                        nevents++;
                        continue;
                }
                log_msg(LOG_DEBUG, "bayeux_reply", "channel=%s id=%lld http_status=%ld successful=%s "
                        "subscription=%s error=\"%s\" failure_reason=\"%s\" reconnect=%s "
                        "interval_ms=%ld timeout_ms=%ld",
                        m->channel, m->id, x->status, m->successful == 1 ? "true" : m->successful == 0 ? "false" : "",
                        m->subscription ? m->subscription : "", m->error ? m->error : "",
                        m->failure_reason ? m->failure_reason : "",
                        (unsigned)m->advice.reconnect < 4 ? reconnect_names[m->advice.reconnect] : "",
                        m->advice.interval_ms, m->advice.timeout_ms);
        }
        log_msg(LOG_DEBUG, "bayeux_answer", "http_status=%ld messages=%zu events=%zu bytes=%zu",
                x->status, sess->resp.nmsgs, nevents, x->body.len);
}

/*
 * A non-200 answer whose body is a Bayeux array holding an error reply
 * ("403::Unknown client" in an HTTP 400, "401::Authentication invalid" in
 * a 401): @returns 1 with sess->resp filled, so the reply is classified by
 * its error and failureReason rather than by the status alone.
 */
static int session_bayeux_error_body(struct session *sess, struct http_xfer *x)
{
        char err[256];
        size_t i;

        if (!x->body.len || bayeux_response_parse(&sess->resp, x->body.data, x->body.len, err,
                                                  sizeof(err)) == -1)
                return 0;
        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];

                if (m->kind != BAYEUX_EVENT && m->successful != 1 &&
                    ((m->error && strstr(m->error, "::")) ||
                     (m->failure_reason && strstr(m->failure_reason, "::"))))
                        return 1;
        }
        return 0;
}

/* Parse a CometD answer. Returns 1 with sess->resp filled, 0 when a recovery was started. */
static int session_read_response(struct session *sess, int is_connect, int *rc,
                                 char *errstr, size_t errstr_size)
{
        struct http_xfer *x = &sess->cometd;
        char err[256];

        *rc = 0;
        if (sess->resp_ready) {
                /* Back from a batch: the response is parsed, its events are in Kafka. */
                sess->resp_ready = 0;
                return 1;
        }
        sess->events_taken = 0;
        if (!x->curl_code && x->status != 200 && session_bayeux_error_body(sess, x)) {
                /* A Bayeux error wrapped in an HTTP 400/401/403: what it says decides. */
                session_debug_answer(sess, x);
                return 1;
        }
        if (x->curl_code || x->status != 200) {
                log_msg(LOG_DEBUG, "bayeux_answer", "http_status=%ld curl_error=\"%s\"", x->status,
                        x->curl_code ? x->error : "");
                *rc = session_transport_failure(sess, x, is_connect, errstr, errstr_size);
                return 0;
        }
        if (bayeux_response_parse(&sess->resp, x->body.data, x->body.len, err, sizeof(err)) == -1) {
                *rc = session_recover(sess, recovery_local("malformed_response"), err, errstr,
                                      errstr_size);
                return 0;
        }
        session_debug_answer(sess, x);
        return 1;
}

static void session_hold_events(struct session *sess);

/* The severity order when one response holds several answers. */
static int action_rank(enum recovery_action a)
{
        switch (a) {
        case ACT_NONE:
        case ACT_HOLD_BATCH: /* the bridge's own moves: never from an answer */
        case ACT_STOP_ROUTE:
        case ACT_DEAD_LETTER:
        case ACT_LOG:
        case ACT_QUARANTINE:
                return 0;
        case ACT_RETRY: return 1;
        case ACT_INVALID_REPLAY: return 2;
        case ACT_REHANDSHAKE: return 3;
        case ACT_BACKOFF: return 4;
        case ACT_BACKOFF_LONG: return 5;
        case ACT_REAUTH: return 6;
        case ACT_FATAL: return 7;
        }
        return 0;
}

/* Events first (they may arrive beside any reply), then the worst verdict on the meta replies. */
static int session_handle_messages(struct session *sess, enum bayeux_kind expect,
                                   int *expected_ok, char *errstr, size_t errstr_size)
{
        struct recovery_decision worst = { .action = ACT_NONE, .cause = "ok" };
        const char *worst_detail = NULL;
        size_t i, nevents = 0;
        int seen = 0;

        *expected_ok = 0;
        if (!sess->events_taken)
                session_hold_events(sess);
        for (i = 0; i < sess->resp.nmsgs; i++)
                if (sess->resp.msgs[i].kind == BAYEUX_EVENT)
                        nevents++;
        if (nevents && !sess->events_taken) {
                /* Nothing else in this response is acted on before the
                 * bridge's verdict on its events. */
                sess->batch_from = sess->state;
                sess->state = S_BATCH;
                return 2;
        }
        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];
                struct recovery_input in = { 0, 200, m };
                struct recovery_decision dec;

                if (m->kind == BAYEUX_EVENT)
                        continue;
                if (m->kind == expect && expect != BAYEUX_SUBSCRIBE && expect != BAYEUX_UNSUBSCRIBE) {
                        seen = 1;
                        if (m->successful == 1)
                                *expected_ok = 1;
                        if (m->kind == BAYEUX_CONNECT && m->advice.interval_ms >= 0) {
                                long iv = m->advice.interval_ms;

                                /* Salesforce forgets a client ~40 s after an answer:
                                 * a longer interval would lose the session. */
                                if (iv > SESSION_INTERVAL_MAX_MS) {
                                        if (!sess->warned_interval)
                                                log_msg(LOG_WARN, "advice", "interval_ms=%ld used_ms=%ld "
                                                        "err=\"advice.interval clamped below Salesforce's "
                                                        "40 s reconnect window\"", iv,
                                                        SESSION_INTERVAL_MAX_MS);
                                        sess->warned_interval = 1;
                                        iv = SESSION_INTERVAL_MAX_MS;
                                }
                                sess->deadline_ms = now_ms() + iv;
                        }
                        if (m->kind == BAYEUX_CONNECT && m->advice.timeout_ms > 0)
                                sess->advice_timeout_ms = m->advice.timeout_ms;
                        if (m->kind == BAYEUX_CONNECT && m->advice.timeout_ms > 0 &&
                            m->advice.timeout_ms / 1000 >= sess->cfg->sf.stall_timeout_s &&
                            !sess->warned_advice_timeout) {
                                sess->warned_advice_timeout = 1;
                                log_msg(LOG_WARN, "config", "key=salesforce.stall_timeout_s value=%d "
                                        "advice_timeout_ms=%ld err=\"stall_timeout_s should exceed the server's long-poll timeout\"",
                                        sess->cfg->sf.stall_timeout_s, m->advice.timeout_ms);
                        }
                }
                if (m->kind == BAYEUX_SUBSCRIBE || m->kind == BAYEUX_UNSUBSCRIBE)
                        continue;  /* read route by route by the caller */
                dec = recovery_classify(&in);
                if (action_rank(dec.action) > action_rank(worst.action)) {
                        worst = dec;
                        worst_detail = m->failure_reason && m->error ? m->failure_reason
                                       : m->error ? m->error : m->channel;
                }
        }
        if (worst.action != ACT_NONE) {
                if (session_recover(sess, worst, worst_detail, errstr, errstr_size) == -1)
                        return -1;
                return 1;
        }
        if (expect != BAYEUX_SUBSCRIBE && expect != BAYEUX_UNSUBSCRIBE && !seen) {
                if (session_recover(sess, recovery_local("no_reply"),
                                    "the answer holds no reply to our request", errstr,
                                    errstr_size) == -1)
                        return -1;
                return 1;
        }
        return 0;
}

/*
 * The replay ID to subscribe sub from: the committed one (the hooks'
 * replay_from), except after a gap this session handled. The bridge then
 * stores -2 for the route (see bridge_put_gaps: everything Salesforce
 * still retains, which after a handled gap is only what came later), but
 * a re-handshake may come before that commit, or under at_least_once
 * before its ack: as long as the store still holds the ID Salesforce
 * refused, the session asks for -2 itself rather than meet, log and count
 * the same gap again. Any other stored ID (the first event after the gap
 * was committed, or `replay set`) ends it.
 */
static long long session_from(struct session *sess, struct session_sub *sub)
{
        long long id = sess->hooks.replay_from(sess->hooks.ctx, sub->rt);

        if (sub->gap_resume) {
                if (id == sub->gap_resume_after)
                        return REPLAY_ALL;
                sub->gap_resume = 0;
        }
        return id;
}

static int session_handshake_done(struct session *sess, char *errstr, size_t errstr_size)
{
        int rc, ok;
        size_t i;

        if (!session_read_response(sess, 0, &rc, errstr, errstr_size))
                return rc;
        rc = session_handle_messages(sess, BAYEUX_HANDSHAKE, &ok, errstr, errstr_size);
        if (rc)
                return rc < 0 ? -1 : 0;
        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];
                if (m->kind == BAYEUX_HANDSHAKE && m->successful == 1 && m->client_id &&
                    strlen(m->client_id) < sizeof(sess->client_id)) {
                        snprintf(sess->client_id, sizeof(sess->client_id), "%s", m->client_id);
                        if (!m->replay_ext)
                                log_msg(LOG_WARN, "handshake", "err=\"server did not confirm the replay extension\"");
                }
        }
        if (!sess->client_id[0]) {
                return session_recover(sess, recovery_local("bad_handshake"),
                                       "handshake reply without clientId", errstr, errstr_size);
        }
        sess->handshaken = 1;
        metrics_session_opened_inc();
        /* The count is of the sessions that carry events: a probe's is not one. */
        if (!sess->opts.probe)
                metrics_handshake_inc();
        /* A probe's lines have names of their own: a reader waiting for
         * "subscribed" must not take the probe's for the session's. */
        log_msg(LOG_INFO, sess->opts.probe ? "probe_handshake" : "handshake", "client_id=%s",
                sess->client_id);
        for (i = 0; i < sess->nsubs; i++) {
                if (sess->subs[i].quarantined) {
                        sess->subs[i].pending = 0; /* retried alone, when due */
                        continue;
                }
                sess->subs[i].from = session_from(sess, &sess->subs[i]);
                sess->subs[i].pending = 1;
        }
        sess->state = S_SUBSCRIBE;
        return 0;
}

static int session_start_subscribe(struct session *sess, char *errstr, size_t errstr_size)
{
        size_t i, n = 0;
        int written;

        for (i = 0; i < sess->nsubs; i++) {
                sess->subs[i].in_request = 0;
                if (!sess->subs[i].pending)
                        continue;
                sess->batch[n].channel = sess->subs[i].rt->channel;
                sess->batch[n].replay_id = sess->subs[i].from;
                n++;
        }
        if (n == 0 && sess->opts.probe) {
                sess->state = S_PROBED;
                return 0;
        }
        if (n == 0) {
                sess->state = S_CONNECT;
                sess->deadline_ms = 0;
                sess->running = 1;
                publish_readiness(sess);
                return 0;
        }
        written = bayeux_build_subscribes(&sess->req, sess->client_id, sess->batch, n,
                                          BAYEUX_MAX_BODY, &sess->msg_id);
        if (written < 1) {
                snprintf(errstr, errstr_size, "subscribe for %s does not fit in %d bytes",
                         sess->batch[0].channel, BAYEUX_MAX_BODY);
                return -1;
        }
        /* The first `written` pending routes are in this request. */
        for (i = 0; i < sess->nsubs && written > 0; i++) {
                if (!sess->subs[i].pending)
                        continue;
                sess->subs[i].in_request = 1;
                log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/subscribe subscription=%s replay_from=%lld",
                        sess->subs[i].rt->channel, sess->subs[i].from);
                written--;
        }
        return session_post(sess, S_SUBSCRIBE_WAIT, SESSION_REQUEST_TIMEOUT_MS, errstr, errstr_size);
}

static struct session_sub *session_find_sub(struct session *sess, const char *subscription)
{
        size_t i;

        if (!subscription)
                return NULL;
        for (i = 0; i < sess->nsubs; i++)
                if (sess->subs[i].in_request && !strcmp(sess->subs[i].rt->channel, subscription))
                        return &sess->subs[i];
        return NULL;
}

/* RFC 3339 UTC with milliseconds, as the replay records write it. */
static void session_utc_now(char *out, size_t out_size)
{
        struct timespec ts;
        struct tm tm;
        char tmp[128];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)(ts.tv_nsec / 1000000));
        snprintf(out, out_size, "%.*s", (int)(out_size - 1), tmp);
}

/*
 * Salesforce no longer retains the events after sub->from: apply the
 * route's on_invalid_replay, say so (once: see session_from), and leave a
 * gap for the bridge to record with its next batch.
 */
static int session_invalid_replay(struct session *sess, struct session_sub *sub,
                                  struct recovery_decision dec, char *errstr, size_t errstr_size)
{
        const struct config_route *rt = sub->rt;
        enum invalid_replay todo = rt->on_invalid_replay;
        const char *policy = config_invalid_replay_name(todo);
        char why[256];

        /* Replaying everything retained can burn what is left of the org's
         * daily allocation (every event counts again): below 5 % the gap
         * is taken as -1 instead, and said. */
        if (todo == INVALID_REPLAY_ALL && sess->hooks.replay_all_refused &&
            sess->hooks.replay_all_refused(sess->hooks.ctx, rt, why, sizeof(why))) {
                log_msg(LOG_ERROR, "replay_all_refused", "channel=%s err=\"%s\" action=resubscribe_new "
                        "replay_from=-1", rt->channel, why);
                todo = INVALID_REPLAY_NEW;
        }
        log_msg(LOG_ERROR, "replay_gap", "channel=%s lost_after_replay_id=%lld policy=%s "
                "err=\"Salesforce no longer retains the events after this replay ID\" "
                "cause=%s action=invalid_replay", rt->channel, sub->from, policy, dec.cause);
        metrics_recovery_inc(dec.cause, recovery_action_name(dec.action));
        metrics_replay_gaps_inc();
        if (!sub->gap_pending) {
                sub->gap_pending = 1;
                sub->gap.rt = rt;
                sub->gap.lost_after = sub->from;
                sub->gap.resubscribed_from = todo == INVALID_REPLAY_ALL   ? REPLAY_ALL
                                             : todo == INVALID_REPLAY_NEW ? REPLAY_NEW
                                                                          : 0;
                session_utc_now(sub->gap.detected_at, sizeof(sub->gap.detected_at));
        }
        if (todo != INVALID_REPLAY_FAIL) {
                sub->gap_resume = 1;
                sub->gap_resume_after = sub->from;
        }
        switch (todo) {
        case INVALID_REPLAY_ALL:
                sub->from = REPLAY_ALL;
                return 0;
        case INVALID_REPLAY_NEW:
                sub->from = REPLAY_NEW;
                return 0;
        case INVALID_REPLAY_FAIL:
                break;
        }
        snprintf(errstr, errstr_size,
                 "replay ID %lld of %s is no longer retained and on_invalid_replay is fail",
                 sub->from, rt->channel);
        sess->state = S_DEAD;
        return -1;
}

/*
 * Set route sub aside: its events are held back from the bridge (they stay
 * after its committed replay ID, so nothing is lost), an unsubscribe goes
 * out when it is subscribed in the live session, and it is retried alone
 * from its committed replay ID after a capped, jittered backoff.
 */
static void session_quarantine(struct session *sess, struct session_sub *sub, const char *cause,
                               const char *reason, int subscribed, int caller_logged)
{
        long delay = backoff_next_ms(&sub->bo);
        int again = sub->quarantined;

        sub->quarantined = 1;
        sub->retrying = 0;
        sub->pending = 0;
        if (subscribed || sub->in_request) {
                sub->unsub_pending = 1;
                sub->floor_on = 1;
                sub->floor = sess->hooks.replay_from(sess->hooks.ctx, sub->rt);
        }
        sub->retry_at = now_ms() + delay;
        snprintf(sub->why, sizeof(sub->why), "%s", reason && reason[0] ? reason : cause);
        metrics_route_up_set(config_route_label(sub->rt), 0);
        if (caller_logged && !again) {
                log_msg(LOG_INFO, "route_quarantined", "channel=%s retry_in_ms=%ld",
                        sub->rt->channel, delay);
        } else if (again) {
                log_msg(LOG_WARN, "route_retry", "channel=%s cause=%s err=\"%s\" retry_in_ms=%ld",
                        sub->rt->channel, cause, sub->why, delay);
        } else {
                log_msg(LOG_ERROR, "recovery", "cause=%s action=%s channel=%s err=\"%s\" "
                        "retry_in_ms=%ld", cause, recovery_action_name(ACT_QUARANTINE),
                        sub->rt->channel, sub->why, delay);
                metrics_recovery_inc(cause, recovery_action_name(ACT_QUARANTINE));
        }
        publish_readiness(sess);
}

/* A subscribe refused for one channel once the bridge ran: on_route_error. */
static int session_route_error(struct session *sess, struct session_sub *sub,
                               struct recovery_decision dec, const struct bayeux_msg *m,
                               char *errstr, size_t errstr_size)
{
        const char *why = m->failure_reason ? m->failure_reason
                          : m->error ? m->error : "subscribe refused";

        if (sess->cfg->on_route_error == ROUTE_ERROR_FAIL) {
                log_msg(LOG_ERROR, "recovery", "cause=%s action=fatal channel=%s err=\"%s\" "
                        "policy=fail", dec.cause, sub->rt->channel, why);
                metrics_recovery_inc(dec.cause, recovery_action_name(ACT_FATAL));
                snprintf(errstr, errstr_size,
                         "Salesforce refused the subscribe of route %s: %s (%s) and on_route_error is fail",
                         sub->rt->channel, why, dec.cause);
                sess->state = S_DEAD;
                return -1;
        }
        session_quarantine(sess, sub, dec.cause, why, 0, 0);
        return 0;
}

void session_route_quarantine(struct session *sess, size_t route, const char *cause,
                              const char *reason)
{
        struct session_sub *sub;

        if (route >= sess->nsubs || sess->opts.probe)
                return;
        sub = &sess->subs[route];
        if (sub->quarantined)
                return;
        session_quarantine(sess, sub, cause && cause[0] ? cause : "route_error", reason,
                           sess->handshaken && !sub->pending, 1);
}

int session_route_up(const struct session *sess, size_t route)
{
        return route < sess->nsubs && !sess->subs[route].quarantined;
}

/*
 * Between long-polls: a quarantined route's unsubscribe, then (once its
 * queued events drained and its backoff ran out) its retry, alone, from
 * its committed replay ID. @returns 1 when a request went out.
 */
static int session_route_work(struct session *sess, int *rc, char *errstr, size_t errstr_size)
{
        long long now = now_ms();
        size_t i, retries = 0;

        *rc = 0;
        for (i = 0; i < sess->nsubs; i++) {
                struct session_sub *sub = &sess->subs[i];

                if (!sub->unsub_pending)
                        continue;
                if (bayeux_build_unsubscribe(&sess->req, sess->client_id, sub->rt->channel,
                                             &sess->msg_id) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        *rc = -1;
                        return 1;
                }
                sub->in_request = 1;
                log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/unsubscribe subscription=%s",
                        sub->rt->channel);
                *rc = session_post(sess, S_UNSUBSCRIBE_WAIT, SESSION_REQUEST_TIMEOUT_MS, errstr,
                                   errstr_size);
                return 1;
        }
        if (!sess->connect_answered)
                return 0;
        for (i = 0; i < sess->nsubs; i++) {
                struct session_sub *sub = &sess->subs[i];

                if (!sub->quarantined || sub->drain || now < sub->retry_at)
                        continue;
                sub->from = session_from(sess, sub);
                sub->pending = 1;
                sub->retrying = 1;
                retries++;
                log_msg(LOG_INFO, "route_retry", "channel=%s replay_from=%lld", sub->rt->channel,
                        sub->from);
        }
        if (!retries)
                return 0;
        /* Every route due goes in one subscribe request. */
        sess->connect_answered = 0;
        *rc = session_start_subscribe(sess, errstr, errstr_size);
        return 1;
}

static int session_unsubscribe_done(struct session *sess, char *errstr, size_t errstr_size)
{
        int rc, ok;
        size_t i, j;

        if (!session_read_response(sess, 0, &rc, errstr, errstr_size))
                return rc;
        rc = session_handle_messages(sess, BAYEUX_UNSUBSCRIBE, &ok, errstr, errstr_size);
        if (rc)
                return rc < 0 ? -1 : 0;
        for (i = 0; i < sess->nsubs; i++) {
                struct session_sub *sub = &sess->subs[i];
                const char *err = NULL;

                if (!sub->in_request || !sub->unsub_pending)
                        continue;
                for (j = 0; j < sess->resp.nmsgs; j++) {
                        const struct bayeux_msg *m = &sess->resp.msgs[j];

                        if (m->kind == BAYEUX_UNSUBSCRIBE && m->successful != 1)
                                err = m->failure_reason ? m->failure_reason
                                      : m->error ? m->error : "unsubscribe refused";
                }
                sub->in_request = 0;
                sub->unsub_pending = 0;
                sub->drain = 1;
                if (err)
                        log_msg(LOG_WARN, "unsubscribe", "channel=%s err=\"%s\" action=hold_events",
                                sub->rt->channel, err);
                else
                        log_msg(LOG_INFO, "unsubscribe", "channel=%s", sub->rt->channel);
        }
        sess->state = S_CONNECT;
        return 0;
}

/*
 * Events the bridge must not produce, taken out of the response before it
 * sees it: those of a quarantined route, and stale ones of an
 * unsubscribed subscription (at or below the route's floor). Held, not
 * lost: they stay after the committed replay ID, and the route's
 * resubscribe from it brings them again.
 */
static void session_hold_events(struct session *sess)
{
        struct bayeux_response *resp = &sess->resp;
        size_t i, n = 0;
        int any = 0;

        for (i = 0; i < sess->nsubs; i++) {
                sess->subs[i].held = 0;
                any |= sess->subs[i].quarantined || sess->subs[i].floor_on;
        }
        if (!any)
                return;
        for (i = 0; i < resp->nmsgs; i++) {
                const struct bayeux_msg *m = &resp->msgs[i];
                const struct config_route *rt = NULL;
                struct session_sub *sub = NULL;

                if (m->kind == BAYEUX_EVENT && (rt = config_find_route(sess->cfg, m->channel)) &&
                    (size_t)(rt - sess->cfg->routes) < sess->nsubs)
                        sub = &sess->subs[rt - sess->cfg->routes];
                if (sub && (sub->quarantined ||
                            (sub->floor_on && m->problem == BAYEUX_EVENT_OK &&
                             m->replay_id <= sub->floor))) {
                        sub->held++;
                        continue;
                }
                if (n != i)
                        resp->msgs[n] = *m;
                n++;
        }
        resp->nmsgs = n;
        for (i = 0; i < sess->nsubs; i++)
                if (sess->subs[i].held)
                        log_msg(LOG_INFO, "events_held", "channel=%s count=%zu reason=%s",
                                sess->subs[i].rt->channel, sess->subs[i].held,
                                sess->subs[i].quarantined ? "quarantined" : "stale");
}

/* The batch is in Kafka: an unsubscribed-then-resubscribed route never takes an older ID again. */
static void session_raise_floors(struct session *sess)
{
        size_t i, k;

        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];
                const struct config_route *rt;

                if (m->kind != BAYEUX_EVENT || m->problem != BAYEUX_EVENT_OK ||
                    !(rt = config_find_route(sess->cfg, m->channel)))
                        continue;
                k = (size_t)(rt - sess->cfg->routes);
                if (k >= sess->nsubs || sess->subs[k].quarantined)
                        continue;
                if (sess->subs[k].bo_dirty) {
                        backoff_reset(&sess->subs[k].bo);
                        backoff_next_ms(&sess->subs[k].bo); /* never retry at once */
                        sess->subs[k].bo_dirty = 0;
                }
                if (sess->subs[k].floor_on && m->replay_id > sess->subs[k].floor)
                        sess->subs[k].floor = m->replay_id;
        }
}

static int session_subscribe_done(struct session *sess, char *errstr, size_t errstr_size)
{
        int rc, ok;
        size_t i;

        if (!session_read_response(sess, 0, &rc, errstr, errstr_size))
                return rc;
        rc = session_handle_messages(sess, BAYEUX_SUBSCRIBE, &ok, errstr, errstr_size);
        if (rc)
                return rc < 0 ? -1 : 0;
        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];
                struct recovery_input in = { 0, 200, m };
                struct recovery_decision dec;
                struct session_sub *sub;

                if (m->kind != BAYEUX_SUBSCRIBE)
                        continue;
                sub = session_find_sub(sess, m->subscription);
                if (!sub) {
                        log_msg(LOG_WARN, "subscribe", "channel=%s err=\"reply for a channel we did not ask for\"",
                                m->subscription ? m->subscription : "");
                        continue;
                }
                sub->in_request = 0;
                if (sub->quarantined && !sub->retrying) {
                        /* Set aside while its subscribe was out: whatever the
                         * answer, the unsubscribe queued then goes next. */
                        sub->pending = 0;
                        continue;
                }
                if (m->successful == 1) {
                        sub->pending = 0;
                        sub->probe = SESSION_PROBE_OK;
                        if (sub->floor_on)
                                sub->floor = sub->from;
                        metrics_route_up_set(config_route_label(sub->rt), 1);
                        sub->ever_up = 1;
                        if (sub->quarantined) {
                                sub->quarantined = 0;
                                sub->retrying = 0;
                                /* The backoff restarts only once the route moves on:
                                 * an event that stops it again waits longer each time. */
                                sub->bo_dirty = 1;
                                log_msg(LOG_INFO, "route_up", "channel=%s replay_from=%lld "
                                        "err=\"quarantine over: subscribed again\"",
                                        sub->rt->channel, sub->from);
                                publish_readiness(sess);
                                continue;
                        }
                        if (sess->opts.probe)
                                log_msg(LOG_INFO, "probe_subscribe", "result=ok channel=%s replay_from=%lld",
                                        sub->rt->channel, sub->from);
                        else
                                log_msg(LOG_INFO, "subscribed", "channel=%s replay_from=%lld",
                                        sub->rt->channel, sub->from);
                        continue;
                }
                dec = recovery_classify(&in);
                if (sess->opts.probe && (!sess->opts.start_probe || dec.per_route ||
                                         dec.action == ACT_INVALID_REPLAY)) {
                        sub->pending = 0;
                        sub->probe = dec.action == ACT_INVALID_REPLAY ? SESSION_PROBE_REPLAY_GONE
                                     : dec.action == ACT_FATAL        ? SESSION_PROBE_FATAL
                                                                      : SESSION_PROBE_REFUSED;
                        snprintf(sub->probe_why, sizeof(sub->probe_why), "%s",
                                 m->error ? m->error : m->failure_reason ? m->failure_reason
                                                                         : "subscribe refused");
                        continue;
                }
                if (dec.action == ACT_INVALID_REPLAY) {
                        if (session_invalid_replay(sess, sub, dec, errstr, errstr_size) == -1)
                                return -1;
                        continue;  /* still pending: resubscribed in the next request */
                }
                if (dec.per_route && sess->running) {
                        /* One channel refused mid-run: that route alone. */
                        if (session_route_error(sess, sub, dec, m, errstr, errstr_size) == -1)
                                return -1;
                        continue;
                }
                sub->retrying = 0;
                return session_recover(sess, dec, m->error ? m->error : "subscribe failed", errstr,
                                       errstr_size) < 0 ? -1 : 0;
        }
        for (i = 0; i < sess->nsubs; i++) {
                if (sess->subs[i].in_request) {
                        return session_recover(sess, recovery_local("no_reply"),
                                               "subscribe left unanswered", errstr,
                                               errstr_size) < 0 ? -1 : 0;
                }
        }
        sess->state = S_SUBSCRIBE;  /* the next call subscribes what is left, or connects */
        return 0;
}

/* Send the next long-poll and move to wait_state (S_CONNECT_WAIT, or
 * S_COMMIT_WAIT when it goes out while a batch commits). */
static int session_start_connect(struct session *sess, enum sess_state wait_state, char *errstr,
                                 size_t errstr_size)
{
        if (bayeux_build_connect(&sess->req, sess->client_id, &sess->msg_id) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        sess->connect_started_ms = now_ms();
        /* The server holds the poll advice.timeout: a little longer than
         * that and it is not coming; stall_timeout_s stays the cap. */
        sess->poll_timeout_ms = (long)sess->cfg->sf.stall_timeout_s * 1000L;
        if (sess->advice_timeout_ms > 0 &&
            sess->advice_timeout_ms + SESSION_POLL_MARGIN_MS < sess->poll_timeout_ms)
                sess->poll_timeout_ms = sess->advice_timeout_ms + SESSION_POLL_MARGIN_MS;
        log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/connect id=%lu timeout_ms=%ld",
                sess->msg_id, sess->poll_timeout_ms);
        return session_post(sess, wait_state, sess->poll_timeout_ms, errstr, errstr_size);
}

static int session_connect_done(struct session *sess, char *errstr, size_t errstr_size)
{
        int rc, ok;

        if (!sess->resp_ready)
                metrics_connect_observe((double)(now_ms() - sess->connect_started_ms) / 1000.0);
        if (!session_read_response(sess, 1, &rc, errstr, errstr_size))
                return rc;
        sess->deadline_ms = 0;
        sess->connect_answered = 1;
        /* Salesforce answered on this clientId: a failure series is over. */
        sess->fail_since_ms = 0;
        backoff_reset(&sess->connect_bo);
        rc = session_handle_messages(sess, BAYEUX_CONNECT, &ok, errstr, errstr_size);
        if (rc)
                return rc < 0 ? -1 : 0;
        if (sess->stalled) {
                sess->stalled = 0;
                publish_readiness(sess);
        }
        for (size_t i = 0; i < sess->nsubs; i++)
                sess->subs[i].drain = 0; /* what the old subscription had queued came with this answer */
        /* The first connect after a handshake is answered at once, with
         * the advice: it proves nothing, and a session that flaps right
         * after it must back off. A held connect (any later one) or one
         * that delivered events shows the session works. */
        if (++sess->connects_ok > 1 || sess->events_taken) {
                backoff_reset(&sess->bo);
                backoff_reset(&sess->limit_bo);
                backoff_next_ms(&sess->limit_bo);
                metrics_unit_backoff_set(sess->opts.metrics_slot, 0);
        }
        /* A rare huge batch leaves no huge buffers behind. */
        bayeux_response_trim(&sess->resp);
        if (!sess->cometd.busy)
                buf_trim(&sess->cometd.body, BAYEUX_KEEP_BYTES);
        /* A connect sent while the batch committed is already waiting. */
        sess->state = sess->connect_out ? S_CONNECT_WAIT : S_CONNECT;
        sess->connect_out = 0;
        return 0;
}

/*
 * Has x finished? Consumes the "done" mark. A wait state with nothing in
 * flight would wait forever, silently: that cannot happen by construction,
 * and if it ever does the session is rebuilt and says so.
 */
static int session_xfer_done(struct session *sess, struct http_xfer *x)
{
        if (x->done) {
                x->done = 0;
                return 1;
        }
        if (!x->busy) {
                log_msg(LOG_ERROR, "invariant", "state=%s err=\"waiting with no request in flight\" "
                        "action=rebuild", state_names[sess->state]);
                session_rebuild(sess, "no_request_in_flight");
        }
        return 0;
}

const struct bayeux_response *session_batch(const struct session *sess)
{
        return sess->state == S_BATCH ? &sess->resp : NULL;
}

/* Would the replies of the held response, read now, ask only for the next long-poll? */
static int session_batch_connect_only(const struct session *sess)
{
        size_t i;
        int ok = 0;

        for (i = 0; i < sess->resp.nmsgs; i++) {
                const struct bayeux_msg *m = &sess->resp.msgs[i];
                struct recovery_input in = { 0, 200, m };
                struct recovery_decision dec;

                if (m->kind == BAYEUX_EVENT)
                        continue;
                if (m->kind != BAYEUX_CONNECT)
                        return 0;
                dec = recovery_classify(&in);
                if (dec.action != ACT_NONE || m->successful != 1 || m->advice.interval_ms > 0)
                        return 0;
                ok = 1;
        }
        return ok;
}

void session_batch_produced(struct session *sess)
{
        char err[256];

        if (sess->state != S_BATCH)
                return;
        sess->state = S_COMMIT_WAIT;
        /* Salesforce holds one long-poll per client and answers it at once
         * while events are queued: the next batch travels while this one
         * commits. Its events go to Kafka only after this verdict. */
        if (sess->batch_from == S_CONNECT_WAIT && !sess->paused && !sess->deferred_rebuild &&
            session_batch_connect_only(sess) &&
            session_start_connect(sess, S_COMMIT_WAIT, err, sizeof(err)) == 0) {
                sess->connect_out = 1;
                http_perform(sess->http); /* on the wire before the commit blocks */
        }
}

void session_batch_done(struct session *sess, enum session_verdict verdict, const char *cause)
{
        const char *deferred = sess->deferred_rebuild;

        if (sess->state != S_BATCH && sess->state != S_COMMIT_WAIT)
                return;
        sess->deferred_rebuild = NULL;
        if (verdict == SESSION_BATCH_REBUILD || deferred) {
                sess->connect_out = 0;
                sess->state = sess->batch_from; /* so the rebuild logs where it was */
                session_rebuild(sess, verdict == SESSION_BATCH_REBUILD ? cause : deferred);
                return;
        }
        session_raise_floors(sess);
        sess->events_taken = 1;
        sess->resp_ready = 1;
        sess->state = sess->batch_from;
}

void session_set_paused(struct session *sess, int paused)
{
        sess->paused = paused;
}

int session_take_gap(struct session *sess, struct session_gap *gap)
{
        size_t i;

        for (i = 0; i < sess->nsubs; i++) {
                if (sess->subs[i].gap_pending) {
                        sess->subs[i].gap_pending = 0;
                        *gap = sess->subs[i].gap;
                        return 1;
                }
        }
        return 0;
}

int session_probed(const struct session *sess)
{
        return sess->state == S_PROBED;
}

void session_restart(struct session *sess, int probe)
{
        size_t i;

        session_cancel(sess);
        sess->opts.probe = probe;
        for (i = 0; i < sess->nsubs; i++) {
                sess->subs[i].probe = SESSION_PROBE_NONE;
                sess->subs[i].probe_why[0] = '\0';
                /* The probe's subscribes carried no events: no route is up yet. */
                sess->subs[i].ever_up = 0;
                metrics_route_up_set(config_route_label(sess->subs[i].rt), 0);
        }
        session_drop_bayeux(sess);
        /* The probe's session ended with a /meta/disconnect: the run's
         * handshake is no loop, it need not keep the 1 s gap. */
        sess->last_handshake_ms = 0;
        sess->state = sess->auth_header ? S_HANDSHAKE : S_LOGIN;
}

enum session_probe session_probe_route(const struct session *sess, size_t i, long long *from,
                                       const char **why)
{
        if (i >= sess->nsubs)
                return SESSION_PROBE_NONE;
        *from = sess->subs[i].from;
        *why = sess->subs[i].probe_why;
        return sess->subs[i].probe;
}

const struct auth_token *session_token(const struct session *sess)
{
        return sess->auth_header ? &sess->tok : NULL;
}

const char *session_cometd_url(const struct session *sess)
{
        return sess->cometd_url;
}

int session_has_gap(const struct session *sess)
{
        size_t i;

        for (i = 0; i < sess->nsubs; i++)
                if (sess->subs[i].gap_pending)
                        return 1;
        return 0;
}

void session_return_gap(struct session *sess, const struct session_gap *gap)
{
        size_t i;

        for (i = 0; i < sess->nsubs; i++) {
                if (sess->subs[i].rt == gap->rt && !sess->subs[i].gap_pending) {
                        sess->subs[i].gap_pending = 1;
                        sess->subs[i].gap = *gap;
                }
        }
}

int session_step(struct session *sess, char *errstr, size_t errstr_size)
{
        /* Each pass moves one state; loop while progress is made so a
         * chain of instant moves (backoff 0 -> handshake) needs no extra poll. */
        for (;;) {
                enum sess_state before = sess->state;
                int rc = 0;

                switch (sess->state) {
                case S_LOGIN:
                        rc = session_start_login(sess, errstr, errstr_size);
                        break;
                case S_LOGIN_WAIT:
                        if (session_xfer_done(sess, &sess->oauth))
                                rc = session_login_done(sess, errstr, errstr_size);
                        break;
                case S_HANDSHAKE:
                        rc = session_start_handshake(sess, errstr, errstr_size);
                        break;
                case S_HANDSHAKE_WAIT:
                        if (sess->resp_ready || session_xfer_done(sess, &sess->cometd))
                                rc = session_handshake_done(sess, errstr, errstr_size);
                        break;
                case S_SUBSCRIBE:
                        rc = session_start_subscribe(sess, errstr, errstr_size);
                        break;
                case S_SUBSCRIBE_WAIT:
                        if (sess->resp_ready || session_xfer_done(sess, &sess->cometd))
                                rc = session_subscribe_done(sess, errstr, errstr_size);
                        break;
                case S_CONNECT:
                        if (session_route_work(sess, &rc, errstr, errstr_size))
                                break;
                        if (now_ms() >= sess->deadline_ms && !sess->paused)
                                rc = session_start_connect(sess, S_CONNECT_WAIT, errstr, errstr_size);
                        break;
                case S_UNSUBSCRIBE_WAIT:
                        if (sess->resp_ready || session_xfer_done(sess, &sess->cometd))
                                rc = session_unsubscribe_done(sess, errstr, errstr_size);
                        break;
                case S_CONNECT_WAIT:
                        if (sess->resp_ready || session_xfer_done(sess, &sess->cometd))
                                rc = session_connect_done(sess, errstr, errstr_size);
                        break;
                case S_PROBED:
                case S_BATCH:
                case S_COMMIT_WAIT:
                        return 0; /* the bridge's move: session_batch_produced/_done */
                case S_BACKOFF:
                        session_bye_done(sess);
                        if (now_ms() >= sess->deadline_ms)
                                sess->state = sess->state_after;
                        break;
                case S_DEAD:
                        if (!errstr[0])
                                snprintf(errstr, errstr_size, "session stopped");
                        return -1;
                }
                if (rc == -1) {
                        sess->state = S_DEAD;
                        return -1;
                }
                if (sess->state == before)
                        return 0;
        }
}

int session_timeout_ms(const struct session *sess, int cap_ms)
{
        long long left;

        if (sess->state != S_BACKOFF && sess->state != S_CONNECT)
                return cap_ms;
        left = sess->deadline_ms - now_ms();
        if (sess->state == S_CONNECT) {
                /* A quarantined route's retry goes between long-polls. */
                for (size_t i = 0; i < sess->nsubs; i++)
                        if (sess->subs[i].quarantined && !sess->subs[i].drain &&
                            sess->subs[i].retry_at - now_ms() < left)
                                left = sess->subs[i].retry_at - now_ms();
        }
        if (left < 0)
                left = 0;
        return left < cap_ms ? (int)left : cap_ms;
}

void session_cancel(struct session *sess)
{
        http_xfer_cancel(&sess->cometd);
        sess->bye_out = 0;
        http_xfer_cancel(&sess->oauth);
}

void session_disconnect(struct session *sess, long timeout_ms)
{
        char err[256];

        session_cancel(sess);
        if (!sess->handshaken || !sess->client_id[0])
                return;
        log_msg(LOG_DEBUG, "bayeux_send", "channel=/meta/disconnect");
        if (bayeux_build_disconnect(&sess->req, sess->client_id, &sess->msg_id) == 0 &&
            http_xfer_run(&sess->cometd, sess->cometd_url, "application/json", sess->auth_header,
                          sess->req.data, sess->req.len, timeout_ms, err, sizeof(err)) == 0)
                log_msg(LOG_INFO, sess->opts.probe ? "probe_disconnect" : "disconnect",
                        "client_id=%s status=%ld", sess->client_id, sess->cometd.status);
        else
                log_msg(LOG_WARN, sess->opts.probe ? "probe_disconnect" : "disconnect",
                        "client_id=%s err=\"%s\"", sess->client_id,
                        sess->cometd.error[0] ? sess->cometd.error : "could not send /meta/disconnect");
        sess->handshaken = 0;
        sess->client_id[0] = '\0';
}
