/*
 * The session's batch hand-over, driven with a fake transport (the http_*
 * functions below stand in for http.c: a request is recorded, the test
 * answers it) and a fake replay store (replay_from). Each test of a "hole"
 * failed on the session that called the bridge back from inside a response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "session.h"

/* ---- the fake transport ---- */

#define MAX_REQS 64

struct fake_req {
        struct http_xfer *x;
        char url[256];
        char body[4096];
        long timeout_ms;
};

static struct fake_req reqs[MAX_REQS];
static int nreqs;
static int ncancels;

int http_xfer_init(struct http *http, struct http_xfer *x, char *errstr, size_t errstr_size)
{
        (void)errstr;
        (void)errstr_size;
        memset(x, 0, sizeof(*x));
        x->http = http;
        buf_init(&x->body, 1u << 20);
        return 0;
}

void http_xfer_cleanup(struct http_xfer *x)
{
        buf_free(&x->body);
}

int http_xfer_post(struct http_xfer *x, const char *url, const char *content_type,
                   const char *auth, const char *body, size_t len, long timeout_ms,
                   char *errstr, size_t errstr_size)
{
        struct fake_req *r;

        (void)content_type;
        (void)auth;
        (void)errstr;
        (void)errstr_size;
        assert_true(nreqs < MAX_REQS);
        assert_false(x->busy); /* one request per transfer at a time */
        r = &reqs[nreqs++];
        r->x = x;
        snprintf(r->url, sizeof(r->url), "%s", url);
        snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
        r->timeout_ms = timeout_ms;
        buf_reset(&x->body);
        x->busy = 1;
        x->done = 0;
        x->curl_code = 0;
        x->status = 0;
        return 0;
}

void http_xfer_cancel(struct http_xfer *x)
{
        if (!x->busy)
                return;
        x->busy = 0;
        x->done = 0;
        ncancels++;
}

void http_xfer_clear_cookies(struct http_xfer *x)
{
        (void)x;
}

int http_perform(struct http *http)
{
        (void)http;
        return 0;
}

int http_xfer_run(struct http_xfer *x, const char *url, const char *content_type,
                  const char *auth, const char *body, size_t len, long timeout_ms,
                  char *errstr, size_t errstr_size)
{
        (void)x, (void)url, (void)content_type, (void)auth, (void)body, (void)len;
        (void)timeout_ms, (void)errstr, (void)errstr_size;
        return -1;
}

int http_xfer_is_tls_error(const struct http_xfer *x)
{
        (void)x;
        return 0;
}

int http_xfer_is_too_large(const struct http_xfer *x)
{
        return x->curl_code != 0 && x->too_large != 0;
}

size_t http_max_response(const struct http *http)
{
        (void)http;
        return 10u << 20;
}

static struct fake_req *last_req(void)
{
        assert_true(nreqs > 0);
        return &reqs[nreqs - 1];
}

/* Answer the newest request (still in flight) with HTTP 200 and body. */
static void answer(const char *body)
{
        struct http_xfer *x = last_req()->x;

        assert_true(x->busy);
        buf_reset(&x->body);
        assert_int_equal(buf_append(&x->body, body, strlen(body)), 0);
        x->status = 200;
        x->busy = 0;
        x->done = 1;
}

/* Answer the newest request with HTTP status and body (a non-200 answer). */
static void answer_status(long status, const char *body)
{
        struct http_xfer *x = last_req()->x;

        assert_true(x->busy);
        buf_reset(&x->body);
        assert_int_equal(buf_append(&x->body, body, strlen(body)), 0);
        x->status = status;
        x->busy = 0;
        x->done = 1;
}

/* The newest request failed without an HTTP answer (connection reset). */
static void answer_transport_error(void)
{
        struct http_xfer *x = last_req()->x;

        assert_true(x->busy);
        buf_reset(&x->body);
        x->curl_code = CURLE_RECV_ERROR;
        snprintf(x->error, sizeof(x->error), "Connection reset by peer");
        x->status = 0;
        x->busy = 0;
        x->done = 1;
}

/* ---- the fake replay store ---- */

static long long committed_id = 100;

static long long fake_replay_from(void *ctx, const struct config_route *rt)
{
        (void)ctx;
        (void)rt;
        return committed_id;
}

/* ---- fixture ---- */

static const char *const config_text =
        "name: t\n"
        "salesforce:\n"
        "  login_url: https://login.example.com\n"
        "  auth:\n"
        "    flow: password\n"
        "    client_id: id\n"
        "    client_secret: secret\n"
        "    username: u@example.com\n"
        "    password: pw\n"
        "kafka:\n"
        "  bootstrap_servers: localhost:9092\n"
        "on_invalid_replay: all\n"
        "routes:\n"
        "  - channel: /topic/A\n"
        "    topic: t.a\n";

struct fixture {
        struct config *cfg;
        struct session *sess;
        char err[512];
};

static int setup(void **state)
{
        static struct fixture fx;
        struct session_opts opts = { .backoff_cap_ms = 60000, .limit_backoff_cap_ms = 60000 };
        struct session_hooks hooks = { .replay_from = fake_replay_from };

        memset(&fx, 0, sizeof(fx));
        nreqs = 0;
        ncancels = 0;
        committed_id = 100;
        fx.cfg = config_load_string("t.yaml", config_text, strlen(config_text), fx.err,
                                    sizeof(fx.err));
        assert_non_null(fx.cfg);
        assert_int_equal(metrics_init("t", "test"), 0);
        fx.sess = session_new(fx.cfg, NULL, &opts, &hooks, fx.err, sizeof(fx.err));
        assert_non_null(fx.sess);
        *state = &fx;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *fx = *state;

        session_destroy(fx->sess);
        config_destroy(fx->cfg);
        metrics_shutdown();
        return 0;
}

static void step(struct fixture *fx)
{
        assert_int_equal(session_step(fx->sess, fx->err, sizeof(fx->err)), 0);
}

static int body_has(const struct fake_req *r, const char *s)
{
        return strstr(r->body, s) != NULL;
}

