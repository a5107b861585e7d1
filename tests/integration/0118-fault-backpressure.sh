#!/bin/sh
# Bounded memory (at_least_once): with Kafka down, no new /meta/connect goes
# out once kafka.max_in_flight events await acknowledgement; when Kafka is
# back everything is delivered (re-handshaking if Salesforce forgot us).
. "$SFB_ROOT/tests/integration/fault.inc.sh"
KAFKA_EXTRA="  max_in_flight: 50" fault_setup it-f-pressure at_least_once --max-batch 20
kafka_ctl "down all" && ok "brokers down" || not_ok "brokers down"
publish "$FAULT_CHANNEL" 400 >>"$T/published.ids"
sleep 6
c1=$(sfsim_admin GET /admin/stats | sed -n 's/.*"connects":\([0-9]*\).*/\1/p')
inflight=$(metric sfbridge_kafka_in_flight)
sleep 4
c2=$(sfsim_admin GET /admin/stats | sed -n 's/.*"connects":\([0-9]*\).*/\1/p')
note "connects $c1 -> $c2, in flight $inflight"
assert_eq "no /meta/connect while over max_in_flight" "$c1" "$c2"
[ "${inflight:-0}" -ge 50 ] && [ "${inflight:-0}" -le 70 ] && ok "in flight bounded by max_in_flight + one batch ($inflight)" ||
        not_ok "in flight bounded by max_in_flight + one batch" "$inflight"
log_has "the pause is logged" "msg=backpressure in_flight="
kafka_ctl "up all" && ok "brokers up" || not_ok "brokers up"
recovered_within 30 "after backpressure"
expect_delivery "backpressure"
log_has "the resume is logged" "action=resume_long_polling"
fault_finish
