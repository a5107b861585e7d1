/*
 * The admin API (see admin.h). Faults are named commands, like the
 * <servercmd> of curl's test server: each one either acts at once
 * (revoke-tokens, forget-clients, disconnect, clear) or is armed for the next
 * N matching requests, or until clear when no count is given.
 */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "channel.h"
#include "clients.h"
#include "fault.h"
#include "oauth.h"
#include "render.h"
#include "sbuf.h"
#include "sim.h"
#include "store.h"

#define PUBLISH_CHUNK 1024  /* events rendered per sim-lock acquisition */

static void answer(struct admin_response *resp, int status, char *body)
{
        resp->status = body ? status : 500;
        resp->body = body;
        resp->body_len = body ? strlen(body) : 0;
}

static void answer_error(struct admin_response *resp, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void answer_error(struct admin_response *resp, int status, const char *fmt, ...)
{
        char msg[512];
        cJSON *obj = cJSON_CreateObject();
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        answer(resp, status,
               obj && cJSON_AddStringToObject(obj, "error", msg) ? cJSON_PrintUnformatted(obj) : NULL);
        cJSON_Delete(obj);
}

/* Parse a decimal parameter in [min, max]. @returns 0, 1 (absent), -1 (bad). */
static int arg_long(const struct admin_request *req, const char *name, long min, long max, long *out)
{
        const char *s = req->arg(req->arg_ctx, name);
        char *end;
        long v;

        if (!s)
                return 1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (!*s || *end || errno || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

/*
 * fields= goes into events exactly as given, so it must be one JSON object
 * and nothing else. cJSON only checks it here (it accepts a little more than
 * JSON, e.g. a leading byte-order mark, hence the first test); the text is
 * never printed again through cJSON, which would round numbers.
 * @returns NULL when acceptable, else what is wrong.
 */
static const char *fields_error(const char *fields, int cdc)
{
        const char *err = NULL;
        cJSON *obj = NULL;

        if (fields[strspn(fields, " \t\r\n")] == '{')
                obj = cJSON_ParseWithOpts(fields, NULL, 1);
        if (!cJSON_IsObject(obj))
                err = "must be the text of one JSON object, e.g. {\"Name__c\":\"x\"}";
        else if (cdc && cJSON_GetObjectItemCaseSensitive(obj, "ChangeEventHeader"))
                err = "must not hold ChangeEventHeader: sfsim writes the header of change events";
        cJSON_Delete(obj);
        return err;
}

/* @returns 1 when @p s is a comma-separated list of valid change types. */
static int change_types_valid(const char *s)
{
        char one[16];
        size_t len;

        for (;;) {
                len = strcspn(s, ",");
                if (len >= sizeof(one))
                        return 0;
                memcpy(one, s, len);
                one[len] = '\0';
                if (!render_change_type_valid(one))
                        return 0;
                if (!s[len])
                        return 1;
                s += len + 1;
        }
}

/* @returns 1 when @p s is 1 to ADMIN_MAX_RECORD_IDS comma-separated record IDs. */
static int record_ids_valid(const char *s)
{
        static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        size_t len, n = 0;

        for (;;) {
                len = strspn(s, alnum);
                if (len < 15 || len > 18 || (s[len] && s[len] != ',') || ++n > ADMIN_MAX_RECORD_IDS)
                        return 0;
                if (!s[len])
                        return 1;
                s += len + 1;
        }
}

/*
 * changedFields of an UPDATE published with fields=: the object's member
 * names, in its order, as JSON strings. cJSON decoded them; printing a
 * string (not a number) back is exact. @returns a malloc'd text or NULL.
 */
static char *changed_fields_of(const char *fields)
{
        cJSON *obj = cJSON_Parse(fields), *item;
        struct sbuf sb;

        sbuf_init(&sb, 64 * 1024);
        sbuf_puts(&sb, "");
        cJSON_ArrayForEach(item, obj) {
                cJSON *name = cJSON_CreateString(item->string);
                char *text = name ? cJSON_PrintUnformatted(name) : NULL;

                if (!text || sbuf_printf(&sb, "%s%s", sb.len ? "," : "", text) == -1)
                        sb.toobig = 1;
                free(text);
                cJSON_Delete(name);
        }
        cJSON_Delete(obj);
        if (sb.toobig || !sb.data) {
                sbuf_free(&sb);
                return NULL;
        }
        return sbuf_steal(&sb, NULL);
}

static void publish(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        const char *name = req->arg(req->arg_ctx, "channel");
        struct store_publish_opts opts = { 0 };
        struct sim_event *evs[PUBLISH_CHUNK];
        long count = 1, size = 0, pretty = 0, bad_replay_id = 0, records = 0, transaction = 0;
        const char *record_id;
        char *changed = NULL;
        enum channel_kind kind;
        const char *err;
        uint64_t *ids = NULL;
        struct channel *ch;
        struct sbuf sb;
        size_t done = 0, n;
        int failed = 0, cdc;

        if (!name || !*name) {
                answer_error(resp, 400, "publish: parameter 'channel' is required");
                return;
        }
        if (!sim_channel_exists(sim, name)) {
                answer_error(resp, 400,
                             "publish: channel '%.200s' does not exist (use /topic/X, /event/X__e, "
                             "/event/X__chn, /event/<Standard> like /event/LoginEventStream, "
                             "/data/ChangeEvents, /data/XChangeEvent, /data/X__chn or /u/X)",
                             name);
                return;
        }
        if (arg_long(req, "count", 1, ADMIN_MAX_PUBLISH, &count) == -1) {
                answer_error(resp, 400, "publish: parameter 'count' must be an integer from 1 to %d",
                             ADMIN_MAX_PUBLISH);
                return;
        }
        if (arg_long(req, "size", 0, STORE_MAX_EVENT_SIZE, &size) == -1) {
                answer_error(resp, 400, "publish: parameter 'size' must be an integer from 0 to %d",
                             STORE_MAX_EVENT_SIZE);
                return;
        }
        opts.size = (size_t)size;
        opts.entity = req->arg(req->arg_ctx, "entity");
        if (opts.entity && !channel_entity_valid(opts.entity)) {
                answer_error(resp, 400, "publish: parameter 'entity' must match [A-Za-z0-9_]+");
                return;
        }
        opts.change_type = req->arg(req->arg_ctx, "change_type");
        if (opts.change_type && !change_types_valid(opts.change_type)) {
                answer_error(resp, 400,
                             "publish: parameter 'change_type' must be CREATE, UPDATE, DELETE, UNDELETE, "
                             "GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE or GAP_OVERFLOW, or a "
                             "comma-separated list of them (one per event, the last repeating)");
                return;
        }
        opts.fields = req->arg(req->arg_ctx, "fields");
        kind = channel_classify(name, NULL, 0);
        cdc = kind == CHANNEL_CDC_ALL || kind == CHANNEL_CDC_ENTITY || kind == CHANNEL_CDC_CHN;
        /* record_id= makes every event of the publish change one record (order
         * tests); record_ids= several (a merged change); records=N made-up ones. */
        record_id = req->arg(req->arg_ctx, "record_id");
        if (record_id && (!cdc || strchr(record_id, ',') || !record_ids_valid(record_id))) {
                answer_error(resp, 400,
                             "publish: parameter 'record_id' must be 15 to 18 of [A-Za-z0-9], on a "
                             "/data/ channel only");
                return;
        }
        opts.record_ids = req->arg(req->arg_ctx, "record_ids");
        if (opts.record_ids && (!cdc || !record_ids_valid(opts.record_ids))) {
                answer_error(resp, 400,
                             "publish: parameter 'record_ids' must be 1 to %d comma-separated IDs of 15 "
                             "to 18 of [A-Za-z0-9], on a /data/ channel only",
                             ADMIN_MAX_RECORD_IDS);
                return;
        }
        if (arg_long(req, "records", 1, ADMIN_MAX_RECORD_IDS, &records) == -1 ||
            (records && !cdc)) {
                answer_error(resp, 400,
                             "publish: parameter 'records' must be an integer from 1 to %d, on a /data/ "
                             "channel only",
                             ADMIN_MAX_RECORD_IDS);
                return;
        }
        if (!!record_id + !!opts.record_ids + !!records > 1) {
                answer_error(resp, 400, "publish: give one of 'record_id', 'record_ids' and 'records'");
                return;
        }
        if (record_id)
                opts.record_ids = record_id;
        opts.records = (unsigned)records;
        if (arg_long(req, "transaction", 0, 1, &transaction) == -1 || (transaction && !cdc)) {
                answer_error(resp, 400,
                             "publish: parameter 'transaction' must be 0 or 1, on a /data/ channel only");
                return;
        }
        opts.transaction = (int)transaction;
        if (opts.fields && (err = fields_error(opts.fields, cdc))) {
                answer_error(resp, 400, "publish: parameter 'fields' %s", err);
                return;
        }
        if (opts.fields && size > 0) {
                answer_error(resp, 400, "publish: give 'size' or 'fields', not both");
                return;
        }
        if (arg_long(req, "pretty", 0, 1, &pretty) == -1) {
                answer_error(resp, 400, "publish: parameter 'pretty' must be 0 or 1");
                return;
        }
        opts.pretty = (int)pretty;
        if (arg_long(req, "bad_replay_id", 0, 1, &bad_replay_id) == -1) {
                answer_error(resp, 400, "publish: parameter 'bad_replay_id' must be 0 or 1");
                return;
        }
        opts.bad_replay_id = (int)bad_replay_id;
        opts.count = (size_t)count;
        if (cdc && opts.fields && !(changed = changed_fields_of(opts.fields))) {
                answer(resp, 500, NULL);
                return;
        }
        opts.changed_fields = changed;
        ids = malloc((size_t)count * sizeof(*ids));
        if (!ids) {
                free(changed);
                answer(resp, 500, NULL);
                return;
        }
        pthread_mutex_lock(&sim->lock);
        ch = store_channel_locked(sim->store, name, 1);
        pthread_mutex_unlock(&sim->lock);
        if (!ch) {
                free(ids);
                free(changed);
                answer_error(resp, 503, "publish: too many channels (at most %d)", STORE_MAX_CHANNELS);
                return;
        }
        /* Render a chunk outside the sim lock, append it under the lock:
         * subscribers keep draining while a large publish runs. */
        store_publish_begin(ch);
        while (done < (size_t)count) {
                int64_t now = sim_wall_ms();

                n = (size_t)count - done < PUBLISH_CHUNK ? (size_t)count - done : PUBLISH_CHUNK;
                opts.index = done;
                if (store_render(sim->store, ch, &opts, evs, n, now) == -1) {
                        failed = 1;
                        break;
                }
                pthread_mutex_lock(&sim->lock);
                store_append_locked(sim->store, ch, evs, n, ids + done, now);
                sim_wake_all_locked(sim);
                pthread_mutex_unlock(&sim->lock);
                done += n;
        }
        store_publish_end(ch);
        free(changed);
        if (failed && done == 0) {
                free(ids);
                answer_error(resp, 500, "publish: out of memory");
                return;
        }

        sbuf_init(&sb, (size_t)count * 24 + 64);
        sbuf_puts(&sb, "{\"replay_ids\":[");
        for (n = 0; n < done; n++)
                sbuf_printf(&sb, n ? ",%" PRIu64 : "%" PRIu64, ids[n]);
        sbuf_puts(&sb, "]}");
        free(ids);
        if (sb.toobig || !sb.data) {
                sbuf_free(&sb);
                answer(resp, 500, NULL);
                return;
        }
        answer(resp, 200, sbuf_steal(&sb, NULL));
}

static char *fault_answer(const char *kind, long count, const char *what, size_t n)
{
        cJSON *obj = cJSON_CreateObject();
        char *text = NULL;

        if (obj && cJSON_AddBoolToObject(obj, "ok", 1) && cJSON_AddStringToObject(obj, "kind", kind) &&
            (count == 0 || cJSON_AddNumberToObject(obj, "count", (double)count)) &&
            (!what || cJSON_AddNumberToObject(obj, what, (double)n)))
                text = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        return text;
}

static void fault(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        const char *kind = req->arg(req->arg_ctx, "kind");
        const char *advice_arg = req->arg(req->arg_ctx, "advice");
        const char *advice = NULL;
        struct sim_poll *held;
        long count = -1, status = 0;
        size_t n = 0;
        int f;

        if (!kind) {
                answer_error(resp, 400, "fault: parameter 'kind' is required");
                return;
        }
        if (arg_long(req, "count", 1, 1000000000L, &count) == -1) {
                answer_error(resp, 400, "fault: parameter 'count' must be a positive integer");
                return;
        }
        /* The wording of the errors these faults cause (kept until clear). */
        if (arg_long(req, "status", 200, 599, &status) == -1) {
                answer_error(resp, 400, "fault: parameter 'status' must be an HTTP status (200 to 599)");
                return;
        }
        if (status && strcmp(kind, "revoke-tokens") && strcmp(kind, "forget-clients") &&
            strcmp(kind, "forget-after-first-connect")) {
                answer_error(resp, 400, "fault: parameter 'status' applies to revoke-tokens, "
                             "forget-clients and forget-after-first-connect only");
                return;
        }
        if (advice_arg && (strcmp(kind, "forget-clients") && strcmp(kind, "disconnect") &&
                           strcmp(kind, "forget-after-first-connect"))) {
                answer_error(resp, 400, "fault: parameter 'advice' applies to forget-clients, "
                             "forget-after-first-connect and disconnect only");
                return;
        }
        if (advice_arg && faults_parse_advice(advice_arg, strcmp(kind, "disconnect") != 0, &advice) == -1) {
                answer_error(resp, 400, "fault: parameter 'advice' must be none or handshake%s",
                             strcmp(kind, "disconnect") ? " or absent" : "");
                return;
        }
        pthread_mutex_lock(&sim->lock);
        if (!strcmp(kind, "revoke-tokens") && status)
                sim->faults.auth_status = (int)status;
        if (strcmp(kind, "revoke-tokens") && status)
                sim->faults.unknown_status = (int)status;
        if (advice_arg && !strcmp(kind, "disconnect")) {
                sim->faults.disconnect_advice = advice;
        } else if (advice_arg) {
                sim->faults.unknown_advice = advice;
                sim->faults.unknown_advice_set = 1;
        }
        pthread_mutex_unlock(&sim->lock);
        if (!strcmp(kind, "revoke-tokens")) {
                oauth_revoke_all(sim->oauth);
                pthread_mutex_lock(&sim->lock);
                /* As after an org migration: new tokens name the other
                 * instance, and a client that kept the old host fails. */
                sim_move_instance_locked(sim);
                sim_wake_all_locked(sim);
                pthread_mutex_unlock(&sim->lock);
                answer(resp, 200, fault_answer(kind, 0, NULL, 0));
                return;
        }
        if (!strcmp(kind, "forget-clients") || !strcmp(kind, "disconnect")) {
                pthread_mutex_lock(&sim->lock);
                n = kind[0] == 'f' ? clients_forget_all_locked(sim->clients)
                                   : clients_disconnect_all_locked(sim->clients);
                sim_pollers_changed_locked(sim);
                sim_wake_all_locked(sim);
                pthread_mutex_unlock(&sim->lock);
                answer(resp, 200, fault_answer(kind, 0, "clients", n));
                return;
        }
        if (!strcmp(kind, "clear")) {
                pthread_mutex_lock(&sim->lock);
                faults_clear(&sim->faults);
                sim_wake_all_locked(sim);
                pthread_mutex_unlock(&sim->lock);
                answer(resp, 200, fault_answer(kind, 0, NULL, 0));
                return;
        }
        f = fault_parse(kind);
        if (f < 0) {
                answer_error(resp, 400,
                             "fault: unknown kind '%.100s' (known: revoke-tokens, forget-clients, disconnect, "
                             "too-busy, concurrent-limit, stall, close-mid-poll, http-503, malformed, "
                             "restricted-channel, subscribe-denied, daily-limit, server-limit, redeliver, "
                             "forget-after-first-connect, connect-unknown-channel, clear)",
                             kind);
                return;
        }
        if (f == FAULT_RESTRICTED_CHANNEL || f == FAULT_SUBSCRIBE_DENIED) {
                const char *ch = req->arg(req->arg_ctx, "channel");
                char *dst = f == FAULT_RESTRICTED_CHANNEL ? sim->faults.channel : sim->faults.denied;

                if (!ch || ch[0] != '/' || strlen(ch) >= sizeof(sim->faults.channel)) {
                        answer_error(resp, 400, "fault: %s needs parameter 'channel' "
                                     "(a channel name such as /topic/X, at most %zu bytes)",
                                     kind, sizeof(sim->faults.channel) - 1);
                        return;
                }
                pthread_mutex_lock(&sim->lock);
                snprintf(dst, sizeof(sim->faults.channel), "%s", ch);
                pthread_mutex_unlock(&sim->lock);
        }
        pthread_mutex_lock(&sim->lock);
        faults_arm(&sim->faults, (enum fault_kind)f, count);
        if (f == FAULT_CLOSE_MID_POLL) {
                /* Long-polls held now are closed first; what is left of the
                 * count hits the next connects. */
                for (held = sim->polls; held; held = held->next) {
                        if (!held->close && faults_take(&sim->faults, FAULT_CLOSE_MID_POLL)) {
                                held->close = 1;
                                n++;
                        }
                }
                sim_wake_all_locked(sim);
        }
        pthread_mutex_unlock(&sim->lock);
        answer(resp, 200, fault_answer(kind, count, f == FAULT_CLOSE_MID_POLL ? "closed" : NULL, n));
}

static void retention(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        long keep = 0;
        size_t dropped;
        char text[64];

        if (arg_long(req, "keep", 0, 1000000000L, &keep) != 0) {
                answer_error(resp, 400, "retention: parameter 'keep' must be an integer >= 0");
                return;
        }
        pthread_mutex_lock(&sim->lock);
        dropped = store_truncate_locked(sim->store, (size_t)keep);
        pthread_mutex_unlock(&sim->lock);
        snprintf(text, sizeof(text), "{\"dropped\":%zu}", dropped);
        answer(resp, 200, strdup(text));
}

/* POST /admin/max-response?bytes=N: as --max-response-bytes, from the next
 * answer on (a test makes one answer just under a client's ceiling, then one
 * over it). */
static void max_response(struct sim *sim, const struct admin_request *req,
                         struct admin_response *resp)
{
        long bytes = 0;
        char text[64];

        if (arg_long(req, "bytes", 4096, 30L * 1024 * 1024, &bytes) != 0) {
                answer_error(resp, 400, "max-response: parameter 'bytes' must be an integer "
                             "from 4096 to %ld", 30L * 1024 * 1024);
                return;
        }
        pthread_mutex_lock(&sim->lock);
        sim->cfg.max_response_bytes = (size_t)bytes;
        pthread_mutex_unlock(&sim->lock);
        snprintf(text, sizeof(text), "{\"max_response_bytes\":%ld}", bytes);
        answer(resp, 200, strdup(text));
}

/* POST /admin/credentials?password=P: rotate the password-flow password. */
static void clients_list(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        (void)req;
        answer(resp, 200, sim_clients_json(sim));
}

static void reset_pollers(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        (void)req;
        answer(resp, 200, sim_pollers_reset(sim));
}

static void credentials(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        if (oauth_set_password(sim->oauth, req->arg(req->arg_ctx, "password")) == -1) {
                answer_error(resp, 400, "credentials: parameter 'password' must be 1 to 255 bytes");
                return;
        }
        answer(resp, 200, strdup("{\"rotated\":\"password\"}"));
}

/* POST /admin/token-answer[?instance_url=URL][&access_token=crlf]: a hostile
 * token endpoint; without parameters, the real answer again. */
static void token_answer(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        const char *url = req->arg(req->arg_ctx, "instance_url");
        const char *tok = req->arg(req->arg_ctx, "access_token");

        if ((url && strlen(url) >= 512) || (tok && strcmp(tok, "crlf") && strcmp(tok, "normal"))) {
                answer_error(resp, 400, "token-answer: instance_url under 512 bytes, access_token=crlf|normal");
                return;
        }
        oauth_set_answer(sim->oauth, url, tok && !strcmp(tok, "crlf"));
        answer(resp, 200, strdup("{\"token_answer\":\"set\"}"));
}

void admin_handle(struct sim *sim, const struct admin_request *req, struct admin_response *resp)
{
        static const struct {
                const char *path, *method;
                void (*fn)(struct sim *, const struct admin_request *, struct admin_response *);
        } routes[] = {
                { "/admin/publish", "POST", publish },
                { "/admin/fault", "POST", fault },
                { "/admin/retention", "POST", retention },
                { "/admin/max-response", "POST", max_response },
                { "/admin/credentials", "POST", credentials },
                { "/admin/stats", "GET", NULL },
                { "/admin/clients", "GET", clients_list },
                { "/admin/reset-pollers", "POST", reset_pollers },
                { "/admin/token-answer", "POST", token_answer },
        };
        size_t i;

        memset(resp, 0, sizeof(*resp));
        for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
                if (strcmp(req->path, routes[i].path))
                        continue;
                if (strcmp(req->method, routes[i].method)) {
                        answer_error(resp, 405, "%s takes %s", routes[i].path, routes[i].method);
                        return;
                }
                if (routes[i].fn)
                        routes[i].fn(sim, req, resp);
                else
                        answer(resp, 200, sim_stats_json(sim));
                return;
        }
        answer_error(resp, 404,
                     "unknown admin endpoint '%.100s' (known: /admin/publish, /admin/fault, "
                     "/admin/retention, /admin/max-response, /admin/credentials, /admin/stats, "
                     "/admin/clients, /admin/reset-pollers, /admin/token-answer)",
                     req->path);
}
