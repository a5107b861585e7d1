#!/bin/sh
# Every Kafka broker down for 15 s mid-stream: the bridge stops
# long-polling, keeps the open batch, retries, and when Kafka is back
# carries on (re-handshaking if Salesforce forgot it meanwhile).
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-kafka "${DELIVERY:-exactly_once}"
stream_start 50 10 0.2
sleep 2
kafka_ctl "down all" && ok "brokers down" || not_ok "brokers down"
sleep 15
kafka_ctl "up all" && ok "brokers up" || not_ok "brokers up"
stream_wait
recovered_within 30 "after Kafka came back"
expect_delivery "Kafka down 15 s"
log_has "Kafka outage logged" "kafka_unavailable"
fault_finish
