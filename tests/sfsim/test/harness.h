/*
 * What every sfsim test shares: start the emulator ($SFB_BUILD/sfsim) on
 * port 0 as a child process and stop it (SIGTERM, then a check that it
 * exited 0: a clean stop, and no leak under ASan), HTTP through libcurl, a
 * small Bayeux client that keeps its own cookies, and assert_json(), which
 * compares a wire message with the exact expected JSON.
 *
 * Every function is static: each test_*.c is its own program. A child
 * sfsim dies with the test (PR_SET_PDEATHSIG) and is killed at exit.
 */
#ifndef SFSIM_TEST_HARNESS_H
#define SFSIM_TEST_HARNESS_H

#define _GNU_SOURCE /* memmem, PR_SET_PDEATHSIG */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#define H static __attribute__((unused))

#define T_CLIENT_ID "test-client-id"
#define T_CLIENT_SECRET "test-client-secret-9f3k"
#define T_USERNAME "user@example.com"
#define T_PASSWORD "pass-word-7Hq2"
#define T_ORG_ID "00D000000000001AAA"
#define T_USER_ID "005000000000001AAA"
#define T_API "/cometd/59.0"
#define T_MAX_SIMS 8

/* ---- paths ---------------------------------------------------------------- */

H const char *build_dir(void)
{
        const char *b = getenv("SFB_BUILD");
        struct stat st;

        if (b && *b)
                return b;
        return stat("build-asan/sfsim", &st) == 0 ? "build-asan" : "build";
}

H const char *root_dir(void)
{
        const char *r = getenv("SFB_ROOT");

        return r && *r ? r : ".";
}

/* @returns a path under tests/certs in a static buffer (one at a time). */
H const char *cert_path(const char *name, char *buf, size_t size)
{
        snprintf(buf, size, "%s/tests/certs/%s", root_dir(), name);
        return buf;
}

H int certs_present(void)
{
        char p[1024];
        const char *names[] = { "ca.pem", "server.pem", "server.key", "wrong-ca.pem",
                                "jwt.key", "jwt.pub", "jwt-other.key" };
        size_t i;

        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (access(cert_path(names[i], p, sizeof(p)), R_OK) != 0)
                        return 0;
        return 1;
}

H double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

H void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

/* ---- the emulator process -------------------------------------------------- */

struct simproc {
        pid_t pid;
        int out_fd;            /* its stdout */
        char url[256];         /* from the ready line */
        char err_path[64];     /* its stderr, kept for inspection */
        const char *cainfo;    /* https: the CA admin and login calls trust */
};

static pid_t live_pids[T_MAX_SIMS];

static void kill_live_sims(void)
{
        int i;

        for (i = 0; i < T_MAX_SIMS; i++) {
                if (live_pids[i] > 0) {
                        kill(live_pids[i], SIGKILL);
                        waitpid(live_pids[i], NULL, 0);
                        live_pids[i] = 0;
                }
        }
}

static void track_pid(pid_t pid, int add)
{
        static int registered;
        int i;

        if (!registered) {
                atexit(kill_live_sims);
                registered = 1;
        }
        for (i = 0; i < T_MAX_SIMS; i++) {
                if (add && live_pids[i] == 0) {
                        live_pids[i] = pid;
                        return;
                }
                if (!add && live_pids[i] == pid) {
                        live_pids[i] = 0;
                        return;
                }
        }
}

/* Read one line from @p fd within @p timeout_ms. @returns its length or -1. */
H int read_line(int fd, char *buf, size_t size, long timeout_ms)
{
        double deadline = now_s() + (double)timeout_ms / 1000.0;
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd pfd = { fd, POLLIN, 0 };
                long left = (long)((deadline - now_s()) * 1000);
                ssize_t r;

                if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                        return -1;
                r = read(fd, buf + n, 1);
                if (r <= 0)
                        return -1;
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = '\0';
        return (int)n;
}