#define CONNECT_OK "{\"channel\":\"/meta/connect\",\"successful\":true,\"advice\":{\"reconnect\":\"retry\",\"interval\":0,\"timeout\":110000}}"
#define EVENT(id) "{\"channel\":\"/topic/A\",\"data\":{\"event\":{\"replayId\":" #id "},\"sobject\":{\"Id\":\"001\"}}}"

/* The abandoned clientId's best-effort /meta/disconnect is in flight: answer it. */
static void answer_bye(struct fixture *fx, const char *client_id)
{
        char want[160];

        assert_true(body_has(last_req(), "/meta/disconnect"));
        snprintf(want, sizeof(want), "\"clientId\":\"%s\"", client_id);
        assert_true(body_has(last_req(), want));
        answer("[{\"channel\":\"/meta/disconnect\",\"successful\":true}]");
        step(fx);
}

/* Log in, handshake and subscribe; leaves the first /meta/connect in flight. */
static void establish(struct fixture *fx)
{
        step(fx);
        assert_int_equal(nreqs, 1);
        assert_non_null(strstr(last_req()->url, "/services/oauth2/token"));
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\",\"ext\":{\"replay\":true}}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/subscribe"));
        answer("[{\"channel\":\"/meta/subscribe\",\"successful\":true,\"subscription\":\"/topic/A\"}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_true(session_handshaken(fx->sess));
}

/* A batch waits for its verdict; the next connect goes out while it commits. */
static void test_batch_pipelines_connect(void **state)
{
        struct fixture *fx = *state;
        const struct bayeux_response *resp;
        int before;

        establish(fx);
        answer("[" EVENT(101) "," EVENT(102) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->nmsgs, 3);
        assert_int_equal(resp->msgs[0].replay_id, 101);
        before = nreqs;
        step(fx); /* nothing moves while the bridge has the batch */
        assert_int_equal(nreqs, before);
        session_batch_produced(fx->sess);
        assert_int_equal(nreqs, before + 1);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_null(session_batch(fx->sess));
        step(fx); /* still nothing: the verdict is not in */
        assert_int_equal(nreqs, before + 1);
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        /* The pipelined connect is the one in flight: no second one. */
        assert_int_equal(nreqs, before + 1);
        assert_true(last_req()->x->busy);
        answer("[" EVENT(103) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->msgs[0].replay_id, 103);
}

/*
 * Hole 1: a response holding events and a reply that asks for a new
 * Bayeux session. The old session handshook and resubscribed from the old
 * replay IDs while the batch was still committing; now nothing goes out
 * before the verdict, and the resubscribe starts from the committed ID.
 */
static void test_no_handshake_while_commit_pending(void **state)
{
        struct fixture *fx = *state;
        int before;

        establish(fx);
        answer("[" EVENT(101) "," EVENT(102) ","
               "{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"403::Unknown client\","
               "\"advice\":{\"reconnect\":\"handshake\"}}]");
        step(fx);
        assert_non_null(session_batch(fx->sess));
        before = nreqs;
        session_batch_produced(fx->sess);
        assert_int_equal(nreqs, before); /* no pipelined connect: the reply asks for more */
        step(fx);
        step(fx);
        assert_int_equal(nreqs, before); /* Kafka is slow: still nothing */
        committed_id = 102;               /* the commit went through */
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        assert_int_equal(nreqs, before + 1);
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c2\"}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/subscribe"));
        assert_true(body_has(last_req(), "\"/topic/A\":102"));
}

/* A rebuild asked for while a batch commits waits for the verdict. */
static void test_rebuild_deferred_until_verdict(void **state)
{
        struct fixture *fx = *state;
        int before;

        establish(fx);
        answer("[" EVENT(101) "," CONNECT_OK "]");
        step(fx);
        session_batch_produced(fx->sess);
        before = nreqs;
        session_rebuild(fx->sess, "kafka_delivery_failed");
        step(fx);
        assert_int_equal(nreqs, before);
        assert_true(last_req()->x->busy); /* the pipelined connect is untouched */
        committed_id = 101;
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        assert_int_equal(ncancels, 1); /* now the long-poll is dropped */
        step(fx);
        answer_bye(fx, "c1");
        assert_true(body_has(last_req(), "/meta/handshake"));
}

/* A batch that did not reach Kafka: the pipelined connect is dropped, and the
 * new session resubscribes from the committed ID, so Salesforce sends it again. */
static void test_rebuild_verdict_drops_pipelined_connect(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        answer("[" EVENT(101) "," CONNECT_OK "]");
        step(fx);
        session_batch_produced(fx->sess);
        assert_true(last_req()->x->busy);
        session_batch_done(fx->sess, SESSION_BATCH_REBUILD, "batch_aborted");
        assert_int_equal(ncancels, 1);
        step(fx);
        answer_bye(fx, "c1");
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c2\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":100"));
}

/*
 * Hole 2: an invalid-replay error on a connect reply names no route. The
 * old session changed no state and waited with nothing in flight; now it
 * starts a new Bayeux session.
 */
static void test_invalid_replay_on_connect_rebuilds(void **state)
{
        struct fixture *fx = *state;
        int before;

        establish(fx);
        before = nreqs;
        answer("[{\"channel\":\"/meta/connect\",\"successful\":false,"
               "\"error\":\"400::The replayId {5} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.\"}]");
        step(fx);
        assert_int_equal(nreqs, before + 1);
        answer_bye(fx, "c1");
        assert_int_equal(nreqs, before + 2);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_true(last_req()->x->busy);
}

/* A wait state with nothing in flight is rebuilt, not waited on forever. */
static void test_wait_without_request_rebuilds(void **state)
{
        struct fixture *fx = *state;
        int before;

        establish(fx);
        session_cancel(fx->sess); /* the long-poll vanishes under the session */
        before = nreqs;
        step(fx);
        assert_int_equal(nreqs, before + 1);
        answer_bye(fx, "c1");
        assert_true(body_has(last_req(), "/meta/handshake"));
}

/*
 * Hole 3: a replay gap is never written by the session into someone
 * else's transaction. The session applies on_invalid_replay, resubscribes,
 * and queues the gap for the bridge to take into its own next batch.
 */
