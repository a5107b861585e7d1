/*
 * The Bayeux client table (see clients.h). Few clients exist at a time (one
 * per bridge session), so the table is a list; lookups also expire clients
 * lazily, which is all the bookkeeping the 40-second rule needs.
 */
#include "clients.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "channel.h"
#include "render.h"
#include "sim.h"
#include "store.h"

struct sub {
        struct channel *ch;
        uint64_t cursor;  /* last replay ID delivered (or the start point) */
};

struct client {
        char id[CLIENT_ID_LEN + 1];
        char browser[CLIENT_ID_LEN + 1];
        char lb[CLIENT_LB_MAX];  /* load-balancer cookie at handshake */
        int64_t last_seen_ms;  /* monotonic: last handshake/subscribe/response */
        int polls;             /* /meta/connect requests in progress */
        unsigned poll_seq;
        int connected;         /* a /meta/connect was answered */
        int gone;
        int disconnect_pending;
        int doomed;            /* forgotten right after its first connect answers */
        int refs;              /* the table's own + one per request using it */
        struct sub *subs;
        size_t nsubs, cap_subs;
        size_t rr;             /* channel that goes first in the next response */
        struct client *next;

        /* For GET /admin/clients, kept after removal (CLIENTS_KEPT). */
        uint64_t seq;          /* creation order */
        int64_t created_wall_ms;
        int64_t last_connect_wall_ms; /* 0: no /meta/connect yet */
        uint64_t connects;     /* /meta/connect messages naming this clientId */
        int peer_port;         /* the handshake's remote port; 0: unknown */
        enum client_end end;
        int64_t ended_wall_ms;
        size_t nkept;          /* once removed: subs[0..nkept) were its subscriptions */
};

struct clients {
        long expiry_ms;
        size_t max_clients;
        size_t count;
        size_t peak;      /* most live at once, for /admin/stats */
        struct client *list;
        struct client *gone;  /* removed ones, newest first, for /admin/clients */
        size_t ngone;
        uint64_t next_seq;
};

struct clients *clients_new(long expiry_ms, size_t max_clients)
{
        struct clients *clients = calloc(1, sizeof(*clients));

        if (!clients)
                return NULL;
        clients->expiry_ms = expiry_ms;
        clients->max_clients = max_clients && max_clients < CLIENTS_MAX ? max_clients : CLIENTS_MAX;
        return clients;
}

static void client_free(struct client *cl)
{
        free(cl->subs);
        free(cl);
}

/* The subscriptions end; their channels stay in subs[] for the listing. */
static void unsubscribe_all(struct client *cl)
{
        size_t i;

        for (i = 0; i < cl->nsubs; i++)
                store_note_subscription_locked(cl->subs[i].ch, -1);
        cl->nkept = cl->nsubs;
        cl->nsubs = 0;
}

static void free_list(struct client *cl)
{
        struct client *next;

        for (; cl; cl = next) {
                next = cl->next;
                client_free(cl);
        }
}

void clients_destroy(struct clients *clients)
{
        if (!clients)
                return;
        free_list(clients->list);
        free_list(clients->gone);
        free(clients);
}

/* 26 characters of [a-z0-9], like Salesforce's clientIds. */
static int random_id(char out[CLIENT_ID_LEN + 1])
{
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        unsigned char raw[CLIENT_ID_LEN];
        int i;

        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -1;
        for (i = 0; i < CLIENT_ID_LEN; i++)
                out[i] = alphabet[raw[i] % 36];
        out[CLIENT_ID_LEN] = '\0';
        return 0;
}

static void unlink_client(struct clients *clients, struct client *cl)
{
        struct client **pp;

        for (pp = &clients->list; *pp; pp = &(*pp)->next) {
                if (*pp == cl) {
                        *pp = cl->next;
                        cl->next = NULL;
                        clients->count--;
                        return;
                }
        }
}

/* Keep a removed client listed; past CLIENTS_KEPT the oldest one goes. */
static void keep_gone(struct clients *clients, struct client *cl)
{
        struct client **pp;

        cl->next = clients->gone;
        clients->gone = cl;
        if (++clients->ngone <= CLIENTS_KEPT)
                return;
        for (pp = &clients->gone; (*pp)->next; pp = &(*pp)->next)
                ;
        cl = *pp;
        *pp = NULL;
        clients->ngone--;
        clients_put_locked(clients, cl); /* the table's reference */
}

