/*
 * What to do about a Salesforce answer. The table below is DESIGN.md's
 * "Staying alive" and the reference's §4 action table, one row per rule,
 * matched in order. The session acts on the decision; this file only
 * decides, so a unit test can walk every row.
 */
#include "recovery.h"

#include <limits.h>
#include <string.h>

enum recovery_match {
        M_TRANSPORT,  /* no HTTP answer at all */
        M_HTTP,       /* an HTTP status in [lo, hi] other than 200 */
        M_NO_REPLY,   /* HTTP 200 but no reply to classify */
        M_EVENT,      /* a delivered event, not an answer */
        M_CHANNEL,    /* the reply's channel is `text` */
        M_SUCCESS,    /* successful: true */
        M_TEXT,       /* failureReason (first walk) or error (second walk) starts
                       * with `prefix` and contains `text` */
        M_ADVICE,     /* advice.reconnect is `reconnect`, with `flags` */
        M_ANY,        /* anything left */
        M_LOCAL       /* not read from an answer: the bridge saw it (recovery_local) */
};

#define R_CONNECT_ONLY 0x1  /* only on a /meta/connect reply */
#define R_AUTH_ERROR   0x2  /* only when error or failureReason is a 401:: or 403:: */
#define R_ROUTE        0x4  /* a refusal of one channel: per_route (see recovery.h) */
#define R_SUCCESS      0x8  /* only on a successful reply */
#define R_SETUP_ONLY   0x10 /* only on a handshake or subscribe reply: the same
                             * words on a /meta/connect reply name no channel the
                             * bridge asked for, so they cannot be a fatal cause */

struct recovery_rule {
        enum recovery_match match;
        int lo, hi;                      /* M_HTTP */
        const char *prefix;              /* M_TEXT; NULL: any */
        const char *text;                /* M_TEXT: substring; M_CHANNEL: the channel */
        enum bayeux_reconnect reconnect; /* M_ADVICE */
        unsigned flags;
        enum recovery_action action;
        const char *cause;
        const char *why;                 /* the DESIGN.md / reference row */
};

/*
 * Every row cites what it implements. Text rows are walked twice: against
 * ext.sfdc.failureReason, then against error, because Salesforce puts the
 * real cause in failureReason and something misleading in error (a too-busy
 * server answers error "401::Authentication invalid"; a refused handshake
 * always says "403::Handshake denied").
 */