/*
 * Start sfsim with the standard credentials plus @p extra (NULL-terminated,
 * may be NULL). @returns 0, or -1 (and prints why) when it did not print its
 * ready line within 30 s. With @p raw set, only @p extra is passed.
 */
H int sim_spawn(struct simproc *sp, const char *const *extra, int raw)
{
        const char *argv[64];
        char path[1024], line[512];
        int out[2], errfd, n = 0, i;

        memset(sp, 0, sizeof(*sp));
        sp->pid = -1;
        sp->out_fd = -1;
        snprintf(path, sizeof(path), "%s/sfsim", build_dir());
        argv[n++] = path;
        if (!raw) {
                const char *std_args[] = { "--listen", "127.0.0.1:0", "--client-id", T_CLIENT_ID,
                                           "--client-secret", T_CLIENT_SECRET, "--username", T_USERNAME,
                                           "--password", T_PASSWORD };

                for (i = 0; i < (int)(sizeof(std_args) / sizeof(std_args[0])); i++)
                        argv[n++] = std_args[i];
        }
        for (i = 0; extra && extra[i] && n < 62; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;

        snprintf(sp->err_path, sizeof(sp->err_path), "/tmp/sfsim-test-err.XXXXXX");
        errfd = mkstemp(sp->err_path);
        if (errfd < 0 || pipe(out) == -1) {
                perror("sim_spawn");
                return -1;
        }
        fflush(NULL);
        sp->pid = fork();
        if (sp->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(out[1], 1);
                dup2(errfd, 2);
                close(out[0]);
                close(out[1]);
                close(errfd);
                execv(path, (char *const *)argv);
                fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        close(out[1]);
        close(errfd);
        if (sp->pid < 0) {
                perror("fork");
                return -1;
        }
        track_pid(sp->pid, 1);
        sp->out_fd = out[0];
        if (read_line(sp->out_fd, line, sizeof(line), 30000) < 0)
                return -1;
        if (strncmp(line, "sfsim listening on ", 19)) {
                fprintf(stderr, "sim_spawn: unexpected first line '%s'\n", line);
                return -1;
        }
        snprintf(sp->url, sizeof(sp->url), "%.255s", line + 19);
        return 0;
}

H int sim_start(struct simproc *sp, const char *const *extra)
{
        return sim_spawn(sp, extra, 0);
}

/* Everything the emulator wrote to stderr (malloc'd; the caller frees). */
H char *sim_stderr(const struct simproc *sp)
{
        FILE *fp = fopen(sp->err_path, "r");
        char *text = calloc(1, 1 << 20);
        size_t n;

        if (!fp || !text) {
                if (fp)
                        fclose(fp);
                return text;
        }
        n = fread(text, 1, (1 << 20) - 1, fp);
        text[n] = '\0';
        fclose(fp);
        return text;
}

/* @returns 1 once the emulator's stderr contains @p needle (within @p timeout_ms). */
H int sim_stderr_wait(const struct simproc *sp, const char *needle, long timeout_ms)
{
        double deadline = now_s() + (double)timeout_ms / 1000.0;
        int found = 0;

        do {
                char *err = sim_stderr(sp);

                found = err && strstr(err, needle);
                free(err);
                if (!found)
                        sleep_ms(20);
        } while (!found && now_s() < deadline);
        return found;
}

/* Wait for the child to exit within @p timeout_ms. @returns its wait status or -1. */
H int sim_wait(struct simproc *sp, long timeout_ms)
{
        double deadline = now_s() + (double)timeout_ms / 1000.0;
        int status;

        while (now_s() < deadline) {
                pid_t r = waitpid(sp->pid, &status, WNOHANG);

                if (r == sp->pid) {
                        track_pid(sp->pid, 0);
                        sp->pid = -1;
                        return status;
                }
                sleep_ms(10);
        }
        return -1;
}

/*
 * SIGTERM and wait (15 s at most, then SIGKILL). Prints the emulator's
 * stderr when it did not exit 0. @returns 0 on a clean exit, else -1.
 */
H int sim_stop(struct simproc *sp)
{
        int status, clean;
        char *err;

        if (sp->pid <= 0)
                return 0;
        kill(sp->pid, SIGTERM);
        status = sim_wait(sp, 15000);
        if (status == -1) {
                kill(sp->pid, SIGKILL);
                waitpid(sp->pid, &status, 0);
                track_pid(sp->pid, 0);
                sp->pid = -1;
                fprintf(stderr, "sim_stop: sfsim did not stop within 15 s of SIGTERM\n");
                status = -1;
        }
        clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!clean) {
                err = sim_stderr(sp);
                fprintf(stderr, "sim_stop: sfsim ended with status 0x%x; its stderr:\n%s\n", status,
                        err ? err : "");
                free(err);
        }
        if (sp->out_fd >= 0)
                close(sp->out_fd);
        sp->out_fd = -1;
        unlink(sp->err_path);
        return clean ? 0 : -1;
}

/* ---- HTTP ------------------------------------------------------------------- */

struct hres {
        CURLcode rc;
        long status;
        char *body;            /* NUL-terminated; malloc'd */
        size_t len;
        char headers[8192];    /* response headers, as received */
        size_t hlen;
        double secs;
};

static size_t hres_body_cb(char *p, size_t size, size_t n, void *arg)
{
        struct hres *res = arg;
        size_t len = size * n;
        char *body = realloc(res->body, res->len + len + 1);

        if (!body)
                return 0;
        memcpy(body + res->len, p, len);
        res->body = body;
        res->len += len;
        body[res->len] = '\0';
        return len;
}

static size_t hres_header_cb(char *p, size_t size, size_t n, void *arg)
{
        struct hres *res = arg;
        size_t len = size * n;

        if (res->hlen + len < sizeof(res->headers)) {
                memcpy(res->headers + res->hlen, p, len);
                res->hlen += len;
                res->headers[res->hlen] = '\0';
        }
        return len;
}

H void hres_free(struct hres *res)
{
        free(res->body);
        res->body = NULL;
        res->len = 0;
}

struct http_opts {
        const char *cainfo;      /* https: trust this CA file */
        const char *interface;   /* source address, e.g. "127.0.0.2" */
        long timeout_ms;         /* 0: 20 s */
};

/*
 * One HTTP exchange on a fresh connection. @p headers is NULL-terminated.
 * @returns res->rc (CURLE_OK when an answer arrived).
 */
H CURLcode http_do(const char *method, const char *url, const char *const *headers, const char *body,
                   size_t body_len, const struct http_opts *opts, struct hres *res)
{
        struct curl_slist *list = NULL;
        CURL *curl = curl_easy_init();
        double t0 = now_s();
        int i;

        memset(res, 0, sizeof(*res));
        if (!curl) {
                res->rc = CURLE_FAILED_INIT;
                return res->rc;
        }
        for (i = 0; headers && headers[i]; i++)
                list = curl_slist_append(list, headers[i]);
        /* No "Expect: 100-continue" round trip. */
        list = curl_slist_append(list, "Expect:");
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
        } else if (!strcmp(method, "POST")) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        }
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, hres_body_cb);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, hres_header_cb);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, opts && opts->timeout_ms ? opts->timeout_ms : 20000L);
        if (opts && opts->cainfo)
                curl_easy_setopt(curl, CURLOPT_CAINFO, opts->cainfo);
        if (opts && opts->interface)
                curl_easy_setopt(curl, CURLOPT_INTERFACE, opts->interface);
        res->rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
        res->secs = now_s() - t0;
        if (!res->body)
                res->body = calloc(1, 1);
        curl_slist_free_all(list);
        curl_easy_cleanup(curl);
        return res->rc;
}

