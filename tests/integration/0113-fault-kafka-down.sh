#!/bin/sh
# Every Kafka broker down for 15 s mid-stream: the bridge stops
# long-polling, keeps the open batch, retries, and when Kafka is back
# carries on (re-handshaking if Salesforce forgot it meanwhile).
# Meanwhile readiness tells the truth: /readyz is 503 naming Kafka,
# sfbridge_ready is 0 and the route's sfbridge_last_commit_age_seconds
# grows; once a commit succeeds /readyz is 200 again.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

AGE="sfbridge_last_commit_age_seconds{channel=\"$FAULT_CHANNEL\"}"

# readyz_kafka: /readyz answers 503 with a Kafka reason (saved in $T/readyz.txt).
readyz_kafka() {
        _k_code=$(curl -s --max-time 5 -o "$T/readyz.txt" -w '%{http_code}' \
                "http://127.0.0.1:$METRICS_PORT/readyz")
        [ "$_k_code" = 503 ] && grep -q '^not ready: kafka: .* failing since [0-9]* s' "$T/readyz.txt"
}

fault_setup it-f-kafka "${DELIVERY:-exactly_once}"
age0=$(metric "$AGE")
if [ -n "$age0" ]; then ok "commit age is exported for the route ($age0 s)"; else not_ok "commit age is exported for the route"; fi
stream_start 50 10 0.2
sleep 2
kafka_ctl "down all" && ok "brokers down" || not_ok "brokers down"
down_at=$(date +%s)
if wait_for 12 readyz_kafka; then
        ok "Kafka down: /readyz is 503 after $(( $(date +%s) - down_at )) s: $(cat "$T/readyz.txt")"
else
        not_ok "Kafka down: /readyz is 503 with a kafka reason" "got [$(cat "$T/readyz.txt" 2>/dev/null)]"
fi
assert_eq "Kafka down: sfbridge_ready is 0 (follows /readyz)" 0 "$(metric sfbridge_ready)"
age1=$(metric "$AGE")
sleep 2
age2=$(metric "$AGE")
if awk -v a="${age1:-x}" -v b="${age2:-x}" 'BEGIN { exit !(a + 0 >= 1 && b + 0 >= a + 1.5) }'; then
        ok "Kafka down: last_commit_age_seconds grows ($age1 -> $age2 s)"
else
        not_ok "Kafka down: last_commit_age_seconds grows" "$age1 -> $age2"
fi
left=$(( 15 - ($(date +%s) - down_at) ))
[ "$left" -gt 0 ] && sleep "$left"
kafka_ctl "up all" && ok "brokers up" || not_ok "brokers up"
up_at=$(date +%s)
if wait_for 30 ready; then
        ok "Kafka back: /readyz is 200 again after $(( $(date +%s) - up_at )) s"
else
        not_ok "Kafka back: /readyz is 200 again" "got [$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/readyz")]"
fi
assert_eq "Kafka back: sfbridge_ready is 1" 1 "$(metric sfbridge_ready)"
stream_wait
recovered_within 30 "after Kafka came back"
expect_delivery "Kafka down 15 s"
log_has "Kafka outage logged" "kafka_unavailable"
age3=$(metric "$AGE")
if awk -v a="${age3:-x}" 'BEGIN { exit !(a != "x" && a + 0 < 5) }'; then
        ok "Kafka back: last_commit_age_seconds is fresh again ($age3 s)"
else
        not_ok "Kafka back: last_commit_age_seconds is fresh again" "$age3"
fi
fault_finish
