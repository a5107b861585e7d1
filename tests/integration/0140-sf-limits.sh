#!/bin/sh
# salesforce.limits_poll_s: the bridge's gauges sfbridge_sf_limit_max and
# _remaining match sfsim's REST limits resource after deliveries; a warning
# when an allocation falls below 20 % and an error below 5 %, each once per
# crossing however many polls follow; events Salesforce sends again at or
# before the committed replay ID counted in sfbridge_redelivered_events_total.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
. "$SFB_ROOT/tests/integration/limits.inc.sh"

CH=/event/Lim__e
TP=it.limits
P=DailyDeliveredPlatformEvents
delivered() {
        [ "$(kcat_count "$TP")" -ge "$1" ]
}
redelivered_is() {
        [ "$(metric "sfbridge_redelivered_events_total{channel=\"$CH\"}")" = "$1" ]
}
remaining_is() {
        limit_gauges_match "$P" && [ "$(metric "sfbridge_sf_limit_remaining{name=\"$P\"}")" = "$1" ]
}

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 --daily-delivery-limit 200 || { not_ok start_sfsim; finish; }
SF_EXTRA="  limits_poll_s: 1" write_config "$T/limits.yaml" it-limits <<YAML
  - channel: $CH
    topic: $TP
    start: all
YAML
start_bridge "$T/limits.yaml"
wait_for 30 ready || { not_ok "bridge ready"; finish; }

publish "$CH" 10 >/dev/null
wait_for 20 delivered 10 || not_ok "10 events delivered"
if wait_for 10 limit_gauges_match "$P"; then ok "gauges match sfsim's limits after 10 deliveries"; else
        not_ok "gauges match sfsim's limits" "bridge $(metric "sfbridge_sf_limit_remaining{name=\"$P\"}"), sfsim $(sf_limit "$P" Remaining)"; fi
assert_eq "max read from Salesforce" 200 "$(metric "sfbridge_sf_limit_max{name=\"$P\"}")"
assert_eq "concurrent clients read" 1000 "$(metric 'sfbridge_sf_limit_max{name="DurableStreamingApiConcurrentClients"}')"
assert_eq "nothing redelivered yet" "" "$(metric "sfbridge_redelivered_events_total{channel=\"$CH\"}")"

# Salesforce sends the 10 committed events again: counted, and they count
# against the allocation too.
sleep 1
sfsim_admin POST "/admin/fault?kind=redeliver&count=1" >/dev/null
if wait_for 15 redelivered_is 10; then
        ok "10 re-deliveries counted"
else
        not_ok "10 re-deliveries counted" "$(metric "sfbridge_redelivered_events_total{channel=\"$CH\"}")"
fi
if wait_for 10 remaining_is 180; then ok "re-deliveries spend the allocation: 180 of 200 left"; else
        not_ok "re-deliveries spend the allocation" "sfsim $(sf_limit "$P" Remaining)"; fi

# Below 20 %: one warning, however many polls.
publish "$CH" 150 >/dev/null
if wait_for 20 remaining_is 30; then ok "gauges at 30 remaining"; else not_ok "gauges at 30 remaining"; fi
sleep 2.5
assert_eq "one warning below 20 %" 1 "$(grep -c "level=warn msg=sf_limit_low name=$P max=200 remaining=30 below_percent=20" "$T/bridge.log")"
assert_eq "no error yet" 0 "$(grep -c "level=error msg=sf_limit_low" "$T/bridge.log")"

# Below 5 %: one error.
publish "$CH" 25 >/dev/null
if wait_for 20 remaining_is 5; then ok "gauges at 5 remaining"; else not_ok "gauges at 5 remaining"; fi
sleep 2.5
assert_eq "one error below 5 %" 1 "$(grep -c "level=error msg=sf_limit_low name=$P max=200 remaining=5 below_percent=5" "$T/bridge.log")"

stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
assert_file_not_contains "no secret in the log" "$T/bridge.log" "$SF_PASSWORD"
assert_file_not_contains "no token in the log" "$T/bridge.log" "Bearer"
finish
