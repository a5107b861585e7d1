/*
 * What to do about a Salesforce answer. One static table mirrors DESIGN.md's
 * "Staying alive" rows; ext.sfdc.failureReason is read before error.
 */
#ifndef SFB_RECOVERY_H
#define SFB_RECOVERY_H

#include "bayeux.h"

enum recovery_action {
        ACT_NONE,            /* success: carry on */
        ACT_RETRY,           /* connect again after advice.interval */
        ACT_REHANDSHAKE,     /* handshake with the same token, resubscribe */
        ACT_REAUTH,          /* new token, handshake, resubscribe */
        ACT_BACKOFF,         /* transport/5xx: exponential backoff (cap 60 s), then handshake */
        ACT_BACKOFF_LONG,    /* too busy / org limits: minutes, with jitter; no re-login */
        ACT_INVALID_REPLAY,  /* apply on_invalid_replay for the channel */
        ACT_FATAL,           /* cannot continue (e.g. channel does not exist) */
        /* The bridge's own moves, for causes it sees itself (recovery_local): */
        ACT_HOLD_BATCH,      /* Kafka unreachable: keep the batch, retry the commit */
        ACT_STOP_ROUTE,      /* an event cannot be forwarded: hold its route before it */
        ACT_DEAD_LETTER,     /* an event cannot be produced: to kafka.dead_letter_topic, in its batch */
        ACT_LOG,             /* logged and counted; nothing else to do */
        ACT_QUARANTINE       /* one route out, retried alone with backoff; the rest flows */
};

struct recovery_input {
        int transport_error;            /* non-zero: no HTTP answer (reset, DNS, TLS, timeout) */
        int http_status;                /* 0 when transport_error */
        const struct bayeux_msg *msg;   /* the meta reply, or NULL (borrowed) */
};

struct recovery_decision {
        enum recovery_action action;
        const char *cause;  /* static metric label: "auth_invalid", "unknown_client", ... */
        int rule;           /* 1-based row of the table that decided; 0 when the
                             * decision was not made by recovery_classify() */
        int per_route;      /* the row is a refusal of one channel (403 no access,
                             * channel gone, topic limit): on a subscribe reply once
                             * the bridge ran, the session quarantines that route
                             * (ACT_QUARANTINE, on_route_error) instead of `action` */
};

/**
 * @brief Classify one answer. Pure; the unit test walks every DESIGN row.
 * @returns the action of the first matching row of the table, walked in
 *          this order: transport failure, HTTP status other than 200 (a
 *          status of 0 with a msg counts as 200), no reply (HTTP 200, msg
 *          NULL), events, server-sent /meta/disconnect, success; then the
 *          text rows against ext.sfdc.failureReason, then the same rows
 *          against error (so failureReason wins); then advice; last, any
 *          unsuccessful reply nothing explained: ACT_REHANDSHAKE
 *          "unknown_error" (never silent).
 * @remark cause is a static string (a metric label).
 */
struct recovery_decision recovery_classify(const struct recovery_input *in);

/**
 * @brief The decision for a cause the bridge detects itself rather than
 *        reads from an answer: "stall", "tls", "malformed_response",
 *        "bad_handshake", "no_reply", "auth_unavailable", "auth_rejected",
 *        "no_request_in_flight", "batch_aborted", "kafka_delivery_failed",
 *        "kafka_unavailable", "bad_event", "unrouted_event", "route_error". Same table,
 *        same walk by the unit test.
 * @returns the row's decision; an unknown cause gets the last-resort row
 *          ("unknown_error", rehandshake), never silence.
 */
struct recovery_decision recovery_local(const char *cause);

/** @returns the action's lower-case name ("rehandshake"), a static string. */
const char *recovery_action_name(enum recovery_action act);

/** @returns how many rows the table has (rules are numbered 1..count). */
size_t recovery_rule_count(void);

/** @returns a one-line description of row @p rule (1-based), or NULL when out of range. */
const char *recovery_rule_describe(int rule);

#endif
