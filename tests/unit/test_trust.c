/*
 * trust: which instance URLs may receive the bearer token, and which
 * values may go into a request header. One table of good and bad URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "trust.h"

#define LOGIN_HTTPS "https://login.salesforce.com"
#define LOGIN_HTTP  "http://127.0.0.1:8443"

static const struct url_case {
        const char *url;
        const char *login;
        const char *allowed;
        enum trust_verdict want;
        const char *host;       /* what the log names; NULL: not checked */
} url_cases[] = {
        /* What Salesforce answers. */
        { "https://na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_OK, "na1.salesforce.com" },
        { "https://acme.my.salesforce.com", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "https://acme.my.salesforce.com/", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "https://ACME--uat.sandbox.my.salesforce.com", LOGIN_HTTPS, NULL, TRUST_OK,
          "acme--uat.sandbox.my.salesforce.com" },
        { "https://acme.my.force.com", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "https://acme.cloudforce.com", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "https://acme.my.salesforce.mil", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "https://acme.my.salesforce.com:443", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        { "HTTPS://acme.my.salesforce.com", LOGIN_HTTPS, NULL, TRUST_OK, NULL },
        /* The emulator: plain http only because the login is plain http. */
        { "http://127.0.0.1:9001", LOGIN_HTTP, NULL, TRUST_OK, "127.0.0.1" },
        { "https://127.0.0.1:9001", "https://127.0.0.1:8443/", NULL, TRUST_OK, NULL },
        { "http://127.0.0.1:9001", "http://127.0.0.1:8443/services", NULL, TRUST_OK, NULL },
        { "http://[::1]:9001", "http://[::1]:8443", NULL, TRUST_OK, "[::1]" },
        /* salesforce.allowed_hosts: exact, or a .suffix for the hosts below it. */
        { "https://sf.proxy.example.com", LOGIN_HTTPS, "sf.proxy.example.com", TRUST_OK, NULL },
        { "https://SF.Proxy.Example.com", LOGIN_HTTPS, "other.example, sf.proxy.example.com", TRUST_OK, NULL },
        { "https://a.b.corp.example", LOGIN_HTTPS, ".corp.example", TRUST_OK, NULL },
        { "https://localhost:9001", "https://127.0.0.1:8443", "localhost", TRUST_OK, "localhost" },
        { "https://corp.example", LOGIN_HTTPS, ".corp.example", TRUST_HOST, NULL },
        { "https://evilcorp.example", LOGIN_HTTPS, ".corp.example", TRUST_HOST, NULL },
        { "https://sf.proxy.example.com.evil.net", LOGIN_HTTPS, "sf.proxy.example.com", TRUST_HOST, NULL },
        { "https://x.example.com", LOGIN_HTTPS, ".", TRUST_HOST, NULL },
        { "https://x.example.com", LOGIN_HTTPS, "", TRUST_HOST, NULL },
        /* Scheme: https, or http with an http login; nothing else libcurl speaks. */
        { "gopher://127.0.0.1:6379/_SET%20x", LOGIN_HTTP, NULL, TRUST_SYNTAX, "127.0.0.1" },
        { "gopher://127.0.0.1:6379", LOGIN_HTTP, NULL, TRUST_SCHEME, "127.0.0.1" },
        { "file://localhost", LOGIN_HTTP, NULL, TRUST_SCHEME, NULL },
        { "ftp://na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SCHEME, NULL },
        { "dict://127.0.0.1:11211", LOGIN_HTTP, NULL, TRUST_SCHEME, NULL },
        { "https+x://na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SCHEME, NULL },
        { "http://na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_PLAIN_HTTP, "na1.salesforce.com" },
        { "http://127.0.0.1:9001", "https://127.0.0.1:8443", NULL, TRUST_PLAIN_HTTP, NULL },
        { "http://127.0.0.1:9001", NULL, NULL, TRUST_PLAIN_HTTP, NULL },
        /* Host: a Salesforce domain, the login host, or allowed. */
        { "https://evil.example.com", LOGIN_HTTPS, NULL, TRUST_HOST, "evil.example.com" },
        { "https://salesforce.com", LOGIN_HTTPS, NULL, TRUST_HOST, NULL },
        { "https://evilsalesforce.com", LOGIN_HTTPS, NULL, TRUST_HOST, NULL },
        { "https://na1.salesforce.com.evil.net", LOGIN_HTTPS, NULL, TRUST_HOST, NULL },
        { "https://login.salesforce.com.evil.net", LOGIN_HTTPS, NULL, TRUST_HOST, NULL },
        { "http://10.0.0.5:9001", LOGIN_HTTP, NULL, TRUST_HOST, "10.0.0.5" },
        { "http://localhost:9001", LOGIN_HTTP, NULL, TRUST_HOST, NULL },
        /* Syntax: userinfo, query, fragment, paths, odd bytes, ports. */
        { "https://na1.salesforce.com.", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://user:pw@na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "na1.salesforce.com" },
        { "https://evil.com@na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com@evil.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "evil.com" },
        { "https://na1.salesforce.com?x=1", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com/#x", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com/services", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://evil.com\\@na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com\r\nX-Evil: 1", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.sales force.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "na1.sales?force.com" },
        { "https://na1.salesforce.com\t", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.c\xc3\xb6m", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "na1.salesforce.c??m" },
        { "https://na1.salesforce.com:0", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com:65536", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com:443443", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com:", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1.salesforce.com:44x", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://-na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://na1..salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https://", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "" },
        { "https:///na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "" },
        { "//na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "https:na1.salesforce.com", LOGIN_HTTPS, NULL, TRUST_SYNTAX, NULL },
        { "", LOGIN_HTTPS, NULL, TRUST_SYNTAX, "" },
        { NULL, LOGIN_HTTPS, NULL, TRUST_SYNTAX, "" },
        { "http://[::1", LOGIN_HTTP, NULL, TRUST_SYNTAX, NULL },
        { "http://[::1]x:9001", LOGIN_HTTP, NULL, TRUST_SYNTAX, NULL },
        { "http://[zz::1]:9001", LOGIN_HTTP, NULL, TRUST_SYNTAX, NULL },
};

static void instance_url_table(void **state)
{
        size_t i;
        int failed = 0;

        (void)state;
        for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
                const struct url_case *c = &url_cases[i];
                char host[300];
                enum trust_verdict got;

                memset(host, 'X', sizeof(host));
                got = trust_instance_url(c->url, c->login, c->allowed, host, sizeof(host));
                if (got != c->want) {
                        print_error("case %zu \"%s\" (login %s, allowed %s): got %s, want %s\n", i,
                                    c->url ? c->url : "(null)", c->login ? c->login : "(null)",
                                    c->allowed ? c->allowed : "(null)", trust_verdict_name(got),
                                    trust_verdict_name(c->want));
                        failed = 1;
                }
                if (!memchr(host, '\0', sizeof(host))) {
                        print_error("case %zu: host not terminated\n", i);
                        failed = 1;
                } else if (c->host && strcmp(host, c->host) != 0) {
                        print_error("case %zu \"%s\": host \"%s\", want \"%s\"\n", i, c->url, host, c->host);
                        failed = 1;
                }
        }
        assert_false(failed);
}

/* The host named in the log is bounded by the caller's buffer and holds host bytes only. */
static void host_for_log_is_bounded_and_clean(void **state)
{
        char host[8], big[600];

        (void)state;
        assert_int_equal(trust_instance_url("https://abcdefghijklmnop.example.com", LOGIN_HTTPS, NULL,
                                            host, sizeof(host)), TRUST_HOST);
        assert_string_equal(host, "abcdefg");
        memset(big, 'a', sizeof(big));
        memcpy(big, "https://", 8);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(trust_instance_url(big, LOGIN_HTTPS, NULL, NULL, 0), TRUST_SYNTAX);
        assert_int_equal(trust_instance_url("https://a\"b\x01.salesforce.com", LOGIN_HTTPS, NULL, host,
                                            sizeof(host)), TRUST_SYNTAX);
        assert_string_equal(host, "a?b?.sa");
}

static void verdict_names(void **state)
{
        (void)state;
        assert_string_equal(trust_verdict_name(TRUST_SCHEME), "scheme");
        assert_string_equal(trust_verdict_name(TRUST_HOST), "host");
        assert_string_equal(trust_verdict_name(TRUST_PLAIN_HTTP), "plain_http");
        assert_string_equal(trust_verdict_name(TRUST_SYNTAX), "syntax");
}

static void header_values(void **state)
{
        (void)state;
        assert_true(trust_header_value("00Dxx0000001gPL!AQ4AQFt.9tyxr_7Z.0kRc"));
        assert_true(trust_header_value(""));
        assert_true(trust_header_value("with\ttab and blanks"));
        assert_true(trust_header_value("caf\xc3\xa9"));
        assert_false(trust_header_value(NULL));
        assert_false(trust_header_value("tok\r\nX-Injected: 1"));
        assert_false(trust_header_value("tok\nX-Injected: 1"));
        assert_false(trust_header_value("tok\r"));
        assert_false(trust_header_value("tok\x01"));
        assert_false(trust_header_value("\x1f"));
        assert_false(trust_header_value("tok\x7f"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(instance_url_table),
                cmocka_unit_test(host_for_log_is_bounded_and_clean),
                cmocka_unit_test(verdict_names),
                cmocka_unit_test(header_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
