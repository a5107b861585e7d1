/*
 * The operations listener: one thread, one poll(2) loop over a self-pipe
 * (for httpd_stop()), the listening socket and up to HTTPD_MAX_CONNS
 * non-blocking connections. Each connection reads one request into a fixed
 * buffer, gets one response, and is closed; a deadline bounds its whole life
 * so a slow or silent client only ever holds its own slot.
 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"

#define HTTPD_DRAIN_MS 1000 /* after the response, wait this long for the client's close */
#define HTTPD_ACCEPT_PAUSE_MS 100

enum httpd_conn_state {
        CONN_FREE,
        CONN_READ,  /* reading the request */
        CONN_WRITE, /* sending resp */
        CONN_DRAIN, /* response sent, our side shut down: read until the client closes */
};

struct httpd_conn {
        enum httpd_conn_state state;
        int fd;
        long long deadline_ms;       /* CLOCK_MONOTONIC */
        size_t req_len;
        char req[HTTPD_REQUEST_MAX + 1];
        struct buf resp;             /* status line, headers and body */
        size_t resp_off;
};

struct httpd {
        int lfd;
        int wake[2];                 /* httpd_stop() writes to wake[1] */
        int port;
        int thread_started;
        pthread_t thread;
        long long accept_paused_until_ms;
        int accept_failing;          /* log an accept failure once per streak */
        struct httpd_conn conns[HTTPD_MAX_CONNS];
};

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock_cloexec(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
                return -1;
        return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void conn_close(struct httpd_conn *conn)
{
        if (conn->state == CONN_FREE)
                return;
        close(conn->fd);
        conn->fd = -1;
        buf_free(&conn->resp);
        conn->state = CONN_FREE;
}

/*
 * Queue a whole response. On failure to build it (out of memory) the
 * connection is just closed: the client sees a reset, the next scrape retries.
 */
static void conn_respond(struct httpd_conn *conn, int status, const char *body, size_t body_len,
                         const char *content_type, const char *extra_header)
{
        const char *reason;

        switch (status) {
        case 200:
                reason = "OK";
                break;
        case 400:
                reason = "Bad Request";
                break;
        case 404:
                reason = "Not Found";
                break;
        case 405:
                reason = "Method Not Allowed";
                break;
        case 431:
                reason = "Request Header Fields Too Large";
                break;
        case 503:
                reason = "Service Unavailable";
                break;
        default:
                status = 500;
                reason = "Internal Server Error";
                break;
        }
        buf_init(&conn->resp, HTTPD_RESPONSE_MAX + 1024);
        if (buf_printf(&conn->resp,
                       "HTTP/1.0 %d %s\r\n"
                       "Content-Type: %s\r\n"
                       "Content-Length: %zu\r\n"
                       "%s"
                       "Cache-Control: no-store\r\n"
                       "Connection: close\r\n"
                       "\r\n",
                       status, reason, content_type, body_len,
                       extra_header ? extra_header : "") == -1 ||
            buf_append(&conn->resp, body, body_len) == -1) {
                conn_close(conn);
                return;
        }
        conn->resp_off = 0;
        conn->state = CONN_WRITE;
}

static void conn_respond_text(struct httpd_conn *conn, int status, const char *text,
                              const char *extra_header)
{
        conn_respond(conn, status, text, strlen(text), "text/plain; charset=utf-8", extra_header);
}

static void serve_metrics(struct httpd_conn *conn)
{
        struct buf body;

        buf_init(&body, HTTPD_RESPONSE_MAX);
        if (metrics_render(&body) == -1) {
                log_msg(LOG_WARN, "httpd", "err=\"metrics could not be rendered\" toobig=%d",
                        body.toobig);
                conn_respond_text(conn, 500, "metrics unavailable\n", NULL);
        } else {
                conn_respond(conn, 200, body.data, body.len,
                             "text/plain; version=0.0.4; charset=utf-8", NULL);
        }
        buf_free(&body);
}

static void serve_healthz(struct httpd_conn *conn)
{
        char text[128];

        if (metrics_healthy(0)) {
                conn_respond_text(conn, 200, "ok\n", NULL);
                return;
        }
        snprintf(text, sizeof(text), "unhealthy: main loop silent for %.0f s\n",
                 metrics_heartbeat_age());
        conn_respond_text(conn, 503, text, NULL);
}

static void serve_readyz(struct httpd_conn *conn)
{
        char text[METRICS_QUARANTINE_MAX + 32];
        size_t n;

        text[0] = '\0';
        if (metrics_ready(text, sizeof(text) - 1)) {
                /* A group member owning no unit says so ("ready: standby"). */
                if (text[0]) {
                        n = strlen(text);
                        text[n++] = '\n';
                        text[n] = '\0';
                        conn_respond_text(conn, 200, text, NULL);
                } else {
                        conn_respond_text(conn, 200, "ready\n", NULL);
                }
                return;
        }
        /* The reason may come from a server message: keep the body one line. */
        for (n = 0; text[n]; n++)
                if (text[n] == '\r' || text[n] == '\n')
                        text[n] = ' ';
        text[n++] = '\n';
        text[n] = '\0';
        conn_respond_text(conn, 503, text, NULL);
}

/* Is @p s (@p n bytes) exactly the NUL-terminated @p lit? */
static int span_is(const char *s, size_t n, const char *lit)
{
        return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int headers_complete(const char *req, size_t len, size_t from);

int httpd_parse_request(const char *req, size_t len, enum httpd_path *path)
{
        const char *line = req, *eol, *sp1, *sp2, *target, *version, *q;
        size_t target_len, version_len;

        if (memchr(req, '\0', len))
                return 400;
        if (!headers_complete(req, len, 0))
                return len >= HTTPD_REQUEST_MAX ? 431 : 0;
        /* A blank line is in: so is an end of the request line. */
        for (eol = line; *eol != '\r' && *eol != '\n'; eol++)
                ;
        /* METHOD SP request-target SP HTTP-version, nothing more. */
        sp1 = memchr(line, ' ', (size_t)(eol - line));
        if (!sp1 || sp1 == line)
                return 400;
        target = sp1 + 1;
        sp2 = memchr(target, ' ', (size_t)(eol - target));
        if (!sp2 || sp2 == target)
                return 400;
        version = sp2 + 1;
        version_len = (size_t)(eol - version);
        if (memchr(version, ' ', version_len) || version_len != 8 ||
            memcmp(version, "HTTP/1.", 7))
                return 400;
        if (!span_is(line, (size_t)(sp1 - line), "GET"))
                return 405;
        q = memchr(target, '?', (size_t)(sp2 - target));
        target_len = (size_t)((q ? q : sp2) - target);
        if (span_is(target, target_len, "/metrics"))
                *path = HTTPD_PATH_METRICS;
        else if (span_is(target, target_len, "/healthz"))
                *path = HTTPD_PATH_HEALTHZ;
        else if (span_is(target, target_len, "/readyz"))
                *path = HTTPD_PATH_READYZ;
        else
                return 404;
        return 200;
}

/* The whole request (line and headers) is in conn->req: answer it. */
static void conn_dispatch(struct httpd_conn *conn)
{
        enum httpd_path path = HTTPD_PATH_METRICS;

        switch (httpd_parse_request(conn->req, conn->req_len, &path)) {
        case 200:
                if (path == HTTPD_PATH_METRICS)
                        serve_metrics(conn);
                else if (path == HTTPD_PATH_HEALTHZ)
                        serve_healthz(conn);
                else
                        serve_readyz(conn);
                break;
        case 404:
                conn_respond_text(conn, 404, "not found\n", NULL);
                break;
        case 405:
                conn_respond_text(conn, 405, "method not allowed\n", "Allow: GET\r\n");
                break;
        default:
                conn_respond_text(conn, 400, "bad request\n", NULL);
                break;
        }
}

/* Has the blank line ending the headers arrived? Scans only from @p from. */
static int headers_complete(const char *req, size_t len, size_t from)
{
        size_t i;

        for (i = from; i + 1 < len; i++) {
                if (req[i] != '\n')
                        continue;
                if (req[i + 1] == '\n' || (req[i + 1] == '\r' && i + 2 < len && req[i + 2] == '\n'))
                        return 1;
        }
        return 0;
}

static void conn_on_readable(struct httpd_conn *conn)
{
        size_t old_len = conn->req_len;
        ssize_t n;

        if (conn->state == CONN_DRAIN) {
                char scratch[4096];

                n = recv(conn->fd, scratch, sizeof(scratch), 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                        conn_close(conn);
                return;
        }

        n = recv(conn->fd, conn->req + conn->req_len, HTTPD_REQUEST_MAX - conn->req_len, 0);
        if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        conn_close(conn);
                return;
        }
        if (n == 0) {
                /* The client gave up before finishing its request. */
                conn_close(conn);
                return;
        }
        conn->req_len += (size_t)n;
        conn->req[conn->req_len] = '\0';
        if (memchr(conn->req + old_len, '\0', (size_t)n))
                conn_respond_text(conn, 400, "bad request\n", NULL);
        else if (headers_complete(conn->req, conn->req_len, old_len >= 2 ? old_len - 2 : 0))
                conn_dispatch(conn);
        else if (conn->req_len == HTTPD_REQUEST_MAX)
                conn_respond_text(conn, 431, "request too large\n", NULL);
}

static void conn_on_writable(struct httpd_conn *conn)
{
        ssize_t n;

        n = send(conn->fd, conn->resp.data + conn->resp_off, conn->resp.len - conn->resp_off,
                 MSG_NOSIGNAL);
        if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        conn_close(conn);
                return;
        }
        conn->resp_off += (size_t)n;
        if (conn->resp_off < conn->resp.len)
                return;
        /*
         * Closing with unread request bytes (a POST body, the rest of an
         * oversized request) would send a reset that can destroy the response
         * in flight; so shut our side and read until the client closes.
         */
        buf_free(&conn->resp);
        shutdown(conn->fd, SHUT_WR);
        conn->state = CONN_DRAIN;
        if (conn->deadline_ms > now_ms() + HTTPD_DRAIN_MS)
                conn->deadline_ms = now_ms() + HTTPD_DRAIN_MS;
}

static void httpd_accept(struct httpd *httpd)
{
        for (;;) {
                struct httpd_conn *conn = NULL;
                size_t i;
                int fd;

                for (i = 0; i < HTTPD_MAX_CONNS; i++) {
                        if (httpd->conns[i].state == CONN_FREE) {
                                conn = &httpd->conns[i];
                                break;
                        }
                }
                if (!conn)
                        return;
                fd = accept(httpd->lfd, NULL, NULL);
                if (fd == -1) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                            errno == ECONNABORTED)
                                return;
                        /* EMFILE and friends: the socket stays readable, so
                         * pause rather than spin, and say so once. */
                        if (!httpd->accept_failing)
                                log_msg(LOG_WARN, "httpd", "err=\"accept: %s\"", strerror(errno));
                        httpd->accept_failing = 1;
                        httpd->accept_paused_until_ms = now_ms() + HTTPD_ACCEPT_PAUSE_MS;
                        return;
                }
                httpd->accept_failing = 0;
                if (set_nonblock_cloexec(fd) == -1) {
                        close(fd);
                        continue;
                }
                conn->fd = fd;
                conn->state = CONN_READ;
                conn->req_len = 0;
                conn->req[0] = '\0';
                conn->resp_off = 0;
                buf_init(&conn->resp, 0);
                conn->deadline_ms = now_ms() + HTTPD_TIMEOUT_MS;
        }
}

