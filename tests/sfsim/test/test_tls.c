/*
 * sfsim over https (--tls-cert/--tls-key) with the test CA that `make certs`
 * generates: the ready line, login, admin calls and a whole Bayeux session
 * through TLS, Secure cookies, and a client trusting another CA refused.
 */
#include "harness.h"

static char cert[1024], key[1024], ca[1024], wrong_ca[1024];

static int tls_setup(void **state)
{
        const char *args[] = { "--tls-cert", cert, "--tls-key", key, NULL };
        struct fixture *fx;

        *state = NULL;
        if (!certs_present())
                return 0;
        cert_path("server.pem", cert, sizeof(cert));
        cert_path("server.key", key, sizeof(key));
        cert_path("ca.pem", ca, sizeof(ca));
        cert_path("wrong-ca.pem", wrong_ca, sizeof(wrong_ca));
        fx = calloc(1, sizeof(*fx));
        if (!fx)
                return -1;
        fx->sim.pid = -1;
        fx->sim2.pid = -1;
        *state = fx;
        if (sim_start(&fx->sim, args) == -1)
                return -1;
        fx->sim.cainfo = ca;
        return 0;
}

#define SKIP_WITHOUT_CERTS(fx)                                                                         \
        do {                                                                                           \
                if (!(fx)) {                                                                           \
                        print_message("SKIP: tests/certs is missing; run `make certs` to test TLS\n"); \
                        skip();                                                                        \
                }                                                                                      \
        } while (0)

static void test_tls_session(void **state)
{
        struct fixture *fx = *state;
        struct hres res;
        uint64_t ids[2];
        char body[512];

        SKIP_WITHOUT_CERTS(fx);
        assert_int_equal(strncmp(fx->sim.url, "https://127.0.0.1:", 18), 0);
        login(&fx->sim, fx->token, sizeof(fx->token));
        tclient_init(&fx->tc, &fx->sim, fx->token);
        /* The instance host is another https listener. */
        assert_int_equal(strncmp(fx->tc.base, "https://127.0.0.1:", 18), 0);
        assert_string_not_equal(fx->tc.base, fx->sim.url);
        /* The handshake's cookies are Secure over https. */
        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"supportedConnectionTypes\":"
                 "[\"long-polling\"],\"id\":\"1\"}]");
        bx_raw(&fx->tc, NULL, body, 0, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 200);
        assert_non_null(strstr(res.headers, "Set-Cookie: BAYEUX_BROWSER="));
        assert_non_null(strstr(res.headers, "; Path=/; HttpOnly; Secure\r\n"));
        hres_free(&res);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/event/Tls__e", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/event/Tls__e&count=2&size=4000", ids, 2), 2);
        connect_expect_events(&fx->tc, ids, 2, 110000);
}

static void test_tls_wrong_ca(void **state)
{
        struct fixture *fx = *state;
        struct http_opts opts = { wrong_ca, NULL, 0 };
        struct hres res;
        char url[512];

        SKIP_WITHOUT_CERTS(fx);
        form_post(&fx->sim, "grant_type=password", &opts, &res);
        assert_int_equal(res.rc, CURLE_PEER_FAILED_VERIFICATION);
        hres_free(&res);
        /* Plain http to the https port gets no answer either. */
        snprintf(url, sizeof(url), "http://%s/admin/stats", fx->sim.url + strlen("https://"));
        http_do("GET", url, NULL, NULL, 0, NULL, &res);
        assert_true(res.rc != CURLE_OK || res.status != 200);
        hres_free(&res);
        /* The server survives both. */
        cJSON_Delete(stats(&fx->sim));
}

static void test_tls_bad_key_file(void **state)
{
        const char *args[] = { "--tls-cert", cert, "--tls-key", "/nonexistent.key", NULL };
        struct simproc sp;
        char *err;
        int status;

        (void)state;
        if (!certs_present()) {
                print_message("SKIP: tests/certs is missing; run `make certs` to test TLS\n");
                skip();
        }
        cert_path("server.pem", cert, sizeof(cert));
        assert_int_equal(sim_start(&sp, args), -1);
        status = sim_wait(&sp, 10000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        err = sim_stderr(&sp);
        assert_non_null(strstr(err, "sfsim: --tls-key /nonexistent.key: No such file or directory"));
        free(err);
        close(sp.out_fd);
        unlink(sp.err_path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tls_session, tls_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_tls_wrong_ca, tls_setup, fx_teardown),
                cmocka_unit_test(test_tls_bad_key_file),
        };

        return RUN("sfsim tls", tests);
}
