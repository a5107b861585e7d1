#!/bin/sh
# The operations listener cannot be starved (issue 14, item 4): with 300 idle
# connections and 50 slow-loris ones held open (reopened as the bridge cuts
# them), /healthz and /readyz each answer in under a second, round after
# round. Before, 64 idle connections made /healthz take 8-9 s, longer than
# the shipped Kubernetes probes wait. Then metrics.token (401 without it, the
# token never in the log) and metrics.allow (a peer outside it is closed
# unanswered, and the log says so).
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CH=/event/Starve__e
TP=it.starve
TOKEN=it-metrics-token-0175-abcdef
export TOKEN

# timed PATH [CURL_ARGS...]: print "CODE SECONDS" of one GET on the listener.
timed() {
        _p=$1
        shift
        curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$@" \
                "http://127.0.0.1:$METRICS_PORT$_p" 2>/dev/null
}

start_kafka 1 || { not_ok "start kafka"; finish; }
start_sfsim || { not_ok "start sfsim"; finish; }
write_config "$T/starve.yaml" it-starve <<YAML
  - channel: $CH
    topic: $TP
YAML
start_bridge "$T/starve.yaml"
check "bridge ready" wait_for 30 ready

# --- 300 idle + 50 slow-loris connections ----------------------------------
python3 "$SFB_ROOT/tests/integration/flood.py" "$METRICS_PORT" 300 50 12 "$T/flood.ready" \
        >"$T/flood.out" 2>"$T/flood.err" </dev/null &
FLOOD_PID=$!
track_pid "$FLOOD_PID"
check "flood holds its connections" wait_for 20 test -s "$T/flood.ready"
note "flood: $(cat "$T/flood.ready" 2>/dev/null)"
sleep 1
slow=0 worst=0 fail=""
for round in 1 2 3 4 5 6 7 8; do
        for p in /healthz /readyz; do
                r=$(timed "$p")
                code=${r% *}
                secs=${r#* }
                [ "$code" = 200 ] || fail="$fail $p:$code"
                worst=$(awk -v a="$worst" -v b="$secs" 'BEGIN { print (b > a) ? b : a }')
                awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || slow=$((slow + 1))
        done
        sleep 0.5
done
note "slowest probe under flood: ${worst} s"
assert_eq "probes answer 200 under the flood" "" "$fail"
assert_eq "every probe under 1 s under the flood" 0 "$slow"
wait_exit "$FLOOD_PID" 30
note "flood: $(cat "$T/flood.out" 2>/dev/null)"
stop_bridge
assert_eq "bridge stops cleanly" 0 "$BRIDGE_RC"

# --- metrics.token ------------------------------------------------------------
write_config "$T/token.yaml" it-starve <<YAML
  - channel: $CH
    topic: $TP
YAML
sed -i "s|^  listen: .*|&\n  token: \${TOKEN}|" "$T/token.yaml"
mv "$T/bridge.log" "$T/bridge-flood.log"
start_bridge "$T/token.yaml"
check "bridge with token ready" wait_for 30 ready
r=$(timed /metrics)
assert_eq "/metrics without the token: 401" 401 "${r% *}"
r=$(timed /metrics -H "Authorization: Bearer wrong-token-0175-abcdefgh")
assert_eq "/metrics with a wrong token: 401" 401 "${r% *}"
r=$(timed /metrics -H "Authorization: Bearer $TOKEN")
assert_eq "/metrics with the token: 200" 200 "${r% *}"
body=$(curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$METRICS_PORT/metrics")
assert_contains "/metrics with the token serves the metrics" "$body" "sfbridge_up 1"
r=$(timed /healthz)
assert_eq "/healthz needs no token" 200 "${r% *}"
r=$(timed /readyz)
assert_eq "/readyz needs no token" 200 "${r% *}"
stop_bridge
assert_file_not_contains "the token is never logged" "$T/bridge.log" "$TOKEN"
assert_file_not_contains "the token is never printed" "$T/bridge.out" "$TOKEN"

# --- metrics.allow ------------------------------------------------------------
write_config "$T/allow.yaml" it-starve <<YAML
  - channel: $CH
    topic: $TP
YAML
sed -i "s|^  listen: .*|&\n  allow: 10.0.0.0/8, fd00::/8|" "$T/allow.yaml"
mv "$T/bridge.log" "$T/bridge-token.log"
start_bridge "$T/allow.yaml"
check "bridge with allow-list runs" wait_for 30 grep -q 'msg=subscribed' "$T/bridge.log"
code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")
assert_eq "a peer outside metrics.allow gets no answer" 000 "$code"
check "the refusal is logged" wait_for 5 grep -q 'msg=metrics_peer_refused' "$T/bridge.log"
stop_bridge

write_config "$T/allow2.yaml" it-starve <<YAML
  - channel: $CH
    topic: $TP
YAML
sed -i "s|^  listen: .*|&\n  allow: 10.0.0.0/8,127.0.0.1|" "$T/allow2.yaml"
start_bridge "$T/allow2.yaml"
check "a peer inside metrics.allow is served" wait_for 30 ready
stop_bridge

# A bad network is a config error, caught by check.
write_config "$T/bad.yaml" it-starve <<YAML
  - channel: $CH
    topic: $TP
YAML
sed -i "s|^  listen: .*|&\n  allow: 10.1.2.3/8|" "$T/bad.yaml"
out=$("$SFB_BUILD/sfbridge" check -c "$T/bad.yaml" 2>&1)
assert_contains "check refuses host bits beyond the prefix" "$out" "metrics.allow"
finish