static const struct recovery_rule recovery_rules[] = {
        /* No usable answer. */
        { .match = M_TRANSPORT,
          .action = ACT_BACKOFF, .cause = "transport",
          .why = "connection reset, DNS or TLS failure, timeout: backoff (cap 60 s)" },
        { .match = M_HTTP, .lo = 401, .hi = 401,
          .action = ACT_REAUTH, .cause = "http_401",
          .why = "HTTP 401: new token, handshake, resubscribe" },
        { .match = M_HTTP, .lo = 500, .hi = 599,
          .action = ACT_BACKOFF, .cause = "http_5xx",
          .why = "HTTP 5xx: backoff with jitter (cap 60 s)" },
        { .match = M_HTTP, .lo = 400, .hi = 499,
          .action = ACT_BACKOFF, .cause = "http_4xx",
          .why = "HTTP 4xx (413 Maximum Request Size Exceeded, ...): backoff" },
        { .match = M_HTTP, .lo = 300, .hi = 399,
          .action = ACT_BACKOFF, .cause = "http_3xx",
          .why = "HTTP 3xx (a proxy or login redirect): backoff" },
        { .match = M_HTTP, .lo = INT_MIN, .hi = INT_MAX,
          .action = ACT_BACKOFF, .cause = "http_other",
          .why = "any other non-200 status: backoff" },
        { .match = M_NO_REPLY,
          .action = ACT_BACKOFF, .cause = "no_reply",
          .why = "HTTP 200 without a reply to the request: backoff" },

        /* The reply itself. */
        { .match = M_EVENT,
          .action = ACT_NONE, .cause = "event",
          .why = "a delivered event is not an answer: nothing to do" },
        { .match = M_CHANNEL, .text = "/meta/disconnect",
          .action = ACT_REHANDSHAKE, .cause = "server_disconnect",
          .why = "server-sent /meta/disconnect (API >= 64, Hyperforce): handshake" },
        { .match = M_ADVICE, .reconnect = BAYEUX_RECONNECT_HANDSHAKE, .flags = R_SUCCESS,
          .action = ACT_REHANDSHAKE, .cause = "advice_handshake",
          .why = "successful reply, advice.reconnect = handshake: the server ended the client; handshake" },
        { .match = M_ADVICE, .reconnect = BAYEUX_RECONNECT_NONE, .flags = R_SUCCESS,
          .action = ACT_REHANDSHAKE, .cause = "advice_none",
          .why = "successful reply, advice.reconnect = none (CometD's server-side disconnect): "
                 "handshake, never stop silently" },
        { .match = M_SUCCESS,
          .action = ACT_NONE, .cause = "ok",
          .why = "successful reply: carry on (advice.interval is the session's)" },

        /* What Salesforce says: failureReason first, then error. */
        { .match = M_TEXT, .prefix = "503::",
          .action = ACT_BACKOFF_LONG, .cause = "too_busy",
          .why = "503::Server is too busy (whatever error says): minutes, no re-login" },
        { .match = M_TEXT, .text = "SERVER_UNAVAILABLE",
          .action = ACT_BACKOFF_LONG, .cause = "too_busy",
          .why = "failureReason SERVER_UNAVAILABLE: as too busy" },
        { .match = M_TEXT, .text = "simultaneous connections per server",
          .action = ACT_BACKOFF_LONG, .cause = "server_limit",
          .why = "403::To protect all customers ... connections per server: back off" },
        { .match = M_TEXT, .text = "concurrent user limit exceeded",
          .action = ACT_BACKOFF_LONG, .cause = "concurrent_limit",
          .why = "403::Organization concurrent user limit exceeded: back off" },
        { .match = M_TEXT, .text = "API streaming limit has been exceeded",
          .action = ACT_BACKOFF_LONG, .cause = "concurrent_limit",
          .why = "API streaming limit has been exceeded (help article): as above" },
        { .match = M_TEXT, .text = "total events daily limit exceeded",
          .action = ACT_BACKOFF_LONG, .cause = "daily_limit",
          .why = "403::Organization total events daily limit exceeded: back off" },
        { .match = M_TEXT, .text = "Subscription limit exceeded for this topic",
          .flags = R_ROUTE,
          .action = ACT_BACKOFF_LONG, .cause = "topic_limit",
          .why = "403::Subscription limit exceeded for this topic: back off" },
        { .match = M_TEXT, .prefix = "401::",
          .action = ACT_REAUTH, .cause = "auth_invalid",
          .why = "401::Authentication invalid (error or failureReason): new token" },
        { .match = M_TEXT, .text = "::Unknown client",
          .action = ACT_REHANDSHAKE, .cause = "unknown_client",
          .why = "403::Unknown client (402:: on older servers): handshake, same token" },
        { .match = M_TEXT, .prefix = "400::", .text = "established a session, but no",
          .action = ACT_REHANDSHAKE, .cause = "no_cookie",
          .why = "400::Client ... but no BAYEUX_BROWSER cookie present: handshake" },
        { .match = M_TEXT, .prefix = "400::The replayId for channel",
          .text = "wasn't found using the provided replay ID map",
          .flags = R_SETUP_ONLY,
          .action = ACT_FATAL, .cause = "replay_map",
          .why = "400::The replayId for channel {...} wasn't found: a client bug" },
        { .match = M_TEXT, .prefix = "400::The replayId", .text = "you provided was invalid",
          .action = ACT_INVALID_REPLAY, .cause = "invalid_replay",
          .why = "400::The replayId {N} you provided was invalid: on_invalid_replay" },
        { .match = M_TEXT, .prefix = "400::", .text = "The channel you requested to subscribe to",
          .flags = R_ROUTE | R_SETUP_ONLY,
          .action = ACT_FATAL, .cause = "unknown_channel",
          .why = "400::The channel you requested to subscribe to doesn't exist" },
        { .match = M_TEXT, .prefix = "404::", .text = "Unknown channel",
          .flags = R_ROUTE | R_SETUP_ONLY,
          .action = ACT_FATAL, .cause = "unknown_channel",
          .why = "404::Unknown channel (generic streaming)" },
        { .match = M_TEXT, .prefix = "400::", .text = "API version",
          .flags = R_SETUP_ONLY,
          .action = ACT_FATAL, .cause = "api_version",
          .why = "400::Unsupported API version / API version in the URI is mandatory" },
        { .match = M_TEXT, .prefix = "403::", .text = "does not have access",
          .flags = R_ROUTE,
          .action = ACT_BACKOFF_LONG, .cause = "no_access",
          .why = "403::Subscriber does not have access to the entity / fields" },
        { .match = M_TEXT, .prefix = "403::", .text = "User not enabled for streaming",
          .action = ACT_BACKOFF_LONG, .cause = "no_access",
          .why = "403::User not enabled for streaming: back off until granted" },
        { .match = M_TEXT, .prefix = "403::", .text = "User not allowed to subscribe",
          .flags = R_ROUTE,
          .action = ACT_BACKOFF_LONG, .cause = "no_access",
          .why = "403::User not allowed to subscribe CDC without View All Data" },
        { .match = M_TEXT, .prefix = "403::", .text = "Restricted channel",
          .flags = R_ROUTE,
          .action = ACT_BACKOFF_LONG, .cause = "no_access",
          .why = "403::Restricted channel: back off until granted" },
        { .match = M_TEXT, .prefix = "403::", .text = "No access on channel",
          .flags = R_ROUTE,
          .action = ACT_BACKOFF_LONG, .cause = "no_access",
          .why = "403::No access on channel (generic): back off until granted" },

        /* What the advice says, when the text did not decide. */
        { .match = M_ADVICE, .reconnect = BAYEUX_RECONNECT_HANDSHAKE,
          .action = ACT_REHANDSHAKE, .cause = "advice_handshake",
          .why = "advice.reconnect = handshake: handshake, same token" },
        { .match = M_ADVICE, .reconnect = BAYEUX_RECONNECT_NONE, .flags = R_AUTH_ERROR,
          .action = ACT_REAUTH, .cause = "auth_denied",
          .why = "advice.reconnect = none on an auth error (401::/403::): new token" },
        { .match = M_ADVICE, .reconnect = BAYEUX_RECONNECT_RETRY, .flags = R_CONNECT_ONLY,
          .action = ACT_RETRY, .cause = "advice_retry",
          .why = "failed /meta/connect, advice.reconnect = retry: after interval" },

        /* Never silent, never a reason to stop. */
        { .match = M_ANY, .flags = R_CONNECT_ONLY,
          .action = ACT_BACKOFF, .cause = "connect_error",
          .why = "any other unsuccessful /meta/connect reply (404::Unknown channel, ...): "
                 "backoff, handshake, resubscribe, log the text; never exit" },
        { .match = M_ANY,
          .action = ACT_REHANDSHAKE, .cause = "unknown_error",
          .why = "any other unsuccessful reply: handshake, resubscribe, log the text" },

        /* What the bridge sees for itself (recovery_local), never an answer's text. */
        { .match = M_LOCAL,
          .action = ACT_REHANDSHAKE, .cause = "stall",
          .why = "no answer to /meta/connect within stall_timeout_s: abort, handshake, resubscribe" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "tls",
          .why = "TLS failure talking to Salesforce (certificate, CA file): backoff, say which" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "malformed_response",
          .why = "a response that is not JSON or not a Bayeux array: backoff, handshake" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "response_too_large",
          .why = "an answer over salesforce.max_response_bytes: backoff, handshake, resubscribe "
                 "from the committed IDs (the same batch comes again until the limit is raised)" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "bad_handshake",
          .why = "a successful handshake reply without a clientId: backoff, handshake" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "auth_unavailable",
          .why = "token endpoint unreachable, 5xx or 429: backoff, log in again" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "auth_rejected",
          .why = "credentials refused after they once worked: retry at the capped pace (at start: exit 3)" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "instance_url_rejected",
          .why = "the token answer's instance_url is not https on a Salesforce domain, the login host "
                 "or salesforce.allowed_hosts: never contacted; backoff, log in again (at start: exit 3)" },
        { .match = M_LOCAL,
          .action = ACT_BACKOFF, .cause = "token_rejected",
          .why = "a token or ID in the token answer holds control characters (header injection): "
                 "not used; backoff, log in again (at start: exit 3)" },
        { .match = M_LOCAL,
          .action = ACT_REHANDSHAKE, .cause = "no_request_in_flight",
          .why = "a wait with nothing in flight (cannot happen by construction): rebuild, say so" },
        { .match = M_LOCAL,
          .action = ACT_REHANDSHAKE, .cause = "batch_aborted",
          .why = "Kafka aborted the batch: resubscribe from the committed replay IDs" },
        { .match = M_LOCAL,
          .action = ACT_REHANDSHAKE, .cause = "kafka_delivery_failed",
          .why = "at_least_once: a delivery failed: resubscribe from the committed replay IDs" },
        { .match = M_LOCAL,
          .action = ACT_HOLD_BATCH, .cause = "kafka_unavailable",
          .why = "Kafka unreachable: keep the open batch, retry its commit, no long-poll meanwhile" },
        { .match = M_LOCAL,
          .action = ACT_STOP_ROUTE, .cause = "bad_event",
          .why = "an event that cannot be forwarded: hold its route just before it, skip nothing" },
        { .match = M_LOCAL,
          .action = ACT_DEAD_LETTER, .cause = "poison_event",
          .why = "an event that can never be produced (too large, illegal topic, unreadable) "
                 "with kafka.dead_letter_topic set: write it there in its batch, move on" },
        { .match = M_LOCAL,
          .action = ACT_QUARANTINE, .cause = "route_error",
          .why = "one route's subscribe refused mid-run (a per-route row above) or a route set aside: "
                 "quarantine it, retry it alone from its committed replay ID (5 s doubling to 5 min), "
                 "the others flow; on_route_error: fail exits 3" },
        { .match = M_LOCAL,
          .action = ACT_LOG, .cause = "unrouted_event",
          .why = "an event on a channel no route subscribes to: log and count it" },
};

