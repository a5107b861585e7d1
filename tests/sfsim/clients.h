/*
 * Bayeux clients: the table of clientIds issued by /meta/handshake, each with
 * its BAYEUX_BROWSER cookie, its subscriptions (channel + delivery cursor),
 * its long-poll state and its expiry (forgotten when it does not come back
 * within the configured time after a response).
 *
 * Locking: every function here runs with the sim lock held (sim.h). A client
 * is reference counted so that a long-poll blocked on it survives its
 * removal from the table (forget-clients, expiry, /meta/disconnect).
 */
#ifndef SFSIM_CLIENTS_H
#define SFSIM_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "sbuf.h"

#define CLIENTS_MAX 10000        /* hard cap on live clients */
#define CLIENT_MAX_SUBS 1000     /* subscriptions per client */
#define CLIENT_ID_LEN 26
#define CLIENT_LB_MAX 64         /* a load-balancer cookie value, with its NUL */
#define CLIENTS_KEPT 256         /* removed clients still listed by GET /admin/clients */

struct clients;
struct client;
struct channel;
struct cJSON;

/** Why a client left the table (GET /admin/clients: "state"). */
enum client_end {
        CLIENT_LIVE,                /* still in the table */
        CLIENT_DISCONNECTED,        /* it sent /meta/disconnect */
        CLIENT_EXPIRED,             /* silent longer than the expiry (--client-expiry-ms) */
        CLIENT_FORGOTTEN,           /* forget-clients, forget-after-first-connect, the org moved */
        CLIENT_REVOKED,             /* its token was revoked: the session died with it */
        CLIENT_SERVER_DISCONNECTED, /* the disconnect fault pushed /meta/disconnect to it */
};

/**
 * @param expiry_ms    a client that sends nothing this long after its last
 *                     response is forgotten.
 * @param max_clients  live clients allowed (0: CLIENTS_MAX).
 * @returns a new table, free with clients_destroy(), or NULL (out of memory).
 */
struct clients *clients_new(long expiry_ms, size_t max_clients);

/** @brief Free the table and every client, referenced or not. Accepts NULL. */
void clients_destroy(struct clients *clients);

/**
 * @brief Create a client with a fresh clientId and BAYEUX_BROWSER value.
 * @returns the client holding one reference for the caller (release with
 *          clients_put_locked()), or NULL when the table is full or out of
 *          memory (*full says which).
 */
struct client *clients_add_locked(struct clients *clients, int64_t now_ms, int *full);

/**
 * @brief Look a client up by clientId, forgetting it first if it expired.
 * @returns the client with one more reference, or NULL (unknown).
 */
struct client *clients_get_locked(struct clients *clients, const char *id, int64_t now_ms);

/** @brief Release a reference; frees a removed client on its last one. Accepts NULL. */
void clients_put_locked(struct clients *clients, struct client *cl);

/**
 * @brief Remove a client from the table (its subscriptions end now). It
 *        stays listed by clients_json_locked(), with @p why, among the last
 *        CLIENTS_KEPT removed ones.
 */
void clients_remove_locked(struct clients *clients, struct client *cl, enum client_end why);

/** @brief Remove every client. @returns how many. */
size_t clients_forget_all_locked(struct clients *clients);

/** @brief Mark every client for a server-sent /meta/disconnect. @returns how many. */
size_t clients_disconnect_all_locked(struct clients *clients);

/** @returns the number of live clients, after forgetting expired ones. */
size_t clients_count_locked(struct clients *clients, int64_t now_ms);

/** @returns the most clients that were ever live at once. */
size_t clients_peak_locked(const struct clients *clients);

/** @returns the clientId (NUL-terminated, CLIENT_ID_LEN chars). */
const char *client_id(const struct client *cl);

/** @returns 1 when @p cookie is this client's BAYEUX_BROWSER value. */
int client_cookie_ok(const struct client *cl, const char *cookie);

/** @returns the client's BAYEUX_BROWSER value (secret-free, random). */
const char *client_browser(const struct client *cl);

