#!/bin/sh
# Replica group, crash (HA.md §2.6, A3 A4 A6 A8): three replicas, three
# units, a steady stream. The owner of unit a is SIGKILLed at a quiet point
# (see ha.inc.sh); a survivor owns a again (30 s limit, generous: the
# session timeout is 6 s), the units the dead replica did not own keep
# their Salesforce clients (no new subscribe, same clientId), at most the
# dead client's one pending poll overlaps the new owner's, and kcat
# read_committed sees every event once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

ha_setup it-ha-kill "a b c"
ha_start 1; ha_start 2; ha_start 3
ha_wait_settled 90 "three replicas share the three units"
ha_stream_start 5 0.3
sleep 3
ha_quiet || not_ok "quiet point before the kill"
victim=$(ha_owner a)
[ -n "$victim" ] || { not_ok "unit a has one owner" "$(ha_map)"; finish; }
note "owners before the kill: $(ha_map); killing replica $victim"
# The units the victim does not own, and what Salesforce sees of them now.
others=$(ha_others "$victim" b c)
ha_remember $others
old_client=$(ha_client_of "$(ha_channel a)")
ha_reset_pollers
kill -KILL "$(ha_pid "$victim")"
wait_exit "$(ha_pid "$victim")" 10
ha_resume

if wait_for 30 ha_owner a; then
        ok "unit a owned by a survivor within 30 s (owners: $(ha_map))"
else
        not_ok "unit a owned by a survivor within 30 s" "owners: $(ha_map)"
fi
new=$(ha_owner a)
[ -n "$new" ] && {
        assert_file_contains "the new owner logged the assignment" "$T/r$new.log" "msg=unit_assigned unit=a "
        assert_file_contains "the new owner logged the start" "$T/r$new.log" "msg=unit_started unit=a takeover_ms="
}
sleep 3
ha_quiet || not_ok "quiet point after the failover"
ha_wait_settled 30 "every unit owned once after the failover"

for u in $others; do
        ha_kept "$u" "not on the dead replica"
        eval "[ -n \"\$client_$u\" ]" || not_ok "unit $u: sfsim lists its client (GET /admin/clients)"
done
new_client=$(ha_client_of "$(ha_channel a)")
[ -n "$new_client" ] && [ "$new_client" != "$old_client" ] &&
        ok "unit a: a new Salesforce client ($new_client)" ||
        not_ok "unit a: a new Salesforce client" "before [$old_client] after [$new_client]"
maxp=$(ha_stat_channel "$(ha_channel a)" max_concurrent_pollers)
ovl=$(ha_stat_channel "$(ha_channel a)" poll_overlap_ms)
note "unit a: max_concurrent_pollers=$maxp poll_overlap_ms=$ovl"
[ -n "$maxp" ] && [ "$maxp" -le 2 ] && ok "unit a: at most 2 pollers at once" ||
        not_ok "unit a: at most 2 pollers at once" "max_concurrent_pollers=[$maxp]"
# The dead client's poll ends when its connection closes, at the latest
# after sfsim's 2 s hold.
[ -n "$ovl" ] && [ "$ovl" -le 2500 ] && ok "unit a: overlap within the dead client's one poll" ||
        not_ok "unit a: overlap within the dead client's one poll" "poll_overlap_ms=[$ovl]"

ha_resume
sleep 2
ha_stream_stop
ha_expect_delivery "kill at a quiet point"
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
