/*
 * The CometD endpoint (see cometd.h). Every reply and error text here is the
 * one Salesforce sends, from shared/reference/salesforce-streaming.md §3-§4:
 * the tests of this emulator assert them one by one, and the bridge's
 * recovery table is written against them.
 *
 * The whole POST is processed under the sim lock; a held /meta/connect gives
 * the lock up while it waits on the condition variable. Event JSON is copied
 * straight from the store into the response: nothing is re-serialised.
 */
#include "cometd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "channel.h"
#include "fault.h"
#include "oauth.h"
#include "sim.h"
#include "store.h"

#define RESPONSE_MAX (32 * 1024 * 1024)  /* ceiling on one response body */
/* How often a held poll looks at its socket: a replica killed mid-poll must
 * stop counting as a poller (pollers.h) within about this long. */
#define PEER_CHECK_MS 50
#define URI_FORMAT "URI format: '/cometd/66.0'"

#define DOUBLE_EXACT_MAX 9007199254740992.0 /* 2^53: larger integers lose digits */

#define ERR_TOO_BUSY "503::Server is too busy.  Please try your request again later."
#define ERR_AUTH_INVALID "401::Authentication invalid"
#define ERR_DAILY_LIMIT "403::Organization total events daily limit exceeded"
#define ERR_SERVER_LIMIT                                                                              \
        "403::To protect all customers from excessive use and Denial of Service attacks, we limit "   \
        "the number of simultaneous connections per server.  Your request has been denied because "   \
        "this limit has been exceeded.  Please try your request again later."

struct ctx {
        struct sim *sim;
        const struct cometd_request *req;
        struct cometd_response *resp;
        struct sbuf out;      /* "[" then each message followed by ',' */
        int has_token;
        int token_ok;
        uint64_t serial;      /* of the request's token */
        int malformed;        /* the answer is deliberately not JSON */
        int stop;             /* answer now, process no further message */
        int index;            /* of the message in the request array; -1: a lone object */
        int status;           /* non-zero: the HTTP status of the answer (a Bayeux error
                               * wrapped in a 400/401/403, faults' &status=) */
        char lb[CLIENT_LB_MAX]; /* a load-balancer cookie set in this response, or "" */
};

int cometd_parse_version(const char *path, double *version, char *err, size_t err_size)
{
        const char *v;
        char *end;

        if (strncmp(path, "/cometd", 7) || (path[7] != '/' && path[7] != '\0')) {
                snprintf(err, err_size, "API version in the URI is mandatory. " URI_FORMAT);
                return -1;
        }
        v = path[7] ? path + 8 : path + 7;
        /* /cometd/replay/36.0 was the replay endpoint of API 36.0 only. */
        if (!strncmp(v, "replay/", 7))
                v += 7;
        if (*v == '\0' || *v == '/') {
                snprintf(err, err_size, "API version in the URI is mandatory. " URI_FORMAT);
                return -1;
        }
        *version = strtod(v, &end);
        if (end == v || (*end && strcmp(end, "/")) || *version < 37.0) {
                snprintf(err, err_size,
                         "Unsupported API version. Only API versions '37.0' and later are supported. " URI_FORMAT);
                return -1;
        }
        return 0;
}

int cometd_token_of(const char *auth, char *buf, size_t size)
{
        size_t n;

        if (!auth)
                return -1;
        while (*auth == ' ')
                auth++;
        if (!strncasecmp(auth, "Bearer ", 7))
                auth += 7;
        else if (!strncasecmp(auth, "OAuth ", 6))
                auth += 6;
        while (*auth == ' ')
                auth++;
        n = strlen(auth);
        while (n && auth[n - 1] == ' ')
                n--;
        if (n == 0 || n >= size)
                return -1;
        memcpy(buf, auth, n);
        buf[n] = '\0';
        return 0;
}

/* ---- replies ---------------------------------------------------------- */

static cJSON *reply_new(const cJSON *msg, const char *client_id, const char *channel)
{
        cJSON *reply = cJSON_CreateObject();
        const cJSON *id = msg ? cJSON_GetObjectItemCaseSensitive(msg, "id") : NULL;

        if (!reply)
                return NULL;
        if (client_id)
                cJSON_AddStringToObject(reply, "clientId", client_id);
        cJSON_AddStringToObject(reply, "channel", channel);
        if (id)
                cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(id, 1));
        return reply;
}

static void reply_fail(cJSON *reply, const char *error)
{
        cJSON_AddBoolToObject(reply, "successful", 0);
        cJSON_AddStringToObject(reply, "error", error);
}

/* advice; interval or timeout < 0 leave the member out. */
static void reply_advice(cJSON *reply, const char *reconnect, long interval, long timeout)
{
        cJSON *advice = cJSON_AddObjectToObject(reply, "advice");

        if (!advice)
                return;
        cJSON_AddStringToObject(advice, "reconnect", reconnect);
        if (interval >= 0)
                cJSON_AddNumberToObject(advice, "interval", (double)interval);
        if (timeout >= 0)
                cJSON_AddNumberToObject(advice, "timeout", (double)timeout);
}

