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
        ACT_FATAL            /* cannot continue (e.g. channel does not exist) */
};

struct recovery_input {
        int transport_error;            /* non-zero: no HTTP answer (reset, DNS, TLS, timeout) */
        int http_status;                /* 0 when transport_error */
        const struct bayeux_msg *msg;   /* the meta reply, or NULL */
};

struct recovery_decision {
        enum recovery_action action;
        const char *cause;  /* static metric label: "auth_invalid", "unknown_client", ... */
};

/** @brief Classify one answer. Pure; the unit test walks every DESIGN row. */
struct recovery_decision recovery_classify(const struct recovery_input *in);

const char *recovery_action_name(enum recovery_action act);

#endif
