/*
 * A deliberately tiny HTTP/1.0 listener for operations: /metrics (Prometheus
 * text), /healthz (the main loop's heartbeat) and /readyz (session state).
 * GET only, one request per connection, bounded request size and per-
 * connection deadline, plain POSIX sockets and poll(2) on one thread.
 */
#ifndef SFB_HTTPD_H
#define SFB_HTTPD_H

#include <stddef.h>

#define HTTPD_REQUEST_MAX 8192    /* bytes of request line + headers; 431 beyond */
#define HTTPD_MAX_CONNS 16        /* served at once; more wait in the backlog */
#define HTTPD_TIMEOUT_MS 5000     /* per connection, from accept to close */
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

/**
 * @brief Bind @p listen_addr and start serving on a thread of its own.
 * @param listen_addr  "host:port" ("[v6addr]:port" for IPv6; an empty host binds
 *                every address; port 0 lets the OS choose, see httpd_port()).
 * @returns a new listener, stop it with httpd_stop(); or NULL with errstr
 *          naming the address and the system error (e.g. "listen
 *          127.0.0.1:9464: bind: Address already in use"); the caller
 *          prefixes the config key.
 * @remark Answers GET /metrics, /healthz, /readyz (query strings ignored),
 *         404 for other paths, 405 for other methods, 400 for a malformed
 *         request, 431 for one over HTTPD_REQUEST_MAX bytes; always
 *         "Connection: close". A client that has not finished within
 *         HTTPD_TIMEOUT_MS is dropped, and others are served meanwhile.
 *         /healthz uses metrics_healthy(0) (the configured threshold).
 * @locality httpd_start() and httpd_stop() on the main thread. The listener
 *           thread only calls metrics_render(), metrics_healthy(),
 *           metrics_heartbeat_age() and metrics_ready(), which lock, and it
 *           blocks every signal so the main thread receives them.
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
