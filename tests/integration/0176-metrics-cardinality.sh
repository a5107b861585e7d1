#!/bin/sh
# Metrics cardinality (issue 14, item 6): change events of more distinct
# entities than metrics.max_series_per_family allows, through one {entity}
# route, fill that family's cap; the rest add up in its "__overflow__"
# series, and a recovery counted afterwards still shows. Before, 1,100 CDC
# entities filled the whole series table and the recovery and re-auth
# counters never appeared.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CAP=10
N=16

start_kafka 1 || { not_ok "start kafka"; finish; }
start_sfsim || { not_ok "start sfsim"; finish; }
write_config "$T/card.yaml" it-card <<YAML
  - channel: /data/ChangeEvents
    topic: "it.card.{entity}"
    start: all
YAML
sed -i "s|^  listen: .*|&\n  max_series_per_family: $CAP|" "$T/card.yaml"
start_bridge "$T/card.yaml"
check "bridge ready" wait_for 30 ready

i=1
while [ "$i" -le "$N" ]; do
        publish /data/ChangeEvents 1 "" "entity=Ent${i}__c&change_type=UPDATE" >/dev/null ||
                not_ok "publish entity $i"
        i=$((i + 1))
done
overflow() { metric 'sfbridge_events_total{channel="__overflow__",topic="__overflow__"}'; }
overflow_is() { [ "$(overflow)" = "$1" ]; }
check "the events beyond the cap add up in the overflow series" wait_for 30 overflow_is $((N - CAP))
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/metrics1.txt"
own=$(grep -c '^sfbridge_events_total{channel="/data/ChangeEvents",topic="it.card.' "$T/metrics1.txt")
assert_eq "the family holds exactly its cap of own series" "$CAP" "$own"
assert_file_contains "the overflow is counted" "$T/metrics1.txt" \
        "sfbridge_metrics_label_overflow_total"

# A recovery after the data series are full still gets its series.
sfsim_admin POST "/admin/fault?kind=http-503&count=1" >/dev/null
publish /data/ChangeEvents 1 "" "entity=Late__c&change_type=UPDATE" >/dev/null
rec() { curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" | grep -q '^sfbridge_recoveries_total{cause="http_5xx"'; }
check "a recovery counted after the cap shows in /metrics" wait_for 30 rec
check "the late entity's event adds to the overflow" wait_for 30 overflow_is $((N - CAP + 1))
stop_bridge
assert_eq "bridge stops cleanly" 0 "$BRIDGE_RC"
finish
