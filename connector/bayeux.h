/*
 * The CometD/Bayeux codec: builds request bodies and parses response arrays
 * into typed messages. No I/O. Salesforce specifics that live here: the
 * replay extension on subscribe, ext.sfdc.failureReason, the 32,768-byte
 * request body limit.
 */
#ifndef SFB_BAYEUX_H
#define SFB_BAYEUX_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "buf.h"

#define BAYEUX_MAX_BODY 32768  /* Salesforce rejects larger POST bodies with 413 */

enum bayeux_kind {
        BAYEUX_HANDSHAKE,
        BAYEUX_CONNECT,
        BAYEUX_SUBSCRIBE,
        BAYEUX_UNSUBSCRIBE,
        BAYEUX_DISCONNECT,
        BAYEUX_OTHER_META,
        BAYEUX_EVENT     /* not a /meta/ channel: a delivered event */
};

enum bayeux_reconnect {
        BAYEUX_RECONNECT_UNSET,
        BAYEUX_RECONNECT_RETRY,
        BAYEUX_RECONNECT_HANDSHAKE,
        BAYEUX_RECONNECT_NONE
};

struct bayeux_advice {
        enum bayeux_reconnect reconnect;  /* UNSET when absent or not one of the three */
        long interval_ms;  /* -1 when absent, negative or not a number; <= BAYEUX_ADVICE_MAX_MS */
        long timeout_ms;   /* -1 when absent, negative or not a number; <= BAYEUX_ADVICE_MAX_MS */
};

#define BAYEUX_ADVICE_MAX_MS 86400000L  /* larger advice values are clamped to one day */

/* One element of a response. Every pointer points into the parsed tree. */
struct bayeux_msg {
        enum bayeux_kind kind;
        const cJSON *json;          /* the element itself */
        const char *channel;        /* never NULL: "" when the server left it out, as
                                     * Salesforce does on some `403::Unknown client` replies */
        long long id;               /* "id" as a number ("7" or 7), -1 when absent or not decimal */
        int successful;             /* 1, 0, or -1 when absent (events) or not a boolean */
        const char *error;          /* "401::Authentication invalid", or NULL */
        const char *failure_reason; /* ext.sfdc.failureReason, or NULL */
        const char *client_id;      /* or NULL */
        const char *subscription;   /* or NULL */
        int replay_ext;             /* handshake reply: ext.replay == true */
        struct bayeux_advice advice;
};

/* A parsed response. Reused across requests: the msgs array keeps its
 * capacity so steady-state parsing allocates only cJSON's own nodes.
 * Start from a zeroed struct (`struct bayeux_response resp = { 0 };`). */
struct bayeux_response {
        cJSON *root;
        struct bayeux_msg *msgs;
        size_t nmsgs;
        size_t cap;
};

/**
 * @brief Parse a response body (a JSON array, or a single object as CometD
 *        allows) into resp, replacing what it held.
 * @returns 0, or -1 with errstr naming what is wrong and where (not JSON at
 *          offset N, not an array of objects, element N has no channel).
 * @remark every pointer in resp->msgs points into resp->root, valid until the
 *         next parse or bayeux_response_free(). resp owns root and msgs. On
 *         failure resp holds no messages (root NULL, nmsgs 0) and keeps its
 *         msgs capacity. An element without a channel is accepted when it
 *         carries "successful" (a meta reply, kind BAYEUX_OTHER_META, channel
 *         ""); an empty array gives nmsgs 0.
 */
int bayeux_response_parse(struct bayeux_response *resp, const char *body, size_t len,
                          char *errstr, size_t errstr_size);

/** @brief Free the tree and the array; resp may be parsed into again. */
void bayeux_response_free(struct bayeux_response *resp);

/* Request builders: each writes one complete JSON array into out (reset
 * first) and returns 0, or -1 when out's ceiling is reached or memory runs
 * out (out is then empty and *id unchanged). *id is the message id counter:
 * each message takes ++*id, written as a decimal string ("1", "2", ...).
 * Strings (client ID, channels) are JSON-escaped; the caller keeps them.
 *
 *   handshake:   [{"channel":"/meta/handshake","supportedConnectionTypes":["long-polling"],
 *                  "version":"1.0","minimumVersion":"1.0","id":"1","ext":{"replay":true}}]
 *   connect:     [{"channel":"/meta/connect","connectionType":"long-polling",
 *                  "clientId":"…","id":"3"}]
 *   unsubscribe: [{"channel":"/meta/unsubscribe","subscription":"…","clientId":"…","id":"4"}]
 *   disconnect:  [{"channel":"/meta/disconnect","clientId":"…","id":"5"}]
 */
int bayeux_build_handshake(struct buf *out, unsigned long *id);
int bayeux_build_connect(struct buf *out, const char *client_id, unsigned long *id);
int bayeux_build_unsubscribe(struct buf *out, const char *client_id, const char *channel,
                             unsigned long *id);
int bayeux_build_disconnect(struct buf *out, const char *client_id, unsigned long *id);

struct bayeux_sub {
        const char *channel;    /* may carry a ?filter; the replay map key omits it */
        long long replay_id;    /* -1 new, -2 all, else resume after it */
};

/**
 * @brief Write as many subscribe messages from subs[0..n), in order, as fit
 *        in one body of at most @p limit bytes (and out's ceiling):
 *        [{"channel":"/meta/subscribe","clientId":"…","subscription":"/topic/X?f=1",
 *          "id":"2","ext":{"replay":{"/topic/X":-1}}}, …]
 *        The subscription is the full channel; the replay map key is the base
 *        channel (no ?filter), as EMP-Connector and Salesforce key it.
 * @returns how many were written (>= 1; send the rest in the next body), 0
 *          when n is 0 (out holds "[]"), or -1 when not even the first fits
 *          (out empty, *id unchanged).
 */
int bayeux_build_subscribes(struct buf *out, const char *client_id,
                            const struct bayeux_sub *subs, size_t n, size_t limit,
                            unsigned long *id);

/**
 * @returns out, holding the channel without its "?filter" part; NULL if it
 *          does not fit in out_size.
 */
const char *bayeux_base_channel(const char *channel, char *out, size_t out_size);

#endif
