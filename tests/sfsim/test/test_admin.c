/*
 * sfsim's admin API (stats, localhost only, routes) and its process
 * behaviour: the command line, the ready line, --stats-json, and a clean
 * exit on SIGTERM/SIGINT even with a long-poll held.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct run {
        int status;       /* wait status */
        char out[65536];  /* stdout */
        char err[65536];  /* stderr */
};

static void slurp(const char *path, char *buf, size_t size)
{
        FILE *fp = fopen(path, "r");
        size_t n = fp ? fread(buf, 1, size - 1, fp) : 0;

        buf[n] = '\0';
        if (fp)
                fclose(fp);
}

/* Run sfsim with exactly @p args to completion (10 s at most). */
static void run_sfsim(const char *const *args, struct run *r)
{
        char path[1024], out_path[] = "/tmp/sfsim-run-out.XXXXXX", err_path[] = "/tmp/sfsim-run-err.XXXXXX";
        const char *argv[32];
        int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path), n = 0;
        struct simproc sp;
        pid_t pid;

        assert_true(out_fd >= 0 && err_fd >= 0);
        snprintf(path, sizeof(path), "%s/sfsim", build_dir());
        argv[n++] = path;
        while (args && *args && n < 31)
                argv[n++] = *args++;
        argv[n] = NULL;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(out_fd, 1);
                dup2(err_fd, 2);
                execv(path, (char *const *)argv);
                _exit(127);
        }
        close(out_fd);
        close(err_fd);
        memset(&sp, 0, sizeof(sp));
        sp.pid = pid;
        r->status = sim_wait(&sp, 10000);
        if (r->status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        slurp(out_path, r->out, sizeof(r->out));
        slurp(err_path, r->err, sizeof(r->err));
        unlink(out_path);
        unlink(err_path);
}

static void expect_usage_error(const char *const *args, const char *message)
{
        struct run r;

        run_sfsim(args, &r);
        assert_true(WIFEXITED(r.status));
        assert_int_equal(WEXITSTATUS(r.status), 2);
        if (!strstr(r.err, message)) {
                print_error("stderr '%s' lacks '%s'\n", r.err, message);
                fail();
        }
        assert_string_equal(r.out, "");
}

static void test_command_line_errors(void **state)
{
        const char *no_id[] = { "--listen", "127.0.0.1:0", "--client-secret", "s", "--username", "u",
                                "--password", "p", NULL };
        const char *no_pw[] = { "--listen", "127.0.0.1:0", "--client-id", "c", "--client-secret", "s",
                                "--username", "u", NULL };
        const char *bad_listen[] = { "--listen", "nowhere", "--client-id", "c", "--client-secret", "s",
                                     "--username", "u", "--password", "p", NULL };
        const char *bad_port[] = { "--listen", "127.0.0.1:70000", "--client-id", "c", "--client-secret", "s",
                                   "--username", "u", "--password", "p", NULL };
        const char *half_tls[] = { "--listen", "127.0.0.1:0", "--client-id", "c", "--client-secret", "s",
                                   "--username", "u", "--password", "p", "--tls-cert", "x.pem", NULL };
        const char *bad_num[] = { "--listen", "127.0.0.1:0", "--client-id", "c", "--client-secret", "s",
                                  "--username", "u", "--password", "p", "--retention", "0", NULL };
        const char *bad_org[] = { "--listen", "127.0.0.1:0", "--client-id", "c", "--client-secret", "s",
                                  "--username", "u", "--password", "p", "--org-id", "001short", NULL };
        const char *bad_first[] = { "--listen", "127.0.0.1:0", "--client-id", "c", "--client-secret", "s",
                                    "--username", "u", "--password", "p", "--first-replay-id",
                                    "9000000000000000001", NULL };
        const char *unknown[] = { "--frobnicate", NULL };

        (void)state;
        expect_usage_error(no_id, "sfsim: --client-id is required");
        expect_usage_error(no_pw, "sfsim: --password is required");
        expect_usage_error(bad_listen, "sfsim: --listen: 'nowhere' is not IPV4:PORT");
        expect_usage_error(bad_port, "--listen: '70000' is not an integer from 0 to 65535");
        expect_usage_error(half_tls, "give both --tls-cert and --tls-key, or neither");
        expect_usage_error(bad_num, "--retention: '0' is not an integer from 1 to 100000000");
        expect_usage_error(bad_org, "--org-id: '001short' is not an 18-character ID starting with 00D");
        expect_usage_error(bad_first, "--first-replay-id: '9000000000000000001' is not an integer "
                                      "from 1 to 9000000000000000000");
        bad_first[11] = "0";
        expect_usage_error(bad_first, "--first-replay-id: '0' is not an integer");
        expect_usage_error(unknown, "try --help");
}

