#!/bin/sh
# Replica group, planned move (HA.md §2.6, A3 A4 A5): three replicas, three
# units, a steady stream. The owner of unit a gets SIGTERM mid-stream: it
# drains (commits its open batch), sends /meta/disconnect, leaves the group
# and exits 0; a survivor takes a over. Never two clients long-polling a's
# channel at once (max_concurrent_pollers 1, 0 ms overlap), the units the
# stopping replica did not own keep their clients, every event once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

ha_setup it-ha-term "a b c"
ha_start 1; ha_start 2; ha_start 3
ha_wait_settled 90 "three replicas share the three units"
ha_stream_start 5 0.3
sleep 3
victim=$(ha_owner a)
[ -n "$victim" ] || { not_ok "unit a has one owner" "$(ha_map)"; finish; }
others=$(ha_others "$victim" b c)
ha_remember $others
old_client=$(ha_client_of "$(ha_channel a)")
disc0=$(sfsim_admin GET /admin/stats | sed -n 's/.*"disconnects":\([0-9]*\).*/\1/p')
note "owners: $(ha_map); SIGTERM to replica $victim (client $old_client)"
ha_reset_pollers
t0=$(date +%s)
ha_stop "$victim" TERM 20
assert_eq "SIGTERM: the owner exits 0" 0 "$?"
note "stopped in $(( $(date +%s) - t0 )) s"
assert_file_contains "it drained unit a" "$T/r$victim.log" "msg=unit_revoked unit=a lost=0"
disc1=$(sfsim_admin GET /admin/stats | sed -n 's/.*"disconnects":\([0-9]*\).*/\1/p')
[ "${disc1:-0}" -gt "${disc0:-0}" ] && ok "sfsim saw /meta/disconnect" ||
        not_ok "sfsim saw /meta/disconnect" "disconnects $disc0 -> $disc1"
if [ -n "$old_client" ]; then
        d=$(ha_clients | awk -v id="${old_client% }" '$1 == id { print $4 }')
        assert_eq "the old client is disconnected" true "$d"
else
        not_ok "sfsim lists unit a's client (GET /admin/clients)"
fi

if wait_for 30 ha_owner a; then
        ok "unit a owned by a survivor within 30 s (owners: $(ha_map))"
else
        not_ok "unit a owned by a survivor within 30 s" "owners: $(ha_map)"
fi
sleep 3
ha_wait_settled 30 "every unit owned once after the handoff"
maxp=$(ha_stat_channel "$(ha_channel a)" max_concurrent_pollers)
ovl=$(ha_stat_channel "$(ha_channel a)" poll_overlap_ms)
assert_eq "unit a: one poller at a time (max_concurrent_pollers)" 1 "$maxp"
assert_eq "unit a: 0 ms of two pollers" 0 "$ovl"
for u in $others; do
        ha_kept "$u" "not on the stopped replica"
done

ha_stream_stop
ha_expect_delivery "SIGTERM handoff"
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