#define RECOVERY_NRULES (sizeof(recovery_rules) / sizeof(recovery_rules[0]))

static int recovery_is_auth_error(const char *s)
{
        return s && (!strncmp(s, "401::", 5) || !strncmp(s, "403::", 5));
}

static int recovery_text_matches(const struct recovery_rule *rule, const struct bayeux_msg *msg,
                                 const char *s)
{
        if (!s)
                return 0;
        if ((rule->flags & R_SETUP_ONLY) && msg->kind != BAYEUX_HANDSHAKE &&
            msg->kind != BAYEUX_SUBSCRIBE)
                return 0;
        if (rule->prefix && strncmp(s, rule->prefix, strlen(rule->prefix)) != 0)
                return 0;
        return !rule->text || strstr(s, rule->text) != NULL;
}

/* Every kind of row but M_TEXT, which the caller walks itself. */
static int recovery_matches(const struct recovery_rule *rule, const struct recovery_input *in)
{
        const struct bayeux_msg *msg = in->msg;
        int status = in->http_status;

        switch (rule->match) {
        case M_TRANSPORT:
                return in->transport_error || (status == 0 && !msg);
        case M_HTTP:
                return !in->transport_error && status != 0 && status != 200 &&
                       status >= rule->lo && status <= rule->hi;
        case M_NO_REPLY:
                return !msg;
        case M_EVENT:
                return msg->kind == BAYEUX_EVENT;
        case M_CHANNEL:
                return !strcmp(msg->channel, rule->text);
        case M_SUCCESS:
                return msg->successful == 1;
        case M_TEXT:
                return 0;
        case M_ADVICE:
                if (msg->advice.reconnect != rule->reconnect)
                        return 0;
                if (!!(rule->flags & R_SUCCESS) != (msg->successful == 1))
                        return 0;
                if ((rule->flags & R_CONNECT_ONLY) && msg->kind != BAYEUX_CONNECT)
                        return 0;
                if ((rule->flags & R_AUTH_ERROR) && !recovery_is_auth_error(msg->error) &&
                    !recovery_is_auth_error(msg->failure_reason))
                        return 0;
                return 1;
        case M_ANY:
                return !(rule->flags & R_CONNECT_ONLY) || msg->kind == BAYEUX_CONNECT;
        case M_LOCAL:
                return 0;
        }
        return 0;
}