static void reply_failure_reason(cJSON *reply, const char *reason)
{
        cJSON *ext = cJSON_AddObjectToObject(reply, "ext");
        cJSON *sfdc = ext ? cJSON_AddObjectToObject(ext, "sfdc") : NULL;

        if (sfdc)
                cJSON_AddStringToObject(sfdc, "failureReason", reason);
}

/* Append a reply to the response and free it. */
static void emit(struct ctx *ctx, cJSON *reply)
{
        char *text;

        if (!reply)
                return;
        text = cJSON_PrintUnformatted(reply);
        cJSON_Delete(reply);
        if (!text)
                return;
        if (sbuf_puts(&ctx->out, text) == 0)
                sbuf_append(&ctx->out, ",", 1);
        free(text);
}

static const char *str_member(const cJSON *msg, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(msg, name);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* ---- the load-balancer cookie ----------------------------------------- */

/*
 * Salesforce's load balancer pins a CometD session to one app server with a
 * routing cookie that lives for a limited time ("routing cookie timeout" is
 * one cause of disconnects its engineers name). A request without it, with
 * another one, or after it expired lands on an app server that does not know
 * the client: 403::Unknown client, and the balancer sets a fresh cookie for
 * the server it chose. The value carries the instance generation and its
 * expiry (monotonic ms, 0: never), so sfsim needs no table of them.
 */
static int lb_valid(const struct sim *sim, const char *value)
{
        unsigned gen;
        unsigned long long expires;
        int n = -1;

        if (!value || sscanf(value, "!%x.%llx.%*8[0-9a-f]%n", &gen, &expires, &n) != 2 || n < 0 ||
            value[n] != '\0')
                return 0;
        return gen == sim->instance_gen && (expires == 0 || (int64_t)expires > sim_now_ms());
}

/* Set a fresh load-balancer cookie in this response (once). @returns its value. */
static const char *lb_issue(struct ctx *ctx)
{
        long ttl = ctx->sim->cfg.lb_cookie_ttl_ms;
        unsigned long long expires = ttl ? (unsigned long long)(sim_now_ms() + ttl) : 0;
        unsigned char nonce[4] = { 0 };
        char max_age[40] = "";

        if (ctx->lb[0])
                return ctx->lb;
        RAND_bytes(nonce, sizeof(nonce));
        snprintf(ctx->lb, sizeof(ctx->lb), "!%x.%llx.%02x%02x%02x%02x", ctx->sim->instance_gen, expires,
                 nonce[0], nonce[1], nonce[2], nonce[3]);
        /* Max-Age in whole seconds, rounded up: a client may send it a
         * moment after sfsim stopped honouring it, which sfsim refuses. */
        if (ttl)
                snprintf(max_age, sizeof(max_age), "; Max-Age=%ld", (ttl + 999) / 1000);
        snprintf(ctx->resp->set_cookie[1], sizeof(ctx->resp->set_cookie[1]),
                 COMETD_LB_COOKIE "=%s; Path=/%s; HttpOnly%s", ctx->lb, max_age,
                 ctx->req->tls ? "; Secure" : "");
        return ctx->lb;
}

/* ---- /meta/handshake --------------------------------------------------- */

static void handshake_denied(struct ctx *ctx, const cJSON *msg, const char *reason)
{
        cJSON *reply = reply_new(msg, NULL, "/meta/handshake");

        reply_fail(reply, "403::Handshake denied");
        reply_failure_reason(reply, reason);
        reply_advice(reply, "none", -1, -1);
        emit(ctx, reply);
        ctx->sim->stats.handshakes_denied++;
}

static void too_busy(struct ctx *ctx, const cJSON *msg, const char *client_id, const char *channel)
{
        cJSON *reply = reply_new(msg, client_id, channel);

        /* Salesforce says 401 in error; the real cause is in failureReason. */
        reply_fail(reply, ERR_AUTH_INVALID);
        reply_failure_reason(reply, ERR_TOO_BUSY);
        reply_advice(reply, "none", 0, -1);
        emit(ctx, reply);
}

static void concurrent_limit(struct ctx *ctx, const cJSON *msg)
{
        cJSON *reply = reply_new(msg, NULL, "/meta/handshake");

        reply_fail(reply, "403::Organization concurrent user limit exceeded");
        reply_advice(reply, "none", -1, -1);
        emit(ctx, reply);
        ctx->sim->stats.handshakes_denied++;
}

/* Reference §4.1 (d): the per-server connection limit, ext as in the sample. */
static void server_limit(struct ctx *ctx, const cJSON *msg)
{
        cJSON *reply = reply_new(msg, NULL, "/meta/handshake");
        cJSON *ext;

        reply_fail(reply, "403::Handshake denied");
        reply_advice(reply, "none", -1, -1);
        reply_failure_reason(reply, ERR_SERVER_LIMIT);
        ext = cJSON_GetObjectItemCaseSensitive(reply, "ext");
        if (ext) {
                cJSON_AddBoolToObject(ext, "replay", 1);
                cJSON_AddBoolToObject(ext, "payload.format", 1);
        }
        emit(ctx, reply);
        ctx->sim->stats.handshakes_denied++;
}

static void meta_handshake(struct ctx *ctx, const cJSON *msg)
{
        struct sim *sim = ctx->sim;
        struct client *cl;
        cJSON *reply, *types, *ext;
        int full;

        if (!ctx->has_token) {
                handshake_denied(ctx, msg, "401::Request requires authentication");
                return;
        }
        if (!ctx->token_ok) {
                handshake_denied(ctx, msg, ERR_AUTH_INVALID);
                return;
        }
        if (faults_take(&sim->faults, FAULT_TOO_BUSY)) {
                too_busy(ctx, msg, NULL, "/meta/handshake");
                sim->stats.handshakes_denied++;
                return;
        }
        if (faults_take(&sim->faults, FAULT_CONCURRENT_LIMIT)) {
                concurrent_limit(ctx, msg);
                return;
        }
        if (faults_take(&sim->faults, FAULT_SERVER_LIMIT)) {
                server_limit(ctx, msg);
                return;
        }
        cl = clients_add_locked(sim->clients, sim_now_ms(), &full);
        if (!cl) {
                if (full) {
                        /* Counted apart from the concurrent-limit fault: a
                         * soak asserts the bridge never fills the org. */
                        sim->stats.clients_refused++;
                        concurrent_limit(ctx, msg);
                        return;
                }
                reply = reply_new(msg, NULL, "/meta/handshake");
                reply_fail(reply, "500::Internal error");
                emit(ctx, reply);
                return;
        }
        if (faults_take(&sim->faults, FAULT_FORGET_AFTER_FIRST_CONNECT))
                client_doom_locked(cl);
        client_set_peer_port(cl, ctx->req->peer_port);
        reply = reply_new(msg, client_id(cl), "/meta/handshake");
        cJSON_AddStringToObject(reply, "version", "1.0");
        cJSON_AddStringToObject(reply, "minimumVersion", "1.0");
        types = cJSON_AddArrayToObject(reply, "supportedConnectionTypes");
        if (types)
                cJSON_AddItemToArray(types, cJSON_CreateString("long-polling"));
        cJSON_AddBoolToObject(reply, "successful", 1);
        ext = cJSON_AddObjectToObject(reply, "ext");
        if (ext) {
                cJSON_AddBoolToObject(ext, "replay", 1);
                cJSON_AddBoolToObject(ext, "payload.format", 1);
        }
        emit(ctx, reply);
        /* The BAYEUX_BROWSER cookie binds later messages to this session;
         * the load-balancer cookie, to the app server that holds it. A
         * handshake that came with a live one keeps it. */
        snprintf(ctx->resp->set_cookie[0], sizeof(ctx->resp->set_cookie[0]),
                 "BAYEUX_BROWSER=%s; Path=/; HttpOnly%s", client_browser(cl),
                 ctx->req->tls ? "; Secure" : "");
        client_set_lb(cl, !ctx->lb[0] && lb_valid(sim, ctx->req->lb_cookie) ? ctx->req->lb_cookie
                                                                              : lb_issue(ctx));
        sim->stats.handshakes++;
        clients_put_locked(sim->clients, cl);
}

/* ---- session checks shared by every other meta channel ---------------- */

static void unknown_client(struct ctx *ctx, const cJSON *msg, const char *id, const char *channel)
{
        cJSON *reply = reply_new(msg, id, channel);

        const struct faults *f = &ctx->sim->faults;
        const char *advice = f->unknown_advice_set ? f->unknown_advice : "handshake";

        /* Salesforce has been seen to say reconnect: none here, or no advice at all. */
        reply_fail(reply, "403::Unknown client");
        if (advice)
                reply_advice(reply, advice, 0, -1);
        emit(ctx, reply);
        if (f->unknown_status)
                ctx->status = f->unknown_status;
}

static void auth_invalid(struct ctx *ctx, const cJSON *msg, const char *id, const char *channel)
{
        cJSON *reply = reply_new(msg, id, channel);

        reply_fail(reply, ERR_AUTH_INVALID);
        reply_advice(reply, "none", 0, -1);
        emit(ctx, reply);
        if (ctx->sim->faults.auth_status)
                ctx->status = ctx->sim->faults.auth_status;
}

/*
 * Token, then client, then cookie. @returns the client with a reference
 * (release with clients_put_locked()), or NULL after emitting the error.
 */
static struct client *session(struct ctx *ctx, const cJSON *msg, const char *channel)
{
        struct sim *sim = ctx->sim;
        const char *id = str_member(msg, "clientId");
        struct client *cl;
        char err[160];
        cJSON *reply;

        if (!ctx->token_ok) {
                if (id && !strcmp(channel, "/meta/connect")) {
                        /* The session dies with its authentication. */
                        cl = clients_get_locked(sim->clients, id, sim_now_ms());
                        if (cl) {
                                clients_remove_locked(sim->clients, cl, CLIENT_REVOKED);
                                clients_put_locked(sim->clients, cl);
                                sim_pollers_changed_locked(sim);
                                sim_wake_all_locked(sim);
                        }
                }
                auth_invalid(ctx, msg, id, channel);
                return NULL;
        }
        cl = id ? clients_get_locked(sim->clients, id, sim_now_ms()) : NULL;
        if (!cl) {
                unknown_client(ctx, msg, id, channel);
                return NULL;
        }
        if (!client_lb_ok(cl, ctx->req->lb_cookie) || !lb_valid(sim, ctx->req->lb_cookie)) {
                /* Routed to an app server that never saw this client. */
                lb_issue(ctx);
                unknown_client(ctx, msg, id, channel);
                sim->stats.lb_refused++;
                clients_put_locked(sim->clients, cl);
                return NULL;
        }
        if (!client_cookie_ok(cl, ctx->req->browser_cookie)) {
                snprintf(err, sizeof(err),
                         "400::Client %s has established a session, but no BAYEUX_BROWSER cookie present",
                         client_id(cl));
                reply = reply_new(msg, client_id(cl), channel);
                reply_fail(reply, err);
                reply_advice(reply, "handshake", 0, -1);
                emit(ctx, reply);
                clients_put_locked(sim->clients, cl);
                return NULL;
        }
        return cl;
}

/* ---- /meta/subscribe, /meta/unsubscribe -------------------------------- */

static void subscribe_fail(struct ctx *ctx, const cJSON *msg, struct client *cl,
                           const char *subscription, const char *error)
{
        cJSON *reply = reply_new(msg, client_id(cl), "/meta/subscribe");

        if (subscription)
                cJSON_AddStringToObject(reply, "subscription", subscription);
        reply_fail(reply, error);
        emit(ctx, reply);
}

/* Format a replay value the way it appears in Salesforce's error text. */
static void replay_text(const cJSON *value, char *out, size_t size)
{
        double d = cJSON_IsNumber(value) ? value->valuedouble : 0;

        if (cJSON_IsNumber(value) && d > -DOUBLE_EXACT_MAX && d < DOUBLE_EXACT_MAX &&
            d == (double)(long long)d)
                snprintf(out, size, "%lld", (long long)d);
        else if (cJSON_IsNumber(value))
                snprintf(out, size, "%.17g", d);
        else if (cJSON_IsString(value))
                snprintf(out, size, "%s", value->valuestring);
        else
                snprintf(out, size, "%s", cJSON_IsBool(value) ? (cJSON_IsTrue(value) ? "true" : "false") : "?");
}

/* A copy of a JSON text in which every number literal is a string. @returns NULL: out of memory. */
static char *numbers_as_strings(const char *text, size_t len)
{
        char *out = malloc(3 * len + 1), *o = out; /* "1,1" -> "\"1\",\"1\"" at worst */
        int in_string = 0, escaped = 0;
        size_t i;

        if (!out)
                return NULL;
        for (i = 0; i < len; i++) {
                if (in_string) {
                        if (escaped)
                                escaped = 0;
                        else if (text[i] == '\\')
                                escaped = 1;
                        else if (text[i] == '"')
                                in_string = 0;
                } else if (text[i] == '"') {
                        in_string = 1;
                } else if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
                        *o++ = '"';
                        while (i < len && text[i] && strchr("+-.eE0123456789", text[i]))
                                *o++ = text[i++];
                        *o++ = '"';
                        i--;
                        continue;
                }
                *o++ = text[i];
        }
        *o = '\0';
        return out;
}

