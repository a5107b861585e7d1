/*
 * One Salesforce streaming session, as a state machine driven by the run
 * loop: OAuth login, handshake, subscribe every route from its replay ID,
 * long-poll /meta/connect, and the recovery the "Staying alive" table asks
 * for (re-login, re-handshake, backoff, stall watchdog). Events are handed to
 * the bridge through hooks; the session never talks to Kafka.
 */
#ifndef SFB_SESSION_H
#define SFB_SESSION_H

#include "bayeux.h"
#include "config.h"
#include "http.h"

struct session;

enum session_verdict {
        SESSION_BATCH_OK,       /* events taken (committed or held by the bridge) */
        SESSION_BATCH_REBUILD,  /* not taken: re-handshake and resubscribe from the committed IDs */
        SESSION_BATCH_FATAL     /* the bridge must stop */
};

struct session_hooks {
        void *ctx;
        /** A response holding @p nevents events arrived; resp->msgs has them (kind BAYEUX_EVENT). */
        enum session_verdict (*on_events)(void *ctx, const struct bayeux_response *resp,
                                          size_t nevents);
        /** May the next /meta/connect go out? (no batch awaiting Kafka, in-flight under the limit) */
        int (*may_connect)(void *ctx);
        /** The replay ID to subscribe rt from: the committed one, else rt->start. */
        long long (*replay_from)(void *ctx, const struct config_route *rt);
        /**
         * Salesforce no longer retains the events after @p lost_from on rt's
         * channel: apply the route's on_invalid_replay. Set *resubscribe_from
         * to -1 or -2 and return 0, or return -1 to stop (policy fail).
         */
        int (*on_invalid_replay)(void *ctx, const struct config_route *rt, long long lost_from,
                                 long long *resubscribe_from);
};

struct session_opts {
        long backoff_base_ms;       /* transport/5xx/auth retries: first at once, then this doubling */
        long backoff_cap_ms;        /* 60000 */
        long limit_backoff_base_ms; /* too busy, org limits: minutes in production */
        long limit_backoff_cap_ms;
};

/** @returns a new session, free with session_destroy(). @remark cfg, http and hooks are borrowed. */
struct session *session_new(const struct config *cfg, struct http *http,
                            const struct session_opts *opts, const struct session_hooks *hooks,
                            char *errstr, size_t errstr_size);
void session_destroy(struct session *sess);

/**
 * @brief Advance: start whatever request is due, handle finished ones.
 *        Call after every http_poll() and whenever a hook's answer may have
 *        changed (a held batch committed).
 * @returns 0, or -1 when the session cannot go on (errstr says why; exit 3).
 */
int session_step(struct session *sess, char *errstr, size_t errstr_size);

/** @returns ms until the session next needs session_step() without network activity (backoff end, connect interval), capped at cap_ms. */
int session_timeout_ms(const struct session *sess, int cap_ms);

/** @brief Abandon the long-poll and rebuild the session from the committed IDs (cause is logged and counted). */
void session_rebuild(struct session *sess, const char *cause);

/** @brief Abandon the request in flight, if any (first step of a graceful stop). */
void session_cancel(struct session *sess);

/** @brief Stop: cancel the request in flight and send /meta/disconnect (bounded wait). */
void session_disconnect(struct session *sess, long timeout_ms);

/** @returns 1 while a Bayeux session is established with valid credentials. */
int session_handshaken(const struct session *sess);

#endif