/**
 * @brief Bind the client to the load-balancer cookie @p value it
 *        handshook with (copied; truncated past CLIENT_LB_MAX - 1).
 */
void client_set_lb(struct client *cl, const char *value);

/**
 * @returns 1 when @p cookie is the load-balancer cookie the client
 *          handshook with: the request reached the app server that knows it.
 */
int client_lb_ok(const struct client *cl, const char *cookie);

/** @returns 1 once the client was removed from the table. */
int client_is_gone(const struct client *cl);

/** @returns 1 when the server must push /meta/disconnect to this client. */
int client_disconnect_pending(const struct client *cl);

/** @brief Forget this client right after its first /meta/connect answers
 *         (fault forget-after-first-connect: a session that flaps). */
void client_doom_locked(struct client *cl);

/** @returns 1 when client_doom_locked() marked this client. */
int client_doomed(const struct client *cl);

/** @returns 1 once a /meta/connect of this client was answered. */
int client_connected(const struct client *cl);

/** @brief Restart the expiry clock (handshake, subscribe, any response). */
void client_touch_locked(struct client *cl, int64_t now_ms);

/**
 * @brief Subscribe to @p ch with delivery starting after @p cursor, or move
 *        the cursor of an existing subscription.
 * @returns 1 (new subscription), 0 (replaced), -1 (CLIENT_MAX_SUBS reached
 *          or out of memory).
 */
int client_subscribe_locked(struct client *cl, struct channel *ch, uint64_t cursor);

/** @returns 1 when unsubscribed, 0 when not subscribed. */
int client_unsubscribe_locked(struct client *cl, struct channel *ch);

/** @brief Every subscription starts over at the oldest retained event (fault redeliver). */
void client_rewind_locked(struct client *cl);

/** @returns 1 when any subscribed channel holds events after the cursor. */
int client_has_pending_locked(const struct client *cl);

/**
 * @brief Append pending events (each followed by ',') to @p out, at most
 *        @p max_events and about @p max_bytes, in replay order per channel;
 *        channels take turns from one response to the next. Each event is
 *        counted in @p limits, and none goes past a spent allocation.
 * @returns the number of events appended; cursors advance past them.
 */
size_t client_collect_locked(struct client *cl, size_t max_events, size_t max_bytes,
                             struct limits *limits, struct sbuf *out);

/** @returns 1 when the allocation of a channel the client subscribes to is spent. */
int client_limit_spent_locked(const struct client *cl, const struct limits *limits);

/**
 * @brief A /meta/connect starts; a connect already held for this client is
 *        superseded (answered at once, as CometD does).
 * @returns the poll's sequence number for client_poll_superseded().
 */
unsigned client_poll_begin_locked(struct client *cl);

/** @returns 1 when a newer /meta/connect arrived after poll @p seq. */
int client_poll_superseded(const struct client *cl, unsigned seq);

/** @brief A /meta/connect ends; @p answered marks the client connected. */
void client_poll_end_locked(struct client *cl, int answered, int64_t now_ms);

/** @brief Remember the remote port the client handshook from. */
void client_set_peer_port(struct client *cl, int port);

/**
 * @brief Count a /meta/connect naming clientId @p id (NULL: none), live or
 *        removed (still listed), answered or refused: a test can tell that a
 *        frozen replica sent none after it resumed.
 */
void clients_note_connect_locked(struct clients *clients, const char *id);

/** @brief store_pollers_tally_locked() each channel of each client with a /meta/connect in progress. */
void clients_tally_pollers_locked(const struct clients *clients);

/**
 * @brief Append one object per client, live or among the last CLIENTS_KEPT
 *        removed, oldest first, to the JSON array @p arr (GET /admin/clients;
 *        members in README's sfsim section). Expired clients are swept first.
 * @returns 0, or -1 (out of memory).
 */
int clients_json_locked(struct clients *clients, struct cJSON *arr, int64_t now_ms);

#endif
