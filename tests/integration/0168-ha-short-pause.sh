#!/bin/sh
# Replica group, a pause shorter than the session timeout but longer than
# the pause detector's threshold (session - heartbeat: 5 s of 6): the
# replica gives its unit up on waking (msg=pause_detected) although the
# group may still list the partition as its own. One session timeout later
# the partition is still its own with nothing on it, so it rejoins the
# group (msg=group_rejoin), gets the unit back and runs it again: no stall,
# every event once. (Should the session have expired meanwhile, the group
# gives the unit back the usual way; both end the same.)
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 --topic sfbridge.it-ha-pause.units:1 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }
ch=/event/HaPause__e
tp=it.ha.pause
TOP_EXTRA="coordination: {}" write_config "$T/b.yaml" it-ha-pause <<YAML
  - channel: $ch
    topic: $tp
    start: all
YAML
publish "$ch" 20 >"$T/ids"
start_bridge "$T/b.yaml"
wait_for 30 kcat_has "$tp" 20 || not_ok "20 delivered before the pause"
kill -STOP "$BRIDGE_PID"
sleep 5.6
kill -CONT "$BRIDGE_PID"
if wait_for 10 grep -q "msg=pause_detected" "$T/bridge.log"; then
        ok "the pause was noticed"
else
        not_ok "the pause was noticed" "$(tail -n 10 "$T/bridge.log")"
fi
publish "$ch" 20 >>"$T/ids"
if wait_for 40 sh -c "[ \$(grep -c 'msg=unit_started unit=default' '$T/bridge.log') -ge 2 ]"; then
        ok "the unit runs again after the pause"
else
        not_ok "the unit runs again after the pause" "$(grep -E 'unit_|group_' "$T/bridge.log" | tail -n 10)"
fi
wait_for 30 kcat_has "$tp" 40 || not_ok "40 delivered"
sleep 1
assert_eq "every event: 40 records" 40 "$(keys_of "$tp" | wc -l | tr -d ' ')"
assert_eq "0 duplicated" 0 "$(keys_of "$tp" | count_dups)"
assert_eq "the published replay IDs, each once" "$(sort -n "$T/ids" | tr '\n' ' ')" \
        "$(keys_of "$tp" | tr '\n' ' ')"
stop_bridge TERM
assert_eq "SIGTERM: exit 0" 0 "$BRIDGE_RC"
finish
