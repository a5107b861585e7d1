/*
 * libFuzzer target: a /cometd response body as Salesforce (or anything
 * pretending to be it) could send it. Parses it the way the session does,
 * with one reused struct bayeux_response, then recognises every event,
 * renders it as a Kafka record and classifies every meta reply. Any crash,
 * sanitizer report or broken invariant is a bug.
 *
 * Not built by the Makefile yet:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iconnector \
 *     $(pkg-config --cflags libcjson) tests/fuzz/fuzz_bayeux.c connector/bayeux.c \
 *     connector/event.c connector/recovery.c connector/router.c connector/buf.c \
 *     $(pkg-config --libs libcjson) -o build/fuzz_bayeux
 *   build/fuzz_bayeux -max_len=65536 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayeux.h"
#include "event.h"
#include "recovery.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct bayeux_response resp;  /* reused across inputs, as in the session */
        static struct config cfg;
        static struct config_route rt;
        char err[256];
        size_t i;

        cfg.name = "fuzz";
        rt.channel = "/data/ChangeEvents";
        rt.topic = "cdc.{entity}";
        rt.key = ROUTE_KEY_RECORD_ID;
        /* Vary the value mode with the input so all three are reached. */
        rt.value = size ? (enum route_value)(data[size - 1] % 3) : ROUTE_VALUE_DATA;

        err[0] = '\0';
        if (bayeux_response_parse(&resp, (const char *)data, size, err, sizeof(err)) == -1) {
                fuzz_check(err[0] != '\0' && resp.root == NULL && resp.nmsgs == 0);
                return 0;
        }
        fuzz_check(resp.nmsgs <= resp.cap);
        for (i = 0; i < resp.nmsgs; i++) {
                const struct bayeux_msg *msg = &resp.msgs[i];

                fuzz_check(msg->channel != NULL && msg->json != NULL);
                fuzz_check(msg->successful >= -1 && msg->successful <= 1);
                fuzz_check(msg->advice.interval_ms >= -1 &&
                           msg->advice.interval_ms <= BAYEUX_ADVICE_MAX_MS);
                fuzz_check(msg->advice.timeout_ms >= -1 &&
                           msg->advice.timeout_ms <= BAYEUX_ADVICE_MAX_MS);
                if (msg->kind == BAYEUX_EVENT) {
                        struct sf_event ev;
                        struct router_record rec;
                        int warned;

                        err[0] = '\0';
                        if (event_parse(msg->json, &ev, err, sizeof(err)) == -1) {
                                fuzz_check(err[0] != '\0');
                                continue;
                        }
                        fuzz_check(ev.replay_id >= 0 && ev.replay_id < 9007199254740992LL);
                        fuzz_check(ev.channel && ev.data);
                        if (router_render(&cfg, &rt, &ev, &rec, &warned, err, sizeof(err)) == 0) {
                                fuzz_check(rec.value != NULL && strlen(rec.value) == rec.value_len);
                                fuzz_check(rec.nheaders >= 3 && rec.nheaders <= ROUTER_MAX_HEADERS);
                                fuzz_check(strlen(rec.topic) < sizeof(rec.topic));
                                free(rec.value);
                        } else {
                                fuzz_check(rec.value == NULL);
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
        return 0;
}
