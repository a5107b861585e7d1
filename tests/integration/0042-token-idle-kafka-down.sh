#!/bin/sh
# Salesforce ends a session left unused (sfsim --token-idle-timeout-ms).
# During a Kafka outage the bridge stops long-polling, so its access token
# idles out; when Kafka is back the next /meta/connect gets
# 401::Authentication invalid, and the bridge logs in again, handshakes,
# resubscribes from its last commit, and every event lands once.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

fault_setup it-auth-idle exactly_once --token-idle-timeout-ms 2000
stream_start 20 10 0.2
sleep 1
kafka_ctl "down all" && ok "brokers down" || not_ok "brokers down"
# Longer than the idle timeout, counted from the last long-poll.
sleep 5
kafka_ctl "up all" && ok "brokers up" || not_ok "brokers up"
if wait_for 20 grep -q 'msg=token-idle' "$T/sfsim.err"; then
        ok "sfsim refused the idle token"
else
        not_ok "sfsim refused the idle token" "the outage did not outlast --token-idle-timeout-ms"
fi
stream_wait
recovered_within 20 "after the idle token"
expect_delivery "token idle during a Kafka outage"
check_recoveries_logged "the refusal is classified as an auth failure" auth_invalid any
logins=$(grep -c ' msg=login flow=password ' "$T/bridge.log")
if [ "$logins" -ge 2 ]; then ok "logged in again ($logins logins)"; else not_ok "logged in again" "$logins login(s)"; fi
fault_finish