static void test_help_lists_every_flag(void **state)
{
        const char *args[] = { "--help", NULL };
        const char *flags[] = { "--listen", "--client-id", "--client-secret", "--username", "--password",
                                "--jwt-public-key", "--refresh-token", "--connect-timeout-ms",
                                "--client-expiry-ms", "--retention", "--retention-age-s", "--max-batch",
                                "--max-clients", "--first-replay-id", "--missing-channel", "--org-id",
                                "--tls-cert", "--tls-key", "--public-url", "--stats-json", "--verbose",
                                "--single-host", "--lb-cookie-ttl-ms", "instance URL",
                                "/admin/publish", "fields=", "pretty=1", "/admin/fault",
                                "/admin/retention", "/admin/stats", "close-mid-poll", "/admin/clients",
                                "/admin/reset-pollers", "max_concurrent_pollers", "poll_overlap_ms",
                                "/admin/token-answer" };
        struct run r;
        size_t i;

        (void)state;
        run_sfsim(args, &r);
        assert_true(WIFEXITED(r.status));
        assert_int_equal(WEXITSTATUS(r.status), 0);
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
                if (!strstr(r.out, flags[i])) {
                        print_error("--help does not mention %s\n", flags[i]);
                        fail();
                }
        }
}

static void test_ready_line_and_port_in_use(void **state)
{
        struct fixture *fx = *state;
        const char *port;
        char listen[64];
        const char *args[] = { "--listen", listen, "--client-id", "c", "--client-secret", "s",
                               "--username", "u", "--password", "p", NULL };
        struct run r;

        /* http://127.0.0.1:PORT with a real port. */
        assert_int_equal(strncmp(fx->sim.url, "http://127.0.0.1:", 17), 0);
        port = fx->sim.url + 17;
        assert_true(atoi(port) > 0);
        snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
        run_sfsim(args, &r);
        assert_true(WIFEXITED(r.status));
        assert_int_equal(WEXITSTATUS(r.status), 1);
        assert_non_null(strstr(r.err, "sfsim: --listen 127.0.0.1:"));
        assert_non_null(strstr(r.err, "Address already in use"));
}

static void test_stats(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[3];
        cJSON *st;
        char want[1024];

        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/S", "-1");
        cJSON_Delete(bx_connect(&fx->tc));
        assert_int_equal(publish(&fx->sim, "channel=/topic/S&count=3", ids, 3), 3);
        connect_expect_events(&fx->tc, ids, 3, 110000);
        /* http_requests: login, stats (the client's instance URL), handshake,
         * subscribe, connect, publish, connect, stats. */
        st = stats(&fx->sim);
        snprintf(want, sizeof(want),
                 "{\"handshakes\":1,\"handshakes_denied\":0,\"clients_refused\":0,\"connects\":2,\"subscribes\":1,\"unsubscribes\":0,"
                 "\"disconnects\":0,\"events_delivered\":3,\"http_requests\":8,\"wrong_host\":0,\"lb_refused\":0,"
                 "\"tokens_issued\":1,\"clients\":1,\"clients_peak\":1,\"instance_url\":\"%s\","
                 "\"deliveries\":{\"platform\":0,\"pushtopic\":3,\"generic\":0},\"faults\":{},"
                 "\"channels\":{\"/topic/S\":{\"subscriptions\":1,\"subscribers\":1,\"last_replay_id\":%llu,"
                 "\"first_replay_id\":%llu,\"retained\":3,\"published\":3}},"
                 /* Both connects answered at once, one after the other. */
                 "\"pollers\":{\"/topic/S\":{\"now\":0,\"max_concurrent_pollers\":1,\"poll_overlap_ms\":0}}}",
                 fx->tc.base, (unsigned long long)ids[2], (unsigned long long)ids[0]);
        assert_json(st, "%s", want);
        cJSON_Delete(st);
}

