#!/bin/sh
# Kafka reachable only after the bridge started: it waits, says so (in its
# log and in /readyz), and starts once Kafka answers.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }
kafka_ctl "down all"
write_config "$T/late.yaml" it-f-late <<'YAML'
  - channel: /topic/Late
    topic: it.late
    start: all
YAML
publish /topic/Late 10 >/dev/null
start_bridge "$T/late.yaml"
if wait_for 30 grep -q 'kafka_unavailable' "$T/bridge.log"; then ok "waiting for Kafka is logged"; else not_ok "waiting for Kafka is logged"; fi
kill -0 "$BRIDGE_PID" 2>/dev/null && ok "still running while Kafka is away" || not_ok "still running while Kafka is away"
# A start waiting for Kafka is not ready, and /readyz says why.
readyz=$(curl -s --max-time 5 -w ' %{http_code}' "http://127.0.0.1:$METRICS_PORT/readyz")
case "$readyz" in
"not ready: starting: kafka: start ("*" failing since "*" 503") ok "waiting for Kafka: /readyz is 503 naming it ($readyz)" ;;
*) not_ok "waiting for Kafka: /readyz is 503 naming it" "got [$readyz]" ;;
esac
assert_eq "waiting for Kafka: sfbridge_ready is 0" 0 "$(metric sfbridge_ready)"
kafka_ctl "up all"
if wait_for 60 kcat_has it.late 10; then ok "starts once Kafka answers"; else not_ok "starts once Kafka answers"; fi
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
