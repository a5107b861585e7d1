/*
 * libmicrohttpd glue (see server.h): one thread per connection, request
 * bodies collected under a ceiling (a CometD body over 32,768 bytes is
 * answered 413, as Salesforce does), then handed to oauth, cometd or admin
 * when this listener's role serves the route.
 */
#define _GNU_SOURCE /* POLLRDHUP: notice a client that hung up mid-poll */

#include "server.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "admin.h"
#include "cometd.h"
#include "limits.h"
#include "oauth.h"
#include "sbuf.h"
#include "sim.h"

#define TOKEN_MAX_BODY 65536
#define ADMIN_MAX_BODY 65536
#define JSON_TYPE "application/json;charset=UTF-8"

struct server {
        struct sim *sim;
        struct MHD_Daemon *daemon;
        int listen_fd;
        int tls;
        enum server_role role;
        int instance;       /* SERVER_INSTANCE: index into sim->instance_url */
};

enum route { ROUTE_TOKEN, ROUTE_COMETD, ROUTE_REST, ROUTE_ADMIN, ROUTE_OTHER };

/* What Salesforce answers a session used on a host that does not serve its
 * org (the login host, or the instance an org moved away from): it cannot
 * tell that from an expired token. */
#define WRONG_HOST_BODY "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]"
#define NOT_FOUND_BODY "[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]"

struct request {
        enum route route;
        struct sbuf body;
        int64_t started_ms;
        int responded;    /* answered before the body was read (413) */
};

static enum route route_of(const char *url)
{
        if (!strcmp(url, "/services/oauth2/token"))
                return ROUTE_TOKEN;
        if (!strncmp(url, "/cometd", 7) && (url[7] == '\0' || url[7] == '/'))
                return ROUTE_COMETD;
        if (!strncmp(url, "/services/data", 14) && (url[14] == '\0' || url[14] == '/'))
                return ROUTE_REST;
        if (!strncmp(url, "/admin/", 7))
                return ROUTE_ADMIN;
        return ROUTE_OTHER;
}

/* @returns 1 when this listener serves @p route now. */
static int serves(struct server *server, enum route route)
{
        int current;

        switch (server->role) {
        case SERVER_ALL:
                return 1;
        case SERVER_LOGIN:
                return route != ROUTE_COMETD && route != ROUTE_REST;
        case SERVER_INSTANCE:
                if (route != ROUTE_COMETD && route != ROUTE_REST)
                        return route == ROUTE_OTHER;
                pthread_mutex_lock(&server->sim->lock);
                current = sim_instance_current_locked(server->sim, server->instance);
                pthread_mutex_unlock(&server->sim->lock);
                return current;
        }
        return 0;
}

/* Queue @p body (malloc'd; ownership passes to MHD) with @p status. */
static enum MHD_Result send_body(struct MHD_Connection *conn, int status, const char *type,
                                 char *body, size_t len, const char *const *cookies)
{
        static char oom[] = "{\"error\":\"out of memory\"}";
        struct MHD_Response *resp;
        enum MHD_Result ret;
        int i;

        if (body)
                resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        else
                resp = MHD_create_response_from_buffer(strlen(oom), oom, MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        if (!body)
                status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        for (i = 0; cookies && i < 2; i++)
                if (cookies[i] && cookies[i][0])
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookies[i]);
        ret = MHD_queue_response(conn, (unsigned int)status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, int status, const char *type,
                                 const char *text)
{
        return send_body(conn, status, type, strdup(text), strlen(text), NULL);
}

/* The peer's IPv4 address: 0 with *sin filled, -1 for none (sfsim listens on IPv4 only). */
static int peer_addr(struct MHD_Connection *conn, struct sockaddr_in *sin)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
                return -1;
        memcpy(sin, ci->client_addr, sizeof(*sin));
        return 0;
}