static void *httpd_thread(void *arg)
{
        struct httpd *httpd = arg;
        struct pollfd pfd[2 + HTTPD_MAX_CONNS];
        struct httpd_conn *polled[2 + HTTPD_MAX_CONNS];
        size_t k;

        for (;;) {
                long long now = now_ms(), next = -1;
                nfds_t nfd = 0;
                int timeout, listening = 0, rc;
                size_t i;

                pfd[nfd].fd = httpd->wake[0];
                pfd[nfd].events = POLLIN;
                polled[nfd++] = NULL;

                for (i = 0; i < HTTPD_MAX_CONNS; i++) {
                        struct httpd_conn *conn = &httpd->conns[i];

                        if (conn->state == CONN_FREE) {
                                listening = 1;
                                continue;
                        }
                        if (now >= conn->deadline_ms) {
                                conn_close(conn);
                                listening = 1;
                                continue;
                        }
                        if (next == -1 || conn->deadline_ms < next)
                                next = conn->deadline_ms;
                        pfd[nfd].fd = conn->fd;
                        pfd[nfd].events = conn->state == CONN_WRITE ? POLLOUT : POLLIN;
                        polled[nfd++] = conn;
                }
                if (listening && now < httpd->accept_paused_until_ms) {
                        listening = 0;
                        if (next == -1 || httpd->accept_paused_until_ms < next)
                                next = httpd->accept_paused_until_ms;
                }
                if (listening) {
                        pfd[nfd].fd = httpd->lfd;
                        pfd[nfd].events = POLLIN;
                        polled[nfd++] = NULL;
                }

                timeout = next == -1 ? -1 : (int)(next - now);
                rc = poll(pfd, nfd, timeout);
                if (rc < 0) {
                        if (errno == EINTR)
                                continue;
                        log_msg(LOG_ERROR, "httpd", "err=\"poll: %s\"", strerror(errno));
                        break;
                }
                if (pfd[0].revents)
                        break; /* httpd_stop() */
                for (k = 1; k < (size_t)nfd; k++) {
                        short ev = pfd[k].revents;

                        if (!ev)
                                continue;
                        if (!polled[k]) {
                                httpd_accept(httpd);
                                continue;
                        }
                        if (polled[k]->state == CONN_WRITE) {
                                if (ev & (POLLOUT | POLLERR | POLLHUP))
                                        conn_on_writable(polled[k]);
                        } else {
                                conn_on_readable(polled[k]);
                        }
                        /* A request answered at once can be written at once. */
                        if (polled[k]->state == CONN_WRITE)
                                conn_on_writable(polled[k]);
                }
        }

        for (k = 0; k < HTTPD_MAX_CONNS; k++)
                conn_close(&httpd->conns[k]);
        return NULL;
}

