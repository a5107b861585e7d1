/*
 * The operations listener: one thread, one poll(2) loop over a self-pipe
 * (for httpd_stop()), the listening socket and up to HTTPD_MAX_CONNS
 * non-blocking connections. Each connection reads one request, gets one
 * response, and is closed. It is built so that nobody can starve the
 * probes: short deadlines, eviction of the oldest connection when every slot
 * is taken, and the cheap answers before the expensive one.
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
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cidr.h"
#include "log.h"
#include "metrics.h"

#define HTTPD_DRAIN_MS 1000 /* after the response, wait this long for the client's close */
#define HTTPD_ACCEPT_PAUSE_MS 100
#define HTTPD_ACCEPT_BATCH 64    /* accepts per loop turn, so reads are never put off long */
#define HTTPD_BACKLOG 1024
#define HTTPD_REFUSED_LOG_MS 60000 /* at most one refused-peer line a minute */
#define HTTPD_HEAD_MAX 256

enum httpd_conn_state {
        CONN_FREE,
        CONN_READ,    /* reading the request */
        CONN_METRICS, /* asked for /metrics: answered after this turn's probes */
        CONN_WRITE,   /* sending the response */
        CONN_DRAIN,   /* response sent, our side shut down: read until the client closes */
};

/* A response body, shared by every /metrics request of one loop turn. */
struct httpd_body {
        unsigned refs;
        size_t len;
        char data[];
};

struct httpd_conn {
        enum httpd_conn_state state;
        int fd;
        unsigned long long seq;      /* accept order: the smallest is evicted first */
        long long deadline_ms;       /* CLOCK_MONOTONIC */
        struct buf req;              /* only when a request arrives in pieces */
        char head[HTTPD_HEAD_MAX];   /* status line and headers */
        size_t head_len;
        struct httpd_body *body;
        size_t off;                  /* bytes of head + body sent */
};

struct httpd {
        int lfd;
        int wake[2];                 /* httpd_stop() writes to wake[1] */
        int port;
        int thread_started;
        pthread_t thread;
        long long accept_paused_until_ms;
        int accept_failing;          /* log an accept failure once per streak */
        unsigned long long accepted;
        char *token;                 /* secret; NULL: /metrics open */
        size_t token_len;
        struct cidr *allow;          /* NULL: every peer */
        size_t nallow;
        unsigned long long refused;  /* peers outside allow, since the last log line */
        long long refused_logged_ms;
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

static struct httpd_body *body_new(const char *data, size_t len)
{
        struct httpd_body *body = malloc(sizeof(*body) + len);