static int peer_is_localhost(struct MHD_Connection *conn)
{
        struct sockaddr_in sin;

        return peer_addr(conn, &sin) == 0 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

/* The remote port, so GET /admin/clients can name the connection a client handshook on. */
static int peer_port(struct MHD_Connection *conn)
{
        struct sockaddr_in sin;

        return peer_addr(conn, &sin) == 0 ? ntohs(sin.sin_port) : 0;
}

/* Polled while a long-poll is held: has the client hung up? */
static int peer_gone(void *arg)
{
        struct pollfd pfd;

        pfd.fd = *(const int *)arg;
        pfd.events = POLLRDHUP;
        pfd.revents = 0;
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
                return 0;
        return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static enum MHD_Result handle_cometd(struct server *server, struct MHD_Connection *conn,
                                     const char *url, const char *method, struct request *rq)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct cometd_request creq;
        struct cometd_response cresp;
        const char *cookies[2];
        int fd = ci ? ci->connect_fd : -1;

        if (strcmp(method, "POST"))
                return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, JSON_TYPE,
                                 "[{\"successful\":false,\"error\":\"400::The CometD endpoint takes POST\"}]");
        if (rq->body.toobig)
                return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
                                 "Maximum Request Size Exceeded\n");
        memset(&creq, 0, sizeof(creq));
        creq.path = url;
        creq.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        creq.browser_cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "BAYEUX_BROWSER");
        creq.lb_cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COMETD_LB_COOKIE);
        creq.body = rq->body.data ? rq->body.data : "";
        creq.body_len = rq->body.len;
        creq.tls = server->tls;
        creq.peer_port = peer_port(conn);
        creq.peer_gone = peer_gone;
        creq.peer_arg = &fd;
        cometd_handle(server->sim, &creq, &cresp);
        if (cresp.close) {
                free(cresp.body);
                return MHD_NO; /* MHD closes the connection without answering */
        }
        cookies[0] = cresp.set_cookie[0];
        cookies[1] = cresp.set_cookie[1];
        return send_body(conn, cresp.status, cresp.status == 503 ? "text/plain" : JSON_TYPE, cresp.body,
                         cresp.body_len, cookies);
}

/* REST, next to CometD: it is served where CometD is, with the same token. */
static enum MHD_Result handle_rest(struct server *server, struct MHD_Connection *conn,
                                   const char *url, const char *method)
{
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        char *body = NULL;
        int status;

        status = limits_rest_handle(server->sim, method, url, auth, &body);
        return send_body(conn, status, JSON_TYPE, body, body ? strlen(body) : 0, NULL);
}

static enum MHD_Result handle_token(struct server *server, struct MHD_Connection *conn,
                                    const char *method, struct request *rq)
{
        char *body = NULL;
        int status;

        if (strcmp(method, "POST"))
                return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, JSON_TYPE,
                                 "{\"error\":\"invalid_request\",\"error_description\":\"must use HTTP POST\"}");
        if (rq->body.toobig)
                return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, JSON_TYPE,
                                 "{\"error\":\"invalid_request\",\"error_description\":\"request too large\"}");
        status = oauth_token_request(server->sim->oauth, rq->body.data ? rq->body.data : "",
                                     rq->body.len, &body);
        return send_body(conn, status, JSON_TYPE, body, body ? strlen(body) : 0, NULL);
}

