#!/bin/sh
# /metrics end to end: a live scrape is valid Prometheus text (promtool
# check metrics), declares every family README.md and DESIGN.md name, and
# its counters move with what happens: sfbridge_events_total{channel,topic}
# grows by exactly what was published, sfbridge_replay_id{channel} is the
# last published replay ID, and each kind of recovery moves its own counter
# (token revocation, forgotten client, stall, Kafka down, truncated
# retention). Each counted recovery must also have its log line with the
# same cause and action.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CH_A=/event/Obs_A__e
TP_A=it.obs.a
CH_B=/topic/ObsB
TP_B=it.obs.b

# scrape FILE: save one /metrics body (and its headers in FILE.hdr).
scrape() {
        curl -s --max-time 5 -D "$1.hdr" -o "$1" "http://127.0.0.1:$METRICS_PORT/metrics"
}

# num NAME_WITH_LABELS: the current sample value, 0 when the series is absent.
num() {
        _n_v=$(metric "$1")
        echo "${_n_v:-0}"
}

# metric_ge NAME_WITH_LABELS N: the sample exists and is >= N (for wait_for).
metric_ge() {
        _g_v=$(metric "$1")
        [ -n "$_g_v" ] && awk -v a="$_g_v" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'
}

# fault_admin KIND: inject one emulator fault.
fault_admin() {
        sfsim_admin POST "/admin/fault?kind=$1" >/dev/null
}

# metric_eq NAME_WITH_LABELS N (for wait_for).
metric_eq() {
        [ "$(metric "$1")" = "$2" ]
}

# recovery_lines_match NAME SCRAPE LOG: for every series of
# sfbridge_recoveries_total{cause,action} in SCRAPE, LOG holds exactly that
# many lines with cause=CAUSE and action=ACTION (README: every recovery is
# logged once, with its cause, and counted).
recovery_lines_match() {
        sed -n 's/^sfbridge_recoveries_total{cause="\([^"]*\)",action="\([^"]*\)"} \([0-9][0-9]*\)$/\1 \2 \3/p' \
                "$2" >"$T/recoveries.tab"
        while read -r _c _a _n; do
                _got=$(grep -E "(^| )cause=$_c( |$)" "$3" | grep -cE "(^| )action=$_a( |$)")
                if [ "$_got" = "$_n" ]; then
                        ok "$1: recovery cause=$_c action=$_a counted $_n, logged $_got"
                else
                        not_ok "$1: recovery cause=$_c action=$_a counted $_n, logged $_got" \
                                "expected one log line with cause=$_c action=$_a per counted recovery"
                fi
        done <"$T/recoveries.tab"
}

ev_a="sfbridge_events_total{channel=\"$CH_A\",topic=\"$TP_A\"}"
ev_b="sfbridge_events_total{channel=\"$CH_B\",topic=\"$TP_B\"}"
rid_a="sfbridge_replay_id{channel=\"$CH_A\"}"
rid_b="sfbridge_replay_id{channel=\"$CH_B\"}"
age_a="sfbridge_last_event_age_seconds{channel=\"$CH_A\"}"
reauth='sfbridge_reauth_total{cause="auth_invalid"}'
rec_auth='sfbridge_recoveries_total{cause="auth_invalid",action="reauth"}'
rec_unknown='sfbridge_recoveries_total{cause="unknown_client",action="rehandshake"}'
# A stall inside the 30 s window is retried on the same clientId.
rec_stall='sfbridge_recoveries_total{cause="stall",action="retry"}'

start_kafka 3 || { not_ok "start kafka"; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok "start sfsim"; finish; }
SFB_STALL_S=4 write_config "$T/metrics.yaml" it-obs-metrics <<YAML
  - channel: $CH_A
    topic: $TP_A
    start: all
  - channel: $CH_B
    topic: $TP_B
    start: all
YAML
start_bridge "$T/metrics.yaml"
if wait_for 30 ready; then ok "bridge ready"; else not_ok "bridge ready"; finish; fi

# --- The exposition itself ----------------------------------------------
scrape "$T/scrape0.txt"
assert_file_contains "served as Prometheus text 0.0.4" "$T/scrape0.txt.hdr" \
        "Content-Type: text/plain; version=0.0.4"