        if (!body)
                return NULL;
        body->refs = 1;
        body->len = len;
        memcpy(body->data, data, len);
        return body;
}

static void body_unref(struct httpd_body *body)
{
        if (body && --body->refs == 0)
                free(body);
}

static void conn_close(struct httpd_conn *conn)
{
        if (conn->state == CONN_FREE)
                return;
        close(conn->fd);
        conn->fd = -1;
        buf_free(&conn->req);
        body_unref(conn->body);
        conn->body = NULL;
        conn->state = CONN_FREE;
}

/*
 * Queue a response around @p body (a reference is taken). On failure to
 * build it the connection is just closed: the client sees a reset, the next
 * scrape retries.
 */
static void conn_respond_body(struct httpd_conn *conn, int status, struct httpd_body *body,
                              const char *content_type, const char *extra_header)
{
        const char *reason;
        int n;

        switch (status) {
        case 200:
                reason = "OK";
                break;
        case 400:
                reason = "Bad Request";
                break;
        case 401:
                reason = "Unauthorized";
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
        /* The request is answered: its bytes are no longer needed. */
        buf_free(&conn->req);
        n = snprintf(conn->head, sizeof(conn->head),
                     "HTTP/1.0 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     status, reason, content_type, body->len, extra_header ? extra_header : "");
        if (n < 0 || (size_t)n >= sizeof(conn->head)) {
                conn_close(conn);
                return;
        }
        conn->head_len = (size_t)n;
        body->refs++;
        conn->body = body;
        conn->off = 0;
        conn->state = CONN_WRITE;
        conn->deadline_ms = now_ms() + HTTPD_WRITE_TIMEOUT_MS;
}

static void conn_respond_text(struct httpd_conn *conn, int status, const char *text,
                              const char *extra_header)
{
        struct httpd_body *body = body_new(text, strlen(text));

        if (!body) {
                conn_close(conn);
                return;
        }
        conn_respond_body(conn, status, body, "text/plain; charset=utf-8", extra_header);
        body_unref(body);
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

/*
 * Does the header block @p hdrs (after the request line, NUL-terminated)
 * carry "Authorization: Bearer <token>"? The comparison takes the same time
 * whatever prefix of the token matches, so timing tells nothing about it.
 */
static int bearer_ok(const struct httpd *httpd, const char *hdrs)
{
        static const char name[] = "authorization:";
        const char *p = hdrs, *v, *end;
        unsigned char diff = 0;
        size_t len, i;

        while (*p) {
                end = strpbrk(p, "\r\n");
                if (!end)
                        end = p + strlen(p);
                if ((size_t)(end - p) > sizeof(name) - 1 &&
                    !strncasecmp(p, name, sizeof(name) - 1)) {
                        v = p + sizeof(name) - 1;
                        while (v < end && (*v == ' ' || *v == '\t'))
                                v++;
                        if ((size_t)(end - v) < 7 || strncasecmp(v, "Bearer ", 7))
                                return 0;
                        v += 7;
                        while (v < end && *v == ' ')
                                v++;
                        len = (size_t)(end - v);
                        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                                len--;
                        if (len != httpd->token_len)
                                return 0;
                        for (i = 0; i < len; i++)
                                diff |= (unsigned char)(v[i] ^ httpd->token[i]);
                        return diff == 0;
                }
                p = end;
                while (*p == '\r' || *p == '\n')
                        p++;
        }
        return 0;
}

/* The whole request (line and headers, NUL-terminated, no NUL inside) is in @p req: answer it. */
static void conn_dispatch(struct httpd *httpd, struct httpd_conn *conn, const char *req)
{
        enum httpd_path path = HTTPD_PATH_METRICS;
        const char *hdrs;

        switch (httpd_parse_request(req, strlen(req), &path)) {
        case 200:
                break;
        case 404:
                conn_respond_text(conn, 404, "not found\n", NULL);
                return;
        case 405:
                conn_respond_text(conn, 405, "method not allowed\n", "Allow: GET\r\n");
                return;
        default:
                conn_respond_text(conn, 400, "bad request\n", NULL);
                return;
        }
        if (path == HTTPD_PATH_HEALTHZ) {
                serve_healthz(conn);
                return;
        }
        if (path == HTTPD_PATH_READYZ) {
                serve_readyz(conn);
                return;
        }
        hdrs = strpbrk(req, "\r\n"); /* the headers follow the request line */
        if (httpd->token && !bearer_ok(httpd, hdrs ? hdrs : "")) {
                conn_respond_text(conn, 401, "unauthorized\n",
                                  "WWW-Authenticate: Bearer realm=\"sfbridge\"\r\n");
                return;
        }
        /* Rendered after this turn's probes are answered. */
        buf_free(&conn->req);
        conn->state = CONN_METRICS;
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

static void conn_on_readable(struct httpd *httpd, struct httpd_conn *conn)
{
        char scratch[HTTPD_REQUEST_MAX + 1];
        size_t old_len = conn->req.len, total;
        const char *req;
        ssize_t n;

        if (conn->state == CONN_DRAIN) {
                n = recv(conn->fd, scratch, sizeof(scratch), 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                        conn_close(conn);
                return;
        }

        n = recv(conn->fd, scratch, HTTPD_REQUEST_MAX - old_len, 0);
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
        if (memchr(scratch, '\0', (size_t)n)) {
                conn_respond_text(conn, 400, "bad request\n", NULL);
                return;
        }
        /*
         * A request that comes in one piece (nearly all do) is answered
         * from the stack; only one that comes in pieces gets a buffer, so
         * idle connections cost no memory beyond their slot.
         */
        if (old_len == 0) {
                req = scratch;
                total = (size_t)n;
                scratch[total] = '\0';
        } else {
                if (buf_append(&conn->req, scratch, (size_t)n) == -1) {
                        conn_close(conn);
                        return;
                }
                req = conn->req.data;
                total = conn->req.len;
        }
        if (headers_complete(req, total, old_len >= 2 ? old_len - 2 : 0)) {
                /* Dispatch works on a copy it may cut up: the stack one. */
                if (req != scratch) {
                        memcpy(scratch, req, total);
                        scratch[total] = '\0';
                }
                conn_dispatch(httpd, conn, scratch);
        } else if (total == HTTPD_REQUEST_MAX) {
                conn_respond_text(conn, 431, "request too large\n", NULL);
        } else if (old_len == 0 && buf_append(&conn->req, scratch, total) == -1) {
                conn_close(conn);
        }
}

static void conn_on_writable(struct httpd_conn *conn)
{
        size_t total = conn->head_len + conn->body->len;
        const char *p;
        size_t left;
        ssize_t n;

        if (conn->off < conn->head_len) {
                p = conn->head + conn->off;
                left = conn->head_len - conn->off;
        } else {
                p = conn->body->data + (conn->off - conn->head_len);
                left = total - conn->off;
        }
        n = send(conn->fd, p, left, MSG_NOSIGNAL);
        if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        conn_close(conn);
                return;
        }
        conn->off += (size_t)n;
        if (conn->off < total)
                return;
        /*
         * Closing with unread request bytes (a POST body, the rest of an
         * oversized request) would send a reset that can destroy the response
         * in flight; so shut our side and read until the client closes.
         */
        body_unref(conn->body);
        conn->body = NULL;
        shutdown(conn->fd, SHUT_WR);
        conn->state = CONN_DRAIN;
        conn->deadline_ms = now_ms() + HTTPD_DRAIN_MS;
}

/* Render /metrics once for every connection that asked for it this turn. */
static void serve_pending_metrics(struct httpd *httpd)
{
        struct httpd_body *body = NULL;
        struct buf text;
        size_t i;
        int failed = 0;

        for (i = 0; i < HTTPD_MAX_CONNS; i++) {
                struct httpd_conn *conn = &httpd->conns[i];

                if (conn->state != CONN_METRICS)
                        continue;
                if (!body && !failed) {
                        buf_init(&text, HTTPD_RESPONSE_MAX);
                        if (metrics_render(&text) == -1) {
                                log_msg(LOG_WARN, "httpd",
                                        "err=\"metrics could not be rendered\" toobig=%d",
                                        text.toobig);
                                failed = 1;
                        } else if (!(body = body_new(text.data ? text.data : "", text.len))) {
                                failed = 1;
                        }
                        buf_free(&text);
                }
                if (failed)
                        conn_respond_text(conn, 500, "metrics unavailable\n", NULL);
                else
                        conn_respond_body(conn, 200, body,
                                          "text/plain; version=0.0.4; charset=utf-8", NULL);
                if (conn->state == CONN_WRITE)
                        conn_on_writable(conn);
        }
        body_unref(body);
}

/* A peer outside metrics.allow: say so, at most once a minute, with a count. */
static void note_refused(struct httpd *httpd)
{
        long long now = now_ms();

        httpd->refused++;
        if (httpd->refused_logged_ms && now - httpd->refused_logged_ms < HTTPD_REFUSED_LOG_MS)
                return;
        log_msg(LOG_WARN, "metrics_peer_refused",
                "refused=%llu reason=\"peer outside metrics.allow\"", httpd->refused);
        httpd->refused = 0;
        httpd->refused_logged_ms = now;
}

/*
 * A free slot, or the one of the oldest connection, closed: with every slot
 * taken, the newest connection is the likeliest to be a probe, and a client
 * that has held a slot longest has had its chance.
 */
static struct httpd_conn *conn_slot(struct httpd *httpd)
{
        struct httpd_conn *oldest = NULL;
        size_t i;

        for (i = 0; i < HTTPD_MAX_CONNS; i++) {
                struct httpd_conn *conn = &httpd->conns[i];

                if (conn->state == CONN_FREE)
                        return conn;
                if (conn->state != CONN_METRICS && (!oldest || conn->seq < oldest->seq))
                        oldest = conn;
        }
        if (oldest)
                conn_close(oldest);
        return oldest;
}

static void httpd_accept(struct httpd *httpd)
{
        int k;

        for (k = 0; k < HTTPD_ACCEPT_BATCH; k++) {
                struct sockaddr_storage ss;
                socklen_t sslen = sizeof(ss);
                struct httpd_conn *conn;
                int fd;

                fd = accept(httpd->lfd, (struct sockaddr *)&ss, &sslen);
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
                if (httpd->allow &&
                    !cidr_list_match(httpd->allow, httpd->nallow, (struct sockaddr *)&ss)) {
                        note_refused(httpd);
                        close(fd);
                        continue;
                }
                if (set_nonblock_cloexec(fd) == -1) {
                        close(fd);
                        continue;
                }
                conn = conn_slot(httpd);
                if (!conn) {
                        close(fd);
                        continue;
                }
                conn->fd = fd;
                conn->state = CONN_READ;
                conn->seq = ++httpd->accepted;
                buf_init(&conn->req, HTTPD_REQUEST_MAX);
                conn->body = NULL;
                conn->off = conn->head_len = 0;
                conn->deadline_ms = now_ms() + HTTPD_READ_TIMEOUT_MS;
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
                int timeout, listening = 1, rc;
                size_t i;

                pfd[nfd].fd = httpd->wake[0];
                pfd[nfd].events = POLLIN;
                polled[nfd++] = NULL;

                for (i = 0; i < HTTPD_MAX_CONNS; i++) {
                        struct httpd_conn *conn = &httpd->conns[i];

                        if (conn->state == CONN_FREE)
                                continue;
                        if (now >= conn->deadline_ms) {
                                conn_close(conn);
                                continue;
                        }
                        if (next == -1 || conn->deadline_ms < next)
                                next = conn->deadline_ms;
                        pfd[nfd].fd = conn->fd;
                        pfd[nfd].events = conn->state == CONN_WRITE ? POLLOUT : POLLIN;
                        polled[nfd++] = conn;
                }
                if (now < httpd->accept_paused_until_ms) {
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
                /* Requests first (probes are answered at once), then /metrics, then new clients. */
                for (k = 1; k < (size_t)nfd; k++) {
                        short ev = pfd[k].revents;

                        if (!ev || !polled[k])
                                continue;
                        if (polled[k]->state == CONN_WRITE) {
                                if (ev & (POLLOUT | POLLERR | POLLHUP))
                                        conn_on_writable(polled[k]);
                        } else {
                                conn_on_readable(httpd, polled[k]);
                        }
                        /* A request answered at once can be written at once. */
                        if (polled[k]->state == CONN_WRITE)
                                conn_on_writable(polled[k]);
                }
                serve_pending_metrics(httpd);
                if (listening && pfd[nfd - 1].revents)
                        httpd_accept(httpd);
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
                if (listen(fd, HTTPD_BACKLOG) == -1 || set_nonblock_cloexec(fd) == -1) {
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

struct httpd *httpd_start_opts(const struct httpd_opts *opts, char *errstr, size_t errstr_size)
{
        const char *listen_addr = opts ? opts->listen : NULL;
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

        if (opts->allow && cidr_list_parse(opts->allow, &httpd->allow, &httpd->nallow, errstr,
                                           errstr_size) == -1)
                goto fail;
        if (opts->token) {
                /* Never quoted: the token is a secret. */
                httpd->token_len = strlen(opts->token);
                if (!httpd->token_len || !(httpd->token = strdup(opts->token))) {
                        snprintf(errstr, errstr_size, "token: empty or out of memory");
                        goto fail;
                }
        }
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

struct httpd *httpd_start(const char *listen_addr, char *errstr, size_t errstr_size)
{
        struct httpd_opts opts = { .listen = listen_addr };

        return httpd_start_opts(&opts, errstr, errstr_size);
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
        if (httpd->token) {
                /* Not left behind in freed memory (a core dump, a later allocation). */
                volatile char *t = httpd->token;

                for (i = 0; i < httpd->token_len; i++)
                        t[i] = 0;
                free(httpd->token);
        }
        free(httpd->allow);
        free(httpd);
}
