#!/bin/sh
# Retention passed the stored replay ID: on_invalid_replay all | new | fail.
# Each logs an error naming the channel and the ID lost from, counts
# sfbridge_replay_gaps_total, and writes a gap record <name>:<channel>:gap:…
# to <replay_topic>.gaps (and one sf.gap record to the route's topic, which
# the event counts below leave out; 0119 checks it).
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

# events TOPIC: the records of TOPIC that are events (no sf.gap header).
events() {
        kcat_read "$1" 1000000 | cut -f4 | grep -vc 'sf.gap='
}
events_has() {
        [ "$(events "$1")" -ge "$2" ]
}
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }

for policy in all new fail; do
        ch=/topic/Gap_$policy
        tp=it.gap.$policy
        TOP_EXTRA="on_invalid_replay: $policy" write_config "$T/$policy.yaml" "it-gap-$policy" <<YAML
  - channel: $ch
    topic: $tp
    start: all
YAML
        publish "$ch" 5 >"$T/$policy.ids"
        start_bridge "$T/$policy.yaml"
        wait_for 30 kcat_has "$tp" 5 || not_ok "$policy: first run delivered 5"
        sleep 1
        stop_bridge TERM
        publish "$ch" 5 >>"$T/$policy.ids"
        sfsim_admin POST "/admin/retention?keep=2" >/dev/null
        stored=$(sed -n 5p "$T/$policy.ids")
        : >"$T/bridge.log"
        start_bridge "$T/$policy.yaml"
        case $policy in
        all)
                wait_for 30 events_has "$tp" 7
                sleep 1
                assert_eq "all: resubscribed with -2, the 2 retained delivered" 7 "$(events "$tp")"
                assert_eq "all: gap counted" 1 "$(metric sfbridge_replay_gaps_total)" ;;
        new)
                wait_for 30 ready
                publish "$ch" 1 >>"$T/$policy.ids"
                wait_for 30 events_has "$tp" 6
                sleep 1
                assert_eq "new: only events after the resubscribe" 6 "$(events "$tp")" ;;
        fail)
                wait_exit "$BRIDGE_PID" 30
                assert_eq "fail: exit 3" 3 "$?"
                assert_file_contains "fail: says why" "$T/bridge.log" "on_invalid_replay is fail" ;;
        esac
        assert_file_contains "$policy: error names channel and lost ID" "$T/bridge.log" \
                "level=error msg=replay_gap channel=$ch lost_after_replay_id=$stored policy=$policy"
        if [ "$policy" != fail ]; then
                stop_bridge TERM
                assert_eq "$policy: clean stop" 0 "$BRIDGE_RC"
        fi
        kcat -b "$KAFKA_BOOTSTRAP" -C -e -q -t "it-gap-$policy.replay.gaps" -o beginning -f '%k\t%s\n' >"$T/$policy.replay" 2>/dev/null
        assert_file_contains "$policy: gap record on the gap topic" "$T/$policy.replay" "it-gap-$policy:$ch:gap:"
        assert_file_contains "$policy: gap record names the policy" "$T/$policy.replay" "\"policy\":\"$policy\""
done
finish
