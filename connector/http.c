/*
 * libcurl multi: every transfer is non-blocking so one loop can serve
 * Salesforce, librdkafka's callbacks and signals together.
 */
#include "http.h"
#include "trust.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http {
        CURLM *multi;
        struct http_opts opts;
        char *ca_file;
        char *proxy;
};

static size_t http_write_cb(char *p, size_t size, size_t n, void *arg)
{
        struct http_xfer *x = arg;
        size_t len = size * n;

        /* Returning less than len makes libcurl fail the transfer with
         * CURLE_WRITE_ERROR: an over-long body is an error, never a truncation. */
        if (buf_append(&x->body, p, len) == -1) {
                if (x->body.toobig) {
                        x->too_large = x->body.len + len;
                        /* What was read is of no use: give it back now, not at the next request. */
                        buf_trim(&x->body, HTTP_KEEP_BYTES);
                }
                return 0;
        }
        return len;
}

struct http *http_new(const struct http_opts *opts, char *errstr, size_t errstr_size)
{
        static int curl_ready;
        struct http *http;

        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                        snprintf(errstr, errstr_size, "libcurl initialisation failed");
                        return NULL;
                }
                curl_ready = 1;
        }
        http = calloc(1, sizeof(*http));
        if (!http) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        http->opts = *opts;
        if ((opts->ca_file && !(http->ca_file = strdup(opts->ca_file))) ||
            (opts->proxy && !(http->proxy = strdup(opts->proxy))) ||
            !(http->multi = curl_multi_init())) {
                snprintf(errstr, errstr_size, "out of memory");
                http_destroy(http);
                return NULL;
        }
        if (!http->opts.max_response)
                http->opts.max_response = 64u << 20;
        if (!http->opts.connect_timeout_ms)
                http->opts.connect_timeout_ms = 10000;
        return http;
}

void http_destroy(struct http *http)
{
        if (!http)
                return;
        if (http->multi)
                curl_multi_cleanup(http->multi);
        free(http->ca_file);
        free(http->proxy);
        free(http);
}

int http_xfer_init(struct http *http, struct http_xfer *x, char *errstr, size_t errstr_size)
{
        CURL *easy;

        memset(x, 0, sizeof(*x));
        x->http = http;
        buf_init(&x->body, http->opts.max_response);
        easy = curl_easy_init();
        if (!easy) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        x->easy = easy;
        /* HTTP(S) only, whatever a URL from the network says: libcurl also
         * speaks gopher, dict, file, smtp… and a gopher:// instance_url would
         * write arbitrary bytes to any TCP port. Redirects are not followed
         * (FOLLOWLOCATION stays off), and would be held to the same
         * protocols; the bearer token never follows one to another host. */
        if (curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L) != CURLE_OK) {
                curl_easy_cleanup(easy);
                x->easy = NULL;
                snprintf(errstr, errstr_size, "libcurl cannot restrict protocols to http,https "
                         "(libcurl 7.85 or later with https is needed)");
                return -1;
        }
        curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_write_cb);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->error);
        /* An empty name enables the in-memory cookie engine for this handle
         * only: one jar per Bayeux session, as Salesforce requires. */
        curl_easy_setopt(easy, CURLOPT_COOKIEFILE, "");
        /* libcurl must not install signal handlers: we own signals. */
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, http->opts.connect_timeout_ms);
        curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
        /* HTTP/1.1, never h2 by ALPN: CometD's long-poll (one request
         * held per client, its cookies, Salesforce's load balancer) is
         * built on 1.1; the token endpoint does not mind. */
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
        /* An announced Content-Length over the ceiling fails before a byte
         * of the body is buffered (the write callback still bounds chunked
         * and compressed answers, whose decoded size counts). */
        curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)http->opts.max_response);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "sfbridge/" SFBRIDGE_VERSION);
        /* Re-read the trust store for each new connection, so an operator
         * who fixes a wrong ca_file on disk needs no restart. */
        curl_easy_setopt(easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
        if (http->ca_file)
                curl_easy_setopt(easy, CURLOPT_CAINFO, http->ca_file);
        if (http->proxy)
                curl_easy_setopt(easy, CURLOPT_PROXY, http->proxy);
        return 0;
}

void http_xfer_cleanup(struct http_xfer *x)
{
        if (!x || !x->http)
                return;
        http_xfer_cancel(x);
        if (x->easy)
                curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->headers);
        buf_free(&x->body);
        memset(x, 0, sizeof(*x));
}

/* libcurl sends a header line as given: CR or LF in it would start another
 * header. The session refuses such a token before it gets here
 * (token_rejected); this is the last line of defence. */
static int auth_refused(const char *auth, char *errstr, size_t errstr_size)
{
        if (!auth || trust_header_value(auth))
                return 0;
        snprintf(errstr, errstr_size, "request not sent: the Authorization value holds control characters");
        return 1;
}

/* Appends "Authorization: AUTH": the line holds the token, so it is built
 * here, wiped after libcurl copied it, and never logged. */
static int append_auth(struct curl_slist **list, const char *auth)
{
        size_t n = strlen("Authorization: ") + strlen(auth) + 1;
        struct curl_slist *tmp;
        char *line = malloc(n);

        if (!line)
                return -1;
        snprintf(line, n, "Authorization: %s", auth);
        tmp = curl_slist_append(*list, line);
        OPENSSL_cleanse(line, n);
        free(line);
        if (!tmp)
                return -1;
        *list = tmp;
        return 0;
}

/* Takes @p list as the request's headers and starts the request, whose
 * method the caller has set on the easy handle. */
