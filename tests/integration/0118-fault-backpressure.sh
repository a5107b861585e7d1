#!/bin/sh
# Bounded memory (at_least_once): with Kafka down, no new /meta/connect goes
# out once kafka.max_in_flight events await acknowledgement; when Kafka is
# back everything is delivered (re-handshaking if Salesforce forgot us).
# Then the same with bytes: a bridge with a 1 MiB kafka.max_in_flight_bytes
# and 64 KB events pauses on the byte bound long before the event bound,
# says so, and loses nothing.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

connects() {
        sfsim_admin GET /admin/stats | sed -n 's/.*"connects":\([0-9]*\).*/\1/p'
}

KAFKA_EXTRA="  max_in_flight: 50" fault_setup it-f-pressure at_least_once --max-batch 20
kafka_ctl "down all" && ok "brokers down" || not_ok "brokers down"
publish "$FAULT_CHANNEL" 400 >>"$T/published.ids"
sleep 6
c1=$(connects)
inflight=$(metric sfbridge_kafka_in_flight)
sleep 4
c2=$(connects)
note "connects $c1 -> $c2, in flight $inflight"
assert_eq "no /meta/connect while over max_in_flight" "$c1" "$c2"
[ "${inflight:-0}" -ge 50 ] && [ "${inflight:-0}" -le 70 ] && ok "in flight bounded by max_in_flight + one batch ($inflight)" ||
        not_ok "in flight bounded by max_in_flight + one batch" "$inflight"
log_has "the pause is logged" "msg=backpressure in_flight="
log_has "the pause names the event bound" "bound=max_in_flight max_in_flight=50"
kafka_ctl "up all" && ok "brokers up" || not_ok "brokers up"
recovered_within 30 "after backpressure"
expect_delivery "backpressure"
log_has "the resume is logged" "action=resume_long_polling"

# --- The byte bound -----------------------------------------------------------
stop_bridge TERM
assert_eq "clean stop before the byte bound" 0 "$BRIDGE_RC"
log1=$(wc -l <"$T/bridge.log" | tr -d ' ')
BYTES_MAX=1048576
EVENT_SIZE=65536
KAFKA_EXTRA="  max_in_flight_bytes: $BYTES_MAX" write_config "$T/bytes.yaml" it-f-pressure at_least_once <<YAML
  - channel: $FAULT_CHANNEL
    topic: $FAULT_TOPIC
    start: all
YAML
start_bridge "$T/bytes.yaml"
if wait_for 30 ready; then ok "bridge with max_in_flight_bytes ready"; else not_ok "bridge with max_in_flight_bytes ready"; fi
kafka_ctl "down all" && ok "brokers down (bytes)" || not_ok "brokers down (bytes)"
# 60 events of 64 KB, 20 per answer: 1.3 MB per batch, far below 10,000 events.
publish "$FAULT_CHANNEL" 60 "$EVENT_SIZE" >>"$T/published.ids"
sleep 3
c1=$(connects)
inflight=$(metric sfbridge_kafka_in_flight)
bytes=$(metric sfbridge_kafka_in_flight_bytes)
sleep 2
c2=$(connects)
note "connects $c1 -> $c2, in flight $inflight events, $bytes bytes"
assert_eq "no /meta/connect while over max_in_flight_bytes" "$c1" "$c2"
if [ "${bytes:-0}" -gt "$BYTES_MAX" ] && [ "${bytes:-0}" -le $((BYTES_MAX + 21 * (EVENT_SIZE + 2048))) ] &&
        [ "${inflight:-0}" -lt 60 ]; then
        ok "in-flight bytes bounded by max_in_flight_bytes + one batch ($bytes bytes, $inflight events)"
else
        not_ok "in-flight bytes bounded by max_in_flight_bytes + one batch" "$bytes bytes, $inflight events"
fi
tail -n +"$((log1 + 1))" "$T/bridge.log" >"$T/bytes.log"
assert_file_contains "the pause names the byte bound" "$T/bytes.log" \
        "bound=max_in_flight_bytes max_in_flight=10000 max_in_flight_bytes=$BYTES_MAX action=pause_long_polling"
kafka_ctl "up all" && ok "brokers up (bytes)" || not_ok "brokers up (bytes)"
recovered_within 30 "after the byte bound"
expect_delivery "byte bound"
tail -n +"$((log1 + 1))" "$T/bridge.log" >"$T/bytes.log"
assert_file_contains "the resume is logged (bytes)" "$T/bytes.log" "action=resume_long_polling"
wait_for 10 sh -c "[ \"\$(curl -s --max-time 5 http://127.0.0.1:$METRICS_PORT/metrics | awk '\$1 == \"sfbridge_kafka_in_flight_bytes\" { print \$2 }')\" = 0 ]"
assert_eq "in-flight bytes back to 0" 0 "$(metric sfbridge_kafka_in_flight_bytes)"
fault_finish
