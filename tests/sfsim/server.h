/*
 * The HTTP side of the emulator: libmicrohttpd with a thread per connection
 * (a held long-poll simply blocks its own thread), routing to the OAuth
 * endpoint, the CometD endpoint and the admin API, with a ceiling on every
 * request body.
 */
#ifndef SFSIM_SERVER_H
#define SFSIM_SERVER_H

#include <stddef.h>

struct server;
struct sim;

/* What a listener serves. Salesforce's login host hands out tokens and the
 * org's instance host serves the APIs; each refuses the other's work. */
enum server_role {
        SERVER_LOGIN,     /* token endpoint and admin API */
        SERVER_INSTANCE,  /* CometD and REST, while its instance is current */
        SERVER_ALL        /* --single-host: everything on the login URL */
};

/**
 * @brief Start serving on an already listening socket.
 * @param listen_fd  bound and listening; the server owns it from here on.
 * @param role       what this listener serves.
 * @param instance   with SERVER_INSTANCE: the index into sim->instance_url.
 * @param tls_cert   PEM certificate text (NUL-terminated) or NULL for http.
 * @param tls_key    PEM key text, with @p tls_cert.
 * @returns a running server, stop it with server_destroy(), or NULL with
 *          errstr set.
 */
struct server *server_new(struct sim *sim, int listen_fd, enum server_role role, int instance,
                          const char *tls_cert, const char *tls_key, char *errstr,
                          size_t errstr_size);

/**
 * @brief Stop: every held long-poll ends (its connection is closed), every
 *        connection thread is joined. Accepts NULL.
 */
void server_destroy(struct server *server);

#endif