static void test_invalid_replay_on_subscribe_queues_gap(void **state)
{
        struct fixture *fx = *state;
        struct session_gap gap;

        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":100"));
        assert_int_equal(session_take_gap(fx->sess, &gap), 0);
        answer("[{\"channel\":\"/meta/subscribe\",\"successful\":false,\"subscription\":\"/topic/A\","
               "\"error\":\"400::The replayId {100} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.\"}]");
        step(fx);
        /* policy all: subscribed again from -2 */
        assert_true(body_has(last_req(), "/meta/subscribe"));
        assert_true(body_has(last_req(), "\"/topic/A\":-2"));
        assert_true(session_has_gap(fx->sess));
        assert_int_equal(session_take_gap(fx->sess, &gap), 1);
        assert_string_equal(gap.rt->channel, "/topic/A");
        assert_int_equal(gap.lost_after, 100);
        assert_int_equal(session_take_gap(fx->sess, &gap), 0);
        session_return_gap(fx->sess, &gap); /* its batch failed: taken again */
        assert_int_equal(session_take_gap(fx->sess, &gap), 1);
        assert_int_equal(gap.lost_after, 100);
}

/* Backpressure: no connect while paused, one as soon as it is lifted. */
static void test_paused_holds_connect(void **state)
{
        struct fixture *fx = *state;
        int before;

        establish(fx);
        session_set_paused(fx->sess, 1);
        answer("[" EVENT(101) "," CONNECT_OK "]");
        step(fx);
        before = nreqs;
        session_batch_produced(fx->sess); /* paused: no pipelined connect */
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        assert_int_equal(nreqs, before);
        session_set_paused(fx->sess, 0);
        step(fx);
        assert_int_equal(nreqs, before + 1);
        assert_true(body_has(last_req(), "/meta/connect"));
}

/* ---- per-route quarantine (on_route_error) ---- */

static const char *const config_two_text =
        "name: t\n"
        "salesforce:\n"
        "  login_url: https://login.example.com\n"
        "  auth:\n"
        "    flow: password\n"
        "    client_id: id\n"
        "    client_secret: secret\n"
        "    username: u@example.com\n"
        "    password: pw\n"
        "kafka:\n"
        "  bootstrap_servers: localhost:9092\n"
        "%s"
        "routes:\n"
        "  - channel: /topic/A\n"
        "    topic: t.a\n"
        "  - channel: /topic/B\n"
        "    topic: t.b\n";

static int setup_two_backoff(void **state, const char *policy, long route_backoff_ms)
{
        static struct fixture fx;
        struct session_opts opts = { .backoff_cap_ms = 60000, .limit_backoff_cap_ms = 60000,
                                     .route_backoff_base_ms = route_backoff_ms,
                                     .route_backoff_cap_ms = 2 * route_backoff_ms };
        struct session_hooks hooks = { .replay_from = fake_replay_from };
        char text[2048];

        memset(&fx, 0, sizeof(fx));
        nreqs = 0;
        ncancels = 0;
        committed_id = 100;
        snprintf(text, sizeof(text), config_two_text, policy);
        fx.cfg = config_load_string("t.yaml", text, strlen(text), fx.err, sizeof(fx.err));
        assert_non_null(fx.cfg);
        assert_int_equal(metrics_init("t", "test"), 0);
        fx.sess = session_new(fx.cfg, NULL, &opts, &hooks, fx.err, sizeof(fx.err));
        assert_non_null(fx.sess);
        *state = &fx;
        return 0;
}

/* Retries of a quarantined route after 1 ms, so the test need not wait. */
static int setup_two(void **state)
{
        return setup_two_backoff(state, "", 1);
}

/* No retry due while the test runs, however slow the machine. */
static int setup_two_no_retry(void **state)
{
        return setup_two_backoff(state, "", 600000);
}

static int setup_two_fail(void **state)
{
        return setup_two_backoff(state, "on_route_error: fail\n", 1);
}

#define EVENT_B(id) "{\"channel\":\"/topic/B\",\"data\":{\"event\":{\"replayId\":" #id "},\"sobject\":{\"Id\":\"002\"}}}"
#define SUB_OK(ch) "{\"channel\":\"/meta/subscribe\",\"successful\":true,\"subscription\":\"" ch "\"}"
#define SUB_RESTRICTED(ch) "{\"channel\":\"/meta/subscribe\",\"successful\":false,\"subscription\":\"" ch "\"," \
        "\"error\":\"403::Restricted channel\"}"
#define UNKNOWN_CLIENT "[{\"channel\":\"/meta/connect\",\"successful\":false,\"error\":\"403::Unknown client\"," \
        "\"advice\":{\"reconnect\":\"handshake\",\"interval\":0}}]"

/* sfbridge_replay_gaps_total as /metrics renders it. */
static long gaps_counted(void)
{
        struct buf out;
        const char *p;
        long n = -1;

        buf_init(&out, 1u << 20);
        assert_int_equal(metrics_render(&out), 0);
        p = strstr(out.data, "\nsfbridge_replay_gaps_total ");
        if (p)
                n = strtol(p + strlen("\nsfbridge_replay_gaps_total "), NULL, 10);
        buf_free(&out);
        return n;
}

/*
 * A handled gap is met once. A re-handshake that comes before the bridge's
 * store moved to -2 (its commit, or at_least_once's ack, still out)
 * subscribes from -2, not from the refused ID: no second log line, count
 * or gap record. Once the store holds another ID, that ID is used again.
 */
