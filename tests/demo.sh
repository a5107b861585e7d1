#!/bin/sh
# `make demo`: the bridge against the Salesforce emulator and a local Kafka
# (librdkafka's mock cluster), end to end, in under two minutes.
set -u
SFB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SFB_BUILD=${SFB_BUILD:-$SFB_ROOT/build}
export SFB_ROOT SFB_BUILD
cd "$SFB_ROOT" || exit 1
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'demo failed: %s\n' "$*"; show_file "$T/bridge.log" 15; exit 1; }
# show TOPIC N: the first N records of TOPIC as "topic key value", value cut short.
show() {
        kcat_read "$1" "$2" | awk -F '\t' -v t="$1" '{ v = $5; if (length(v) > 90) v = substr(v, 1, 87) "..."; printf "  %-24s key=%-12s %s\n", t, $3, v }'
}

say "starting the Salesforce emulator (tests/sfsim) and a local Kafka (3-broker mock cluster)"
start_kafka 3 || fail "kafka-mock did not start"
SFSIM_CLIENT_ID=demo-client SFSIM_CLIENT_SECRET=demo-client-secret
SFSIM_USERNAME=demo@example.com SFSIM_PASSWORD=demo-password
"$SFB_BUILD/sfsim" --listen 127.0.0.1:0 --client-id "$SFSIM_CLIENT_ID" \
        --client-secret "$SFSIM_CLIENT_SECRET" --username "$SFSIM_USERNAME" \
        --password "$SFSIM_PASSWORD" >"$T/sfsim.out" 2>"$T/sfsim.err" </dev/null &
SFSIM_PID=$!
track_pid "$SFSIM_PID"
line=$(_sfb_first_line "$T/sfsim.out" '^sfsim listening on ' 15 "$SFSIM_PID") || fail "sfsim did not start"
SFSIM_URL=${line#sfsim listening on }
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
METRICS_PORT=$(free_port)
SFB_METRICS_LISTEN=127.0.0.1:$METRICS_PORT
export SFSIM_URL KAFKA_BOOTSTRAP_SERVERS SFB_METRICS_LISTEN METRICS_PORT
echo "  emulator $SFSIM_URL, kafka $KAFKA_BOOTSTRAP"

say "sfbridge run -c config/demo.yaml"
start_bridge config/demo.yaml
wait_for 30 ready || fail "the bridge did not become ready within 30 s"
grep -E 'msg=(starting|subscribed)' "$T/bridge.log" | sed 's/^ts=[^ ]* /  /'

say "publishing sample events on all four channel kinds"
publish /topic/AccountUpdates 2 >/dev/null
publish /event/Order_Placed__e 2 >/dev/null
publish /data/ChangeEvents 1 "" entity=Account >/dev/null
publish /data/ChangeEvents 1 "" entity=Contact >/dev/null
publish /u/Notifications 1 >/dev/null
wait_for 30 kcat_has demo.notifications 1 || fail "events did not reach Kafka"
wait_for 10 kcat_has demo.cdc.Contact 1
say "what landed in Kafka (read back with kcat, read_committed)"
for t in demo.account-updates demo.orders demo.cdc.Account demo.cdc.Contact demo.notifications; do
        show "$t" 5
done

say "revoking every Salesforce token (the session dies as it does in production)"
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
publish /event/Order_Placed__e 3 >/dev/null
wait_for 30 kcat_has demo.orders 5 || fail "the bridge did not recover"
grep -E 'msg=(recovery|login|handshake)' "$T/bridge.log" | tail -n 4 | sed 's/^ts=[^ ]* /  /'
echo "  demo.orders now holds $(kcat_count demo.orders) events: 2 before the revocation, 3 after, none lost"
echo "  sfbridge_reauth_total{cause=\"auth_invalid\"} $(metric 'sfbridge_reauth_total{cause="auth_invalid"}')"

say "stopping (SIGTERM)"
stop_bridge TERM
[ "$BRIDGE_RC" = 0 ] || fail "sfbridge exited $BRIDGE_RC"
grep -E 'msg=(stopping|disconnect|stopped)' "$T/bridge.log" | sed 's/^ts=[^ ]* /  /'
echo
echo "demo finished: every event delivered once, recovery after token revocation, clean stop"
exit 0
