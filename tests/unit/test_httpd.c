/*
 * httpd: the operations listener over real loopback sockets. Every test
 * starts its own listener on 127.0.0.1:0 and stops it in teardown, so a
 * failing test never leaves a thread or a socket behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "metrics.h"

#define RESP_MAX (8u << 20)

struct resp {
        int status;
        char *raw;      /* whole response, NUL-terminated */
        size_t len;
        const char *body;
        size_t body_len;
};

static double mono_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected client socket with a receive timeout, or -1. */
static int client_connect(int port, int rcv_timeout_ms)
{
        struct sockaddr_in sin;
        struct timeval tv;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd == -1)
                return -1;
        tv.tv_sec = rcv_timeout_ms / 1000;
        tv.tv_usec = (rcv_timeout_ms % 1000) * 1000;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Read to EOF (the server always closes). Returns 0, or -1 on timeout/error. */
static int read_response(int fd, struct resp *rs)
{
        size_t cap = 65536;
        const char *hdr_end;

        memset(rs, 0, sizeof(*rs));
        rs->raw = malloc(cap);
        if (!rs->raw)
                return -1;
        for (;;) {
                ssize_t r;

                if (rs->len + 1 == cap) {
                        char *p;
                        if (cap >= RESP_MAX)
                                return -1;
                        p = realloc(rs->raw, cap * 2);
                        if (!p)
                                return -1;
                        rs->raw = p;
                        cap *= 2;
                }
                r = recv(fd, rs->raw + rs->len, cap - 1 - rs->len, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                rs->len += (size_t)r;
        }
        rs->raw[rs->len] = '\0';
        if (rs->len < 12 || strncmp(rs->raw, "HTTP/1.0 ", 9))
                return -1;
        rs->status = atoi(rs->raw + 9);
        hdr_end = strstr(rs->raw, "\r\n\r\n");
        if (!hdr_end)
                return -1;
        rs->body = hdr_end + 4;
        rs->body_len = rs->len - (size_t)(rs->body - rs->raw);
        return 0;
}

/* Send @p req as is, half-close, read the whole response. */
static void exchange(int port, const char *req, size_t req_len, struct resp *rs)
{
        int fd = client_connect(port, 5000);

        assert_true(fd >= 0);
        assert_int_equal(send_all(fd, req, req_len), 0);
        shutdown(fd, SHUT_WR);
        if (read_response(fd, rs) == -1) {
                close(fd);
                fail_msg("no complete HTTP response to: %.60s", req);
        }
        close(fd);
}

static void get(int port, const char *path, struct resp *rs)
{
        char req[512];

        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n",
                 path);
        exchange(port, req, strlen(req), rs);
}

/* The value of header @p name (case as sent), copied to @p out. */
static int header(const struct resp *rs, const char *name, char *out, size_t n)
{
        const char *p = rs->raw, *eol;
        size_t nl = strlen(name);

        while ((p = strstr(p, "\r\n")) && p < rs->body - 2) {
                p += 2;
                if (!strncmp(p, name, nl) && p[nl] == ':' && p[nl + 1] == ' ') {
                        p += nl + 2;
                        eol = strstr(p, "\r\n");
                        snprintf(out, n, "%.*s", (int)(eol - p), p);
                        return 0;
                }
        }
        return -1;
}

static void resp_free(struct resp *rs)
{
        free(rs->raw);
        rs->raw = NULL;
}

static void assert_status_body(int port, const char *path, int status, const char *body)
{
        struct resp rs;

        get(port, path, &rs);
        if (rs.status != status || strcmp(rs.body, body))
                fail_msg("GET %s: want %d \"%s\", got %d \"%s\"", path, status, body, rs.status,
                         rs.body);
        resp_free(&rs);
}

static int setup(void **state)
{
        char err[256];
        struct httpd *httpd;

        if (metrics_init("test-bridge", "0.1.0") == -1)
                return -1;
        httpd = httpd_start("127.0.0.1:0", err, sizeof(err));
        if (!httpd) {
                fprintf(stderr, "httpd_start: %s\n", err);
                return -1;
        }
        *state = httpd;
        return 0;
}