static void test_handled_gap_not_met_again(void **state)
{
        struct fixture *fx = *state;
        struct session_gap gap;

        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\"}]");
        step(fx);
        answer("[{\"channel\":\"/meta/subscribe\",\"successful\":false,\"subscription\":\"/topic/A\","
               "\"error\":\"400::The replayId {100} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":-2"));
        answer("[" SUB_OK("/topic/A") "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_int_equal(gaps_counted(), 1);
        assert_int_equal(session_take_gap(fx->sess, &gap), 1);
        assert_int_equal(gap.lost_after, 100);
        assert_true(gap.resubscribed_from == REPLAY_ALL);
        assert_int_equal(strlen(gap.detected_at), 24);

        /* The store still says 100 (the gap's batch not committed yet). */
        answer(UNKNOWN_CLIENT);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c2\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":-2"));
        assert_false(body_has(last_req(), "\"/topic/A\":100"));
        answer("[" SUB_OK("/topic/A") "]");
        step(fx);
        assert_int_equal(gaps_counted(), 1);
        assert_false(session_has_gap(fx->sess));

        /* The first event after the gap was committed: its ID from now on. */
        committed_id = 205;
        answer("[" CONNECT_OK "]"); /* the first connect, answered at once */
        step(fx);
        answer("[" CONNECT_OK "]"); /* a held long-poll resets the backoff */
        step(fx);
        answer(UNKNOWN_CLIENT);
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c3\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":205"));
        answer("[" SUB_OK("/topic/A") "]");
        step(fx);
        /* And a later refusal of the old ID is a new gap, met again. */
        committed_id = 100;
        answer("[" CONNECT_OK "]");
        step(fx);
        answer("[" CONNECT_OK "]");
        step(fx);
        answer(UNKNOWN_CLIENT);
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c4\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":100"));
}

static int count_reqs(const char *s)
{
        int i, n = 0;

        for (i = 0; i < nreqs; i++)
                if (strstr(reqs[i].body, s))
                        n++;
        return n;
}

/* Both routes subscribed; the first /meta/connect is in flight. */
static void establish_two(struct fixture *fx)
{
        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\",\"ext\":{\"replay\":true}}]");
        step(fx);
        assert_true(body_has(last_req(), "/topic/A"));
        assert_true(body_has(last_req(), "/topic/B"));
        answer("[" SUB_OK("/topic/A") "," SUB_OK("/topic/B") "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_int_equal(metrics_ready(NULL, 0), 1);
}

/* Mid-run, after a new handshake, Salesforce refuses /topic/B alone. */
static void refuse_b_after_rehandshake(struct fixture *fx)
{
        answer(UNKNOWN_CLIENT);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c2\"}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/subscribe"));
        answer("[" SUB_OK("/topic/A") "," SUB_RESTRICTED("/topic/B") "]");
}

/* A refused route is set aside; the other flows with no new session. */
static void test_route_quarantined_mid_run(void **state)
{
        struct fixture *fx = *state;
        const struct bayeux_response *resp;
        char why[512];
        int handshakes;

        establish_two(fx);
        refuse_b_after_rehandshake(fx);
        step(fx);
        handshakes = count_reqs("/meta/handshake");
        assert_int_equal(handshakes, 2);
        /* Not a re-handshake, not the end: the long-poll goes on. */
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_true(session_handshaken(fx->sess));
        assert_int_equal(session_route_up(fx->sess, 0), 1);
        assert_int_equal(session_route_up(fx->sess, 1), 0);
        assert_int_equal(metrics_ready(why, sizeof(why)), 0);
        assert_non_null(strstr(why, "/topic/B"));
        assert_non_null(strstr(why, "403::Restricted channel"));
        /* An event of the quarantined route is not handed on. */
        answer("[" EVENT_B(7) "," EVENT(101) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->nmsgs, 2);
        assert_string_equal(resp->msgs[0].channel, "/topic/A");
        assert_int_equal(count_reqs("/meta/handshake"), handshakes);
}

/* The retry is a subscribe of that channel alone, from its committed ID; on success the route is up. */
static void test_route_retry_succeeds(void **state)
{
        struct fixture *fx = *state;
        char why[512];
        int before;

        establish_two(fx);
        refuse_b_after_rehandshake(fx);
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        usleep(5000); /* past the 1-2 ms backoff */
        committed_id = 150;
        answer("[" CONNECT_OK "]");
        step(fx);
        /* Still refused: backs off again, quietly, and the connect goes on. */
        assert_true(body_has(last_req(), "/meta/subscribe"));
        assert_false(body_has(last_req(), "/topic/A"));
        assert_true(body_has(last_req(), "\"/topic/B\":150"));
        answer("[" SUB_RESTRICTED("/topic/B") "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_int_equal(session_route_up(fx->sess, 1), 0);
        usleep(5000);
        answer("[" CONNECT_OK "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/subscribe"));
        assert_false(body_has(last_req(), "/topic/A"));
        answer("[" SUB_OK("/topic/B") "]");
        before = nreqs;
        step(fx);
        assert_int_equal(nreqs, before + 1);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_int_equal(session_route_up(fx->sess, 1), 1);
        assert_int_equal(metrics_ready(why, sizeof(why)), 1);
        assert_int_equal(count_reqs("/meta/handshake"), 2);
        answer("[" EVENT_B(151) "," CONNECT_OK "]");
        step(fx);
        assert_non_null(session_batch(fx->sess));
        assert_int_equal(session_batch(fx->sess)->msgs[0].replay_id, 151);
}

/* on_route_error: fail stops with the channel and Salesforce's words. */
static void test_route_error_fail_policy(void **state)
{
        struct fixture *fx = *state;

        establish_two(fx);
        refuse_b_after_rehandshake(fx);
        assert_int_equal(session_step(fx->sess, fx->err, sizeof(fx->err)), -1);
        assert_non_null(strstr(fx->err, "/topic/B"));
        assert_non_null(strstr(fx->err, "403::Restricted channel"));
        assert_non_null(strstr(fx->err, "on_route_error"));
}

/* At start (no route ever subscribed) a channel that does not exist still ends the run. */
static void test_start_unknown_channel_fatal(void **state)
{
        struct fixture *fx = *state;

        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\"}]");
        step(fx);
        answer("[" SUB_OK("/topic/A") ",{\"channel\":\"/meta/subscribe\",\"successful\":false,"
               "\"subscription\":\"/topic/B\",\"error\":\"400::The channel you requested to subscribe "
               "to doesn't exist {/topic/B}\"}]");
        assert_int_equal(session_step(fx->sess, fx->err, sizeof(fx->err)), -1);
        assert_non_null(strstr(fx->err, "unknown_channel"));
        assert_non_null(strstr(fx->err, "/topic/B"));
}

