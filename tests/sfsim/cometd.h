/*
 * The CometD endpoint, /cometd/<version>: handshake, subscribe with the
 * replay extension, long-polling connect, unsubscribe, disconnect, and the
 * faults that act on them. It speaks Bayeux messages in and out and knows
 * nothing of sockets: the HTTP layer (server.c) hands it a request and sends
 * back what it fills in.
 */
#ifndef SFSIM_COMETD_H
#define SFSIM_COMETD_H

#include <stddef.h>

#include "clients.h"

#define COMETD_MAX_BODY 32768   /* Salesforce's request limit; beyond: HTTP 413 */
#define COMETD_LB_COOKIE "sfdc-stream" /* the load-balancer cookie's name */

struct sim;

struct cometd_request {
        const char *path;           /* /cometd/59.0 */
        const char *authorization;  /* Authorization header, or NULL */
        const char *browser_cookie; /* BAYEUX_BROWSER cookie, or NULL */
        const char *lb_cookie;      /* load-balancer cookie (COMETD_LB_COOKIE), or NULL */
        const char *body;           /* @p body_len bytes */
        size_t body_len;
        int tls;                    /* served over https: cookies get Secure */
        int peer_port;              /* the client's remote TCP port; 0: unknown */
        /* Polled while a long-poll is held: returns 1 once the client has
         * gone away, so the held request can end. May be NULL. */
        int (*peer_gone)(void *arg);
        void *peer_arg;
};

struct cometd_response {
        int status;                 /* HTTP status */
        char *body;                 /* malloc'd; the caller frees */
        size_t body_len;
        int close;                  /* close the connection, answer nothing */
        char set_cookie[2][192];    /* Set-Cookie values; empty when unused */
};

/**
 * @brief Process one POST to the CometD endpoint. A /meta/connect inside may
 *        block for up to --connect-timeout-ms (or until a stall is cleared).
 * @remark @p resp is overwritten; on return either resp->close is set or
 *         resp->body holds the answer (NULL only when out of memory, with
 *         status 500).
 * @locality any request thread; takes the sim lock itself.
 */
void cometd_handle(struct sim *sim, const struct cometd_request *req,
                   struct cometd_response *resp);

/**
 * @brief The version part of a CometD path.
 * @returns 0 and the version, or -1 with the exact Salesforce error text in
 *          @p err (without the "400::" prefix).
 */
int cometd_parse_version(const char *path, double *version, char *err, size_t err_size);

/**
 * @brief The token of an Authorization header: `Bearer X`, `OAuth X` or a
 *        bare `X` (the REST resources share CometD's rule).
 * @returns 0 with the token in @p buf, or -1 (absent, empty, too long).
 */
int cometd_token_of(const char *auth, char *buf, size_t size);

#endif