static int teardown(void **state)
{
        httpd_stop(*state);
        metrics_shutdown();
        return 0;
}

static int port_of(void **state)
{
        return httpd_port(*state);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_port_zero_picks_a_port(void **state)
{
        int port = port_of(state);

        assert_true(port > 0 && port < 65536);
}

static void test_metrics(void **state)
{
        static const char bare_lf[] = "GET /metrics HTTP/1.0\n\n";
        char ct[128], cl[32], conn[32];
        struct resp rs;

        metrics_events_add("/topic/A", "sf.a", 3);
        get(port_of(state), "/metrics", &rs);
        assert_int_equal(rs.status, 200);
        assert_int_equal(header(&rs, "Content-Type", ct, sizeof(ct)), 0);
        assert_string_equal(ct, "text/plain; version=0.0.4; charset=utf-8");
        assert_int_equal(header(&rs, "Connection", conn, sizeof(conn)), 0);
        assert_string_equal(conn, "close");
        assert_int_equal(header(&rs, "Content-Length", cl, sizeof(cl)), 0);
        assert_int_equal(strtoul(cl, NULL, 10), rs.body_len);
        assert_non_null(strstr(rs.body, "sfbridge_build_info{version=\"0.1.0\",name=\"test-bridge\"} 1\n"));
        assert_non_null(strstr(rs.body, "sfbridge_events_total{channel=\"/topic/A\",topic=\"sf.a\"} 3\n"));
        assert_non_null(strstr(rs.body, "# TYPE sfbridge_connect_seconds histogram\n"));
        resp_free(&rs);

        /* Query strings are ignored; HTTP/1.0 and bare-LF requests are fine. */
        get(port_of(state), "/metrics?name[]=x", &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);
        exchange(port_of(state), bare_lf, sizeof(bare_lf) - 1, &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);
}

/* A response larger than the socket buffers goes out in many writes. */
static void test_large_metrics(void **state)
{
        char ch[300], cl[32];
        struct resp rs;
        int i;

        memset(ch, 'c', sizeof(ch));
        metrics_max_series_set(2000);
        for (i = 0; i < 1000; i++) {
                snprintf(ch, sizeof(ch), "/topic/%0250d", i);
                metrics_events_add(ch, "sf.topic.with.a.long.name", (unsigned long)i);
        }
        get(port_of(state), "/metrics", &rs);
        assert_int_equal(rs.status, 200);
        assert_true(rs.body_len > 250000);
        assert_int_equal(header(&rs, "Content-Length", cl, sizeof(cl)), 0);
        assert_int_equal(strtoul(cl, NULL, 10), rs.body_len);
        assert_non_null(strstr(rs.body, "0999\",topic=\"sf.topic.with.a.long.name\"} 999\n"));
        assert_non_null(strstr(rs.body, "sfbridge_metrics_label_overflow_total 0\n"));
        resp_free(&rs);
        metrics_max_series_set(0);
}

static void test_healthz(void **state)
{
        struct resp rs;

        metrics_heartbeat();
        assert_status_body(port_of(state), "/healthz", 200, "ok\n");

        metrics_health_max_age_set(0.05);
        usleep(150 * 1000);
        get(port_of(state), "/healthz", &rs);
        assert_int_equal(rs.status, 503);
        assert_non_null(strstr(rs.body, "unhealthy: main loop silent for"));
        assert_non_null(strchr(rs.body, '\n'));
        assert_int_equal(strchr(rs.body, '\n') - rs.body + 1, (long)rs.body_len);
        resp_free(&rs);

        metrics_heartbeat();
        assert_status_body(port_of(state), "/healthz", 200, "ok\n");
        metrics_health_max_age_set(0);
}

static void test_readyz_flips(void **state)
{
        int port = port_of(state);

        assert_status_body(port, "/readyz", 503, "not ready: starting\n");
        metrics_ready_set(1, 1, 0, NULL);
        assert_status_body(port, "/readyz", 200, "ready\n");
        metrics_ready_set(1, 1, 1, NULL);
        assert_status_body(port, "/readyz", 503, "not ready: stalled\n");
        metrics_ready_set(0, 0, 0, "auth rejected");
        assert_status_body(port, "/readyz", 503, "not ready: auth rejected\n");
        metrics_ready_set(1, 0, 0, NULL);
        assert_status_body(port, "/readyz", 503, "not ready: not all routes subscribed\n");
        /* A reason with a newline still gives a one-line body. */
        metrics_ready_set(0, 0, 0, "two\nlines");
        assert_status_body(port, "/readyz", 503, "not ready: two lines\n");
        metrics_ready_set(1, 1, 0, NULL);
        assert_status_body(port, "/readyz", 200, "ready\n");
}

/* A group member: joining, then a ready standby that says so, then a unit. */
static void test_readyz_group(void **state)
{
        static const char *const units[] = { "default", "emea" };
        int port = port_of(state);

        assert_int_equal(metrics_group_init(units, 2), 0);
        assert_status_body(port, "/readyz", 503, "not ready: joining group\n");
        metrics_group_joined(1);
        assert_status_body(port, "/readyz", 200, "ready: standby\n");
        metrics_unit_owned_set(1, 1);
        assert_status_body(port, "/readyz", 503, "not ready: unit emea: starting\n");
        metrics_unit_ready_set(1, 1, 1, 0, NULL);
        assert_status_body(port, "/readyz", 200, "ready\n");
}

static void test_not_found(void **state)
{
        assert_status_body(port_of(state), "/nope", 404, "not found\n");
        assert_status_body(port_of(state), "/", 404, "not found\n");
        assert_status_body(port_of(state), "/metrics/", 404, "not found\n");
}

static void test_method_not_allowed(void **state)
{
        static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b";
        static const char head[] = "HEAD /healthz HTTP/1.0\r\n\r\n";
        char allow[32];
        struct resp rs;

        exchange(port_of(state), post, sizeof(post) - 1, &rs);
        assert_int_equal(rs.status, 405);
        assert_int_equal(header(&rs, "Allow", allow, sizeof(allow)), 0);
        assert_string_equal(allow, "GET");
        resp_free(&rs);
        exchange(port_of(state), head, sizeof(head) - 1, &rs);
        assert_int_equal(rs.status, 405);
        resp_free(&rs);
}

static void test_bad_request(void **state)
{
        static const char *const bad[] = {
                "HELLO\r\n\r\n",
                "GET /metrics\r\n\r\n",
                "GET /metrics HTTP/2.0\r\n\r\n",
                "GET /metrics FTP/1.0\r\n\r\n",
                "GET  /metrics HTTP/1.0\r\n\r\n",
                "GET /metrics HTTP/1.0 extra\r\n\r\n",
        };
        static const char nul[] = "GET /met\0rics HTTP/1.0\r\n\r\n";
        struct resp rs;
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                exchange(port_of(state), bad[i], strlen(bad[i]), &rs);
                if (rs.status != 400)
                        fail_msg("want 400 for %s, got %d", bad[i], rs.status);
                resp_free(&rs);
        }
        exchange(port_of(state), nul, sizeof(nul) - 1, &rs);
        assert_int_equal(rs.status, 400);
        resp_free(&rs);
}