/* POST to the admin API; asserts HTTP @p expect; @returns the parsed body (caller frees). */
H cJSON *admin_call(const struct simproc *sp, const char *method, const char *path_query, long expect)
{
        struct http_opts opts = { sp->cainfo, NULL, 0 };
        char url[1024];
        struct hres res;
        cJSON *json;

        snprintf(url, sizeof(url), "%s%s", sp->url, path_query);
        http_do(method, url, NULL, NULL, 0, &opts, &res);
        if (res.rc != CURLE_OK || res.status != expect) {
                print_error("admin %s %s: curl=%d HTTP %ld (expected %ld): %s\n", method, path_query,
                            (int)res.rc, res.status, expect, res.body);
                hres_free(&res);
                fail();
        }
        json = cJSON_Parse(res.body);
        if (!json) {
                print_error("admin %s %s: not JSON: %s\n", method, path_query, res.body);
                hres_free(&res);
                fail();
        }
        hres_free(&res);
        return json;
}

/* Publish @p count events; @returns how many IDs were written to @p ids. */
H size_t publish(const struct simproc *sp, const char *query, uint64_t *ids, size_t max)
{
        char path[1024];
        const cJSON *arr, *item;
        cJSON *json;
        size_t n = 0;

        snprintf(path, sizeof(path), "/admin/publish?%s", query);
        json = admin_call(sp, "POST", path, 200);
        arr = cJSON_GetObjectItemCaseSensitive(json, "replay_ids");
        assert_true(cJSON_IsArray(arr));
        cJSON_ArrayForEach(item, arr)
        {
                assert_true(cJSON_IsNumber(item));
                if (ids && n < max)
                        ids[n] = (uint64_t)item->valuedouble;
                n++;
        }
        cJSON_Delete(json);
        return n;
}

