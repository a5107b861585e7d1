#!/bin/sh
# sfsim's subscribe-denied fault on one channel (a change event channel:
# 403::User not allowed to subscribe CDC without View All Data permissions)
# after a forced re-handshake: only that route is quarantined, the other
# keeps flowing, readiness names it; once the permission is back the route
# resumes from its committed replay ID and every event lands once.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

ACC=/data/AccountChangeEvent
OK=/event/Ok__e
route_up_is() {
        [ "$(metric "sfbridge_route_up{channel=\"$1\"}")" = "$2" ]
}
not_ready() {
        ! ready
}

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }
write_config "$T/d.yaml" it-deny <<YAML
  - channel: $ACC
    topic: it.acc
    start: all
  - channel: $OK
    topic: it.ok
    start: all
YAML
publish "$ACC" 3 >"$T/acc.ids"
publish "$OK" 3 >"$T/ok.ids"
start_bridge "$T/d.yaml"
wait_for 30 ready || { not_ok "bridge ready"; finish; }
wait_for 20 kcat_has it.acc 3 && wait_for 20 kcat_has it.ok 3 || not_ok "the backlog landed"

sfsim_admin POST "/admin/fault?kind=subscribe-denied&channel=$ACC" >/dev/null
sfsim_admin POST "/admin/fault?kind=forget-clients" >/dev/null
if wait_for 20 route_up_is "$ACC" 0; then ok "the denied route is quarantined"; else not_ok "the denied route is quarantined"; fi
assert_file_contains "one error with Salesforce's reason" "$T/bridge.log" \
        "action=quarantine channel=$ACC err=\"403::User not allowed to subscribe CDC without View All Data permissions\""
assert_eq "the other route stays up" 1 "$(metric "sfbridge_route_up{channel=\"$OK\"}")"
if wait_for 5 not_ready; then ok "not ready while a route is quarantined"; else not_ok "not ready while a route is quarantined"; fi
publish "$ACC" 4 >>"$T/acc.ids"
publish "$OK" 5 >>"$T/ok.ids"
if wait_for 20 kcat_has it.ok 8; then ok "the other route keeps flowing"; else not_ok "the other route keeps flowing"; fi
assert_eq "the denied route holds its events" 3 "$(kcat_count it.acc)"

sfsim_admin POST "/admin/fault?kind=clear" >/dev/null
if wait_for 30 route_up_is "$ACC" 1; then ok "the route resumes once allowed"; else not_ok "the route resumes once allowed"; fi
wait_for 20 kcat_has it.acc 7 || not_ok "its held events landed"
wait_for 10 ready || not_ok "ready again"
assert_eq "denied route: every event, once" "$(sort -n "$T/acc.ids" | tr '\n' ' ')" "$(keys_of it.acc | tr '\n' ' ')"
assert_eq "other route: every event, once" "$(sort -n "$T/ok.ids" | tr '\n' ' ')" "$(keys_of it.ok | tr '\n' ' ')"
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