static void test_oversize_request(void **state)
{
        size_t n = HTTPD_REQUEST_MAX + 4096, used;
        char *req = malloc(n + 8);
        struct resp rs;

        assert_non_null(req);
        used = (size_t)sprintf(req, "GET /metrics HTTP/1.0\r\nX-Big: ");
        memset(req + used, 'a', n - used);
        exchange(port_of(state), req, n, &rs);
        assert_int_equal(rs.status, 431);
        resp_free(&rs);

        /* Just under the limit, complete: served. */
        n = HTTPD_REQUEST_MAX;
        used = (size_t)sprintf(req, "GET /healthz HTTP/1.0\r\nX-Big: ");
        memset(req + used, 'b', n - used - 4);
        memcpy(req + n - 4, "\r\n\r\n", 4);
        exchange(port_of(state), req, n, &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);
        free(req);
}

/* A client that sends half a request holds its own slot, not the listener. */
static void test_slow_client(void **state)
{
        int port = port_of(state), slow, i;
        double t0, t1;
        char c;

        slow = client_connect(port, HTTPD_READ_TIMEOUT_MS + 3000);
        assert_true(slow >= 0);
        assert_int_equal(send_all(slow, "GET /met", 8), 0);
        t0 = mono_now();
        for (i = 0; i < 5; i++)
                assert_status_body(port, "/healthz", 200, "ok\n");
        assert_true(mono_now() - t0 < 1.0);

        /* The server drops the silent client after the read deadline. */
        assert_int_equal(recv(slow, &c, 1, 0), 0);
        t1 = mono_now();
        assert_true(t1 - t0 >= HTTPD_READ_TIMEOUT_MS / 1000.0 - 0.5);
        assert_true(t1 - t0 < HTTPD_READ_TIMEOUT_MS / 1000.0 + 2.0);
        close(slow);
}