/*
 * cJSON keeps numbers as doubles, which cannot tell replay IDs above 2^53
 * apart (--first-replay-id). Such an ID is read again, as text, from a copy
 * of the request whose numbers are strings: ext.replay[@p key] of the same
 * message. @returns 0 with the literal in @p out, or -1.
 */
static int replay_literal(const struct ctx *ctx, const char *key, char *out, size_t size)
{
        char *text = numbers_as_strings(ctx->req->body, ctx->req->body_len);
        cJSON *msgs = text ? cJSON_Parse(text) : NULL;
        const cJSON *msg = ctx->index < 0 ? msgs : cJSON_GetArrayItem(msgs, ctx->index);
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(msg, "ext");
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(ext, "replay");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(map, key);
        int rc = -1;

        if (cJSON_IsString(value)) {
                snprintf(out, size, "%s", value->valuestring);
                rc = 0;
        }
        cJSON_Delete(msgs);
        free(text);
        return rc;
}

static const char *subscribe_denied_error(const char *base)
{
        switch (channel_classify(base, NULL, 0)) {
        case CHANNEL_CDC_ALL:
        case CHANNEL_CDC_ENTITY:
        case CHANNEL_CDC_CHN:
                return "403::User not allowed to subscribe CDC without View All Data permissions";
        case CHANNEL_GENERIC:
                return "403::No access on channel";
        default:
                return "403::Subscriber does not have access to the entity in this topic";
        }
}

