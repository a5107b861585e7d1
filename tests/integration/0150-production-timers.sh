#!/bin/sh
# Recovery with timers in production's order, scaled down together.
# Salesforce forgets a client 40 s after its last answer, holds a long-poll
# 110 s, and the bridge calls a /meta/connect stalled after 150 s: expiry <
# hold < stall. The other fault tests run hold 2 s < stall 5 s < expiry
# 40 s, which hides two classes of bug: a bridge that waits longer than the
# expiry between connects loses its client, and a stall timer shorter than
# the hold aborts healthy polls. Here sfsim holds 11 s and forgets after
# 4 s, the bridge's stall_timeout_s is 15, and the main faults come one
# after another, each followed by a check that everything published so far
# is in Kafka:
#   - an idle hold runs its 11 s course and is not taken for a stall;
#   - revoke-tokens, forget-clients, server disconnect;
#   - HTTP 503 and a closed connection on /meta/connect: retried on the
#     same clientId, no new handshake (issue 12: the client lives ~40 s;
#     re-handshaking abandons it and holds one of the org's client slots);
#   - a silent stall: noticed by stall_timeout_s, and not before a healthy
#     poll would have been answered;
#   - Kafka down until sfsim has forgotten the client (the bridge holds its
#     batch and sends no /meta/connect meanwhile): back on a new client.
# At the end: every event in Kafka once (kcat, read_committed), exactly one
# stall recovery (the injected one), and never more than 2 live clients in
# sfsim (sampled every 0.5 s).
. "$SFB_ROOT/tests/integration/fault.inc.sh"
. "$SFB_ROOT/tests/integration/timers.inc.sh"

HOLD_MS=11000
EXPIRY_MS=4000
STALL_S=15
TIMERS_WAIT_S=15
TIMERS_HELD_S=10

start_kafka 3 || { not_ok "start kafka"; finish; }
start_sfsim --connect-timeout-ms "$HOLD_MS" --client-expiry-ms "$EXPIRY_MS" ||
        { not_ok "start sfsim"; finish; }
SFB_STALL_S=$STALL_S write_config "$T/fault.yaml" it-timers <<YAML
  - channel: $FAULT_CHANNEL
    topic: $FAULT_TOPIC
    start: all
YAML
FAULT_DELIVERY=exactly_once
: >"$T/published.ids"
start_bridge "$T/fault.yaml"
if wait_for 30 ready; then ok "bridge ready"; else not_ok "bridge ready"; finish; fi

T0=$(date +%s)
: >"$T/steps"
# Live clients, sampled in the background for the whole run.
(
        trap - EXIT INT TERM
        while :; do
                _n=$(sim_stat clients 2>/dev/null)
                [ -n "$_n" ] && echo "$(date +%s) $_n" >>"$T/clients.samples"
                sleep 0.5
        done
) &
track_pid $!

after "first events"

# 1. Idle: the long-poll is held to its end and answered; the next one goes
#    out, and no stall is declared for it.
h0=$(held_long)
wait_for $((HOLD_MS / 1000 + 4)) held_more_than "$h0"
h1=$(held_long)
if [ "${h1:-0}" -gt "${h0:-0}" ]; then
        ok "idle: a /meta/connect held ~$((HOLD_MS / 1000)) s ran its course ($h0 -> $h1 answers after > 10 s)"
else
        not_ok "idle: a /meta/connect held ~$((HOLD_MS / 1000)) s ran its course" "$h0 -> $h1"
fi
assert_eq "idle: the held poll was not taken for a stall" 0 "$(stall_count)"

# 2. Faults that strike the held long-poll at once.
fault_admin revoke-tokens
after "revoke-tokens"
fault_admin forget-clients
after "forget-clients"
fault_admin disconnect
after "server disconnect"

# 3. A failed /meta/connect on a live client: retried on the same clientId.
#    Each is armed while a poll is held; the event published then answers
#    that poll, and the fault meets the /meta/connect after it. A closed
#    connection needs count 2: libcurl re-sends a request once on a fresh
#    connection when a reused one dies before any answer.
for f in "http-503 1" "close-mid-poll 2"; do
        set -- $f
        hs0=$(sim_stat handshakes)
        fault_admin "$1" "$2"
        after "$1 on /meta/connect"
        hs1=$(sim_stat handshakes)
        assert_eq "$1 on /meta/connect: retried on the same clientId (sfsim handshakes $hs0 -> $hs1)" \
                "$hs0" "$hs1"
        fault_admin clear
done

# 4. A silent stall: declared by stall_timeout_s, not within the hold.
fault_admin stall
publish "$FAULT_CHANNEL" 1 100 >>"$T/published.ids"
s0=$(date +%s)
if wait_for $((STALL_S + 6)) grep -q 'msg=recovery cause=stall' "$T/bridge.log"; then
        took=$(( $(date +%s) - s0 ))
        # Not before a healthy poll would have been answered (the hold):
        # the stalled poll starts once the published event is committed.
        if [ "$took" -gt $((HOLD_MS / 1000)) ]; then
                ok "stall: declared after ${took} s (hold $((HOLD_MS / 1000)) s, stall_timeout_s $STALL_S)"
        else
                not_ok "stall: declared only after the hold ($((HOLD_MS / 1000)) s)" "after ${took} s"
        fi
else
        not_ok "stall: declared within $((STALL_S + 6)) s"
fi
fault_admin clear
after "stall"

# 5. Kafka down until sfsim has forgotten the client: the bridge holds its
#    batch and sends no /meta/connect meanwhile.
kafka_ctl "down all" || not_ok "brokers down"
publish "$FAULT_CHANNEL" 5 100 >>"$T/published.ids"
d0=$(date +%s)
if wait_for $((HOLD_MS / 1000 + EXPIRY_MS / 1000 + 6)) no_clients; then
        ok "Kafka down: sfsim forgot the silent client ($(( $(date +%s) - d0 )) s)"
else
        not_ok "Kafka down: sfsim forgot the silent client" "clients $(sim_stat clients)"
fi
kafka_ctl "up all" || not_ok "brokers up"
after "Kafka down past the client expiry"

# The whole account.
expect_delivery "production-shaped timers"
assert_eq "one stall recovery (the injected one) in the log" 1 "$(stall_count)"
# Whatever the action (a re-handshake, or a retry on the same clientId).
assert_eq "one stall recovery in sfbridge_recoveries_total" 1 \
        "$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
                awk '/^sfbridge_recoveries_total\{cause="stall",/ { s += $2 } END { print s + 0 }')"
maxc=$(cut -d' ' -f2 "$T/clients.samples" | sort -n | tail -n 1)
note "live clients: $(wc -l <"$T/clients.samples" | tr -d ' ') samples, highest $maxc"
if [ -n "$maxc" ] && [ "$maxc" -le 2 ]; then
        ok "never more than 2 live clients in sfsim (highest $maxc)"
else
        not_ok "never more than 2 live clients in sfsim" "highest ${maxc:-none}; at (s since the start, steps):" \
                "$(awk -v t0="$T0" '$2 > 2 { print $1 - t0 }' "$T/clients.samples" | tr '\n' ' ')"
        sed 's/^/# step /' "$T/steps"
fi
assert_file_not_contains "no concurrent user limit" "$T/bridge.log" "concurrent user limit"
fault_finish
