/*
 * The lasting faults an admin can inject, each armed for the next N matching
 * requests or until `clear`. The one-shot actions (revoke-tokens,
 * forget-clients, disconnect) act at once and are not kept here.
 *
 * Locking: every function runs with the sim lock held.
 */
#ifndef SFSIM_FAULT_H
#define SFSIM_FAULT_H

enum fault_kind {
        FAULT_TOO_BUSY,          /* handshakes and connects: 503::Server is too busy */
        FAULT_CONCURRENT_LIMIT,  /* handshakes: 403::Organization concurrent user limit exceeded */
        FAULT_STALL,             /* connects held unanswered until clear */
        FAULT_CLOSE_MID_POLL,    /* connects: the TCP connection is closed */
        FAULT_HTTP_503,          /* CometD requests: HTTP 503 */
        FAULT_MALFORMED,         /* connect replies: invalid JSON */
        FAULT_RESTRICTED_CHANNEL, /* subscribes of one channel (channel=): 403::Restricted channel */
        FAULT_SUBSCRIBE_DENIED,  /* subscribes of one channel (channel=): the 403 of a missing permission */
        FAULT_DAILY_LIMIT,       /* connects: 403::Organization total events daily limit exceeded */
        FAULT_SERVER_LIMIT,      /* handshakes: 403::Handshake denied, per-server connection limit */
        FAULT_REDELIVER,         /* connects: the client's subscriptions start over at the oldest
                                  * retained event, as if -2 (Salesforce sending again what it sent) */
        FAULT_FORGET_AFTER_FIRST_CONNECT, /* handshakes: the client is forgotten once its
                                           * first /meta/connect answered (a flapping session) */
        FAULT_CONNECT_UNKNOWN_CHANNEL, /* connects: successful false, 404::Unknown channel (words
                                        * that are fatal on a subscribe reply; a bridge must not
                                        * stop on them here) */
        FAULT_COUNT
};

struct faults {
        struct {
                int armed;
                long left;  /* requests still to hit; -1: until clear */
        } f[FAULT_COUNT];
        unsigned clear_gen;  /* bumped by faults_clear(): releases stalls */
        char channel[160];   /* FAULT_RESTRICTED_CHANNEL: the base channel refused */
        char denied[160];    /* FAULT_SUBSCRIBE_DENIED: the base channel refused */
        /* How the errors of a forgotten or revoked client are worded, set
         * by forget-clients, disconnect and revoke-tokens (&advice=,
         * &status=) and kept until clear. */
        const char *unknown_advice;   /* 403::Unknown client: "handshake" (default), "none",
                                       * or NULL (no advice member) */
        int unknown_advice_set;       /* unknown_advice was chosen (else "handshake") */
        const char *disconnect_advice; /* the connect reply to a server disconnect: "none"
                                        * (CometD's, the default) or "handshake" */
        int unknown_status;           /* HTTP status of an answer carrying 403::Unknown client
                                       * (0: 200) */
        int auth_status;              /* ... carrying 401::Authentication invalid (0: 200) */
};

/** @returns the fault named @p name (e.g. "too-busy"), or -1. */
int fault_parse(const char *name);

/** @returns the admin API name of @p kind. */
const char *fault_name(enum fault_kind kind);

/** @brief Arm @p kind for @p count requests (-1: until clear). */
void faults_arm(struct faults *faults, enum fault_kind kind, long count);

/**
 * @brief Consume one hit of @p kind if it is armed.
 * @returns 1 when the current request must suffer the fault.
 */
int faults_take(struct faults *faults, enum fault_kind kind);

/** @returns 1 when @p kind is armed (without consuming it). */
int faults_armed(const struct faults *faults, enum fault_kind kind);

/**
 * @brief Parse &advice= of forget-clients (none, handshake, absent) or
 *        disconnect (none, handshake) into @p out (NULL for absent).
 * @returns 0, or -1 when @p value is not one of those.
 */
int faults_parse_advice(const char *value, int allow_absent, const char **out);

/** @brief Disarm every fault, release stalled connects, and restore the
 *         default wording of unknown-client, disconnect and auth errors. */
void faults_clear(struct faults *faults);

#endif