static void meta_subscribe(struct ctx *ctx, const cJSON *msg)
{
        struct sim *sim = ctx->sim;
        const char *subscription = str_member(msg, "subscription");
        char base[CHANNEL_NAME_MAX], err[1024], num[64] = "-1";
        const cJSON *ext, *map, *value = NULL;
        const char *key = base, *text;
        struct channel *ch;
        struct client *cl;
        long long replay = -1;
        uint64_t cursor;
        cJSON *reply;
        char *end;
        int valid = 1;

        cl = session(ctx, msg, "/meta/subscribe");
        if (!cl)
                return;
        client_touch_locked(cl, sim_now_ms());
        if (!subscription || !*subscription) {
                subscribe_fail(ctx, msg, cl, NULL, "400::Channel name not specified");
                goto out;
        }
        if (subscription[0] != '/') {
                subscribe_fail(ctx, msg, cl, subscription,
                               "400::Channel subscriptions must start with a leading '/'");
                goto out;
        }
        if (channel_base(subscription, base, sizeof(base)) == -1 || !sim_channel_exists(sim, base)) {
                snprintf(err, sizeof(err),
                         "400::The channel you requested to subscribe to doesn't exist {%.200s}",
                         subscription);
                subscribe_fail(ctx, msg, cl, subscription, err);
                goto out;
        }
        /* The permission to one channel removed (admin fault restricted-channel). */
        if (faults_armed(&sim->faults, FAULT_RESTRICTED_CHANNEL) &&
            !strcmp(base, sim->faults.channel) && faults_take(&sim->faults, FAULT_RESTRICTED_CHANNEL)) {
                subscribe_fail(ctx, msg, cl, subscription, "403::Restricted channel");
                goto out;
        }
        /* The user lost the permission the channel's kind needs (admin fault
         * subscribe-denied): Salesforce's 403 for that kind. */
        if (faults_armed(&sim->faults, FAULT_SUBSCRIBE_DENIED) && !strcmp(base, sim->faults.denied) &&
            faults_take(&sim->faults, FAULT_SUBSCRIBE_DENIED)) {
                subscribe_fail(ctx, msg, cl, subscription, subscribe_denied_error(base));
                goto out;
        }
        /* ext.replay maps channel -> replay ID; EMP sends every channel it
         * knows, so pick ours; absent means -1 (new events only). */
        ext = cJSON_GetObjectItemCaseSensitive(msg, "ext");
        map = ext ? cJSON_GetObjectItemCaseSensitive(ext, "replay") : NULL;
        if (cJSON_IsObject(map)) {
                value = cJSON_GetObjectItemCaseSensitive(map, base);
                if (!value) {
                        key = subscription;
                        value = cJSON_GetObjectItemCaseSensitive(map, subscription);
                }
        }
        if (value && cJSON_IsNull(value)) {
                snprintf(err, sizeof(err),
                         "400::The replayId for channel {%s} wasn't found using the provided replay ID map {{%s=null}}. "
                         "Ensure that the channel name you provided in the replay map is valid and matches the channel name used for subscribing.",
                         base, base);
                subscribe_fail(ctx, msg, cl, subscription, err);
                goto out;
        }
        if (value) {
                replay_text(value, num, sizeof(num));
                if (cJSON_IsNumber(value) && value->valuedouble > -DOUBLE_EXACT_MAX &&
                    value->valuedouble < DOUBLE_EXACT_MAX) {
                        replay = (long long)value->valuedouble;
                        valid = value->valuedouble == (double)replay;
                } else if (cJSON_IsNumber(value) || cJSON_IsString(value)) {
                        if (cJSON_IsNumber(value))
                                replay_literal(ctx, key, num, sizeof(num));
                        text = cJSON_IsString(value) ? value->valuestring : num;
                        errno = 0;
                        replay = strtoll(text, &end, 10);
                        valid = *text && !*end && errno == 0;
                } else {
                        valid = 0;
                }
        }
        ch = store_channel_locked(sim->store, base, 1);
        if (valid && ch && store_replay_start_locked(sim->store, ch, replay, &cursor, sim_wall_ms()) == -1)
                valid = 0;
        if (!valid) {
                snprintf(err, sizeof(err),
                         "400::The replayId {%s} you provided was invalid.  Please provide a valid ID, "
                         "-2 to replay all events, or -1 to replay only new events.",
                         num);
                subscribe_fail(ctx, msg, cl, subscription, err);
                goto out;
        }
        if (!ch || client_subscribe_locked(cl, ch, cursor) == -1) {
                subscribe_fail(ctx, msg, cl, subscription,
                               "403::Subscription limit exceeded for this topic");
                goto out;
        }
        reply = reply_new(msg, client_id(cl), "/meta/subscribe");
        cJSON_AddStringToObject(reply, "subscription", subscription);
        cJSON_AddBoolToObject(reply, "successful", 1);
        emit(ctx, reply);
        sim->stats.subscribes++;
        sim_pollers_changed_locked(sim); /* a held connect now polls this channel too */
        sim_wake_all_locked(sim); /* a held connect may now have events */
out:
        clients_put_locked(sim->clients, cl);
}