static const char *admin_arg(void *arg_ctx, const char *name)
{
        return MHD_lookup_connection_value(arg_ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result handle_admin(struct server *server, struct MHD_Connection *conn,
                                    const char *url, const char *method)
{
        struct admin_request areq;
        struct admin_response aresp;

        if (!peer_is_localhost(conn))
                return send_text(conn, MHD_HTTP_FORBIDDEN, JSON_TYPE,
                                 "{\"error\":\"the admin API answers 127.0.0.1 only\"}");
        areq.method = method;
        areq.path = url;
        areq.arg = admin_arg;
        areq.arg_ctx = conn;
        admin_handle(server->sim, &areq, &aresp);
        return send_body(conn, aresp.status, JSON_TYPE, aresp.body, aresp.body_len, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        struct server *server = cls;
        struct request *rq = *con_cls;
        const char *length;
        size_t limit;
        int served;

        (void)version;
        if (!rq) {
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                rq->route = route_of(url);
                rq->started_ms = sim_now_ms();
                limit = rq->route == ROUTE_COMETD  ? COMETD_MAX_BODY
                        : rq->route == ROUTE_TOKEN ? TOKEN_MAX_BODY
                                                   : ADMIN_MAX_BODY;
                sbuf_init(&rq->body, limit);
                *con_cls = rq;
                /* Refuse an announced oversized body before reading it. */
                length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (length && strtoull(length, NULL, 10) > limit) {
                        rq->responded = 1;
                        if (rq->route == ROUTE_COMETD)
                                return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
                                                 "Maximum Request Size Exceeded\n");
                        return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, JSON_TYPE,
                                         "{\"error\":\"request body too large\"}");
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                /* Past the ceiling the rest is read and dropped; toobig stays set. */
                if (!rq->body.toobig)
                        sbuf_append(&rq->body, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (rq->responded)
                return MHD_YES;
        rq->responded = 1;
        served = serves(server, rq->route);
        pthread_mutex_lock(&server->sim->lock);
        server->sim->stats.http_requests++;
        if (!served)
                server->sim->stats.wrong_host++;
        pthread_mutex_unlock(&server->sim->lock);
        if (!served) {
                if (rq->route == ROUTE_COMETD || rq->route == ROUTE_REST)
                        return send_text(conn, MHD_HTTP_UNAUTHORIZED, JSON_TYPE, WRONG_HOST_BODY);
                return send_text(conn, MHD_HTTP_NOT_FOUND, JSON_TYPE, NOT_FOUND_BODY);
        }
        switch (rq->route) {
        case ROUTE_COMETD:
                return handle_cometd(server, conn, url, method, rq);
        case ROUTE_REST:
                return handle_rest(server, conn, url, method);
        case ROUTE_TOKEN:
                return handle_token(server, conn, method, rq);
        case ROUTE_ADMIN:
                return handle_admin(server, conn, url, method);
        default:
                return send_text(conn, MHD_HTTP_NOT_FOUND, JSON_TYPE, NOT_FOUND_BODY);
        }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct server *server = cls;
        struct request *rq = *con_cls;

        (void)conn;
        if (!rq)
                return;
        if (server->sim->cfg.verbose) {
                const char *route = rq->route == ROUTE_COMETD  ? "cometd"
                                    : rq->route == ROUTE_TOKEN ? "token"
                                    : rq->route == ROUTE_REST  ? "rest"
                                    : rq->route == ROUTE_ADMIN ? "admin"
                                                               : "other";
                const char *host = server->role == SERVER_LOGIN      ? "login"
                                   : server->role == SERVER_INSTANCE ? "instance"
                                                                     : "single";

                fprintf(stderr, "sfsim: level=debug msg=request route=%s host=%s ms=%lld completed=%s\n",
                        route, host,
                        (long long)(sim_now_ms() - rq->started_ms),
                        toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "closed");
        }
        sbuf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
}

struct server *server_new(struct sim *sim, int listen_fd, enum server_role role, int instance,
                          const char *tls_cert, const char *tls_key, char *errstr,
                          size_t errstr_size)
{
        struct server *server = calloc(1, sizeof(*server));
        unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG;

        if (!server) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        server->sim = sim;
        server->listen_fd = listen_fd;
        server->role = role;
        server->instance = instance;
        server->tls = tls_cert != NULL;
        if (server->tls) {
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
                        snprintf(errstr, errstr_size, "this libmicrohttpd was built without TLS");
                        free(server);
                        return NULL;
                }
                flags |= MHD_USE_TLS;
                server->daemon = MHD_start_daemon(
                        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0, MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned int)1000, MHD_OPTION_HTTPS_MEM_CERT, tls_cert,
                        MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_END);
        } else {
                server->daemon = MHD_start_daemon(
                        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0, MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned int)1000, MHD_OPTION_END);
        }
        if (!server->daemon) {
                snprintf(errstr, errstr_size, "libmicrohttpd would not start%s",
                         server->tls ? " (check --tls-cert and --tls-key)" : "");
                free(server);
                return NULL;
        }
        return server;
}

void server_destroy(struct server *server)
{
        struct sim *sim;

        if (!server)
                return;
        sim = server->sim;
        pthread_mutex_lock(&sim->lock);
        sim->stopping = 1;
        sim_wake_all_locked(sim);
        pthread_mutex_unlock(&sim->lock);
        if (server->daemon)
                MHD_stop_daemon(server->daemon);
        free(server);
}