void clients_remove_locked(struct clients *clients, struct client *cl, enum client_end why)
{
        if (cl->gone)
                return;
        cl->gone = 1;
        cl->end = why;
        cl->ended_wall_ms = sim_wall_ms();
        if (why == CLIENT_EXPIRED) /* noticed late (lookups sweep): say when it expired */
                cl->ended_wall_ms -= sim_now_ms() - (cl->last_seen_ms + clients->expiry_ms);
        unsubscribe_all(cl);
        unlink_client(clients, cl);
        keep_gone(clients, cl); /* takes over the table's reference */
}

void clients_put_locked(struct clients *clients, struct client *cl)
{
        (void)clients;
        if (cl && --cl->refs == 0)
                client_free(cl);
}

static int expired(const struct clients *clients, const struct client *cl, int64_t now_ms)
{
        return cl->polls == 0 && now_ms - cl->last_seen_ms > clients->expiry_ms;
}

static void sweep(struct clients *clients, int64_t now_ms)
{
        struct client *cl, *next;

        for (cl = clients->list; cl; cl = next) {
                next = cl->next;
                if (expired(clients, cl, now_ms))
                        clients_remove_locked(clients, cl, CLIENT_EXPIRED);
        }
}

struct client *clients_add_locked(struct clients *clients, int64_t now_ms, int *full)
{
        struct client *cl;

        *full = 0;
        sweep(clients, now_ms);
        if (clients->count >= clients->max_clients) {
                *full = 1;
                return NULL;
        }
        cl = calloc(1, sizeof(*cl));
        if (!cl)
                return NULL;
        if (random_id(cl->id) == -1 || random_id(cl->browser) == -1) {
                free(cl);
                return NULL;
        }
        cl->last_seen_ms = now_ms;
        cl->seq = ++clients->next_seq;
        cl->created_wall_ms = sim_wall_ms();
        cl->refs = 2; /* the table's and the caller's */
        cl->next = clients->list;
        clients->list = cl;
        clients->count++;
        if (clients->count > clients->peak)
                clients->peak = clients->count;
        return cl;
}

struct client *clients_get_locked(struct clients *clients, const char *id, int64_t now_ms)
{
        struct client *cl;

        for (cl = clients->list; cl; cl = cl->next) {
                if (strcmp(cl->id, id))
                        continue;
                if (expired(clients, cl, now_ms)) {
                        clients_remove_locked(clients, cl, CLIENT_EXPIRED);
                        return NULL;
                }
                cl->refs++;
                return cl;
        }
        return NULL;
}

size_t clients_forget_all_locked(struct clients *clients)
{
        size_t n = 0;

        while (clients->list) {
                clients_remove_locked(clients, clients->list, CLIENT_FORGOTTEN);
                n++;
        }
        return n;
}

size_t clients_disconnect_all_locked(struct clients *clients)
{
        struct client *cl;
        size_t n = 0;

        for (cl = clients->list; cl; cl = cl->next) {
                cl->disconnect_pending = 1;
                n++;
        }
        return n;
}

size_t clients_count_locked(struct clients *clients, int64_t now_ms)
{
        sweep(clients, now_ms);
        return clients->count;
}

size_t clients_peak_locked(const struct clients *clients)
{
        return clients->peak;
}

const char *client_id(const struct client *cl)
{
        return cl->id;
}

const char *client_browser(const struct client *cl)
{
        return cl->browser;
}

int client_cookie_ok(const struct client *cl, const char *cookie)
{
        return cookie && !strcmp(cookie, cl->browser);
}

void client_set_lb(struct client *cl, const char *value)
{
        size_t n = strnlen(value, sizeof(cl->lb) - 1);

        memcpy(cl->lb, value, n);
        cl->lb[n] = '\0';
}

int client_lb_ok(const struct client *cl, const char *cookie)
{
        return cookie && !strcmp(cookie, cl->lb);
}

int client_is_gone(const struct client *cl)
{
        return cl->gone;
}