if command -v promtool >/dev/null 2>&1; then
        if promtool check metrics <"$T/scrape0.txt" >"$T/promtool.out" 2>&1; then
                ok "promtool check metrics accepts a live scrape"
        else
                not_ok "promtool check metrics accepts a live scrape"
                show_file "$T/promtool.out"
        fi
else
        not_ok "promtool check metrics accepts a live scrape" \
                "promtool not installed (Debian package prometheus, see make deps)"
fi
for fam in "sfbridge_events_total counter" "sfbridge_handshakes_total counter" \
           "sfbridge_reauth_total counter" "sfbridge_recoveries_total counter" \
           "sfbridge_connect_seconds histogram" "sfbridge_kafka_errors_total counter" \
           "sfbridge_kafka_in_flight gauge" "sfbridge_replay_id gauge" \
           "sfbridge_last_event_age_seconds gauge" "sfbridge_replay_gaps_total counter" \
           "sfbridge_cdc_gap_events_total counter" "sfbridge_backoff_seconds gauge" \
           "sfbridge_ready gauge" "sfbridge_up gauge" "sfbridge_build_info gauge" \
           "sfbridge_last_commit_age_seconds gauge" "sfbridge_kafka_in_flight_bytes gauge"; do
        assert_file_contains "declares $fam" "$T/scrape0.txt" "# TYPE $fam"
done
assert_file_contains "build info names version and bridge" "$T/scrape0.txt" \
        "sfbridge_build_info{version=\"$(cat "$SFB_ROOT/VERSION")\",name=\"it-obs-metrics\"} 1"
assert_eq "sfbridge_up is 1 while running" 1 "$(num sfbridge_up)"
assert_eq "sfbridge_ready is 1 while ready" 1 "$(num sfbridge_ready)"
assert_eq "one handshake so far" 1 "$(num sfbridge_handshakes_total)"
assert_eq "no replay gap so far" 0 "$(num sfbridge_replay_gaps_total)"
# An idle route on a healthy bridge is not stale: nothing awaits a commit.
sleep 1
assert_eq "last_commit_age_seconds{$CH_A} is 0 while idle and healthy" 0 \
        "$(metric "sfbridge_last_commit_age_seconds{channel=\"$CH_A\"}")"
assert_eq "last_commit_age_seconds{$CH_B} is 0 while idle and healthy" 0 \
        "$(metric "sfbridge_last_commit_age_seconds{channel=\"$CH_B\"}")"
assert_eq "kafka_in_flight_bytes is 0 while idle" 0 "$(num sfbridge_kafka_in_flight_bytes)"

# --- Events: exact counts per channel and topic, last replay ID ------------
publish "$CH_A" 5 >"$T/a.ids"
publish "$CH_B" 3 >"$T/b.ids"
wait_for 30 kcat_has "$TP_A" 5
wait_for 30 kcat_has "$TP_B" 3
wait_for 10 metric_eq "$ev_a" 5
wait_for 10 metric_eq "$ev_b" 3
sleep 1 # a late double count would show now
assert_eq "events_total{$CH_A,$TP_A} is exactly what was published" 5 "$(num "$ev_a")"
assert_eq "events_total{$CH_B,$TP_B} is exactly what was published" 3 "$(num "$ev_b")"
assert_eq "replay_id{$CH_A} is the last published replay ID" "$(tail -n 1 "$T/a.ids")" "$(metric "$rid_a")"
assert_eq "replay_id{$CH_B} is the last published replay ID" "$(tail -n 1 "$T/b.ids")" "$(metric "$rid_b")"
age=$(metric "$age_a")
if [ -n "$age" ] && awk -v a="$age" 'BEGIN { exit !(a >= 0 && a < 30) }'; then
        ok "last_event_age_seconds{$CH_A} is recent ($age s)"
else
        not_ok "last_event_age_seconds{$CH_A} is recent" "got [$age]"
fi
sleep 1
age2=$(metric "$age_a")
if awk -v a="$age" -v b="$age2" 'BEGIN { exit !(b > a) }'; then
        ok "last_event_age_seconds grows while no event comes ($age -> $age2)"