H void fault(const struct simproc *sp, const char *query)
{
        char path[512];

        snprintf(path, sizeof(path), "/admin/fault?%s", query);
        cJSON_Delete(admin_call(sp, "POST", path, 200));
}

H cJSON *stats(const struct simproc *sp)
{
        return admin_call(sp, "GET", "/admin/stats", 200);
}

/* A number inside the stats document, by a path of member names. */
H double stat_num(const cJSON *root, const char *a, const char *b, const char *c)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, a);

        if (b)
                item = cJSON_GetObjectItemCaseSensitive(item, b);
        if (c)
                item = cJSON_GetObjectItemCaseSensitive(item, c);
        if (!cJSON_IsNumber(item)) {
                print_error("stats: no number at %s.%s.%s\n", a, b ? b : "", c ? c : "");
                fail();
        }
        return item->valuedouble;
}

/* ---- exact JSON ------------------------------------------------------------ */

H void assert_json_at(const cJSON *actual, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Compare @p actual with the JSON text built from @p fmt: same members, same values. */
H void assert_json_at(const cJSON *actual, const char *file, int line, const char *fmt, ...)
{
        char expected_text[8192], *got;
        cJSON *expected;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(expected_text, sizeof(expected_text), fmt, ap);
        va_end(ap);
        expected = cJSON_Parse(expected_text);
        if (!expected) {
                print_error("%s:%d: the expected text is not JSON: %s\n", file, line, expected_text);
                _fail(file, line);
        }
        if (!actual || !cJSON_Compare(actual, expected, 1)) {
                got = actual ? cJSON_PrintUnformatted(actual) : NULL;
                print_error("%s:%d: JSON differs\n  expected: %s\n  actual:   %s\n", file, line,
                            expected_text, got ? got : "(none)");
                free(got);
                cJSON_Delete(expected);
                _fail(file, line);
        }
        cJSON_Delete(expected);
}

#define assert_json(actual, ...) assert_json_at((actual), __FILE__, __LINE__, __VA_ARGS__)

/* Assert that @p obj has exactly the members listed (comma-separated). */
H void assert_members_at(const cJSON *obj, const char *names, const char *file, int line)
{
        char list[1024], *save = NULL, *name;
        const cJSON *item;
        int want = 0, have = 0;

        if (!cJSON_IsObject(obj)) {
                print_error("%s:%d: not an object (wanted members %s)\n", file, line, names);
                _fail(file, line);
        }
        snprintf(list, sizeof(list), "%s", names);
        for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                want++;
                if (!cJSON_GetObjectItemCaseSensitive(obj, name)) {
                        char *got = cJSON_PrintUnformatted(obj);

                        print_error("%s:%d: member '%s' missing in %s\n", file, line, name, got);
                        free(got);
                        _fail(file, line);
                }
        }
        cJSON_ArrayForEach(item, obj) have++;
        if (have != want) {
                char *got = cJSON_PrintUnformatted(obj);

                print_error("%s:%d: expected exactly members {%s}, got %s\n", file, line, names, got);
                free(got);
                _fail(file, line);
        }
}