/*
 * session_route_quarantine on a subscribed route: its events are held from
 * then on, the channel is unsubscribed between long-polls, the resubscribe
 * waits for the queued events to drain and starts from the committed ID,
 * and a stale event of the old subscription is never handed on again.
 */
static void test_route_quarantine_api(void **state)
{
        struct fixture *fx = *state;
        const struct bayeux_response *resp;

        establish_two(fx);
        answer("[" EVENT_B(201) "," EVENT_B(202) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        /* The bridge found 202 poisonous: it took 201 and sets the route aside. */
        session_route_quarantine(fx->sess, 1, "bad_event", "event too large");
        assert_int_equal(session_route_up(fx->sess, 1), 0);
        session_batch_produced(fx->sess); /* the next long-poll travels meanwhile */
        assert_true(body_has(last_req(), "/meta/connect"));
        committed_id = 201;
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        /* Queued before the unsubscribe: held, not handed on. */
        answer("[" EVENT_B(202) "," EVENT_B(203) "," EVENT(101) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->nmsgs, 2);
        assert_string_equal(resp->msgs[0].channel, "/topic/A");
        session_batch_produced(fx->sess);
        assert_false(body_has(last_req(), "/meta/unsubscribe")); /* a connect may be out */
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        if (body_has(last_req(), "/meta/connect")) {
                answer("[" CONNECT_OK "]");
                step(fx);
        }
        assert_true(body_has(last_req(), "/meta/unsubscribe"));
        assert_true(body_has(last_req(), "/topic/B"));
        usleep(5000); /* the backoff is over, but the queue has not drained yet */
        answer("[{\"channel\":\"/meta/unsubscribe\",\"successful\":true,\"subscription\":\"/topic/B\"}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        answer("[" EVENT_B(204) "," CONNECT_OK "]");
        step(fx);
        assert_null(session_batch(fx->sess)); /* all held */
        assert_true(body_has(last_req(), "/meta/subscribe"));
        assert_true(body_has(last_req(), "\"/topic/B\":201"));
        answer("[" SUB_OK("/topic/B") "]");
        step(fx);
        assert_int_equal(session_route_up(fx->sess, 1), 1);
        assert_true(body_has(last_req(), "/meta/connect"));
        /* 202 replayed by the resubscribe; then 202 again, stale, from the old subscription. */
        answer("[" EVENT_B(202) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->msgs[0].replay_id, 202);
        session_batch_produced(fx->sess);
        committed_id = 202;
        session_batch_done(fx->sess, SESSION_BATCH_COMMITTED, NULL);
        step(fx);
        answer("[" EVENT_B(201) "," EVENT_B(202) "," EVENT_B(203) "," CONNECT_OK "]");
        step(fx);
        resp = session_batch(fx->sess);
        assert_non_null(resp);
        assert_int_equal(resp->nmsgs, 2);
        assert_int_equal(resp->msgs[0].replay_id, 203);
        assert_int_equal(count_reqs("/meta/handshake"), 1);
}

/*
 * The start's proof before the claim (bridge.c): a 503 is retried as a run
 * would (a check --online probe would give up), a refused route is
 * reported rather than acted on, and the run that follows reuses the
 * probe's token: one login.
 */
static void test_start_probe_then_run(void **state)
{
        struct fixture *fx = *state;
        struct session_opts opts = { .probe = 1, .start_probe = 1, .backoff_cap_ms = 60000,
                                     .limit_backoff_cap_ms = 60000 };
        struct session_hooks hooks = { .replay_from = fake_replay_from };
        struct http_xfer *x;
        const char *why = NULL;
        long long from;

        session_destroy(fx->sess);
        fx->sess = session_new(fx->cfg, NULL, &opts, &hooks, fx->err, sizeof(fx->err));
        assert_non_null(fx->sess);
        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\","
               "\"id\":\"https://login.example.com/id/00D000000000001AAA/005000000000001AAA\"}");
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        x = last_req()->x;
        buf_reset(&x->body);
        x->status = 503;
        x->busy = 0;
        x->done = 1;
        step(fx); /* not -1: retried */
        assert_int_equal(count_reqs("/meta/handshake"), 2);
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c1\"}]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/subscribe"));
        answer("[" SUB_OK("/topic/A") "," SUB_RESTRICTED("/topic/B") "]");
        step(fx);
        assert_true(session_probed(fx->sess));
        assert_int_equal(session_probe_route(fx->sess, 0, &from, &why), SESSION_PROBE_OK);
        assert_int_equal(session_probe_route(fx->sess, 1, &from, &why), SESSION_PROBE_REFUSED);
        assert_string_equal(why, "403::Restricted channel");
        assert_string_equal(session_token(fx->sess)->org_id, "00D000000000001AAA");
        assert_false(body_has(last_req(), "/meta/connect"));

        /* Claimed (the bridge's part): now the run, same token, a new handshake. */
        session_restart(fx->sess, 0);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        answer("[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"c2\"}]");
        step(fx);
        assert_true(body_has(last_req(), "\"/topic/A\":100"));
        answer("[" SUB_OK("/topic/A") "," SUB_OK("/topic/B") "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_int_equal(count_reqs("grant_type"), 1);
}

/*
 * Refresh token rotation: a new refresh token in the login answer is the
 * one the next login presents, and it is kept in refresh_token_file, which
 * a later session (a restart) reads first, as it does when another process
 * has rotated it meanwhile.
 */
