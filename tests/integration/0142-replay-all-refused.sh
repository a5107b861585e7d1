#!/bin/sh
# on_invalid_replay: all while the org's daily allocation is nearly spent
# (below 5 % remaining, as salesforce.limits_poll_s last read it): replaying
# everything retained would spend the rest, so the bridge logs an error,
# resubscribes with -1 instead, and records and counts the gap as any other.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

A=/event/RA__e
B=/event/RB__e
# events TOPIC: the records of TOPIC that are events (no sf.gap header).
events() {
        kcat_read "$1" 1000000 | cut -f4 | grep -vc 'sf.gap='
}
events_has() {
        [ "$(events "$1")" -ge "$2" ]
}

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 --daily-delivery-limit 100 || { not_ok start_sfsim; finish; }
SFB_STALL_S=15 SF_EXTRA="  limits_poll_s: 1" TOP_EXTRA="on_invalid_replay: all" \
        write_config "$T/refuse.yaml" it-refuse <<YAML
  - channel: $A
    topic: it.ra
    start: all
  - channel: $B
    topic: it.rb
    start: all
YAML
start_bridge "$T/refuse.yaml"
wait_for 30 ready || { not_ok "bridge ready"; finish; }

# 97 of the 100 platform events delivered: 3 % left.
publish "$A" 3 >"$T/a.ids"
publish "$B" 94 >/dev/null
wait_for 20 events_has it.ra 3 || not_ok "3 events on $A"
wait_for 20 events_has it.rb 94 || not_ok "94 events on $B"
if wait_for 10 grep -q "level=error msg=sf_limit_low name=DailyDeliveredPlatformEvents" "$T/bridge.log"; then
        ok "the bridge knows 3 % is left"
else
        not_ok "the bridge knows 3 % is left"
fi

# While the long-poll is held back, retention passes $A's committed ID.
sfsim_admin POST "/admin/fault?kind=stall" >/dev/null
sleep 2.5
publish "$A" 5 >>"$T/a.ids"
sfsim_admin POST "/admin/retention?keep=2" >/dev/null
sfsim_admin POST "/admin/fault?kind=forget-clients" >/dev/null
sfsim_admin POST "/admin/fault?kind=clear" >/dev/null
stored=$(sed -n 3p "$T/a.ids")
if wait_for 20 grep -q "msg=replay_gap channel=$A" "$T/bridge.log"; then ok "the gap is met"; else not_ok "the gap is met"; fi
wait_for 20 ready || not_ok "ready again"
assert_file_contains "refusal logged as an error, naming the channel and why" "$T/bridge.log" \
        "level=error msg=replay_all_refused channel=$A err=\"DailyDeliveredPlatformEvents has 3 of 100 left (below 5 %)\" action=resubscribe_new replay_from=-1"
assert_file_contains "gap logged with the configured policy" "$T/bridge.log" \
        "level=error msg=replay_gap channel=$A lost_after_replay_id=$stored policy=all"
assert_eq "gap counted" 1 "$(metric sfbridge_replay_gaps_total)"
sleep 2
assert_eq "the 2 retained events were not replayed" 3 "$(events it.ra)"
kcat -b "$KAFKA_BOOTSTRAP" -C -e -q -t it-refuse.replay.gaps -o beginning -f '%s\n' >"$T/gaps" 2>/dev/null
assert_file_contains "gap record says -1" "$T/gaps" "\"resubscribed_from\":-1"

# New events still flow (1 of the 3 left).
publish "$A" 1 >/dev/null
if wait_for 15 events_has it.ra 4; then ok "a new event after the gap is delivered"; else not_ok "a new event after the gap is delivered"; fi
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