static struct recovery_decision recovery_decide(size_t i)
{
        struct recovery_decision dec;

        dec.action = recovery_rules[i].action;
        dec.cause = recovery_rules[i].cause;
        dec.rule = (int)i + 1;
        dec.per_route = (recovery_rules[i].flags & R_ROUTE) != 0;
        return dec;
}

struct recovery_decision recovery_classify(const struct recovery_input *in)
{
        const char *texts[2] = { NULL, NULL };
        size_t i, t, first_text, end_text;

        /* Rows before the text block. */
        for (i = 0; i < RECOVERY_NRULES && recovery_rules[i].match != M_TEXT; i++)
                if (recovery_matches(&recovery_rules[i], in))
                        return recovery_decide(i);
        first_text = i;
        for (end_text = first_text;
             end_text < RECOVERY_NRULES && recovery_rules[end_text].match == M_TEXT; end_text++)
                ;
        /* M_NO_REPLY above returned when msg is NULL. */
        texts[0] = in->msg->failure_reason;
        texts[1] = in->msg->error;
        for (t = 0; t < 2; t++)
                for (i = first_text; texts[t] && i < end_text; i++)
                        if (recovery_text_matches(&recovery_rules[i], in->msg, texts[t]))
                                return recovery_decide(i);
        for (i = end_text; i < RECOVERY_NRULES; i++)
                if (recovery_matches(&recovery_rules[i], in))
                        return recovery_decide(i);
        /* Unreachable: the last row is M_ANY. */
        return recovery_decide(RECOVERY_NRULES - 1);
}

