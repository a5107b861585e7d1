#!/bin/sh
# Replica group, steady state (HA.md §2.6, A7): two replicas of one name and
# one unit. Exactly one owns it; the other is a standby that never logs in
# nor handshakes (sfsim issues one token and sees one handshake in all), is
# ready with the body "standby", and every one of 500 events lands once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

ha_setup it-ha-standby default
ha_start 1
wait_for 60 ha_settled || { not_ok "first replica owns the unit" "$(ha_map)"; finish; }
ok "first replica owns the unit"
sim_count() {
        sfsim_admin GET /admin/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
tokens0=$(sim_count tokens_issued)
hs0=$(sim_count handshakes)
ha_start 2
wait_for 60 sh -c "grep -q 'msg=group_joined' '$T/r2.log'" ||
        not_ok "second replica joined the group" "$(tail -n 5 "$T/r2.log")"
# Let a rebalance that would (wrongly) move the unit happen before judging.
sleep 8
ha_wait_settled 60 "one owner, the other a standby"
assert_eq "the first replica still owns it (sticky)" "1" "$(ha_owner default)"
assert_eq "owner: sfbridge_units_owned 1" 1 "$(ha_metric 1 sfbridge_units_owned)"
assert_eq "standby: sfbridge_units_owned 0" 0 "$(ha_metric 2 sfbridge_units_owned)"
assert_eq "standby: sfbridge_unit_owned{unit=default} 0" 0 "$(ha_metric 2 'sfbridge_unit_owned{unit="default"}')"
rz=$(ha_readyz 2)
assert_eq "standby: /readyz 200" 200 "${rz%% *}"
assert_contains "standby: /readyz says standby" "$rz" "standby"
assert_file_contains "standby logged joining the group" "$T/r2.log" "msg=group_joined"
assert_file_contains "owner logged the assignment" "$T/r1.log" "msg=unit_assigned unit=default partition=0"
assert_file_contains "owner logged the start" "$T/r1.log" "msg=unit_started unit=default"

publish "$(ha_channel default)" 500 100 >"$T/pub.default.ids"
ha_expect_delivery "500 events through the owner" 60

tokens=$(sim_count tokens_issued)
hs=$(sim_count handshakes)
assert_eq "the standby's start asked for no token" "$tokens0" "$tokens"
assert_eq "the standby's start made no handshake" "$hs0" "$hs"
assert_eq "one login in all (the standby never logs in)" 1 "$tokens"
assert_eq "one handshake in all (the standby never handshakes)" 1 "$hs"
assert_file_not_contains "standby: no login" "$T/r2.log" "msg=login "
assert_file_not_contains "standby: no handshake" "$T/r2.log" "handshake client_id="
assert_eq "standby produced nothing" "" "$(ha_metric 2 'sfbridge_events_total{channel="/event/HaDefault__e",topic="it.ha.default"}' | grep -v '^0$')"
assert_eq "sfsim: one live client" 1 "$(ha_clients | awk '$7 == "live"' | wc -l | tr -d ' ')"

ha_stop 2
assert_eq "standby: SIGTERM exits 0" 0 "$?"
ha_stop 1
assert_eq "owner: SIGTERM exits 0" 0 "$?"
assert_file_contains "owner drained its unit" "$T/r1.log" "msg=unit_revoked unit=default lost=0"
finish