/*
 * Split "host:port" / "[v6]:port" into host (may be empty) and port; the
 * port is 0-65535 in decimal.
 */
static int parse_listen(const char *listen_addr, char *host, size_t host_size, char *port,
                        size_t port_size, char *errstr, size_t errstr_size)
{
        const char *h, *colon;
        size_t hn, i;
        long pn;

        if (listen_addr[0] == '[') {
                const char *close_br = strchr(listen_addr, ']');

                if (!close_br || close_br[1] != ':') {
                        snprintf(errstr, errstr_size, "listen %s: expected [address]:port",
                                 listen_addr);
                        return -1;
                }
                h = listen_addr + 1;
                hn = (size_t)(close_br - h);
                colon = close_br + 1;
        } else {
                colon = strrchr(listen_addr, ':');
                if (!colon) {
                        snprintf(errstr, errstr_size, "listen %s: expected host:port",
                                 listen_addr);
                        return -1;
                }
                h = listen_addr;
                hn = (size_t)(colon - h);
                if (memchr(h, ':', hn)) {
                        snprintf(errstr, errstr_size,
                                 "listen %s: an IPv6 address needs brackets: [address]:port",
                                 listen_addr);
                        return -1;
                }
        }
        if (hn >= host_size) {
                snprintf(errstr, errstr_size, "listen %s: host too long", listen_addr);
                return -1;
        }
        memcpy(host, h, hn);
        host[hn] = '\0';

        for (i = 1; colon[i]; i++)
                if (colon[i] < '0' || colon[i] > '9')
                        break;
        errno = 0;
        pn = strtol(colon + 1, NULL, 10);
        if (i == 1 || colon[i] || i > 6 || errno || pn < 0 || pn > 65535) {
                snprintf(errstr, errstr_size, "listen %s: port must be a number from 0 to 65535",
                         listen_addr);
                return -1;
        }
        snprintf(port, port_size, "%ld", pn);
        return 0;
}

