/*
 * A thin libcurl layer: one multi handle driving a few transfers, each with
 * its own in-memory cookie jar (Salesforce needs its BAYEUX_BROWSER and load
 * balancer cookies back, per session), TLS verification always on, optional
 * extra CA and proxy, and results as (curl code, HTTP status, body). Knows
 * nothing of Salesforce.
 */
#ifndef SFB_HTTP_H
#define SFB_HTTP_H

#include <stddef.h>
#include "buf.h"

struct http;

/* A body buffer larger than this is given back before the next request:
 * one rare large answer must not pin its size for the process's life. */
#define HTTP_KEEP_BYTES (1u << 20)

struct http_opts {
        const char *ca_file;        /* extra trust anchor, or NULL */
        const char *proxy;          /* or NULL */
        long connect_timeout_ms;    /* TCP + TLS setup */
        size_t max_response;        /* body ceiling (salesforce.max_response_bytes) */
};

struct http_xfer {
        struct http *http;
        void *easy;                 /* CURL * */
        struct buf body;            /* response body, NUL-terminated */
        void *headers;              /* struct curl_slist * */
        int busy;                   /* a request is in flight */
        int done;                   /* finished since the last start */
        int curl_code;              /* CURLcode; 0 = an HTTP answer arrived */
        long status;                /* HTTP status, 0 without an answer */
        double seconds;             /* total time of the exchange */
        size_t too_large;           /* non-zero: the answer passed the body ceiling and was
                                     * refused; at least this many bytes (Content-Length
                                     * when announced) */
        char error[256];            /* curl's message when curl_code != 0 */
};

/** @returns a new HTTP layer, free with http_destroy(); NULL with errstr. Calls curl_global_init once. */
struct http *http_new(const struct http_opts *opts, char *errstr, size_t errstr_size);
void http_destroy(struct http *http);

/** @brief Prepare a transfer owned by the caller (embedded or allocated); cookies live as long as it does. @returns 0 or -1. */
int http_xfer_init(struct http *http, struct http_xfer *x, char *errstr, size_t errstr_size);
void http_xfer_cleanup(struct http_xfer *x);

/**
 * @brief Start a POST. @p auth is the whole Authorization header value or NULL.
 *        @p timeout_ms bounds the whole exchange (the stall watchdog for a long-poll).
 * @remark body is copied by libcurl (CURLOPT_COPYPOSTFIELDS) so the caller may reuse it.
 * @returns 0 or -1 with errstr.
 */
int http_xfer_post(struct http_xfer *x, const char *url, const char *content_type,
                   const char *auth, const char *body, size_t len, long timeout_ms,
                   char *errstr, size_t errstr_size);

/** @brief Abandon the request in flight, if any (closes its connection). */
/**
 * @brief Start a GET of @p url on the multi handle (as http_xfer_post()).
 * @param auth  the Authorization value (e.g. "Bearer X"), or NULL; never logged.
 * @returns 0, or -1 with errstr.
 * @remark use an xfer for GETs only: the POST options are not undone. The GET
 *         opens a connection of its own and closes it after, leaving the
 *         pool the long-poll reuses as it was.
 */
int http_xfer_get(struct http_xfer *x, const char *url, const char *auth, long timeout_ms,
                  char *errstr, size_t errstr_size);

void http_xfer_cancel(struct http_xfer *x);

/** @brief Forget every cookie of this transfer (a new Bayeux session starts clean). */
void http_xfer_clear_cookies(struct http_xfer *x);

/**
 * @brief Drive transfers: wait up to timeout_ms for network activity or for
 *        @p wake_fd (-1 for none) to become readable, then mark finished
 *        transfers done. @returns 0 or -1 (a multi error).
 */
int http_poll(struct http *http, int timeout_ms, int wake_fd);

/** @brief Move transfers along without waiting (send what is ready to go); marks finished ones done. @returns 0 or -1. */
int http_perform(struct http *http);

/** @brief Start a POST and wait for it (the CLI's online check). @returns 0 when an HTTP answer arrived. */
int http_xfer_run(struct http_xfer *x, const char *url, const char *content_type,
                  const char *auth, const char *body, size_t len, long timeout_ms,
                  char *errstr, size_t errstr_size);

/**
 * @returns non-zero when x failed because its answer was larger than the
 *          body ceiling (curl_code set, x->too_large the size seen, at least
 *          ceiling + 1); nothing of the answer is kept.
 */
int http_xfer_is_too_large(const struct http_xfer *x);

/** @returns the body ceiling of this layer (http_opts.max_response). */
size_t http_max_response(const struct http *http);

/** @returns non-zero when x failed on TLS (verification, handshake, CA file). */
int http_xfer_is_tls_error(const struct http_xfer *x);

#endif