/* A slow-loris client that keeps dribbling bytes is cut all the same. */
static void test_slow_loris_cut(void **state)
{
        static const char req[] = "GET /metrics HTTP/1.0\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        int port = port_of(state), fd;
        double t0;
        size_t i;
        char c;

        fd = client_connect(port, 5000);
        assert_true(fd >= 0);
        t0 = mono_now();
        for (i = 0; i < sizeof(req) - 1; i++) {
                if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
                        break; /* cut */
                usleep(100 * 1000);
                if (mono_now() - t0 > 4.0)
                        break;
        }
        assert_true(mono_now() - t0 < HTTPD_READ_TIMEOUT_MS / 1000.0 + 1.5);
        assert_true(recv(fd, &c, 1, 0) <= 0);
        close(fd);
}

static double probe_seconds(int port, const char *path, int want_status)
{
        struct resp rs;
        double t0 = mono_now(), dt;

        get(port, path, &rs);
        dt = mono_now() - t0;
        if (rs.status != want_status)
                fail_msg("GET %s: status %d", path, rs.status);
        resp_free(&rs);
        return dt;
}

/*
 * 300 idle connections (more than the slots) and 50 that dribble a request
 * byte by byte: the probes still answer, each well within a second, again
 * and again. Before, 64 idle connections made /healthz take 8-9 s.
 */
static void test_probes_not_starved(void **state)
{
        enum { NIDLE = 300, NSLOW = 50, ROUNDS = 10 };
        int port = port_of(state), idle[NIDLE], slow[NSLOW], r, i;
        double worst = 0, dt;

        metrics_ready_set(1, 1, 0, NULL);
        for (i = 0; i < NIDLE; i++) {
                idle[i] = client_connect(port, 2000);
                assert_true(idle[i] >= 0);
        }
        for (i = 0; i < NSLOW; i++) {
                slow[i] = client_connect(port, 2000);
                assert_true(slow[i] >= 0);
        }
        for (r = 0; r < ROUNDS; r++) {
                for (i = 0; i < NSLOW; i++)
                        send(slow[i], "G", 1, MSG_NOSIGNAL);
                dt = probe_seconds(port, "/healthz", 200);
                worst = dt > worst ? dt : worst;
                dt = probe_seconds(port, "/readyz", 200);
                worst = dt > worst ? dt : worst;
                usleep(150 * 1000);
        }
        for (i = 0; i < NIDLE; i++)
                close(idle[i]);
        for (i = 0; i < NSLOW; i++)
                close(slow[i]);
        if (worst >= 1.0)
                fail_msg("slowest probe took %.2f s with %d idle and %d slow clients", worst,
                         NIDLE, NSLOW);
}

