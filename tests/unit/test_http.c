/*
 * http: what the libcurl layer refuses whatever the caller hands it
 * (issue 14, item 3): any protocol but HTTP(S), and an Authorization value
 * that would inject header lines. Nothing here reaches the network: port 1
 * of 127.0.0.1 is closed, and a refused request never connects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"

static struct http *make_http(void)
{
        struct http_opts opts = { .connect_timeout_ms = 2000, .max_response = 65536 };
        char err[256];
        struct http *http = http_new(&opts, err, sizeof(err));

        assert_non_null(http);
        return http;
}

/* gopher://, dict://, file://… never run: libcurl says the protocol is not
 * allowed before it resolves or connects (today's libcurl speaks them all). */
static void only_http_and_https(void **state)
{
        static const char *const urls[] = {
                "gopher://127.0.0.1:1/_x", "dict://127.0.0.1:1/x", "file:///etc/hostname",
                "ftp://127.0.0.1:1/x", "smtp://127.0.0.1:1", "telnet://127.0.0.1:1",
        };
        struct http *http = make_http();
        struct http_xfer x;
        char err[256];
        size_t i;

        (void)state;
        assert_int_equal(http_xfer_init(http, &x, err, sizeof(err)), 0);
        for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
                err[0] = '\0';
                http_xfer_run(&x, urls[i], "text/plain", NULL, "x", 1, 2000, err, sizeof(err));
                if (x.curl_code != CURLE_UNSUPPORTED_PROTOCOL)
                        print_error("%s: curl code %d (%s), want CURLE_UNSUPPORTED_PROTOCOL\n", urls[i],
                                    x.curl_code, x.error);
                assert_int_equal(x.curl_code, CURLE_UNSUPPORTED_PROTOCOL);
                assert_int_equal(x.status, 0);
        }
        /* http itself is still allowed: a refused connection, not a refused protocol. */
        http_xfer_run(&x, "http://127.0.0.1:1/", "text/plain", NULL, "x", 1, 2000, err, sizeof(err));
        assert_int_equal(x.curl_code, CURLE_COULDNT_CONNECT);
        http_xfer_cleanup(&x);
        http_destroy(http);
}

/* An Authorization value with CR or LF would add header lines: never sent. */
static void auth_with_control_chars_refused(void **state)
{
        struct http *http = make_http();
        struct http_xfer x;
        char err[256];

        (void)state;
        assert_int_equal(http_xfer_init(http, &x, err, sizeof(err)), 0);
        err[0] = '\0';
        assert_int_equal(http_xfer_post(&x, "http://127.0.0.1:1/", "text/plain",
                                        "Bearer tok\r\nX-Injected: 1", "x", 1, 2000, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "control characters"));
        assert_null(strstr(err, "tok"));
        assert_false(x.busy);
        assert_int_equal(http_xfer_get(&x, "http://127.0.0.1:1/", "Bearer tok\n", 2000, err, sizeof(err)), -1);
        assert_false(x.busy);
        http_xfer_cleanup(&x);
        http_destroy(http);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(only_http_and_https),
                cmocka_unit_test(auth_with_control_chars_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