static void meta_unsubscribe(struct ctx *ctx, const cJSON *msg)
{
        struct sim *sim = ctx->sim;
        const char *subscription = str_member(msg, "subscription");
        char base[CHANNEL_NAME_MAX];
        struct channel *ch;
        struct client *cl;
        cJSON *reply;

        cl = session(ctx, msg, "/meta/unsubscribe");
        if (!cl)
                return;
        client_touch_locked(cl, sim_now_ms());
        reply = reply_new(msg, client_id(cl), "/meta/unsubscribe");
        if (!subscription || !*subscription) {
                reply_fail(reply, "400::Channel name not specified");
        } else {
                ch = channel_base(subscription, base, sizeof(base)) == 0
                             ? store_channel_locked(sim->store, base, 0)
                             : NULL;
                if (ch && client_unsubscribe_locked(cl, ch))
                        sim_pollers_changed_locked(sim);
                cJSON_AddStringToObject(reply, "subscription", subscription);
                cJSON_AddBoolToObject(reply, "successful", 1);
                sim->stats.unsubscribes++;
        }
        emit(ctx, reply);
        clients_put_locked(sim->clients, cl);
}

/* ---- /meta/disconnect --------------------------------------------------- */

static void meta_disconnect(struct ctx *ctx, const cJSON *msg)
{
        struct sim *sim = ctx->sim;
        struct client *cl;
        cJSON *reply;

        cl = session(ctx, msg, "/meta/disconnect");
        if (!cl)
                return;
        reply = reply_new(msg, client_id(cl), "/meta/disconnect");
        cJSON_AddBoolToObject(reply, "successful", 1);
        emit(ctx, reply);
        sim->stats.disconnects++;
        clients_remove_locked(sim->clients, cl, CLIENT_DISCONNECTED);
        clients_put_locked(sim->clients, cl);
        /* Its held connect, if any, stops counting now, before it answers. */
        sim_pollers_changed_locked(sim);
        sim_wake_all_locked(sim);
}