/* Every slot taken: a new connection evicts the oldest, and is served. */
static void test_more_clients_than_slots(void **state)
{
        int port = port_of(state), fds[HTTPD_MAX_CONNS + 4];
        size_t i, closed = 0;
        struct resp rs;
        char c;

        for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                fds[i] = client_connect(port, 300);
                assert_true(fds[i] >= 0);
        }
        get(port, "/healthz", &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);
        /* The first five (oldest) were closed to make room, well before the read deadline. */
        for (i = 0; i < 5; i++)
                if (recv(fds[i], &c, 1, 0) == 0)
                        closed++;
        assert_int_equal(closed, 5);
        for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                close(fds[i]);
}

static struct httpd *start_with(const char *token, const char *allow)
{
        struct httpd_opts opts = { .listen = "127.0.0.1:0", .token = token, .allow = allow };
        char err[256];
        struct httpd *httpd = httpd_start_opts(&opts, err, sizeof(err));

        if (!httpd)
                fail_msg("httpd_start_opts: %s", err);
        return httpd;
}

static void get_with_header(int port, const char *path, const char *hdr, struct resp *rs)
{
        char req[512];

        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", path, hdr);
        exchange(port, req, strlen(req), rs);
}

/* metrics.token: /metrics needs the bearer token; the probes do not. */
static void test_token(void **state)
{
        static const char token[] = "s3cr3t-t0ken-0123456789";
        struct httpd *httpd;
        char www[64];
        struct resp rs;
        int port;

        (void)state;
        httpd = start_with(token, NULL);
        port = httpd_port(httpd);

        get(port, "/metrics", &rs);
        assert_int_equal(rs.status, 401);
        assert_int_equal(header(&rs, "WWW-Authenticate", www, sizeof(www)), 0);
        assert_string_equal(www, "Bearer realm=\"sfbridge\"");
        assert_null(strstr(rs.raw, token));
        assert_null(strstr(rs.raw, "sfbridge_up"));
        resp_free(&rs);

        get_with_header(port, "/metrics", "Authorization: Bearer s3cr3t-t0ken-012345678", &rs);
        assert_int_equal(rs.status, 401);
        resp_free(&rs);
        get_with_header(port, "/metrics", "Authorization: Bearer s3cr3t-t0ken-01234567890", &rs);
        assert_int_equal(rs.status, 401);
        resp_free(&rs);
        get_with_header(port, "/metrics", "Authorization: Basic czNjcjN0LXQwa2Vu", &rs);
        assert_int_equal(rs.status, 401);
        resp_free(&rs);

        get_with_header(port, "/metrics", "Authorization: Bearer s3cr3t-t0ken-0123456789", &rs);
        assert_int_equal(rs.status, 200);
        assert_non_null(strstr(rs.body, "sfbridge_up "));
        resp_free(&rs);
        /* Header name and scheme are case-insensitive (RFC 7235). */
        get_with_header(port, "/metrics", "authorization: bearer s3cr3t-t0ken-0123456789", &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);

        assert_status_body(port, "/healthz", 200, "ok\n");
        assert_status_body(port, "/readyz", 503, "not ready: starting\n");
        httpd_stop(httpd);
}

/* metrics.allow: a peer outside the list is closed unanswered, probes included. */
static void test_allow(void **state)
{
        struct httpd *httpd;
        struct resp rs;
        int fd, port;
        char buf[64];
        ssize_t n;

        (void)state;
        httpd = start_with(NULL, "10.0.0.0/8, fd00::/8");
        port = httpd_port(httpd);
        fd = client_connect(port, 2000);
        assert_true(fd >= 0);
        send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
        n = recv(fd, buf, sizeof(buf), 0);
        assert_true(n <= 0);
        close(fd);
        httpd_stop(httpd);

        httpd = start_with(NULL, "10.0.0.0/8,127.0.0.0/8");
        port = httpd_port(httpd);
        get(port, "/healthz", &rs);
        assert_int_equal(rs.status, 200);
        resp_free(&rs);
        httpd_stop(httpd);
}