static void test_refresh_token_rotation_kept(void **state)
{
        char dir[] = "/tmp/sfb-test-session.XXXXXX", path[64], text[1024], buf[64];
        struct session_opts opts = { .backoff_cap_ms = 60000, .limit_backoff_cap_ms = 60000 };
        struct session_hooks hooks = { .replay_from = fake_replay_from };
        struct session *s1, *s2;
        struct config *cfg;
        struct stat st;
        FILE *fp;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/rt", dir);
        snprintf(text, sizeof(text),
                 "salesforce:\n  login_url: https://login.example.com\n  auth:\n    flow: refresh_token\n"
                 "    client_id: id\n    client_secret: secret\n    refresh_token: rt-configured\n"
                 "    refresh_token_file: %s\n"
                 "kafka:\n  bootstrap_servers: localhost:9092\nroutes:\n  - channel: /topic/A\n    topic: t.a\n",
                 path);
        nreqs = 0;
        cfg = config_load_string("rt.yaml", text, strlen(text), buf, sizeof(buf));
        assert_non_null(cfg);
        assert_int_equal(metrics_init("t", "test"), 0);
        s1 = session_new(cfg, NULL, &opts, &hooks, buf, sizeof(buf));
        assert_non_null(s1);
        assert_int_equal(session_step(s1, buf, sizeof(buf)), 0);
        assert_true(body_has(last_req(), "&refresh_token=rt-configured"));
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://inst.my.salesforce.com\","
               "\"refresh_token\":\"rt-2\"}");
        assert_int_equal(session_step(s1, buf, sizeof(buf)), 0);
        assert_true(body_has(last_req(), "/meta/handshake"));
        fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(buf, sizeof(buf), fp));
        fclose(fp);
        assert_string_equal(buf, "rt-2\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        session_destroy(s1);

        /* The next session starts from the kept token, not the configured one. */
        s2 = session_new(cfg, NULL, &opts, &hooks, buf, sizeof(buf));
        assert_non_null(s2);
        assert_int_equal(session_step(s2, buf, sizeof(buf)), 0);
        assert_true(body_has(last_req(), "&refresh_token=rt-2"));
        session_destroy(s2);

        /* A broken file is an error at start, naming it. */
        fp = fopen(path, "w");
        assert_non_null(fp);
        fclose(fp);
        assert_null(session_new(cfg, NULL, &opts, &hooks, text, sizeof(text)));
        assert_non_null(strstr(text, "salesforce.auth.refresh_token_file"));
        assert_non_null(strstr(text, path));

        unlink(path);
        rmdir(dir);
        config_destroy(cfg);
        metrics_shutdown();
}

/* ---- recovery loops (issue 12) ---- */

/* Does the metrics page hold @p needle? */
static int metrics_has(const char *needle)
{
        struct buf out;
        int found;

        buf_init(&out, 1u << 20);
        assert_int_equal(metrics_render(&out), 0);
        found = strstr(out.data, needle) != NULL;
        buf_free(&out);
        return found;
}

/* A session whose retries wait as in production (1 s doubling), and whose
 * handshakes are min_gap_ms apart. */
static void use_slow_session(struct fixture *fx, long min_gap_ms)
{
        struct session_opts opts = { .backoff_base_ms = 1000, .backoff_cap_ms = 60000,
                                     .limit_backoff_base_ms = 1000, .limit_backoff_cap_ms = 60000,
                                     .min_handshake_gap_ms = min_gap_ms };
        struct session_hooks hooks = { .replay_from = fake_replay_from };

        session_destroy(fx->sess);
        fx->sess = session_new(fx->cfg, NULL, &opts, &hooks, fx->err, sizeof(fx->err));
        assert_non_null(fx->sess);
}

/* Answer the handshake, the subscribe and leave the first connect in flight. */
static void rehandshake(struct fixture *fx, const char *client_id)
{
        char reply[200];

        assert_true(body_has(last_req(), "/meta/handshake"));
        snprintf(reply, sizeof(reply),
                 "[{\"channel\":\"/meta/handshake\",\"successful\":true,\"clientId\":\"%s\"}]", client_id);
        answer(reply);
        step(fx);
        answer("[" SUB_OK("/topic/A") "]");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
}

/* A 503 or a reset on /meta/connect: the same clientId connects again, no handshake. */
static void test_connect_failure_keeps_client(void **state)
{
        struct fixture *fx = *state;
        int before, ms;

        use_slow_session(fx, 0);
        establish(fx);
        answer_status(503, "503 Service Unavailable\n");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect")); /* the first retry goes at once */
        assert_true(body_has(last_req(), "\"clientId\":\"c1\""));
        assert_true(last_req()->x->busy);
        answer_transport_error();
        before = nreqs;
        step(fx);
        assert_int_equal(nreqs, before); /* the second waits a little ... */
        ms = session_timeout_ms(fx->sess, 100000);
        assert_true(ms > 0 && ms <= 5000);
        assert_true(session_handshaken(fx->sess));
        usleep((useconds_t)(ms + 20) * 1000);
        step(fx);
        assert_int_equal(nreqs, before + 1); /* ... and goes on the same client */
        assert_true(body_has(last_req(), "/meta/connect"));
        assert_true(body_has(last_req(), "\"clientId\":\"c1\""));
        answer("[" CONNECT_OK "]");
        step(fx);
        assert_int_equal(count_reqs("/meta/handshake"), 1);
        assert_int_equal(count_reqs("/meta/disconnect"), 0);
}

/* After the retry window (30 s; 50 ms here) of failures, a new session,
 * and the old clientId, which Salesforce may still know, is disconnected. */
static void test_connect_failures_past_window_rehandshake(void **state)
{
        struct fixture *fx = *state;
        struct session_opts opts = { .backoff_cap_ms = 60000, .limit_backoff_cap_ms = 60000,
                                     .connect_retry_window_ms = 50 };
        struct session_hooks hooks = { .replay_from = fake_replay_from };

        session_destroy(fx->sess);
        fx->sess = session_new(fx->cfg, NULL, &opts, &hooks, fx->err, sizeof(fx->err));
        assert_non_null(fx->sess);
        establish(fx);
        answer_status(502, "");
        step(fx);
        assert_true(body_has(last_req(), "/meta/connect"));
        usleep(60 * 1000);
        answer_status(502, "");
        step(fx);
        answer_bye(fx, "c1");
        usleep(10 * 1000);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_true(metrics_has("cause=\"http_5xx\",action=\"retry\"} 1"));
        assert_true(metrics_has("cause=\"http_5xx\",action=\"backoff\"} 1"));
}

/* forget-after-first-connect: the immediate first connect does not reset the
 * backoff, so a session that flaps right after it waits longer each time. */