/* ---- /meta/connect ------------------------------------------------------ */

static void connect_ok(struct ctx *ctx, const cJSON *msg, struct client *cl)
{
        cJSON *reply = reply_new(msg, client_id(cl), "/meta/connect");

        cJSON_AddBoolToObject(reply, "successful", 1);
        reply_advice(reply, "retry", 0, ctx->sim->cfg.connect_timeout_ms);
        emit(ctx, reply);
}

/*
 * The server ends the session (Hyperforce scaling): a /meta/disconnect
 * message is pushed, and the connect reply says reconnect: none, as
 * CometD's server-side disconnect does (fault disconnect&advice=handshake
 * for the other wording).
 */
static void server_disconnect(struct ctx *ctx, const cJSON *msg, struct client *cl)
{
        cJSON *push = cJSON_CreateObject(), *reply;

        if (push) {
                cJSON_AddStringToObject(push, "clientId", client_id(cl));
                cJSON_AddStringToObject(push, "channel", "/meta/disconnect");
                cJSON_AddBoolToObject(push, "successful", 1);
                emit(ctx, push);
        }
        reply = reply_new(msg, client_id(cl), "/meta/connect");
        cJSON_AddBoolToObject(reply, "successful", 1);
        reply_advice(reply, ctx->sim->faults.disconnect_advice ? ctx->sim->faults.disconnect_advice
                                                               : "none", 0, -1);
        emit(ctx, reply);
        clients_remove_locked(ctx->sim->clients, cl, CLIENT_SERVER_DISCONNECTED);
}

/* Reference §4.1 (f): no delivery until the rolling 24 h usage drops. */
static void daily_limit(struct ctx *ctx, const cJSON *msg, struct client *cl)
{
        cJSON *reply = reply_new(msg, client_id(cl), "/meta/connect");

        reply_fail(reply, ERR_DAILY_LIMIT);
        reply_advice(reply, "none", 0, -1);
        emit(ctx, reply);
}

static void malformed(struct ctx *ctx, struct client *cl)
{
        /* Cut off mid-object: no JSON parser accepts it. */
        sbuf_reset(&ctx->out);
        sbuf_printf(&ctx->out, "[{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"successful\":tr",
                    client_id(cl));
        ctx->malformed = 1;
        ctx->stop = 1;
}