struct recovery_decision recovery_local(const char *cause)
{
        size_t i;

        for (i = 0; i < RECOVERY_NRULES; i++)
                if (!strcmp(recovery_rules[i].cause, cause) &&
                    (recovery_rules[i].match == M_LOCAL || recovery_rules[i].match == M_NO_REPLY))
                        return recovery_decide(i);
        /* A cause missing from the table is a bug; still never silent. */
        for (i = 0; i < RECOVERY_NRULES; i++)
                if (recovery_rules[i].match == M_ANY && !recovery_rules[i].flags)
                        break;
        return recovery_decide(i);
}

const char *recovery_action_name(enum recovery_action act)
{
        switch (act) {
        case ACT_NONE: return "none";
        case ACT_RETRY: return "retry";
        case ACT_REHANDSHAKE: return "rehandshake";
        case ACT_REAUTH: return "reauth";
        case ACT_BACKOFF: return "backoff";
        case ACT_BACKOFF_LONG: return "backoff_long";
        case ACT_INVALID_REPLAY: return "invalid_replay";
        case ACT_FATAL: return "fatal";
        case ACT_HOLD_BATCH: return "hold_batch";
        case ACT_STOP_ROUTE: return "route_stopped";
        case ACT_DEAD_LETTER: return "dead_lettered";
        case ACT_LOG: return "logged";
        case ACT_QUARANTINE: return "quarantine";
        }
        return "unknown";
}

size_t recovery_rule_count(void)
{
        return RECOVERY_NRULES;
}

const char *recovery_rule_describe(int rule)
{
        if (rule < 1 || (size_t)rule > RECOVERY_NRULES)
                return NULL;
        return recovery_rules[rule - 1].why;
}