static void test_bad_opts(void **state)
{
        struct httpd_opts opts = { .listen = "127.0.0.1:0", .allow = "10.0.0.0/33" };
        char err[256];

        (void)state;
        assert_null(httpd_start_opts(&opts, err, sizeof(err)));
        assert_non_null(strstr(err, "10.0.0.0/33"));
        opts.allow = NULL;
        opts.token = "";
        assert_null(httpd_start_opts(&opts, err, sizeof(err)));
}

static void test_bind_failure(void **state)
{
        char listen_addr[64], err[256];
        struct httpd *second;

        snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", port_of(state));
        second = httpd_start(listen_addr, err, sizeof(err));
        assert_null(second);
        assert_non_null(strstr(err, listen_addr));
        assert_non_null(strstr(err, "bind"));
        assert_non_null(strstr(err, strerror(EADDRINUSE)));
}

static void test_bad_listen_strings(void **state)
{
        static const struct {
                const char *listen_addr;
                const char *want;
        } cases[] = {
                { "nonsense", "expected host:port" },
                { "127.0.0.1:", "port must be a number" },
                { "127.0.0.1:99999", "port must be a number" },
                { "127.0.0.1:12x", "port must be a number" },
                { "127.0.0.1:-1", "port must be a number" },
                { "::1:9464", "needs brackets" },
                { "[::1:9464", "expected [address]:port" },
        };
        char err[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                err[0] = '\0';
                assert_null(httpd_start(cases[i].listen_addr, err, sizeof(err)));
                if (!strstr(err, cases[i].want) || !strstr(err, cases[i].listen_addr))
                        fail_msg("%s: errstr \"%s\" lacks \"%s\"", cases[i].listen_addr, err,
                                 cases[i].want);
        }
        assert_null(httpd_start(NULL, err, sizeof(err)));
}

/* Stop joins the thread promptly even with a client connected, and frees the port. */
static void test_stop(void **state)
{
        char err[256], c;
        struct httpd *httpd;
        int port, idle, again;
        double t0;

        (void)state;
        httpd = httpd_start("127.0.0.1:0", err, sizeof(err));
        assert_non_null(httpd);
        port = httpd_port(httpd);
        idle = client_connect(port, 3000);
        assert_true(idle >= 0);
        assert_int_equal(send_all(idle, "GET /", 5), 0);
        usleep(50 * 1000); /* let the listener accept it */

        t0 = mono_now();
        httpd_stop(httpd);
        assert_true(mono_now() - t0 < 1.0);

        /* The idle client sees the connection closed, and nobody listens. */
        assert_true(recv(idle, &c, 1, 0) <= 0);
        close(idle);
        again = client_connect(port, 1000);
        assert_int_equal(again, -1);
        assert_int_equal(errno, ECONNREFUSED);

        /* The port is free to bind again at once (a restart). */
        {
                char listen_addr[64];
                snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", port);
                httpd = httpd_start(listen_addr, err, sizeof(err));
                if (!httpd)
                        fail_msg("rebind: %s", err);
                assert_int_equal(httpd_port(httpd), port);
                httpd_stop(httpd);
        }
        httpd_stop(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_port_zero_picks_a_port, setup, teardown),
                cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_metrics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
                cmocka_unit_test_setup_teardown(test_readyz_flips, setup, teardown),
                cmocka_unit_test_setup_teardown(test_readyz_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversize_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_loris_cut, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probes_not_starved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_more_clients_than_slots, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bind_failure, setup, teardown),
                cmocka_unit_test(test_bad_listen_strings),
                cmocka_unit_test(test_stop),
                cmocka_unit_test_setup_teardown(test_token, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allow, setup, teardown),
                cmocka_unit_test(test_bad_opts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