static void meta_connect(struct ctx *ctx, const cJSON *msg)
{
        struct sim *sim = ctx->sim;
        const char *type = str_member(msg, "connectionType");
        struct sim_poll held = { 0 }, **pp;
        int64_t now, deadline, next_check;
        int stalled, answered = 1, first;
        unsigned seq, stall_gen;
        struct client *cl;
        char err[160];
        cJSON *reply;
        size_t n;

        sim->stats.connects++;
        clients_note_connect_locked(sim->clients, str_member(msg, "clientId"));
        cl = session(ctx, msg, "/meta/connect");
        if (!cl)
                return;
        if (type && strcmp(type, "long-polling")) {
                snprintf(err, sizeof(err), "400::Invalid connection type {%.100s}", type);
                reply = reply_new(msg, client_id(cl), "/meta/connect");
                reply_fail(reply, err);
                emit(ctx, reply);
                goto out_put;
        }
        if (faults_take(&sim->faults, FAULT_CLOSE_MID_POLL)) {
                ctx->resp->close = 1;
                ctx->stop = 1;
                client_touch_locked(cl, sim_now_ms());
                goto out_put;
        }
        if (faults_take(&sim->faults, FAULT_TOO_BUSY)) {
                too_busy(ctx, msg, client_id(cl), "/meta/connect");
                client_touch_locked(cl, sim_now_ms());
                goto out_put;
        }
        if (faults_take(&sim->faults, FAULT_MALFORMED)) {
                malformed(ctx, cl);
                client_touch_locked(cl, sim_now_ms());
                goto out_put;
        }
        if (faults_take(&sim->faults, FAULT_CONNECT_UNKNOWN_CHANNEL)) {
                reply = reply_new(msg, client_id(cl), "/meta/connect");
                reply_fail(reply, "404::Unknown channel");
                emit(ctx, reply);
                client_touch_locked(cl, sim_now_ms());
                goto out_put;
        }
        if (faults_take(&sim->faults, FAULT_DAILY_LIMIT) || client_limit_spent_locked(cl, &sim->limits)) {
                daily_limit(ctx, msg, cl);
                client_touch_locked(cl, sim_now_ms());
                goto out_put;
        }

        if (faults_take(&sim->faults, FAULT_REDELIVER))
                client_rewind_locked(cl);
        first = !client_connected(cl);
        stalled = faults_take(&sim->faults, FAULT_STALL);
        stall_gen = sim->faults.clear_gen;
        seq = client_poll_begin_locked(cl);
        sim_pollers_changed_locked(sim);
        sim_wake_all_locked(sim); /* an older held connect of this client ends */
        held.next = sim->polls;
        sim->polls = &held;
        now = sim_now_ms();
        deadline = now + sim->cfg.connect_timeout_ms;
        next_check = now + PEER_CHECK_MS;
        for (;;) {
                if (sim->stopping || held.close) {
                        ctx->resp->close = 1;
                        ctx->stop = 1;
                        answered = 0;
                        break;
                }
                if (stalled && sim->faults.clear_gen != stall_gen)
                        stalled = 0;
                if (!stalled) {
                        /* Token before client, as for any request: a
                         * revocation that also moved the org (and so
                         * forgot its clients) is still an auth failure. */
                        if (oauth_revoked(sim->oauth, ctx->serial)) {
                                auth_invalid(ctx, msg, client_id(cl), "/meta/connect");
                                clients_remove_locked(sim->clients, cl, CLIENT_REVOKED);
                                break;
                        }
                        if (client_is_gone(cl)) {
                                unknown_client(ctx, msg, client_id(cl), "/meta/connect");
                                break;
                        }
                        if (client_disconnect_pending(cl)) {
                                server_disconnect(ctx, msg, cl);
                                break;
                        }
                        if (client_poll_superseded(cl, seq)) {
                                connect_ok(ctx, msg, cl);
                                break;
                        }
                        if (client_has_pending_locked(cl)) {
                                n = client_collect_locked(cl, sim->cfg.max_batch, sim->cfg.max_response_bytes,
                                                          &sim->limits, &ctx->out);
                                sim->stats.events_delivered += n;
                                connect_ok(ctx, msg, cl);
                                break;
                        }
                        /* The first connect after a handshake answers at once
                         * with the advice; later ones are held. */
                        if (!client_connected(cl) || now >= deadline) {
                                connect_ok(ctx, msg, cl);
                                break;
                        }
                }
                sim_wait_locked(sim, stalled || next_check < deadline ? next_check : deadline);
                now = sim_now_ms();
                if (now >= next_check) {
                        next_check = now + PEER_CHECK_MS;
                        if (ctx->req->peer_gone && ctx->req->peer_gone(ctx->req->peer_arg)) {
                                ctx->resp->close = 1;
                                ctx->stop = 1;
                                answered = 0;
                                break;
                        }
                }
        }
        for (pp = &sim->polls; *pp; pp = &(*pp)->next) {
                if (*pp == &held) {
                        *pp = held.next;
                        break;
                }
        }
        client_poll_end_locked(cl, answered, sim_now_ms());
        if (answered && first && client_doomed(cl) && !client_is_gone(cl)) {
                /* forget-after-first-connect: the session lives just long
                 * enough to look established, then the next connect is
                 * refused (403::Unknown client). */
                clients_remove_locked(sim->clients, cl, CLIENT_FORGOTTEN);
        }
        sim_pollers_changed_locked(sim);
out_put:
        clients_put_locked(sim->clients, cl);
}

/* ---- the request -------------------------------------------------------- */

