#!/bin/sh
# Per-route isolation: mid-run (after a forced re-handshake) Salesforce
# refuses one channel's subscribe with 403::Restricted channel. That route is
# quarantined (one error, counted, sfbridge_route_up 0, /readyz 503 naming
# it) and retried alone; the other two keep flowing with no new handshake
# and lose nothing. Once the permission is back the route resumes by itself
# from its committed replay ID and every event published meanwhile lands,
# once. With on_route_error: fail the same refusal exits 3 naming the channel.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
# A short long-poll: the retry goes out between long-polls.
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }

write_config "$T/q.yaml" it-quar <<'YAML'
  - channel: /topic/QA
    topic: it.qa
    start: all
  - channel: /topic/QB
    topic: it.qb
    start: all
  - channel: /event/QC__e
    topic: it.qc
    start: all
YAML

# probe PATH: print "STATUS BODY" of one GET on the metrics listener.
probe() {
        curl -s --max-time 5 -o "$T/probe.body" -w '%{http_code}' \
                "http://127.0.0.1:$METRICS_PORT$1" >"$T/probe.code" 2>/dev/null
        printf '%s %s\n' "$(cat "$T/probe.code")" "$(tr -d '\n' <"$T/probe.body")"
}

route_up_is() {
        [ "$(metric "sfbridge_route_up{channel=\"$1\"}")" = "$2" ]
}

# same_keys NAME TOPIC IDS_FILE: TOPIC holds exactly the IDs, each once.
same_keys() {
        assert_eq "$1" "$(sort -n "$3" | tr '\n' ' ')" "$(keys_of "$2" | tr '\n' ' ')"
}

publish /topic/QA 5 >"$T/qa.ids"
publish /topic/QB 5 >"$T/qb.ids"
publish /event/QC__e 5 >"$T/qc.ids"

start_bridge "$T/q.yaml"
wait_for 60 ready || { not_ok "bridge ready"; finish; }
wait_for 30 kcat_has it.qa 5 && wait_for 30 kcat_has it.qb 5 && wait_for 30 kcat_has it.qc 5 ||
        not_ok "the backlog of the three routes landed"
if route_up_is /topic/QB 1; then ok "route_up is 1 while subscribed"; else not_ok "route_up is 1 while subscribed"; fi

# The permission to /topic/QB is removed, then the server forgets the client:
# the re-handshake's subscribe of /topic/QB is refused, the others succeed.
sfsim_admin POST "/admin/fault?kind=restricted-channel&channel=/topic/QB" >/dev/null
sfsim_admin POST "/admin/fault?kind=forget-clients" >/dev/null
wait_for 30 grep -q 'action=quarantine channel=/topic/QB' "$T/bridge.log" ||
        not_ok "the route was quarantined"
h1=$(metric sfbridge_handshakes_total)
assert_eq "one handshake for the forgotten client" 2 "$h1"
assert_file_contains "one error names the channel and Salesforce's reason" "$T/bridge.log" \
        'level=error msg=recovery cause=no_access action=quarantine channel=/topic/QB err="403::Restricted channel"'
assert_eq "counted" 1 "$(metric 'sfbridge_recoveries_total{cause="no_access",action="quarantine"}')"
assert_eq "route_up of the quarantined route" 0 "$(metric 'sfbridge_route_up{channel="/topic/QB"}')"
assert_eq "route_up of the others" "1 1" \
        "$(metric 'sfbridge_route_up{channel="/topic/QA"}') $(metric 'sfbridge_route_up{channel="/event/QC__e"}')"
r=$(probe /readyz)
case "$r" in
"503 "*"/topic/QB"*"403::Restricted channel"*) ok "/readyz is 503 naming the route ($r)" ;;
*) not_ok "/readyz is 503 naming the route" "got [$r]" ;;
esac

# Events published while quarantined: the others deliver them, QB holds them.
publish /topic/QA 7 >>"$T/qa.ids"
publish /topic/QB 6 >>"$T/qb.ids"
publish /event/QC__e 8 >>"$T/qc.ids"
wait_for 30 kcat_has it.qa 12 || not_ok "the first route keeps flowing"
wait_for 30 kcat_has it.qc 13 || not_ok "the third route keeps flowing"
# At least one retry, alone, still refused: no new session for it.
wait_for 30 grep -q 'msg=route_retry channel=/topic/QB cause=no_access' "$T/bridge.log" ||
        not_ok "the route was retried while refused"
assert_eq "no re-handshake while quarantined" "$h1" "$(metric sfbridge_handshakes_total)"
assert_eq "the quarantined route holds its events" 5 "$(kcat_count it.qb)"
assert_eq "still not ready" 503 "$(probe /readyz | cut -d' ' -f1)"

# The permission is back: the route resumes by itself.
sfsim_admin POST "/admin/fault?kind=clear" >/dev/null
if wait_for 60 route_up_is /topic/QB 1; then ok "route_up back to 1"; else not_ok "route_up back to 1"; fi
assert_file_contains "its return is logged" "$T/bridge.log" "msg=route_up channel=/topic/QB"
if wait_for 10 ready; then ok "/readyz 200 again"; else not_ok "/readyz 200 again" "$(probe /readyz)"; fi
wait_for 30 kcat_has it.qb 11 || not_ok "the quarantined route's events landed"
publish /topic/QB 2 >>"$T/qb.ids"
wait_for 30 kcat_has it.qb 13 || not_ok "live events of the resumed route"
same_keys "first route: every event, once" it.qa "$T/qa.ids"
same_keys "quarantined route: every event, once, none lost" it.qb "$T/qb.ids"
same_keys "third route: every event, once" it.qc "$T/qc.ids"
assert_eq "no re-handshake for the whole quarantine" "$h1" "$(metric sfbridge_handshakes_total)"
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"

# on_route_error: fail
TOP_EXTRA="on_route_error: fail" write_config "$T/f.yaml" it-quar-fail <<'YAML'
  - channel: /topic/QA
    topic: it.fa
  - channel: /topic/QB
    topic: it.fb
YAML
: >"$T/bridge.log"
start_bridge "$T/f.yaml"
wait_for 60 ready || { not_ok "fail-policy bridge ready"; finish; }
sfsim_admin POST "/admin/fault?kind=restricted-channel&channel=/topic/QB" >/dev/null
sfsim_admin POST "/admin/fault?kind=forget-clients" >/dev/null
wait_exit "$BRIDGE_PID" 30
assert_eq "on_route_error fail: exit 3" 3 "$?"
assert_file_contains "the error names the channel and the reason" "$T/bridge.log" \
        "Salesforce refused the subscribe of route /topic/QB: 403::Restricted channel (no_access) and on_route_error is fail"
sfsim_admin POST "/admin/fault?kind=clear" >/dev/null
assert_file_not_contains "no secret in the log" "$T/bridge.log" "$SF_PASSWORD"
finish
