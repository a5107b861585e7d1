#!/bin/sh
# Production's own timers, unscaled (about 7 minutes; `make test-slow`):
# sfsim at its defaults, the Salesforce values (a long-poll held 110 s, a
# client forgotten 40 s after its last answer) and the bridge at its default
# stall_timeout_s of 150. In turn:
#   - a hold: idle, a /meta/connect runs its 110 s course and is answered;
#     no stall is declared for it;
#   - a stall: a /meta/connect that is never answered is abandoned by
#     stall_timeout_s and not within the hold, and the bridge is back;
#   - an expiry: Kafka down until sfsim has forgotten the client (more than
#     40 s without a /meta/connect while the bridge holds its batch); when
#     Kafka is back the bridge recovers on a new client.
# At the end every event is in Kafka once (kcat, read_committed) and the
# only stall recovery is the injected one. 0150 runs the same story scaled
# down to seconds inside `make test`.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
. "$SFB_ROOT/tests/integration/timers.inc.sh"

HOLD_S=110
EXPIRY_S=40
STALL_S=150
TIMERS_WAIT_S=30
TIMERS_HELD_S=90

start_kafka 3 || { not_ok "start kafka"; finish; }
start_sfsim || { not_ok "start sfsim"; finish; }
SFB_STALL_S=$STALL_S write_config "$T/fault.yaml" slow-timers <<YAML
  - channel: $FAULT_CHANNEL
    topic: $FAULT_TOPIC
    start: all
YAML
FAULT_DELIVERY=exactly_once
: >"$T/published.ids"
start_bridge "$T/fault.yaml"
if wait_for 30 ready; then ok "bridge ready"; else not_ok "bridge ready"; finish; fi
assert_file_contains "sfsim runs the real timers" "$T/sfsim.err" \
        "connect_timeout_ms=$((HOLD_S * 1000)) client_expiry_ms=$((EXPIRY_S * 1000))"

after "first events"

# The hold.
h0=$(held_long)
t0=$(date +%s)
wait_for $((HOLD_S + 10)) held_more_than "$h0"
h1=$(held_long)
if [ "${h1:-0}" -gt "${h0:-0}" ]; then
        ok "idle: a /meta/connect held $HOLD_S s ran its course ($(( $(date +%s) - t0 )) s)"
else
        not_ok "idle: a /meta/connect held $HOLD_S s ran its course" "$h0 -> $h1"
fi
assert_eq "idle: the held poll was not taken for a stall" 0 "$(stall_count)"
after "after the hold"

# The stall.
fault_admin stall
publish "$FAULT_CHANNEL" 1 100 >>"$T/published.ids"
s0=$(date +%s)
if wait_for $((STALL_S + 15)) grep -q 'msg=recovery cause=stall' "$T/bridge.log"; then
        took=$(( $(date +%s) - s0 ))
        # Not before a healthy poll would have been answered (the hold).
        if [ "$took" -gt "$HOLD_S" ]; then
                ok "stall: declared after ${took} s (hold $HOLD_S s, stall_timeout_s $STALL_S)"
        else
                not_ok "stall: declared only after the hold ($HOLD_S s)" "after ${took} s"
        fi
else
        not_ok "stall: declared within $((STALL_S + 15)) s"
fi
fault_admin clear
after "stall"

# The expiry.
hs0=$(sim_stat handshakes)
kafka_ctl "down all" || not_ok "brokers down"
publish "$FAULT_CHANNEL" 5 100 >>"$T/published.ids"
d0=$(date +%s)
if wait_for $((HOLD_S + EXPIRY_S + 15)) no_clients; then
        took=$(( $(date +%s) - d0 ))
        if [ "$took" -ge $((EXPIRY_S - 2)) ]; then
                ok "Kafka down: sfsim forgot the silent client after ${took} s"
        else
                not_ok "Kafka down: sfsim forgot the client only after $EXPIRY_S s of silence" "after ${took} s"
        fi
else
        not_ok "Kafka down: sfsim forgot the silent client" "clients $(sim_stat clients)"
fi
kafka_ctl "up all" || not_ok "brokers up"
after "Kafka down past the client expiry"
# On a new client: the old one is gone (Salesforce says Unknown client, or
# the bridge re-handshakes on its own when the outage outlived its batch).
hs1=$(sim_stat handshakes)
if [ "${hs1:-0}" -gt "${hs0:-0}" ]; then
        ok "Kafka down: back on a new client (sfsim handshakes $hs0 -> $hs1)"
else
        not_ok "Kafka down: back on a new client" "sfsim handshakes $hs0 -> $hs1"
fi

expect_delivery "real timers"
assert_eq "one stall recovery (the injected one)" 1 "$(stall_count)"
fault_finish
