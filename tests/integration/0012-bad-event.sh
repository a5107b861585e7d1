#!/bin/sh
# An event the bridge cannot place in the stream (its replayId is not an
# integer) is never skipped: its route stops just before it, says so once
# (cause=bad_event action=route_stopped) and counts it, and is quarantined
# (route_up 0, /readyz 503 naming it) and retried alone with a growing
# backoff, meeting the event again each time; its committed replay ID stays
# on the last good event; every other route keeps flowing.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
# Long-polls of 2 s: the quarantine works between long-polls.
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }

write_config "$T/bad.yaml" it-bad-event <<'YAML'
  - channel: /topic/Shaky
    topic: it.shaky
    start: all
  - channel: /event/Steady__e
    topic: it.steady
    start: all
YAML

publish /topic/Shaky 3 >"$T/good.ids"
publish /topic/Shaky 1 "" bad_replay_id=1 >"$T/bad.ids"
publish /topic/Shaky 2 >"$T/after.ids"
publish /event/Steady__e 4 >/dev/null
assert_eq "sfsim took the unreadable event" 1 "$(wc -l <"$T/bad.ids" | tr -d ' ')"

start_bridge "$T/bad.yaml"
wait_for 60 kcat_has it.steady 4 || not_ok "the other route delivered its backlog"
wait_for 30 kcat_has it.shaky 3 || not_ok "the route delivered the events before the bad one"
wait_for 30 grep -q 'cause=bad_event' "$T/bridge.log"
sleep 2
assert_eq "the route holds everything from the bad event on" 3 "$(kcat_count it.shaky)"
assert_eq "keys are the events before it" "$(sort -n "$T/good.ids" | tr '\n' ' ')" \
        "$(keys_of it.shaky | tr '\n' ' ')"
assert_file_contains "one error names the route, the event and the reason" "$T/bridge.log" \
        "level=error msg=recovery cause=bad_event action=route_stopped channel=/topic/Shaky replay_id=unreadable"
assert_file_contains "the reason quotes what Salesforce sent" "$T/bridge.log" '"unreadable-'
assert_eq "said once" 1 "$(grep -c 'cause=bad_event' "$T/bridge.log")"
assert_eq "counted" 1 "$(metric 'sfbridge_recoveries_total{cause="bad_event",action="route_stopped"}')"
assert_eq "the stopped route is down" 0 "$(metric 'sfbridge_route_up{channel="/topic/Shaky"}')"
assert_eq "the other route is up" 1 "$(metric 'sfbridge_route_up{channel="/event/Steady__e"}')"
readyz=$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/readyz")
assert_contains "/readyz names the stopped route" "$readyz" "route quarantined: /topic/Shaky"
# The quarantine's retry subscribes the route again from its committed ID
# and meets the same event: held again, not said again, and the next retry
# waits longer (5 s doubling, jitter within the upper half).
wait_for 30 grep -q 'msg=route_held channel=/topic/Shaky replay_id=unreadable' "$T/bridge.log" ||
        not_ok "the retry met the event again"
delays=$(sed -n 's/.*msg=route_quarantined channel=\/topic\/Shaky retry_in_ms=\([0-9]*\).*/\1/p' "$T/bridge.log" | head -n 2 | tr '\n' ' ')
set -- $delays
if [ "$#" -eq 2 ] && [ "$1" -le 5000 ] && [ "$2" -ge 5000 ]; then
        ok "the retry backs off further while the event still cannot go ($delays ms)"
else
        not_ok "the retry backs off further while the event still cannot go" "delays: [$delays]"
fi
assert_eq "still said once" 1 "$(grep -c 'cause=bad_event' "$T/bridge.log")"

# The other route is not held: live events still flow.
publish /event/Steady__e 2 >/dev/null
if wait_for 30 kcat_has it.steady 6; then ok "the other route keeps flowing"; else not_ok "the other route keeps flowing"; fi
assert_eq "the stopped route still holds" 3 "$(kcat_count it.shaky)"

stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
"$SFB_BUILD/sfbridge" replay list -c "$T/bad.yaml" >"$T/list.out" 2>"$T/list.err"
last_good=$(sed -n 3p "$T/good.ids")
grep -q "^/topic/Shaky  *$last_good " "$T/list.out" &&
        ok "committed replay ID stays on the last good event" ||
        not_ok "committed replay ID stays on the last good event" "$(cat "$T/list.out")"
finish