static void test_flapping_session_backs_off(void **state)
{
        struct fixture *fx = *state;
        int before;

        use_slow_session(fx, 0);
        establish(fx);
        answer("[" CONNECT_OK "]");  /* the first connect, answered at once */
        step(fx);
        answer(UNKNOWN_CLIENT);
        step(fx);
        rehandshake(fx, "c2");       /* the first re-handshake goes at once */
        answer("[" CONNECT_OK "]");
        step(fx);
        answer(UNKNOWN_CLIENT);
        before = nreqs;
        step(fx);
        assert_int_equal(nreqs, before); /* the second waits */
        assert_true(session_timeout_ms(fx->sess, 100000) >= 500);
}

/* A held connect (any after the first) shows the session works: the backoff starts over. */
static void test_held_connect_resets_backoff(void **state)
{
        struct fixture *fx = *state;

        use_slow_session(fx, 0);
        establish(fx);
        answer(UNKNOWN_CLIENT);
        step(fx);
        rehandshake(fx, "c2");
        answer("[" CONNECT_OK "]");
        step(fx);
        answer("[" CONNECT_OK "]");  /* held, then answered: healthy */
        step(fx);
        answer(UNKNOWN_CLIENT);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake")); /* at once again */
}

/* Whatever the backoff says, two handshakes are min_handshake_gap_ms apart. */
static void test_handshake_gap(void **state)
{
        struct fixture *fx = *state;
        int before, ms;

        use_slow_session(fx, 1000);
        establish(fx);
        answer(UNKNOWN_CLIENT);
        before = nreqs;
        step(fx);
        assert_int_equal(nreqs, before);
        ms = session_timeout_ms(fx->sess, 100000);
        assert_true(ms > 500 && ms <= 1000);
        usleep((useconds_t)(ms + 20) * 1000);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
}

/* advice.interval of a day would outlive the client: at most 30 s. */
static void test_interval_clamped(void **state)
{
        struct fixture *fx = *state;
        int ms;

        establish(fx);
        answer("[{\"channel\":\"/meta/connect\",\"successful\":true,"
               "\"advice\":{\"reconnect\":\"retry\",\"interval\":86400000,\"timeout\":110000}}]");
        step(fx);
        ms = session_timeout_ms(fx->sess, 1 << 30);
        assert_true(ms > 29000 && ms <= 30000);
}

/* The long-poll's timeout: advice.timeout + 10 s, stall_timeout_s (150 s) the cap. */
static void test_poll_timeout_from_advice(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        assert_int_equal(last_req()->timeout_ms, 150000); /* no advice yet */
        answer("[" CONNECT_OK "]");                        /* timeout 110000 */
        step(fx);
        assert_int_equal(last_req()->timeout_ms, 120000);
        answer("[{\"channel\":\"/meta/connect\",\"successful\":true,"
               "\"advice\":{\"reconnect\":\"retry\",\"interval\":0,\"timeout\":2000}}]");
        step(fx);
        assert_int_equal(last_req()->timeout_ms, 12000);
        answer("[{\"channel\":\"/meta/connect\",\"successful\":true,"
               "\"advice\":{\"reconnect\":\"retry\",\"interval\":0,\"timeout\":400000}}]");
        step(fx);
        assert_int_equal(last_req()->timeout_ms, 150000);
}

/* reconnect advice on a successful reply is honoured: handshake (the client
 * is gone: nothing to disconnect), none (disconnect it, then handshake). */
static void test_success_reply_reconnect_advice(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        answer("[{\"channel\":\"/meta/connect\",\"successful\":true,\"advice\":{\"reconnect\":\"handshake\"}}]");
        step(fx);
        rehandshake(fx, "c2");
        answer("[{\"channel\":\"/meta/connect\",\"successful\":true,\"advice\":{\"reconnect\":\"none\"}}]");
        step(fx);
        answer_bye(fx, "c2");
        usleep(10 * 1000); /* the fixture's backoff: 1 ms */
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_int_equal(count_reqs("/meta/disconnect"), 1);
        assert_true(metrics_has("cause=\"advice_none\",action=\"rehandshake\"} 1"));
}

/* A Bayeux error in an HTTP 400 is read for what it says: a new token. */
static void test_bayeux_error_in_http_status(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        answer_status(400, "[{\"channel\":\"/meta/connect\",\"successful\":false,"
                           "\"error\":\"401::Authentication invalid\",\"advice\":{\"reconnect\":\"none\"}}]");
        step(fx);
        assert_non_null(strstr(last_req()->url, "/services/oauth2/token"));
        assert_int_equal(count_reqs("grant_type"), 2);
}

/* An HTTP 403 holding 403::Unknown client: a handshake at once, not the 4xx backoff. */
static void test_unknown_client_in_http_403(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        assert_true(metrics_has("\nsfbridge_sessions_opened_total 1\n"));
        answer_status(403, UNKNOWN_CLIENT);
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_true(metrics_has("cause=\"unknown_client\",action=\"rehandshake\"} 1"));
        assert_false(metrics_has("cause=\"http_4xx\""));
        assert_int_equal(count_reqs("/meta/disconnect"), 0); /* the client is gone */
        rehandshake(fx, "c2");
        assert_true(metrics_has("\nsfbridge_sessions_opened_total 2\n"));
        /* A body that is no Bayeux error still goes by the status. */
        answer_status(401, "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]");
        step(fx);
        usleep(10 * 1000);
        step(fx);
        assert_non_null(strstr(last_req()->url, "/services/oauth2/token"));
        assert_true(metrics_has("cause=\"http_401\",action=\"reauth\"} 1"));
}

/* Issue 14, item 3: what the token endpoint answers is checked before use. */
static int any_req_url_has(const char *s)
{
        int i;

        for (i = 0; i < nreqs; i++)
                if (strstr(reqs[i].url, s))
                        return 1;
        return 0;
}

/* At start, an instance_url the bridge may not trust stops it (exit 3)
 * naming salesforce.allowed_hosts; the URL is never contacted. */
static void test_untrusted_instance_url_at_start(void **state)
{
        struct fixture *fx = *state;

        step(fx);
        answer("{\"access_token\":\"S3CR3T\",\"instance_url\":\"gopher://127.0.0.1:6379\"}");
        assert_int_equal(session_step(fx->sess, fx->err, sizeof(fx->err)), -1);
        assert_non_null(strstr(fx->err, "salesforce.allowed_hosts"));
        assert_null(strstr(fx->err, "S3CR3T"));
        assert_int_equal(nreqs, 1);
        assert_null(session_token(fx->sess));
}