#define assert_members(obj, names) assert_members_at((obj), (names), __FILE__, __LINE__)

H const char *json_str(const cJSON *obj, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* ---- OAuth ------------------------------------------------------------------- */

H void form_post(const struct simproc *sp, const char *form, const struct http_opts *opts,
                 struct hres *res)
{
        char url[512];
        const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
        struct http_opts ca_opts = { sp->cainfo, NULL, 0 };

        snprintf(url, sizeof(url), "%s/services/oauth2/token", sp->url);
        http_do("POST", url, headers, form, strlen(form), opts ? opts : &ca_opts, res);
}

/* Password login; @returns the access token in @p token. */
H void login_opts(const struct simproc *sp, char *token, size_t size, const struct http_opts *opts)
{
        struct hres res;
        cJSON *json;
        const char *tok;

        form_post(sp,
                  "grant_type=password&client_id=" T_CLIENT_ID "&client_secret=" T_CLIENT_SECRET
                  "&username=user%40example.com&password=" T_PASSWORD,
                  opts, &res);
        if (res.rc != CURLE_OK || res.status != 200) {
                print_error("login: curl=%d HTTP %ld: %s\n", (int)res.rc, res.status, res.body);
                hres_free(&res);
                fail();
        }
        json = cJSON_Parse(res.body);
        tok = json_str(json, "access_token");
        assert_non_null(tok);
        snprintf(token, size, "%s", tok);
        cJSON_Delete(json);
        hres_free(&res);
}

H void login(const struct simproc *sp, char *token, size_t size)
{
        login_opts(sp, token, size, NULL);
}

/* ---- a Bayeux client ------------------------------------------------------- */

struct tclient {
        const struct simproc *sp;
        char base[256];          /* the instance URL CometD goes to (token's instance_url) */
        struct http_opts opts;
        char token[256];
        const char *scheme;      /* "Bearer", "OAuth", or "" for a bare token */
        char client_id[64];
        char cookies[512];       /* the Cookie header value we send back */
        char last_id[32];        /* id of the last message sent by bx_*() */
        long next_id;
        int send_cookies;        /* 0: behave like a client without a jar */
};

/* The instance URL tokens name now (sfsim's /admin/stats says it). */
H void current_instance(const struct simproc *sp, char *out, size_t size)
{
        cJSON *st = admin_call(sp, "GET", "/admin/stats", 200);
        const char *url = json_str(st, "instance_url");

        assert_non_null(url);
        snprintf(out, size, "%s", url);
        cJSON_Delete(st);
}

H void tclient_init(struct tclient *tc, const struct simproc *sp, const char *token)
{
        memset(tc, 0, sizeof(*tc));
        tc->sp = sp;
        current_instance(sp, tc->base, sizeof(tc->base));
        snprintf(tc->token, sizeof(tc->token), "%s", token ? token : "");
        tc->scheme = "Bearer";
        tc->next_id = 1;
        tc->send_cookies = 1;
        tc->opts.cainfo = sp->cainfo;
}

/* Keep every Set-Cookie name=value of @p headers in tc->cookies. */
H void tclient_take_cookies(struct tclient *tc, const char *headers)
{
        const char *p = headers;

        while ((p = strcasestr(p, "\nSet-Cookie: "))) {
                const char *v = p + 13;
                size_t n = strcspn(v, ";\r\n");
                char pair[256], name[128];
                size_t nl = strcspn(v, "=");

                snprintf(pair, sizeof(pair), "%.*s", (int)n, v);
                snprintf(name, sizeof(name), "%.*s=", (int)nl, v);
                /* Replace an older value of the same cookie. */
                if (strstr(tc->cookies, name)) {
                        char rebuilt[512] = "", copy[512], *save = NULL, *c;

                        snprintf(copy, sizeof(copy), "%s", tc->cookies);
                        for (c = strtok_r(copy, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
                                while (*c == ' ')
                                        c++;
                                if (!strncmp(c, name, strlen(name)))
                                        continue;
                                snprintf(rebuilt + strlen(rebuilt), sizeof(rebuilt) - strlen(rebuilt),
                                         "%s%s", rebuilt[0] ? "; " : "", c);
                        }
                        snprintf(tc->cookies, sizeof(tc->cookies), "%s", rebuilt);
                }
                snprintf(tc->cookies + strlen(tc->cookies), sizeof(tc->cookies) - strlen(tc->cookies),
                         "%s%s", tc->cookies[0] ? "; " : "", pair);
                p = v;
        }
}

/*
 * POST a Bayeux body to @p path (NULL: /cometd/59.0) with this client's
 * token and cookies. The caller frees @p res.
 */
H CURLcode bx_raw(struct tclient *tc, const char *path, const char *body, long timeout_ms,
                  struct hres *res)
{
        char url[512], auth[400], cookie[600];
        const char *headers[4];
        struct http_opts opts = tc->opts;
        int n = 0;

        snprintf(url, sizeof(url), "%s%s", tc->base, path ? path : T_API);
        headers[n++] = "Content-Type: application/json";
        if (tc->token[0]) {
                snprintf(auth, sizeof(auth), "Authorization: %s%s%s", tc->scheme, tc->scheme[0] ? " " : "",
                         tc->token);
                headers[n++] = auth;
        }
        if (tc->send_cookies && tc->cookies[0]) {
                snprintf(cookie, sizeof(cookie), "Cookie: %s", tc->cookies);
                headers[n++] = cookie;
        }
        headers[n] = NULL;
        if (timeout_ms)
                opts.timeout_ms = timeout_ms;
        http_do("POST", url, headers, body, strlen(body), &opts, res);
        if (res->rc == CURLE_OK)
                tclient_take_cookies(tc, res->headers);
        return res->rc;
}

/* POST and expect HTTP 200 with a JSON array; @returns it (caller frees). */
H cJSON *bx_send_at(struct tclient *tc, const char *body, const char *file, int line)
{
        struct hres res;
        cJSON *json;

        bx_raw(tc, NULL, body, 0, &res);
        if (res.rc != CURLE_OK || res.status != 200) {
                print_error("%s:%d: POST %s: curl=%d HTTP %ld: %s\n", file, line, body, (int)res.rc,
                            res.status, res.body);
                hres_free(&res);
                _fail(file, line);
        }
        json = cJSON_Parse(res.body);
        if (!cJSON_IsArray(json)) {
                print_error("%s:%d: answer is not a JSON array: %s\n", file, line, res.body);
                hres_free(&res);
                _fail(file, line);
        }
        hres_free(&res);
        return json;
}

#define bx_send(tc, body) bx_send_at((tc), (body), __FILE__, __LINE__)

H const char *next_id(struct tclient *tc)
{
        snprintf(tc->last_id, sizeof(tc->last_id), "%ld", tc->next_id++);
        return tc->last_id;
}

/* Handshake and keep the clientId; asserts success. */
H void bx_handshake(struct tclient *tc)
{
        char body[256];
        cJSON *arr;
        const char *id;

        snprintf(body, sizeof(body),
                 "[{\"channel\":\"/meta/handshake\",\"version\":\"1.0\",\"minimumVersion\":\"1.0\","
                 "\"supportedConnectionTypes\":[\"long-polling\"],\"ext\":{\"replay\":true},\"id\":\"%s\"}]",
                 next_id(tc));
        arr = bx_send(tc, body);
        id = json_str(cJSON_GetArrayItem(arr, 0), "clientId");
        if (!id || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "successful"))) {
                char *text = cJSON_PrintUnformatted(arr);

                print_error("handshake failed: %s\n", text);
                free(text);
                fail();
        }
        snprintf(tc->client_id, sizeof(tc->client_id), "%s", id);
        cJSON_Delete(arr);
}