else
        not_ok "last_event_age_seconds grows while no event comes" "$age -> $age2"
fi

publish "$CH_A" 7 >>"$T/a.ids"
wait_for 30 kcat_has "$TP_A" 12
wait_for 10 metric_eq "$ev_a" 12
sleep 1
assert_eq "events_total{$CH_A} grew by exactly 7" 12 "$(num "$ev_a")"
assert_eq "events_total{$CH_B} did not move" 3 "$(num "$ev_b")"
assert_eq "replay_id{$CH_A} follows the last event" "$(tail -n 1 "$T/a.ids")" "$(metric "$rid_a")"

scrape "$T/scrape1.txt"
# Histogram: cumulative buckets never decrease, +Inf equals _count, _count > 0.
if awk '
        /^sfbridge_connect_seconds_bucket/ { v = $2 + 0; if (v < prev) bad = 1; prev = v; last = v }
        /^sfbridge_connect_seconds_count / { count = $2 + 0 }
        END { exit !(!bad && count > 0 && last == count) }' "$T/scrape1.txt"; then
        ok "connect_seconds histogram: cumulative buckets, +Inf = _count > 0"
else
        not_ok "connect_seconds histogram: cumulative buckets, +Inf = _count > 0"
        grep '^sfbridge_connect_seconds' "$T/scrape1.txt" | sed 's/^/#   /'
fi

# --- Token revocation: reauth and handshakes -----------------------------
h0=$(num sfbridge_handshakes_total)
fault_admin revoke-tokens
wait_for 15 metric_ge "$reauth" 1
wait_for 15 ready
assert_eq "revoke-tokens: reauth_total{cause=auth_invalid} grew by 1" 1 "$(num "$reauth")"
assert_eq "revoke-tokens: recoveries_total{auth_invalid,reauth} grew by 1" 1 "$(num "$rec_auth")"
assert_eq "revoke-tokens: handshakes_total grew by 1" "$((h0 + 1))" "$(num sfbridge_handshakes_total)"

# --- Forgotten client: a re-handshake, no new login ----------------------
h1=$(num sfbridge_handshakes_total)
fault_admin forget-clients
wait_for 15 metric_ge "$rec_unknown" 1
wait_for 15 ready
assert_eq "forget-clients: recoveries_total{unknown_client,rehandshake} grew by 1" 1 "$(num "$rec_unknown")"
assert_eq "forget-clients: handshakes_total grew by 1" "$((h1 + 1))" "$(num sfbridge_handshakes_total)"
assert_eq "forget-clients: no re-login counted" 1 "$(num "$reauth")"

# --- Stall -----------------------------------------------------------------
fault_admin stall
if wait_for 12 metric_ge "$rec_stall" 1; then
        ok "stall: recoveries_total{cause=stall} grew ($(num "$rec_stall"))"
else
        not_ok "stall: recoveries_total{cause=stall} grew"
fi
assert_eq "stall: sfbridge_ready is 0 during the stall" 0 "$(num sfbridge_ready)"
fault_admin clear
if wait_for 15 ready; then ok "stall: ready again"; else not_ok "stall: ready again"; fi
assert_eq "stall: sfbridge_ready back to 1" 1 "$(num sfbridge_ready)"

# --- Kafka down: kafka_errors_total --------------------------------------
k0=$(num sfbridge_kafka_errors_total)
kafka_ctl "down all" || not_ok "kafka down"
publish "$CH_B" 4 >>"$T/b.ids"
if wait_for 20 metric_ge sfbridge_kafka_errors_total "$((k0 + 1))"; then
        ok "Kafka down: kafka_errors_total grew ($k0 -> $(num sfbridge_kafka_errors_total))"
else
        not_ok "Kafka down: kafka_errors_total grew" "still $(num sfbridge_kafka_errors_total)"
fi
if wait_for 10 metric_ge sfbridge_kafka_in_flight 1; then
        ok "Kafka down: kafka_in_flight counts the held events ($(num sfbridge_kafka_in_flight))"
else
        not_ok "Kafka down: kafka_in_flight counts the held events" "got [$(num sfbridge_kafka_in_flight)]"