/* A CR LF inside access_token would add request headers: refused at start. */
static void test_crlf_token_at_start(void **state)
{
        struct fixture *fx = *state;

        step(fx);
        answer("{\"access_token\":\"tok\\r\\nX-Injected: 1\","
               "\"instance_url\":\"https://inst.my.salesforce.com\"}");
        assert_int_equal(session_step(fx->sess, fx->err, sizeof(fx->err)), -1);
        assert_non_null(strstr(fx->err, "access_token holds control characters"));
        assert_null(strstr(fx->err, "X-Injected"));
        assert_int_equal(nreqs, 1);
}

/* After start, a foreign host (then a CR LF token) is a counted recovery:
 * backoff and a new login, never an exit, never a request to that host. */
static void test_untrusted_answer_after_start_recovers(void **state)
{
        struct fixture *fx = *state;
        int i, logins;

        establish(fx);
        answer_status(401, "[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]");
        step(fx);
        assert_int_equal(count_reqs("grant_type"), 2);
        answer("{\"access_token\":\"tok2\",\"instance_url\":\"https://evil.example.com\"}");
        step(fx);
        assert_true(metrics_has("cause=\"instance_url_rejected\",action=\"backoff\"} 1"));
        assert_false(any_req_url_has("evil.example.com"));
        for (i = 0; i < 300 && count_reqs("grant_type") < 3; i++) {
                usleep(10 * 1000);
                step(fx);
        }
        assert_int_equal(count_reqs("grant_type"), 3);
        answer("{\"access_token\":\"tok3\\n\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        assert_true(metrics_has("cause=\"token_rejected\",action=\"backoff\"} 1"));
        for (i = 0; i < 300 && (logins = count_reqs("grant_type")) < 4; i++) {
                usleep(10 * 1000);
                step(fx);
        }
        assert_int_equal(count_reqs("grant_type"), 4);
        answer("{\"access_token\":\"tok4\",\"instance_url\":\"https://inst.my.salesforce.com\"}");
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_non_null(strstr(last_req()->url, "https://inst.my.salesforce.com/cometd/"));
        assert_false(any_req_url_has("evil.example.com"));
}

/* salesforce.allowed_hosts lets a host through. */
static void test_allowed_host_accepted(void **state)
{
        static const char *const text =
                "name: t\nsalesforce:\n  login_url: https://login.example.com\n"
                "  allowed_hosts: other.example, .corp.example\n"
                "  auth:\n    flow: password\n    client_id: id\n    client_secret: secret\n"
                "    username: u@example.com\n    password: pw\n"
                "kafka:\n  bootstrap_servers: localhost:9092\n"
                "routes:\n  - channel: /topic/A\n    topic: t.a\n";
        struct fixture *fx = *state;
        struct session_opts opts = { .backoff_cap_ms = 60000, .limit_backoff_cap_ms = 60000 };
        struct session_hooks hooks = { .replay_from = fake_replay_from };

        session_destroy(fx->sess);
        config_destroy(fx->cfg);
        fx->cfg = config_load_string("t.yaml", text, strlen(text), fx->err, sizeof(fx->err));
        assert_non_null(fx->cfg);
        fx->sess = session_new(fx->cfg, NULL, &opts, &hooks, fx->err, sizeof(fx->err));
        assert_non_null(fx->sess);
        step(fx);
        answer("{\"access_token\":\"tok\",\"instance_url\":\"https://sf.corp.example:8443\"}");
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
        assert_string_equal(last_req()->url, "https://sf.corp.example:8443/cometd/59.0");
}

/* A rebuild abandons a live clientId: it gets a short /meta/disconnect; a
 * failed one is ignored and the handshake goes on. */
static void test_abandoned_client_disconnected(void **state)
{
        struct fixture *fx = *state;

        establish(fx);
        answer("[" CONNECT_OK "]");
        step(fx);
        session_rebuild(fx->sess, "batch_aborted");
        step(fx);
        assert_true(body_has(last_req(), "/meta/disconnect"));
        assert_true(body_has(last_req(), "\"clientId\":\"c1\""));
        assert_int_equal(last_req()->timeout_ms, 2000);
        answer_transport_error();
        step(fx);
        assert_true(body_has(last_req(), "/meta/handshake"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_batch_pipelines_connect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_handshake_while_commit_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rebuild_deferred_until_verdict, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rebuild_verdict_drops_pipelined_connect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_replay_on_connect_rebuilds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_without_request_rebuilds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_replay_on_subscribe_queues_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paused_holds_connect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_route_quarantined_mid_run, setup_two_no_retry, teardown),
                cmocka_unit_test_setup_teardown(test_route_retry_succeeds, setup_two, teardown),
                cmocka_unit_test_setup_teardown(test_route_error_fail_policy, setup_two_fail, teardown),
                cmocka_unit_test_setup_teardown(test_start_unknown_channel_fatal, setup_two, teardown),
                cmocka_unit_test_setup_teardown(test_route_quarantine_api, setup_two, teardown),
                cmocka_unit_test_setup_teardown(test_handled_gap_not_met_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_probe_then_run, setup_two, teardown),
                cmocka_unit_test(test_refresh_token_rotation_kept),
                cmocka_unit_test_setup_teardown(test_connect_failure_keeps_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connect_failures_past_window_rehandshake, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flapping_session_backs_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_connect_resets_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_handshake_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interval_clamped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_poll_timeout_from_advice, setup, teardown),
                cmocka_unit_test_setup_teardown(test_success_reply_reconnect_advice, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bayeux_error_in_http_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_client_in_http_403, setup, teardown),
                cmocka_unit_test_setup_teardown(test_abandoned_client_disconnected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_instance_url_at_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crlf_token_at_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_answer_after_start_recovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allowed_host_accepted, setup, teardown),
        };

        log_setup(LOG_FORMAT_LOGFMT, LOG_ERROR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
