/*
 * libFuzzer target: a /cometd response body as Salesforce (or anything
 * pretending to be it) could send it. Parses it the way the session does,
 * with one reused struct bayeux_response, renders every forwardable event
 * as a Kafka record and classifies every meta reply. Any crash, sanitizer
 * report or broken invariant is a bug. Built by `make fuzz`; run e.g.
 *   build-fuzz/fuzz_bayeux -max_len=65536 /tmp/corpus tests/data/salesforce tests/fuzz/corpus/fuzz_bayeux
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayeux.h"
#include "json.h"
#include "recovery.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
        if (!ok)
                abort();
}

/* A span lies inside the body it was parsed from. */
static int fuzz_inside(const struct bayeux_value *v, const char *body, size_t size)
{
        return v->len == 0 || (v->p >= body && v->len <= size && v->p - body <= (ptrdiff_t)(size - v->len));
}

/* Text is one whole JSON value; *ws gets its whitespace outside strings. */
static int fuzz_one_value(const char *p, size_t len, size_t *ws)
{
        struct json_scanner js;
        struct json_span sp;

        json_init(&js, p, len);
        if (json_skip(&js, &sp) == -1 || sp.p != p || sp.len != len)
                return 0;
        *ws = js.ws;
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct bayeux_response resp;  /* reused across inputs, as in the session */
        static struct buf scratch;           /* reused too, as in the bridge */
        static struct config cfg;
        static struct config_route rt;
        const char *body = (const char *)data;
        char err[256];
        size_t i, ws;

        if (!scratch.max)
                buf_init(&scratch, 1 << 20);
        cfg.name = "fuzz";
        rt.channel = "/data/ChangeEvents";
        rt.topic = "cdc.{entity}";
        rt.key = ROUTE_KEY_RECORD_ID;
        /* Vary the value mode with the input so all three are reached. */
        rt.value = size ? (enum route_value)(data[size - 1] % 3) : ROUTE_VALUE_DATA;

        err[0] = '\0';
        if (bayeux_response_parse(&resp, body, size, err, sizeof(err)) == -1) {
                fuzz_check(err[0] != '\0' && resp.nmsgs == 0);
                return 0;
        }
        fuzz_check(resp.nmsgs <= resp.cap);
        for (i = 0; i < resp.nmsgs; i++) {
                const struct bayeux_msg *msg = &resp.msgs[i];

                fuzz_check(msg->channel != NULL);
                fuzz_check(msg->successful >= -1 && msg->successful <= 1);
                fuzz_check(msg->advice.interval_ms >= -1 &&
                           msg->advice.interval_ms <= BAYEUX_ADVICE_MAX_MS);
                fuzz_check(msg->advice.timeout_ms >= -1 &&
                           msg->advice.timeout_ms <= BAYEUX_ADVICE_MAX_MS);
                /* Every element is an object; its span is that object, and its
                 * blanks flag says whether it holds whitespace. */
                fuzz_check(msg->message.len >= 2 && fuzz_inside(&msg->message, body, size));
                fuzz_check(msg->message.p[0] == '{' && msg->message.p[msg->message.len - 1] == '}');
                fuzz_check(fuzz_one_value(msg->message.p, msg->message.len, &ws));
                fuzz_check((ws != 0) == (msg->message.blanks != 0));
                if (msg->kind == BAYEUX_EVENT) {
                        struct router_record rec;
                        int warned;

                        fuzz_check(fuzz_inside(&msg->data, body, size));
                        fuzz_check(fuzz_inside(&msg->payload, body, size));
                        if (msg->problem != BAYEUX_EVENT_OK) {
                                bayeux_event_problem_text(msg, err, sizeof(err));
                                fuzz_check(err[0] != '\0');
                                continue;
                        }
                        fuzz_check(msg->replay_id >= 0);
                        fuzz_check(msg->data.len > 0 && msg->data.p[0] == '{');
                        if (router_render(&cfg, &rt, msg, &rec, &scratch, &warned, err,
                                          sizeof(err)) == 0) {
                                const struct bayeux_value *v = rt.value == ROUTE_VALUE_PAYLOAD
                                                                       ? &msg->payload
                                                               : rt.value == ROUTE_VALUE_MESSAGE
                                                                       ? &msg->message
                                                                       : &msg->data;

                                /* The value is the span, compacted only when it had blanks:
                                 * one JSON value, no whitespace outside strings left. */
                                fuzz_check(rec.value != NULL && rec.value_len <= v->len);
                                fuzz_check(v->blanks || (rec.value == v->p && rec.value_len == v->len));
                                fuzz_check(fuzz_one_value(rec.value, rec.value_len, &ws) && ws == 0);
                                fuzz_check(rec.nheaders >= 3 && rec.nheaders <= ROUTER_MAX_HEADERS);
                                fuzz_check(strlen(rec.topic) < sizeof(rec.topic));
                        } else {
                                fuzz_check(err[0] != '\0');
                        }
                } else {
                        struct recovery_input in = { 0, 200, msg };
                        struct recovery_decision dec = recovery_classify(&in);

                        fuzz_check(dec.cause != NULL && dec.rule >= 1 &&
                                   (size_t)dec.rule <= recovery_rule_count());
                        fuzz_check(msg->successful != 1 || dec.action == ACT_NONE ||
                                   msg->kind == BAYEUX_DISCONNECT);
                }
        }
        /* As the session does after each batch. */
        bayeux_response_trim(&resp);
        buf_trim(&scratch, BAYEUX_KEEP_BYTES);
        return 0;
}
