#!/bin/sh
# Replica group, a unit that cannot go on (HA.md §2.2 FAILED): what makes a
# single instance exit 3 (here on_invalid_replay: fail, after retention
# passed the stored replay ID) leaves a replica running with the unit
# FAILED: it keeps the partition (no ping-pong across the fleet), says
# msg=unit_failed naming the unit and why, is not ready (/readyz names the
# unit), delivers nothing more, and stops cleanly on SIGTERM.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 --topic sfbridge.it-ha-failed.units:1 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }

ch=/topic/HaFailed
tp=it.ha.failed
TOP_EXTRA="on_invalid_replay: fail
coordination: {}" write_config "$T/b.yaml" it-ha-failed <<YAML
  - channel: $ch
    topic: $tp
    start: all
YAML
publish "$ch" 5 >"$T/ids"
start_bridge "$T/b.yaml"
wait_for 30 kcat_has "$tp" 5 || not_ok "first run delivered 5"
assert_file_contains "the group gave the unit to the replica" "$T/bridge.log" \
        "msg=unit_started unit=default"
stop_bridge TERM
assert_eq "first run: clean stop" 0 "$BRIDGE_RC"

publish "$ch" 5 >>"$T/ids"
sfsim_admin POST "/admin/retention?keep=2" >/dev/null
: >"$T/bridge.log"
start_bridge "$T/b.yaml"
if wait_for 30 grep -q "msg=unit_failed unit=default" "$T/bridge.log"; then
        ok "the unit FAILED, named"
else
        not_ok "the unit FAILED, named" "$(tail -n 20 "$T/bridge.log")"
fi
assert_file_contains "unit_failed says why" "$T/bridge.log" "on_invalid_replay is fail"
sleep 2
if kill -0 "$BRIDGE_PID" 2>/dev/null; then
        ok "the replica keeps running (no exit 3)"
else
        not_ok "the replica keeps running (no exit 3)"
fi
assert_eq "it keeps the partition: unit_owned 1" 1 "$(metric 'sfbridge_unit_owned{unit="default"}')"
code=$(curl -s -o "$T/readyz" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$METRICS_PORT/readyz")
assert_eq "not ready" 503 "$code"
assert_contains "/readyz names the unit" "$(cat "$T/readyz")" "default"
publish "$ch" 3 >>"$T/ids"
sleep 3
assert_eq "nothing more delivered (5 before the gap)" 5 "$(kcat_read "$tp" 1000000 | cut -f4 | grep -vc 'sf.gap=')"
assert_eq "its Salesforce client disconnected (sfsim: 0 live clients)" 0 \
        "$(sfsim_admin GET /admin/stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["clients"])')"
stop_bridge TERM
assert_eq "SIGTERM: exit 0" 0 "$BRIDGE_RC"
finish