static int xfer_start(struct http_xfer *x, struct curl_slist *list, const char *url,
                      long timeout_ms, char *errstr, size_t errstr_size)
{
        CURLMcode mc;

        curl_slist_free_all(x->headers);
        x->headers = list;
        /* The last answer was parsed and handed on before this request was
         * sent: a large one's buffer goes back now (the next /meta/connect
         * may go out while that batch commits, so the caller cannot). */
        buf_trim(&x->body, HTTP_KEEP_BYTES);
        buf_reset(&x->body);
        x->too_large = 0;
        x->done = 0;
        x->curl_code = 0;
        x->status = 0;
        x->error[0] = '\0';
        curl_easy_setopt(x->easy, CURLOPT_URL, url);
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        mc = curl_multi_add_handle(x->http->multi, x->easy);
        if (mc != CURLM_OK) {
                snprintf(errstr, errstr_size, "cannot start request: %s", curl_multi_strerror(mc));
                return -1;
        }
        x->busy = 1;
        return 0;
}

int http_xfer_post(struct http_xfer *x, const char *url, const char *content_type,
                   const char *auth, const char *body, size_t len, long timeout_ms,
                   char *errstr, size_t errstr_size)
{
        char hdr[96];
        struct curl_slist *list = NULL, *tmp;

        http_xfer_cancel(x);
        if (auth_refused(auth, errstr, errstr_size))
                return -1;
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
        if (!(tmp = curl_slist_append(list, hdr)))
                goto oom;
        list = tmp;
        if (auth && append_auth(&list, auth) == -1)
                goto oom;
        if (!(tmp = curl_slist_append(list, "Expect:")))
                goto oom;
        list = tmp;
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body);
        return xfer_start(x, list, url, timeout_ms, errstr, errstr_size);
oom:
        curl_slist_free_all(list);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

int http_xfer_get(struct http_xfer *x, const char *url, const char *auth, long timeout_ms,
                  char *errstr, size_t errstr_size)
{
        struct curl_slist *list = NULL;

        http_xfer_cancel(x);
        if (auth_refused(auth, errstr, errstr_size))
                return -1;
        if (auth && append_auth(&list, auth) == -1) {
                curl_slist_free_all(list);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
        /* An occasional GET beside the long-poll takes a connection of its
         * own and closes it: it must not change which pooled connection the
         * next /meta/connect reuses (nor how libcurl retries one that died). */
        curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
        return xfer_start(x, list, url, timeout_ms, errstr, errstr_size);
}

void http_xfer_cancel(struct http_xfer *x)
{
        if (!x->busy)
                return;
        curl_multi_remove_handle(x->http->multi, x->easy);
        /* A held long-poll must not be reused: its answer could still come. */
        curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
        x->busy = 0;
        x->done = 0;
}

void http_xfer_clear_cookies(struct http_xfer *x)
{
        curl_easy_setopt(x->easy, CURLOPT_COOKIELIST, "ALL");
}

int http_poll(struct http *http, int timeout_ms, int wake_fd)
{
        struct curl_waitfd wfd = { 0 };

        wfd.fd = wake_fd;
        wfd.events = CURL_WAIT_POLLIN;
        if (curl_multi_poll(http->multi, wake_fd >= 0 ? &wfd : NULL, wake_fd >= 0 ? 1 : 0,
                            timeout_ms, NULL) != CURLM_OK)
                return -1;
        return http_perform(http);
}

int http_perform(struct http *http)
{
        int running, left;
        CURLMsg *msg;

        if (curl_multi_perform(http->multi, &running) != CURLM_OK)
                return -1;
        while ((msg = curl_multi_info_read(http->multi, &left))) {
                struct http_xfer *x = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
                x->curl_code = msg->data.result;
                curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
                curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &x->seconds);
                if (x->curl_code == CURLE_FILESIZE_EXCEEDED && !x->too_large) {
                        curl_off_t cl = -1;

                        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
                        x->too_large = cl > (curl_off_t)http->opts.max_response
                                           ? (size_t)cl
                                           : http->opts.max_response + 1;
                }
                if (x->curl_code != CURLE_OK) {
                        x->status = 0;
                        if (x->too_large)
                                snprintf(x->error, sizeof(x->error),
                                         "response of %s%zu bytes is larger than the %zu-byte "
                                         "ceiling (salesforce.max_response_bytes)",
                                         x->curl_code == CURLE_FILESIZE_EXCEEDED ? "" : "at least ",
                                         x->too_large, http->opts.max_response);
                        else if (!x->error[0])
                                snprintf(x->error, sizeof(x->error), "%s",
                                         curl_easy_strerror((CURLcode)x->curl_code));
                }
                curl_multi_remove_handle(http->multi, x->easy);
                curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 0L);
                x->busy = 0;
                x->done = 1;
        }
        return 0;
}

int http_xfer_run(struct http_xfer *x, const char *url, const char *content_type,
                  const char *auth, const char *body, size_t len, long timeout_ms,
                  char *errstr, size_t errstr_size)
{
        if (http_xfer_post(x, url, content_type, auth, body, len, timeout_ms, errstr,
                           errstr_size) == -1)
                return -1;
        while (!x->done) {
                if (http_poll(x->http, 1000, -1) == -1) {
                        snprintf(errstr, errstr_size, "libcurl multi failure");
                        http_xfer_cancel(x);
                        return -1;
                }
        }
        if (x->curl_code) {
                snprintf(errstr, errstr_size, "%s", x->error);
                return -1;
        }
        return 0;
}

int http_xfer_is_too_large(const struct http_xfer *x)
{
        return x->curl_code != CURLE_OK && x->too_large != 0;
}

size_t http_max_response(const struct http *http)
{
        return http->opts.max_response;
}

int http_xfer_is_tls_error(const struct http_xfer *x)
{
        switch (x->curl_code) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return 1;
        default:
                return 0;
        }
}
