#!/bin/sh
# Replica group, zombie (HA.md §2.6, A6): two replicas, one unit. The owner
# is frozen (SIGSTOP) at a quiet point for twice the session timeout; the
# other replica takes the unit over and delivers what is published
# meanwhile. On SIGCONT the zombie notices its pause (msg=pause_detected,
# before librdkafka reports the lost session), sends not one more /meta/connect on its old client,
# produces nothing, and rejoins as a standby; every event once.
#
# The zombie's /meta/connect requests are counted twice: by sfsim (the
# client's connects in /admin/clients) and by the zombie's own debug log
# (msg=bayeux_send channel=/meta/connect).
. "$SFB_ROOT/tests/integration/ha.inc.sh"

ha_setup it-ha-zombie default
ha_start 1 "$HA_CONFIG" --log-level debug
wait_for 60 ha_settled || { not_ok "replica 1 owns the unit" "$(ha_map)"; finish; }
ha_start 2 "$HA_CONFIG" --log-level debug
sleep 5
ha_wait_settled 60 "one owner, one standby"
zombie=$(ha_owner default)
[ -n "$zombie" ] || { not_ok "the unit has one owner"; finish; }
other=$((3 - zombie))
ch=$(ha_channel default)
ha_stream_start 5 0.3
sleep 3
ha_quiet || not_ok "quiet point before SIGSTOP"
zclient=$(sed -n 's/.*msg=handshake client_id=\([^ ]*\).*/\1/p' "$T/r$zombie.log" | tail -n 1)
events0=$(ha_metric "$zombie" "sfbridge_events_total{channel=\"$ch\",topic=\"$(ha_topic default)\"}")
note "zombie: replica $zombie, client $zclient, events_total $events0"
ha_reset_pollers
kill -STOP "$(ha_pid "$zombie")"
t_stop=$(date +%s)
ha_resume
if wait_for 30 ha_owner default; then
        ok "the other replica owns the unit while the owner is frozen"
else
        not_ok "the other replica owns the unit while the owner is frozen" "$(ha_map)"
fi
assert_eq "the new owner is the other replica" "$other" "$(ha_owner default)"
# Twice the session timeout (6 s) frozen in all.
while [ $(( $(date +%s) - t_stop )) -lt 12 ]; do sleep 0.5; done
ha_quiet || not_ok "quiet point before SIGCONT"
conn0=$(ha_clients | awk -v id="$zclient" '$1 == id { print $5 }')
lines0=$(wc -l <"$T/r$zombie.log")
kill -CONT "$(ha_pid "$zombie")"
ha_resume
if wait_for 10 sh -c "tail -n +$((lines0 + 1)) '$T/r$zombie.log' | grep -q 'msg=pause_detected'"; then
        ok "the zombie noticed its pause (pause_detected)"
else
        not_ok "the zombie noticed its pause (pause_detected)" "$(tail -n 10 "$T/r$zombie.log")"
fi
sleep 5
tail -n +$((lines0 + 1)) "$T/r$zombie.log" >"$T/after.log"
# The connects it sent after SIGCONT on its old client: those logged before
# any new handshake (as a standby it should make none at all).
nconn=$(awk '/msg=handshake client_id=/ { exit } /msg=bayeux_send channel=\/meta\/connect/ { n++ } END { print n + 0 }' "$T/after.log")
assert_eq "zombie: 0 /meta/connect after SIGCONT (its log)" 0 "$nconn"
conn1=$(ha_clients | awk -v id="$zclient" '$1 == id { print $5 }')
if [ -n "$zclient" ] && [ -n "$conn0" ]; then
        assert_eq "zombie: 0 /meta/connect from its clientId after SIGCONT (sfsim)" "$conn0" "$conn1"
else
        not_ok "sfsim lists the zombie's client (GET /admin/clients)" "client [$zclient] connects [$conn0]"
fi
assert_eq "zombie: sfbridge_events_total unchanged" "$events0" \
        "$(ha_metric "$zombie" "sfbridge_events_total{channel=\"$ch\",topic=\"$(ha_topic default)\"}")"
assert_eq "zombie owns nothing" 0 "$(ha_metric "$zombie" sfbridge_units_owned)"
maxp=$(ha_stat_channel "$ch" max_concurrent_pollers)
ovl=$(ha_stat_channel "$ch" poll_overlap_ms)
note "max_concurrent_pollers=$maxp poll_overlap_ms=$ovl"
[ -n "$ovl" ] && [ "$ovl" -le 2500 ] && ok "overlap within the frozen client's one poll" ||
        not_ok "overlap within the frozen client's one poll" "poll_overlap_ms=[$ovl]"
ha_wait_settled 60 "the zombie rejoined as a standby, the unit owned once"
assert_eq "still owned by the other replica" "$other" "$(ha_owner default)"
ha_stream_stop
ha_expect_delivery "zombie"
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