static int httpd_bind(struct httpd *httpd, const char *listen_addr, char *errstr,
                      size_t errstr_size)
{
        char host[256], port[8];
        struct addrinfo hints, *res = NULL, *ai;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        const char *what = "bind";
        int rc, err = 0, one = 1;

        if (parse_listen(listen_addr, host, sizeof(host), port, sizeof(port), errstr,
                         errstr_size) == -1)
                return -1;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
        if (rc) {
                snprintf(errstr, errstr_size, "listen %s: %s", listen_addr, gai_strerror(rc));
                return -1;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

                if (fd == -1) {
                        err = errno;
                        what = "socket";
                        continue;
                }
                /* A restart must not wait for TIME_WAIT; two live listeners
                 * on one port still fail (that needs SO_REUSEPORT). */
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
                        err = errno;
                        what = "bind";
                        close(fd);
                        continue;
                }
                if (listen(fd, 64) == -1 || set_nonblock_cloexec(fd) == -1) {
                        err = errno;
                        what = "listen";
                        close(fd);
                        continue;
                }
                httpd->lfd = fd;
                break;
        }
        freeaddrinfo(res);
        if (httpd->lfd == -1) {
                snprintf(errstr, errstr_size, "listen %s: %s: %s", listen_addr, what,
                         strerror(err));
                return -1;
        }
        if (getsockname(httpd->lfd, (struct sockaddr *)&ss, &sslen) == -1) {
                snprintf(errstr, errstr_size, "listen %s: getsockname: %s", listen_addr,
                         strerror(errno));
                return -1;
        }
        if (ss.ss_family == AF_INET6)
                httpd->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else
                httpd->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        return 0;
}

