#!/bin/sh
# SIGTERM while a batch waits for Kafka (brokers down): the open
# transaction is aborted, the bridge exits 0 within 10 s, and a restart
# delivers the aborted batch again, once.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-sigterm
publish "$FAULT_CHANNEL" 20 >>"$T/published.ids"
wait_for 30 kcat_has "$FAULT_TOPIC" 20
kafka_ctl "down all"
publish "$FAULT_CHANNEL" 20 >>"$T/published.ids"
wait_for 20 grep -q 'kafka_unavailable' "$T/bridge.log" && ok "batch held while Kafka is down" || not_ok "batch held while Kafka is down"
start=$(date +%s)
stop_bridge TERM
took=$(( $(date +%s) - start ))
assert_eq "SIGTERM mid-transaction: exit 0" 0 "$BRIDGE_RC"
[ "$took" -le 10 ] && ok "stopped within 10 s ($took s)" || not_ok "stopped within 10 s" "$took s"
kafka_ctl "up all"
start_bridge "$T/fault.yaml"
recovered_within 30 "after the restart"
expect_delivery "SIGTERM mid-transaction"
fault_finish