static void test_admin_is_localhost_only(void **state)
{
        struct fixture *fx = *state;
        struct http_opts opts = { NULL, "127.0.0.2", 0 };
        char url[512];
        struct hres res;
        cJSON *json;

        snprintf(url, sizeof(url), "%s/admin/stats", fx->sim.url);
        http_do("GET", url, NULL, NULL, 0, &opts, &res);
        assert_int_equal(res.rc, CURLE_OK);
        assert_int_equal(res.status, 403);
        json = cJSON_Parse(res.body);
        assert_json(json, "{\"error\":\"the admin API answers 127.0.0.1 only\"}");
        cJSON_Delete(json);
        hres_free(&res);
        snprintf(url, sizeof(url), "%s/admin/fault?kind=revoke-tokens", fx->sim.url);
        http_do("POST", url, NULL, NULL, 0, &opts, &res);
        assert_int_equal(res.status, 403);
        hres_free(&res);
        /* The token was not revoked; CometD itself answers other peers. */
        fx->tc.opts.interface = "127.0.0.2";
        bx_handshake(&fx->tc);
}

static void test_admin_routes(void **state)
{
        struct fixture *fx = *state;
        char url[512];
        struct hres res;
        cJSON *json;

        json = admin_call(&fx->sim, "POST", "/admin/nope", 404);
        assert_json(json, "{\"error\":\"unknown admin endpoint '/admin/nope' (known: /admin/publish, "
                          "/admin/fault, /admin/retention, /admin/max-response, /admin/credentials, "
                          "/admin/stats, /admin/clients, /admin/reset-pollers, /admin/token-answer)\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/credentials", 400);
        assert_json(json, "{\"error\":\"credentials: parameter 'password' must be 1 to 255 bytes\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/credentials?password=n3w", 200);
        assert_json(json, "{\"rotated\":\"password\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "GET", "/admin/publish?channel=/topic/T", 405);
        assert_json(json, "{\"error\":\"/admin/publish takes POST\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/stats", 405);
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/retention", 400);
        assert_json(json, "{\"error\":\"retention: parameter 'keep' must be an integer >= 0\"}");
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/retention?keep=-1", 400);
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/retention?keep=0", 200);
        assert_json(json, "{\"dropped\":0}");
        cJSON_Delete(json);
        snprintf(url, sizeof(url), "%s/services/data/v59.0/sobjects", fx->tc.base);
        http_do("GET", url, NULL, NULL, 0, NULL, &res);
        assert_int_equal(res.status, 404);
        json = cJSON_Parse(res.body);
        assert_json(json, "[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]");
        cJSON_Delete(json);
        hres_free(&res);
}

static void stop_with_held_poll(struct fixture *fx, int sig)
{
        const char *args[] = { "--connect-timeout-ms", "60000", NULL };
        struct async as;
        double t0;
        int status;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        cJSON_Delete(bx_connect(&fx->tc));
        async_connect(&as, &fx->tc, 0);
        t0 = now_s();
        kill(fx->sim.pid, sig);
        status = sim_wait(&fx->sim, 10000);
        assert_true(status != -1);
        assert_true(now_s() - t0 < 5.0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        async_join(&as);
        /* The held long-poll is cut, not answered. */
        assert_int_not_equal(as.res.rc, CURLE_OK);
        hres_free(&as.res);
        close(fx->sim.out_fd);
        fx->sim.out_fd = -1;
        unlink(fx->sim.err_path);
}

static void test_sigterm_with_held_poll(void **state)
{
        stop_with_held_poll(*state, SIGTERM);
}

static void test_sigint_with_held_poll(void **state)
{
        stop_with_held_poll(*state, SIGINT);
}

static void test_stats_json_at_exit(void **state)
{
        struct fixture *fx = *state;
        char path[] = "/tmp/sfsim-stats.XXXXXX", text[65536];
        const char *args[] = { "--stats-json", path, NULL };
        cJSON *json;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        publish(&fx->sim, "channel=/u/Z&count=2", NULL, 0);
        assert_int_equal(sim_stop(&fx->sim), 0);
        slurp(path, text, sizeof(text));
        unlink(path);
        json = cJSON_Parse(text);
        assert_non_null(json);
        assert_int_equal((int)stat_num(json, "handshakes", NULL, NULL), 1);
        assert_int_equal((int)stat_num(json, "channels", "/u/Z", "published"), 2);
        cJSON_Delete(json);
}

static void test_verbose_log_has_no_secret(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--verbose", NULL };
        char *err;

        fx_restart(fx, args);
        bx_handshake(&fx->tc);
        publish(&fx->sim, "channel=/u/Z", NULL, 0);
        /* A request is logged once it is complete, just after its answer. */
        assert_true(sim_stderr_wait(&fx->sim, "msg=request route=cometd", 3000));
        assert_true(sim_stderr_wait(&fx->sim, "msg=request route=token", 3000));
        assert_true(sim_stderr_wait(&fx->sim, "msg=request route=admin", 3000));
        err = sim_stderr(&fx->sim);
        assert_null(strstr(err, T_CLIENT_SECRET));
        assert_null(strstr(err, T_PASSWORD));
        assert_null(strstr(err, fx->token + 16));
        free(err);
}

/* A free port now (the emulator binds it right after). */
static int free_port(void)
{
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        assert_true(fd >= 0);
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
        port = ntohs(sin.sin_port);
        close(fd);
        return port;
}

static void test_public_url(void **state)
{
        struct fixture *fx = *state;
        char listen[64], real[128], instance[256];
        const char *args[] = { "--listen", listen, "--public-url", "http://sfsim.example:8443/", NULL };
        struct simproc real_sp;
        struct hres res;
        cJSON *json;

        assert_int_equal(sim_stop(&fx->sim), 0);
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
        assert_int_equal(sim_start(&fx->sim, args), 0);
        /* The ready line and the token answer advertise the public URL. */
        assert_string_equal(fx->sim.url, "http://sfsim.example:8443");
        real_sp = fx->sim;
        snprintf(real, sizeof(real), "http://%s", listen);
        snprintf(real_sp.url, sizeof(real_sp.url), "%s", real);
        current_instance(&real_sp, instance, sizeof(instance));
        form_post(&real_sp,
                  "grant_type=password&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET
                  "&username=user%40example.com&password=" T_PASSWORD,
                  NULL, &res);
        assert_int_equal(res.status, 200);
        json = cJSON_Parse(res.body);
        /* The instance URL: the public URL's scheme and host, an instance listener's port. */
        assert_string_equal(json_str(json, "instance_url"), instance);
        assert_int_equal(strncmp(instance, "http://sfsim.example:", 21), 0);
        assert_true(atoi(instance + 21) > 0 && atoi(instance + 21) != 8443);
        assert_string_equal(json_str(json, "id"), "http://sfsim.example:8443/id/" T_ORG_ID "/" T_USER_ID);
        cJSON_Delete(json);
        hres_free(&res);
}

/* POST /admin/token-answer: a hostile token endpoint's instance_url and a
 * CR LF access_token (the token before it still valid); none: undone. */
static void test_token_answer(void **state)
{
        struct fixture *fx = *state;
        static const char form[] = "grant_type=password&client_id=" T_CLIENT_ID "&client_secret="
                                   T_CLIENT_SECRET "&username=user%40example.com&password=" T_PASSWORD;
        char instance[256];
        struct hres res;
        cJSON *json;
        const char *tok;

        current_instance(&fx->sim, instance, sizeof(instance));
        json = admin_call(&fx->sim, "POST", "/admin/token-answer?instance_url=gopher%3A%2F%2F127.0.0.1%3A1"
                          "&access_token=crlf", 200);
        cJSON_Delete(json);
        form_post(&fx->sim, form, NULL, &res);
        assert_int_equal(res.status, 200);
        json = cJSON_Parse(res.body);
        assert_string_equal(json_str(json, "instance_url"), "gopher://127.0.0.1:1");
        tok = json_str(json, "access_token");
        assert_non_null(strstr(tok, "\r\nX-Sfsim-Injected: 1"));
        assert_true(strstr(tok, "\r\n") != tok);
        cJSON_Delete(json);
        hres_free(&res);
        json = admin_call(&fx->sim, "POST", "/admin/token-answer?access_token=other", 400);
        cJSON_Delete(json);
        json = admin_call(&fx->sim, "POST", "/admin/token-answer", 200);
        cJSON_Delete(json);
        form_post(&fx->sim, form, NULL, &res);
        json = cJSON_Parse(res.body);
        assert_string_equal(json_str(json, "instance_url"), instance);
        assert_null(strchr(json_str(json, "access_token"), '\r'));
        cJSON_Delete(json);
        hres_free(&res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_command_line_errors),
                cmocka_unit_test(test_help_lists_every_flag),
                cmocka_unit_test_setup_teardown(test_ready_line_and_port_in_use, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stats, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_admin_is_localhost_only, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_admin_routes, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_sigterm_with_held_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_sigint_with_held_poll, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stats_json_at_exit, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_verbose_log_has_no_secret, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_public_url, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_token_answer, fx_setup, fx_teardown),
        };

        return RUN("sfsim admin", tests);
}