struct httpd *httpd_start(const char *listen_addr, char *errstr, size_t errstr_size)
{
        struct httpd *httpd;
        sigset_t all, old;
        size_t i;
        int rc;

        if (!listen_addr) {
                snprintf(errstr, errstr_size, "listen: no address given");
                return NULL;
        }
        httpd = calloc(1, sizeof(*httpd));
        if (!httpd) {
                snprintf(errstr, errstr_size, "listen %s: out of memory", listen_addr);
                return NULL;
        }
        httpd->lfd = httpd->wake[0] = httpd->wake[1] = -1;
        for (i = 0; i < HTTPD_MAX_CONNS; i++)
                httpd->conns[i].fd = -1;

        if (httpd_bind(httpd, listen_addr, errstr, errstr_size) == -1)
                goto fail;
        if (pipe(httpd->wake) == -1) {
                snprintf(errstr, errstr_size, "listen %s: pipe: %s", listen_addr,
                         strerror(errno));
                goto fail;
        }
        set_nonblock_cloexec(httpd->wake[0]);
        set_nonblock_cloexec(httpd->wake[1]);

        /* The thread inherits a full signal mask: SIGTERM/SIGINT go to the
         * main thread, whose handler wakes the main loop. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&httpd->thread, NULL, httpd_thread, httpd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
                snprintf(errstr, errstr_size, "listen %s: pthread_create: %s", listen_addr,
                         strerror(rc));
                goto fail;
        }
        httpd->thread_started = 1;
        return httpd;

fail:
        httpd_stop(httpd);
        return NULL;
}

int httpd_port(const struct httpd *httpd)
{
        return httpd->port;
}

void httpd_stop(struct httpd *httpd)
{
        size_t i;

        if (!httpd)
                return;
        if (httpd->thread_started) {
                char c = 'x';

                while (write(httpd->wake[1], &c, 1) == -1 && errno == EINTR)
                        ;
                pthread_join(httpd->thread, NULL);
        }
        for (i = 0; i < HTTPD_MAX_CONNS; i++)
                conn_close(&httpd->conns[i]);
        if (httpd->lfd != -1)
                close(httpd->lfd);
        if (httpd->wake[0] != -1)
                close(httpd->wake[0]);
        if (httpd->wake[1] != -1)
                close(httpd->wake[1]);
        free(httpd);
}