int client_disconnect_pending(const struct client *cl)
{
        return cl->disconnect_pending;
}

void client_doom_locked(struct client *cl)
{
        cl->doomed = 1;
}

int client_doomed(const struct client *cl)
{
        return cl->doomed;
}

int client_connected(const struct client *cl)
{
        return cl->connected;
}

void client_touch_locked(struct client *cl, int64_t now_ms)
{
        cl->last_seen_ms = now_ms;
}

int client_subscribe_locked(struct client *cl, struct channel *ch, uint64_t cursor)
{
        size_t i;

        for (i = 0; i < cl->nsubs; i++) {
                if (cl->subs[i].ch == ch) {
                        cl->subs[i].cursor = cursor;
                        store_note_subscription_locked(ch, 0);
                        return 0;
                }
        }
        if (cl->nsubs >= CLIENT_MAX_SUBS)
                return -1;
        if (cl->nsubs == cl->cap_subs) {
                size_t cap = cl->cap_subs ? cl->cap_subs * 2 : 8;
                struct sub *subs = realloc(cl->subs, cap * sizeof(*subs));

                if (!subs)
                        return -1;
                cl->subs = subs;
                cl->cap_subs = cap;
        }
        cl->subs[cl->nsubs].ch = ch;
        cl->subs[cl->nsubs].cursor = cursor;
        cl->nsubs++;
        store_note_subscription_locked(ch, 1);
        return 1;
}

int client_unsubscribe_locked(struct client *cl, struct channel *ch)
{
        size_t i;

        for (i = 0; i < cl->nsubs; i++) {
                if (cl->subs[i].ch == ch) {
                        store_note_subscription_locked(ch, -1);
                        memmove(&cl->subs[i], &cl->subs[i + 1],
                                (cl->nsubs - i - 1) * sizeof(cl->subs[0]));
                        cl->nsubs--;
                        return 1;
                }
        }
        return 0;
}

void client_rewind_locked(struct client *cl)
{
        size_t i;

        for (i = 0; i < cl->nsubs; i++)
                cl->subs[i].cursor = 0; /* as -2: store_replay_start_locked() */
}

int client_has_pending_locked(const struct client *cl)
{
        size_t i;

        for (i = 0; i < cl->nsubs; i++)
                if (store_has_after_locked(cl->subs[i].ch, cl->subs[i].cursor))
                        return 1;
        return 0;
}

static enum limits_kind sub_kind(const struct sub *sub)
{
        return limits_kind_of(channel_classify(store_channel_name(sub->ch), NULL, 0));
}

size_t client_collect_locked(struct client *cl, size_t max_events, size_t max_bytes,
                             struct limits *limits, struct sbuf *out)
{
        size_t k, n, room, taken = 0;

        for (k = 0; k < cl->nsubs && taken < max_events; k++) {
                struct sub *sub = &cl->subs[(cl->rr + k) % cl->nsubs];
                enum limits_kind kind = sub_kind(sub);

                room = limits_room(limits, kind);
                if (room == 0)
                        continue;
                n = store_collect_locked(sub->ch, &sub->cursor,
                                         max_events - taken < room ? max_events - taken : room,
                                         max_bytes, taken > 0, out);
                limits_count(limits, kind, n);
                taken += n;
        }
        if (cl->nsubs)
                cl->rr = (cl->rr + 1) % cl->nsubs;
        return taken;
}

int client_limit_spent_locked(const struct client *cl, const struct limits *limits)
{
        size_t k;

        for (k = 0; k < cl->nsubs; k++)
                if (limits_room(limits, sub_kind(&cl->subs[k])) == 0)
                        return 1;
        return 0;
}

unsigned client_poll_begin_locked(struct client *cl)
{
        cl->polls++;
        return ++cl->poll_seq;
}

int client_poll_superseded(const struct client *cl, unsigned seq)
{
        return cl->poll_seq != seq;
}

void client_poll_end_locked(struct client *cl, int answered, int64_t now_ms)
{
        cl->polls--;
        if (answered)
                cl->connected = 1;
        cl->last_seen_ms = now_ms;
}

void client_set_peer_port(struct client *cl, int port)
{
        cl->peer_port = port;
}

