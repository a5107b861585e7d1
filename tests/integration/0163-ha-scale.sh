#!/bin/sh
# Replica group, scale-out (HA.md §2.6, A5 A8): one replica owns four units
# under a steady stream; two more start. The units spread (each replica
# owns at least one), each moved unit is handed over without two clients
# long-polling its channel at once, the units that stay keep their clients
# (no new subscribe, same clientId), every event once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

UNITS="a b c d"
ha_setup it-ha-scale "$UNITS"
ha_start 1
ha_wait_settled 60 "one replica owns the four units"
ha_stream_start 4 0.3
sleep 2
ha_remember $UNITS
ha_reset_pollers
ha_start 2; ha_start 3
spread() {
        ha_settled || return 1
        for r in 1 2 3; do
                n=$(ha_metric "$r" sfbridge_units_owned)
                [ "${n:-0}" -ge 1 ] || return 1
        done
}
if wait_for 120 spread; then
        ok "the units spread over the three replicas (owners: $(ha_map))"
else
        not_ok "the units spread over the three replicas" "owners: $(ha_map)"
fi
sleep 3
ha_quiet || not_ok "quiet point after the spread"
moved=0
for u in $UNITS; do
        o=$(ha_owner "$u")
        ch=$(ha_channel "$u")
        if [ "$o" = 1 ]; then
                ha_kept "$u" "stayed on replica 1" "stayed on replica 1"
        else
                moved=$((moved + 1))
                assert_file_contains "unit $u moved: replica 1 drained it" "$T/r1.log" "msg=unit_revoked unit=$u lost=0"
                assert_eq "unit $u moved: one poller at a time" 1 "$(ha_stat_channel "$ch" max_concurrent_pollers)"
                assert_eq "unit $u moved: 0 ms of two pollers" 0 "$(ha_stat_channel "$ch" poll_overlap_ms)"
        fi
done
[ "$moved" -ge 2 ] && ok "at least two units moved ($moved)" || not_ok "at least two units moved" "$moved"
ha_resume
sleep 2
ha_stream_stop
ha_expect_delivery "scale-out"
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