/* Build a subscribe body; @p replay_json is e.g. "-2", "12345", "null" or NULL (no ext). */
H void bx_subscribe_body(struct tclient *tc, const char *channel, const char *replay_json, char *body,
                         size_t size)
{
        if (replay_json)
                snprintf(body, size,
                         "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"%s\","
                         "\"id\":\"%s\",\"ext\":{\"replay\":{\"%s\":%s}}}]",
                         tc->client_id, channel, next_id(tc), channel, replay_json);
        else
                snprintf(body, size,
                         "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"%s\",\"subscription\":\"%s\","
                         "\"id\":\"%s\"}]",
                         tc->client_id, channel, next_id(tc));
}

H cJSON *bx_subscribe(struct tclient *tc, const char *channel, const char *replay_json)
{
        char body[1024];

        bx_subscribe_body(tc, channel, replay_json, body, sizeof(body));
        return bx_send(tc, body);
}

/* Subscribe and assert the exact success reply. */
H void bx_subscribe_ok(struct tclient *tc, const char *channel, const char *replay_json)
{
        cJSON *arr = bx_subscribe(tc, channel, replay_json);

        assert_json(arr,
                    "[{\"clientId\":\"%s\",\"channel\":\"/meta/subscribe\",\"id\":\"%s\","
                    "\"subscription\":\"%s\",\"successful\":true}]",
                    tc->client_id, tc->last_id, channel);
        cJSON_Delete(arr);
}

