/*
 * The CometD/Bayeux codec: builds request bodies and parses response arrays
 * into typed messages, events included (the fields the bridge routes on,
 * and spans of the JSON text it forwards). No I/O. Salesforce specifics that live here: the
 * replay extension on subscribe, ext.sfdc.failureReason, the 32,768-byte
 * request body limit.
 */
#ifndef SFB_BAYEUX_H
#define SFB_BAYEUX_H

#include <stddef.h>
#include "buf.h"
#include "json.h"

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

/* Raw JSON text of one value, exactly as Salesforce sent it. */
struct bayeux_value {
        const char *p;
        size_t len;
        int blanks;  /* holds whitespace outside strings: json_compact() it before forwarding */
};

/* Why an event cannot be forwarded (BAYEUX_EVENT_OK when it can). */
enum bayeux_event_problem {
        BAYEUX_EVENT_OK,
        BAYEUX_EVENT_NO_DATA,          /* no "data" object */
        BAYEUX_EVENT_NO_EVENT,         /* no "data.event" object */
        BAYEUX_EVENT_NO_REPLAY_ID,     /* no "data.event.replayId" */
        BAYEUX_EVENT_BAD_REPLAY_ID     /* replayId is not an integer in [0, 2^63) */
};

/*
 * One element of a response. Strings are decoded, NUL-terminated copies in
 * the response's arena; values (message, data, payload) point into the body
 * that was parsed.
 */
struct bayeux_msg {
        enum bayeux_kind kind;
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

        /* Events (kind BAYEUX_EVENT) only. */
        struct bayeux_value message; /* the whole element */
        struct bayeux_value data;    /* "data" (len 0 when absent) */
        struct bayeux_value payload; /* data.payload (an object, or a string for /u/
                                      * channels), else data.sobject; len 0 when neither */
        enum bayeux_event_problem problem;
        long long replay_id;         /* data.event.replayId, exact; valid when problem is OK */
        struct json_span replay_raw; /* replayId's text as sent, for error messages */
        const char *event_time;      /* data.event.createdDate, else ChangeEventHeader.
                                      * commitTimestamp (epoch ms rendered RFC 3339), else
                                      * payload.CreatedDate; or NULL */
        const char *event_uuid;      /* data.event.EventUuid, or NULL */
        const char *record_id;       /* ChangeEventHeader.recordIds[0], else sobject.Id, else
                                      * payload.Id; or NULL */
        const char *entity;          /* ChangeEventHeader.entityName, or NULL */
        const char *change_type;     /* ChangeEventHeader.changeType, or NULL */
};

/* A parsed response. Reused across requests: the msgs array and the string
 * arena keep their capacity (up to BAYEUX_KEEP_BYTES), so steady-state
 * parsing allocates nothing. Start from a zeroed struct
 * (`struct bayeux_response resp = { 0 };`). */
struct bayeux_response {
        struct bayeux_msg *msgs;
        size_t nmsgs;
        size_t cap;
        char *arena;                /* decoded strings */
        size_t arena_len;
        size_t arena_cap;
};

/* Scratch larger than this is given back after each response. */
#define BAYEUX_KEEP_BYTES (1u << 20)

/**
 * @brief Parse a response body (a JSON array, or a single object as CometD
 *        allows) into resp, replacing what it held. One pass, no
 *        allocation once warm, nothing rewritten.
 * @returns 0, or -1 with errstr naming what is wrong and where (not JSON at
 *          offset N, not an array of objects, element N has no channel).
 * @remark the strings in resp->msgs live in resp's arena, the values point
 *         into @p body: both are valid until the next parse or
 *         bayeux_response_free(), and body must not change meanwhile. On
 *         failure resp holds no messages. An element without a channel is
 *         accepted when it carries "successful" (a meta reply, kind
 *         BAYEUX_OTHER_META, channel ""); an empty array gives nmsgs 0. An
 *         event that cannot be forwarded is still a message, with
 *         msg->problem saying why: the caller decides, nothing is dropped here.
 */
int bayeux_response_parse(struct bayeux_response *resp, const char *body, size_t len,
                          char *errstr, size_t errstr_size);

/** @brief Give back scratch above BAYEUX_KEEP_BYTES (then resp holds no messages) and return the freed pages to the system. Call when done with a response. */
void bayeux_response_trim(struct bayeux_response *resp);

/** @brief Free the array and the arena; resp may be parsed into again. */
void bayeux_response_free(struct bayeux_response *resp);

/** @brief Say why msg (kind BAYEUX_EVENT) cannot be forwarded: "event on /topic/X: data.event.replayId \"abc\" is not …". */
void bayeux_event_problem_text(const struct bayeux_msg *msg, char *errstr, size_t errstr_size);

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
