/*
 * The emulator's shared state: its configuration, the one lock that guards
 * the event store, the client table and the faults, and the condition
 * variable every held /meta/connect waits on. This is where the pieces meet;
 * each piece (store, clients, fault, oauth) keeps its own struct opaque.
 *
 * Lock discipline: one mutex, sim->lock, held only for short, bounded work
 * (append a rendered chunk, copy a batch of ready-made JSON, update a
 * client). Rendering events and writing to sockets happen outside it. Every
 * change a held connect may be waiting for is followed by sim_wake_all_locked().
 * The OAuth token registry has its own mutex, taken after sim->lock if both.
 */
#ifndef SFSIM_SIM_H
#define SFSIM_SIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "limits.h"

#define SIM_MAX_MISSING 64
#define SIM_INSTANCES 2      /* instance hosts; the token names one, revoke-tokens moves on */

struct store;
struct clients;
struct oauth;

/** The command line, parsed (strings point into argv; not owned). */
struct sim_config {
        char listen_host[64];
        int listen_port;
        const char *client_id;
        const char *client_secret;
        const char *username;
        const char *password;
        const char *jwt_public_key;   /* PEM file, or NULL: JWT flow refused */
        const char *refresh_token;    /* or NULL: refresh flow refused */
        int my_domain;                /* a My Domain login host: client_credentials allowed */
        const char *experience_site;  /* a JWT aud accepted besides login/test, or NULL */
        int password_flow_blocked;    /* the org blocks the username-password flow */
        long token_idle_timeout_ms;   /* an access token unused this long dies; 0: never */
        int rotate_refresh_token;     /* each refresh returns a new refresh token */
        long connect_timeout_ms;      /* long-poll hold, advice.timeout */
        long client_expiry_ms;        /* forget a client silent this long */
        size_t retention;             /* events kept per channel */
        long retention_age_s;         /* 0: no age limit */
        size_t max_batch;             /* events per /meta/connect response */
        size_t max_response_bytes;    /* events' bytes per /meta/connect response, about */
        size_t max_clients;           /* 0: no limit but the hard cap */
        uint64_t daily_delivery_limit; /* per allocation, enforced; 0: reported only */
        uint64_t first_replay_id;     /* of every channel; 0: per-channel default */
        const char *tls_cert;
        const char *tls_key;
        const char *org_id;           /* 18 characters, starts with 00D */
        const char *public_url;       /* advertised instead of the listen address */
        const char *stats_json;       /* write /admin/stats here at exit */
        const char *missing[SIM_MAX_MISSING]; /* channels that "don't exist" */
        size_t nmissing;
        int verbose;                  /* one stderr line per request */
        int single_host;              /* CometD on the login URL, as before instance hosts */
        long lb_cookie_ttl_ms;        /* load-balancer cookie lifetime; 0: never expires */
};

struct sim_stats {
        uint64_t handshakes;          /* successful handshakes */
        uint64_t handshakes_denied;
        uint64_t clients_refused;     /* handshakes refused by --max-clients */
        uint64_t connects;            /* /meta/connect messages received */
        uint64_t subscribes;          /* successful subscribes */
        uint64_t unsubscribes;
        uint64_t disconnects;         /* client /meta/disconnect */
        uint64_t events_delivered;
        uint64_t http_requests;       /* requests of any route */
        uint64_t wrong_host;          /* refused: the route is served on another host */
        uint64_t lb_refused;          /* 403::Unknown client for a missing/other/expired LB cookie */
};

/* A /meta/connect being held, so close-mid-poll can reach it. */
struct sim_poll {
        int close;                    /* set by close-mid-poll */
        struct sim_poll *next;
};

struct sim {
        struct sim_config cfg;
        char url[256];                /* login URL, no trailing / */
        char user_id[19];
        /* Instance URLs (no trailing /): where CometD and REST are served.
         * With --single-host there is one, the login URL itself. */
        char instance_url[SIM_INSTANCES][256];
        int ninstances;

        pthread_mutex_t lock;
        pthread_cond_t cond;          /* CLOCK_MONOTONIC */
        int stopping;                 /* SIGTERM: answer nothing more */

        /* Guarded by lock. */
        struct store *store;
        struct clients *clients;
        struct faults faults;
        struct sim_poll *polls;
        struct sim_stats stats;
        struct limits limits;         /* deliveries per allocation */
        int instance;                 /* index of the instance the token endpoint names */
        unsigned instance_gen;        /* bumped at each move: old load-balancer cookies die */

        struct oauth *oauth;          /* own mutex */
};

/** @returns monotonic milliseconds. */
int64_t sim_now_ms(void);

/** @returns wall-clock epoch milliseconds. */
int64_t sim_wall_ms(void);

/**
 * @brief Build the emulator's state for @p cfg advertised at @p url.
 * @returns a new sim, free with sim_destroy(), or NULL with errstr set
 *          (e.g. an unreadable JWT public key, named by file).
 */
struct sim *sim_new(const struct sim_config *cfg, const char *url, char *errstr,
                    size_t errstr_size);

/**
 * @brief Set the instance URLs (before any request). @p n is 1 to
 *        SIM_INSTANCES; the first one is current and goes to the token endpoint.
 */
void sim_set_instances(struct sim *sim, char urls[][256], int n);

/**
 * @brief The org moved (revoke-tokens): the next instance becomes current,
 *        new tokens name it, and the old one no longer serves CometD or REST.
 *        With one instance nothing changes. @locality lock held.
 */
void sim_move_instance_locked(struct sim *sim);

/** @returns 1 when instance @p index serves CometD and REST now. @locality lock held. */
int sim_instance_current_locked(const struct sim *sim, int index);

/** @brief Free everything. Accepts NULL. @locality no request in progress. */
void sim_destroy(struct sim *sim);

/** @brief Wake every held /meta/connect to re-check its state. @locality lock held. */
void sim_wake_all_locked(struct sim *sim);

/** @brief Wait on sim->cond until woken or @p deadline_ms (monotonic). @locality lock held. */
void sim_wait_locked(struct sim *sim, int64_t deadline_ms);

/**
 * @returns 1 when @p name (bare) is a channel this org has: a valid name
 *          that --missing-channel does not list.
 */
int sim_channel_exists(const struct sim *sim, const char *name);

/**
 * @brief Recount the long-polling clients of every channel (pollers.h):
 *        call after each change of who polls what (a /meta/connect begins
 *        or ends, a subscribe or unsubscribe, a polling client removed).
 * @locality lock held.
 */
void sim_pollers_changed_locked(struct sim *sim);

/**
 * @brief Render GET /admin/clients: {"clients":[...]} (clients.h).
 * @returns a malloc'd JSON object text, or NULL (out of memory).
 */
char *sim_clients_json(struct sim *sim);

/**
 * @brief POST /admin/reset-pollers: every channel's high-water mark
 *        becomes its current count, its overlap 0.
 * @returns a malloc'd JSON object text {"reset":N} (N channels), or NULL.
 */
char *sim_pollers_reset(struct sim *sim);

/**
 * @brief Render GET /admin/stats.
 * @returns a malloc'd JSON object text, or NULL (out of memory).
 */
char *sim_stats_json(struct sim *sim);

#endif