H void bx_connect_body(struct tclient *tc, char *body, size_t size)
{
        snprintf(body, size,
                 "[{\"channel\":\"/meta/connect\",\"clientId\":\"%s\",\"connectionType\":\"long-polling\","
                 "\"id\":\"%s\"}]",
                 tc->client_id, next_id(tc));
}

H cJSON *bx_connect(struct tclient *tc)
{
        char body[256];

        bx_connect_body(tc, body, sizeof(body));
        return bx_send(tc, body);
}

/* The exact successful connect reply for the last connect of @p tc. */
#define assert_connect_ok(tc, reply, timeout_ms)                                                       \
        assert_json((reply),                                                                           \
                    "{\"clientId\":\"%s\",\"channel\":\"/meta/connect\",\"id\":\"%s\","                \
                    "\"successful\":true,\"advice\":{\"reconnect\":\"retry\",\"interval\":0,"         \
                    "\"timeout\":%ld}}",                                                               \
                    (tc)->client_id, (tc)->last_id, (long)(timeout_ms))

/* Events of a connect answer: every element but the last (the connect reply). */
H int n_events(const cJSON *arr)
{
        return cJSON_GetArraySize(arr) - 1;
}

H uint64_t event_replay_id(const cJSON *ev)
{
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
        const cJSON *event = cJSON_GetObjectItemCaseSensitive(data, "event");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(event, "replayId");

        assert_true(cJSON_IsNumber(id));
        return (uint64_t)id->valuedouble;
}

/* Connect, and assert the answer is exactly events @p ids[0..n) then the reply. */
H void connect_expect_events_at(struct tclient *tc, const uint64_t *ids, int n, long timeout_ms,
                                const char *file, int line)
{
        cJSON *arr = bx_connect(tc);
        int i;

        if (n_events(arr) != n) {
                char *text = cJSON_PrintUnformatted(arr);

                print_error("%s:%d: expected %d events, got %d: %.2000s\n", file, line, n, n_events(arr),
                            text);
                free(text);
                _fail(file, line);
        }
        for (i = 0; i < n; i++) {
                if (event_replay_id(cJSON_GetArrayItem(arr, i)) != ids[i]) {
                        print_error("%s:%d: event %d has replayId %llu, expected %llu\n", file, line, i,
                                    (unsigned long long)event_replay_id(cJSON_GetArrayItem(arr, i)),
                                    (unsigned long long)ids[i]);
                        _fail(file, line);
                }
        }
        assert_connect_ok(tc, cJSON_GetArrayItem(arr, n), timeout_ms);
        cJSON_Delete(arr);
}

