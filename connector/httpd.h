/*
 * A deliberately tiny HTTP/1.0 listener for operations: /metrics (Prometheus
 * text), /healthz (the main loop's heartbeat) and /readyz (session state).
 * GET only, one request per connection, bounded request size and short
 * deadlines, an optional bearer token and allow-list, plain POSIX sockets
 * and poll(2) on one thread.
 */
#ifndef SFB_HTTPD_H
#define SFB_HTTPD_H

#include <stddef.h>

#define HTTPD_REQUEST_MAX 8192    /* bytes of request line + headers; 431 beyond */
#define HTTPD_MAX_CONNS 256       /* served at once; a new one evicts the oldest */
#define HTTPD_READ_TIMEOUT_MS 1000 /* from accept to the end of the request head */
#define HTTPD_WRITE_TIMEOUT_MS 10000 /* to send the response */
#define HTTPD_RESPONSE_MAX (4u << 20)

struct httpd;

enum httpd_path { HTTPD_PATH_METRICS, HTTPD_PATH_HEALTHZ, HTTPD_PATH_READYZ };

/**
 * @brief Judge a request as the listener does: pure, so it can be fuzzed.
 * @param req, len  the bytes received so far (request line and headers);
 *                  need not be NUL-terminated, only req[0..len) is read.
 * @param path      set on 200 to the path asked for.
 * @returns 0 while the headers are incomplete (no blank line yet) and len
 *          is under HTTPD_REQUEST_MAX; else the status to answer: 200 (GET
 *          of /metrics, /healthz or /readyz, query string ignored), 400 (a
 *          NUL byte, or a request line other than "METHOD SP target SP
 *          HTTP/1.x"), 404, 405 (not GET), 431 (HTTPD_REQUEST_MAX bytes
 *          without a blank line).
 */
int httpd_parse_request(const char *req, size_t len, enum httpd_path *path);
/** What httpd_start_opts() serves and to whom; every string is copied. */
struct httpd_opts {
        const char *listen;     /* "host:port", see httpd_start() */
        const char *token;      /* NULL: /metrics is open; else it needs
                                 * "Authorization: Bearer <token>" (401 otherwise) */
        const char *allow;      /* NULL: every peer; else a cidr_list_parse() list, and a
                                 * peer outside it is closed at accept, unanswered */
};

/**
 * @brief Bind opts->listen and start serving on a thread of its own.
 * @returns a new listener, stop it with httpd_stop(); or NULL with errstr
 *          naming the address and the system error (e.g. "listen
 *          127.0.0.1:9464: bind: Address already in use") or what is wrong
 *          with allow (never quoting the token); the caller prefixes the
 *          config key.
 * @remark Answers GET /metrics, /healthz, /readyz (query strings ignored),
 *         404 for other paths, 405 for other methods, 400 for a malformed
 *         request, 431 for one over HTTPD_REQUEST_MAX bytes, 401 for
 *         /metrics without the token; always "Connection: close", one
 *         request per connection. Nothing can starve the probes: the whole
 *         request head must arrive within HTTPD_READ_TIMEOUT_MS of accept
 *         (slow or silent clients are cut), the response within
 *         HTTPD_WRITE_TIMEOUT_MS; when HTTPD_MAX_CONNS are open a new
 *         connection evicts the oldest; and in each turn of the loop
 *         /healthz and /readyz are answered before /metrics is rendered
 *         (once, shared by every /metrics request of that turn). A
 *         connection holds no request buffer until a request arrives in
 *         pieces. /healthz uses metrics_healthy(0).
 * @locality httpd_start_opts() and httpd_stop() on the main thread. The
 *           listener thread only calls metrics_render(), metrics_healthy(),
 *           metrics_heartbeat_age(), metrics_ready() (which lock) and
 *           log_msg(), and it blocks every signal so the main thread
 *           receives them.
 */
struct httpd *httpd_start_opts(const struct httpd_opts *opts, char *errstr, size_t errstr_size);

/**
 * @brief httpd_start_opts() with only a listen address: no token, no allow-list.
 * @param listen_addr  "host:port" ("[v6addr]:port" for IPv6; an empty host binds
 *                every address; port 0 lets the OS choose, see httpd_port()).
 */
struct httpd *httpd_start(const char *listen_addr, char *errstr, size_t errstr_size);

/** @returns the bound port (the chosen one when listen_addr asked for port 0). */
int httpd_port(const struct httpd *httpd);

/**
 * @brief Wake the listener thread, join it, close every socket and free.
 * @remark Accepts NULL. Returns promptly even with clients connected.
 */
void httpd_stop(struct httpd *httpd);

#endif