static struct client *find(struct client *cl, const char *id)
{
        for (; cl; cl = cl->next)
                if (!strcmp(cl->id, id))
                        return cl;
        return NULL;
}

void clients_note_connect_locked(struct clients *clients, const char *id)
{
        struct client *cl;

        if (!id)
                return;
        cl = find(clients->list, id);
        if (!cl)
                cl = find(clients->gone, id);
        if (!cl)
                return;
        cl->connects++;
        cl->last_connect_wall_ms = sim_wall_ms();
}

void clients_tally_pollers_locked(const struct clients *clients)
{
        const struct client *cl;
        size_t i;

        for (cl = clients->list; cl; cl = cl->next)
                if (cl->polls > 0)
                        for (i = 0; i < cl->nsubs; i++)
                                store_pollers_tally_locked(cl->subs[i].ch);
}

static const char *end_name(enum client_end end)
{
        switch (end) {
        case CLIENT_LIVE: return "live";
        case CLIENT_DISCONNECTED: return "disconnected";
        case CLIENT_EXPIRED: return "expired";
        case CLIENT_FORGOTTEN: return "forgotten";
        case CLIENT_REVOKED: return "revoked";
        case CLIENT_SERVER_DISCONNECTED: return "server-disconnected";
        }
        return "?";
}

static int add_time(cJSON *obj, const char *name, int64_t wall_ms)
{
        char text[32];

        if (!wall_ms)
                return cJSON_AddNullToObject(obj, name) ? 0 : -1;
        render_iso_time(wall_ms, text);
        return cJSON_AddStringToObject(obj, name, text) ? 0 : -1;
}

static cJSON *client_json(const struct client *cl)
{
        cJSON *obj = cJSON_CreateObject(), *subs;
        size_t i, n = cl->gone ? cl->nkept : cl->nsubs;
        int rc = 0;

        if (!obj)
                return NULL;
        rc |= cJSON_AddStringToObject(obj, "clientId", cl->id) ? 0 : -1;
        rc |= add_time(obj, "created", cl->created_wall_ms);
        rc |= add_time(obj, "last_connect", cl->last_connect_wall_ms);
        rc |= cJSON_AddNumberToObject(obj, "connects", (double)cl->connects) ? 0 : -1;
        subs = cJSON_AddArrayToObject(obj, "subscriptions");
        for (i = 0; subs && i < n; i++)
                if (!cJSON_AddItemToArray(subs, cJSON_CreateString(store_channel_name(cl->subs[i].ch))))
                        rc = -1;
        rc |= subs ? 0 : -1;
        rc |= cJSON_AddBoolToObject(obj, "polling", !cl->gone && cl->polls > 0) ? 0 : -1;
        rc |= cJSON_AddBoolToObject(obj, "disconnected", cl->end == CLIENT_DISCONNECTED) ? 0 : -1;
        rc |= cJSON_AddStringToObject(obj, "state", end_name(cl->end)) ? 0 : -1;
        rc |= add_time(obj, "ended", cl->gone ? cl->ended_wall_ms : 0);
        rc |= cJSON_AddNumberToObject(obj, "peer_port", cl->peer_port) ? 0 : -1;
        if (rc) {
                cJSON_Delete(obj);
                return NULL;
        }
        return obj;
}

static int by_seq(const void *a, const void *b)
{
        const struct client *x = *(const struct client *const *)a, *y = *(const struct client *const *)b;

        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int clients_json_locked(struct clients *clients, cJSON *arr, int64_t now_ms)
{
        struct client *cl, **all;
        size_t n = 0, i;
        int rc = 0;

        sweep(clients, now_ms);
        all = malloc((clients->count + clients->ngone + 1) * sizeof(*all));
        if (!all)
                return -1;
        for (cl = clients->list; cl; cl = cl->next)
                all[n++] = cl;
        for (cl = clients->gone; cl; cl = cl->next)
                all[n++] = cl;
        qsort(all, n, sizeof(*all), by_seq);
        for (i = 0; i < n && rc == 0; i++) {
                cJSON *obj = client_json(all[i]);

                if (!obj || !cJSON_AddItemToArray(arr, obj)) {
                        cJSON_Delete(obj);
                        rc = -1;
                }
        }
        free(all);
        return rc;
}