#define connect_expect_events(tc, ids, n, timeout)                                                     \
        connect_expect_events_at((tc), (ids), (n), (timeout), __FILE__, __LINE__)

/* ---- a request in the background (for held long-polls) -------------------- */

struct async {
        pthread_t thread;
        struct tclient *tc;
        char body[1024];
        long timeout_ms;
        struct hres res;
        int done;               /* read with async_done() */
};

static void *async_main(void *arg)
{
        struct async *as = arg;

        bx_raw(as->tc, NULL, as->body, as->timeout_ms, &as->res);
        __atomic_store_n(&as->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

/* @returns 1 once the background request has its answer (or failed). */
H int async_done(struct async *as)
{
        return __atomic_load_n(&as->done, __ATOMIC_SEQ_CST);
}

/* Send @p body from a thread; the client's cookies are read, not updated concurrently. */
H void async_start(struct async *as, struct tclient *tc, const char *body, long timeout_ms)
{
        memset(as, 0, sizeof(*as));
        as->tc = tc;
        snprintf(as->body, sizeof(as->body), "%s", body);
        as->timeout_ms = timeout_ms;
        assert_int_equal(pthread_create(&as->thread, NULL, async_main, as), 0);
}

H void async_join(struct async *as)
{
        pthread_join(as->thread, NULL);
}

/* Start a /meta/connect in the background and give it time to be held. */
H void async_connect(struct async *as, struct tclient *tc, long timeout_ms)
{
        char body[256];

        bx_connect_body(tc, body, sizeof(body));
        async_start(as, tc, body, timeout_ms);
        sleep_ms(300);
}

/* ---- per-test fixture ------------------------------------------------------- */

struct fixture {
        struct simproc sim;
        struct simproc sim2;    /* a second emulator some tests start */
        char token[256];
        struct tclient tc;
};

/* Setup: an emulator with default options, logged in, one client (not handshaken). */
H int fx_setup_with(void **state, const char *const *extra)
{
        struct fixture *fx = calloc(1, sizeof(*fx));

        if (!fx)
                return -1;
        fx->sim.pid = -1;
        fx->sim2.pid = -1;
        *state = fx;
        if (sim_start(&fx->sim, extra) == -1)
                return -1;
        login(&fx->sim, fx->token, sizeof(fx->token));
        tclient_init(&fx->tc, &fx->sim, fx->token);
        return 0;
}

H int fx_setup(void **state)
{
        return fx_setup_with(state, NULL);
}

/* Teardown: stop every emulator; a dirty exit (crash, leak, hang) fails the test. */
H int fx_teardown(void **state)
{
        struct fixture *fx = *state;
        int rc = 0;

        if (!fx)
                return 0;
        if (sim_stop(&fx->sim) == -1)
                rc = -1;
        if (sim_stop(&fx->sim2) == -1)
                rc = -1;
        free(fx);
        *state = NULL;
        return rc;
}

/* Restart the fixture's emulator with other options, logged in again. */
H void fx_restart(struct fixture *fx, const char *const *extra)
{
        assert_int_equal(sim_stop(&fx->sim), 0);
        assert_int_equal(sim_start(&fx->sim, extra), 0);
        login(&fx->sim, fx->token, sizeof(fx->token));
        tclient_init(&fx->tc, &fx->sim, fx->token);
}

H int run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
        int rc;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        signal(SIGPIPE, SIG_IGN);
        rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
        curl_global_cleanup();
        return rc;
}

#define RUN(name, tests) run_group((name), (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