static void dispatch(struct ctx *ctx, const cJSON *msg)
{
        const char *channel = cJSON_IsObject(msg) ? str_member(msg, "channel") : NULL;
        cJSON *reply;

        if (!channel) {
                reply = reply_new(cJSON_IsObject(msg) ? msg : NULL, NULL, "");
                reply_fail(reply, "400::Channel name not specified");
                emit(ctx, reply);
        } else if (!strcmp(channel, "/meta/handshake")) {
                meta_handshake(ctx, msg);
        } else if (!strcmp(channel, "/meta/connect")) {
                meta_connect(ctx, msg);
        } else if (!strcmp(channel, "/meta/subscribe")) {
                meta_subscribe(ctx, msg);
        } else if (!strcmp(channel, "/meta/unsubscribe")) {
                meta_unsubscribe(ctx, msg);
        } else if (!strcmp(channel, "/meta/disconnect")) {
                meta_disconnect(ctx, msg);
        } else {
                /* Salesforce takes no publishes over CometD. */
                reply = reply_new(msg, str_member(msg, "clientId"), channel);
                reply_fail(reply, "403::Publish denied");
                emit(ctx, reply);
        }
}

/* Close the array: the trailing ',' becomes ']'. */
static void finish(struct ctx *ctx)
{
        if (ctx->malformed)
                return;
        if (ctx->out.len > 1 && ctx->out.data[ctx->out.len - 1] == ',')
                ctx->out.data[ctx->out.len - 1] = ']';
        else
                sbuf_append(&ctx->out, "]", 1);
}

/* Answer each message (or one anonymous reply) with the same error. */
static void fail_all(struct ctx *ctx, const cJSON *msgs, const char *error)
{
        const cJSON *msg;
        cJSON *reply;

        if (cJSON_IsArray(msgs) && cJSON_GetArraySize(msgs) > 0) {
                cJSON_ArrayForEach(msg, msgs)
                {
                        const char *channel = cJSON_IsObject(msg) ? str_member(msg, "channel") : NULL;

                        reply = reply_new(cJSON_IsObject(msg) ? msg : NULL, NULL, channel ? channel : "");
                        reply_fail(reply, error);
                        emit(ctx, reply);
                }
        } else {
                const char *channel = cJSON_IsObject(msgs) ? str_member(msgs, "channel") : NULL;

                reply = reply_new(cJSON_IsObject(msgs) ? msgs : NULL, NULL, channel ? channel : "");
                reply_fail(reply, error);
                emit(ctx, reply);
        }
}

void cometd_handle(struct sim *sim, const struct cometd_request *req,
                   struct cometd_response *resp)
{
        struct ctx ctx;
        char token[256], err[200], error[220];
        const cJSON *msg;
        cJSON *msgs;
        double version;

        memset(resp, 0, sizeof(*resp));
        memset(&ctx, 0, sizeof(ctx));
        ctx.sim = sim;
        ctx.req = req;
        ctx.resp = resp;
        sbuf_init(&ctx.out, RESPONSE_MAX);
        sbuf_append(&ctx.out, "[", 1);
        resp->status = 200;

        msgs = cJSON_ParseWithLength(req->body, req->body_len);
        ctx.has_token = cometd_token_of(req->authorization, token, sizeof(token)) == 0;
        ctx.token_ok = ctx.has_token && oauth_check(sim->oauth, token, &ctx.serial) == 0;

        pthread_mutex_lock(&sim->lock);
        if (faults_take(&sim->faults, FAULT_HTTP_503)) {
                pthread_mutex_unlock(&sim->lock);
                cJSON_Delete(msgs);
                sbuf_free(&ctx.out);
                resp->status = 503;
                resp->body = strdup("503 Service Unavailable\n");
                resp->body_len = resp->body ? strlen(resp->body) : 0;
                return;
        }
        if (cometd_parse_version(req->path, &version, err, sizeof(err)) == -1) {
                resp->status = 400;
                snprintf(error, sizeof(error), "400::%s", err);
                fail_all(&ctx, msgs, error);
        } else if (!msgs || (!cJSON_IsArray(msgs) && !cJSON_IsObject(msgs)) ||
                   (cJSON_IsArray(msgs) && cJSON_GetArraySize(msgs) == 0)) {
                resp->status = 400;
                fail_all(&ctx, NULL, "400::Invalid message: expected a JSON array of Bayeux messages");
        } else if (cJSON_IsObject(msgs)) {
                ctx.index = -1;
                dispatch(&ctx, msgs);
        } else {
                cJSON_ArrayForEach(msg, msgs)
                {
                        dispatch(&ctx, msg);
                        if (ctx.stop)
                                break;
                        ctx.index++;
                }
        }
        pthread_mutex_unlock(&sim->lock);
        cJSON_Delete(msgs);
        memset(token, 0, sizeof(token));
        /* A long-poll uses its token for its whole hold. */
        if (ctx.token_ok)
                oauth_touch(sim->oauth, ctx.serial);

        if (resp->close) {
                sbuf_free(&ctx.out);
                return;
        }
        finish(&ctx);
        if (ctx.status && resp->status == 200)
                resp->status = ctx.status;
        if (ctx.out.toobig || !ctx.out.data) {
                sbuf_free(&ctx.out);
                resp->status = 500;
                return;
        }
        resp->body = sbuf_steal(&ctx.out, &resp->body_len);
        if (!resp->body)
                resp->status = 500;
}