fi
# Its HELP text: "1 while the bridge has a Salesforce session and Kafka is reachable."
wait_for 10 metric_eq sfbridge_up 0
assert_eq "Kafka down: sfbridge_up is 0 while no broker is reachable (as its HELP says)" 0 "$(num sfbridge_up)"
kafka_ctl "up all" || not_ok "kafka up"
wait_for 40 kcat_has "$TP_B" 7
wait_for 15 metric_eq "$ev_b" 7
sleep 1
assert_eq "after the faults, events_total{$CH_B} is still exactly what was published" 7 "$(num "$ev_b")"
assert_eq "after the faults, events_total{$CH_A} did not move" 12 "$(num "$ev_a")"
assert_eq "Kafka back: sfbridge_up is 1" 1 "$(num sfbridge_up)"
wait_for 10 metric_eq sfbridge_kafka_in_flight 0
assert_eq "Kafka back: kafka_in_flight back to 0" 0 "$(num sfbridge_kafka_in_flight)"
assert_eq "after the faults, replay_id{$CH_B} is the last published" "$(tail -n 1 "$T/b.ids")" "$(metric "$rid_b")"
scrape "$T/scrape2.txt"
if command -v promtool >/dev/null 2>&1; then
        if promtool check metrics <"$T/scrape2.txt" >"$T/promtool2.out" 2>&1; then
                ok "promtool accepts the scrape after recoveries (labelled series present)"
        else
                not_ok "promtool accepts the scrape after recoveries"
                show_file "$T/promtool2.out"
        fi
fi
n=$(metric 'sfbridge_recoveries_total{cause="kafka_unavailable",action="hold_batch"}')
if [ "${n:-0}" -ge 1 ]; then
        ok "Kafka down: recoveries_total{cause=kafka_unavailable} grew ($n)"
else
        not_ok "Kafka down: recoveries_total{cause=kafka_unavailable} grew" "got [$n]"
fi
recovery_lines_match "first run" "$T/scrape2.txt" "$T/bridge.log"
assert_file_not_contains "no password in /metrics" "$T/scrape2.txt" "$SF_PASSWORD"
assert_file_not_contains "no client secret in /metrics" "$T/scrape2.txt" "$SF_CLIENT_SECRET"

# --- Truncated retention: replay_gaps_total ------------------------------
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
run1_lines=$(wc -l <"$T/bridge.log" | tr -d ' ')
publish "$CH_A" 5 >>"$T/a.ids"
sfsim_admin POST "/admin/retention?keep=2" >/dev/null
start_bridge "$T/metrics.yaml"
if wait_for 30 ready; then ok "restarted bridge ready"; else not_ok "restarted bridge ready"; fi
wait_for 10 metric_ge sfbridge_replay_gaps_total 1
wait_for 30 kcat_has "$TP_A" 14
wait_for 10 metric_eq "$ev_a" 2
sleep 1
assert_eq "truncated retention: replay_gaps_total counts the one lost range" 1 "$(num sfbridge_replay_gaps_total)"
assert_eq "truncated retention: events_total{$CH_A} counts the 2 retained events" 2 "$(num "$ev_a")"
assert_eq "truncated retention: replay_id{$CH_A} is the last published" "$(tail -n 1 "$T/a.ids")" "$(metric "$rid_a")"
assert_eq "restart: replay_id{$CH_B} is the committed one, read back from Kafka" \
        "$(tail -n 1 "$T/b.ids")" "$(metric "$rid_b")"
assert_file_contains "truncated retention: logged" "$T/bridge.log" "msg=replay_gap channel=$CH_A"
n=$(metric 'sfbridge_recoveries_total{cause="invalid_replay",action="invalid_replay"}')
assert_eq "truncated retention: recoveries_total{cause=invalid_replay} is 1" 1 "${n:-0}"
scrape "$T/scrape3.txt"
tail -n +"$((run1_lines + 1))" "$T/bridge.log" >"$T/run2.log"
recovery_lines_match "second run" "$T/scrape3.txt" "$T/run2.log"

stop_bridge TERM
assert_eq "clean stop after the gap" 0 "$BRIDGE_RC"
finish
