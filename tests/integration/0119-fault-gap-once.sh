#!/bin/sh
# A handled replay gap is met, logged and counted once. After the gap the
# stored position is -2, so neither a re-handshake nor a restart meets it
# again, even with no new event on the channel; events published while the
# bridge was down afterwards are all delivered. Every gap is one audit
# record (unique key) on <replay_topic>.gaps and one record with header
# sf.gap on the route's topic, before the route's later events.
# `check --online` warns (exit 0) about a gone replay ID that the route's
# policy handles, and fails under on_invalid_replay: fail.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }

A=/topic/GapOnceAll
N=/topic/GapOnceNew
routes() {
        cat <<YAML
  - channel: $A
    topic: it.gaponce.all
    start: all
  - channel: $N
    topic: it.gaponce.new
    start: all
    on_invalid_replay: new
YAML
}
# The same name (so the same replay topic), only the policy differs; the
# bridge runs with gap.yaml's metrics port, written last.
routes | sed 's/on_invalid_replay: new/on_invalid_replay: fail/' >"$T/fail.routes"
routes >"$T/gap.routes"
TOP_EXTRA="on_invalid_replay: fail" write_config "$T/fail.yaml" it-gaponce <"$T/fail.routes"
write_config "$T/gap.yaml" it-gaponce <"$T/gap.routes"

gaps_logged() {
        cat "$T"/bridge.log "$T"/run*.log 2>/dev/null | grep -c 'level=error msg=replay_gap channel='
}
gap_headers() {
        kcat_read "$1" 1000 | cut -f4 | grep -c 'sf.gap='
}
# The keys of a route topic's records in offset order (one partition: the
# channel's), the sf.gap record shown by its key, the channel.
keys_in_order() {
        kcat_read "$1" 1000 | cut -f3 | tr '\n' ' '
}
handshakes_ge() {
        [ "$(metric sfbridge_handshakes_total)" -ge "$1" ] 2>/dev/null
}

# Run 1: three events each, committed.
publish "$A" 3 >"$T/a.ids"
publish "$N" 3 >"$T/n.ids"
start_bridge "$T/gap.yaml"
wait_for 30 kcat_has it.gaponce.all 3 && wait_for 30 kcat_has it.gaponce.new 3 ||
        not_ok "run 1 delivered 3 + 3"
stop_bridge TERM
mv "$T/bridge.log" "$T/run1.log"

# Away past retention: two more each, then nothing is retained.
publish "$A" 2 >>"$T/a.ids"
publish "$N" 2 >>"$T/n.ids"
sfsim_admin POST "/admin/retention?keep=0" >/dev/null
sa=$(sed -n 3p "$T/a.ids")
sn=$(sed -n 3p "$T/n.ids")

"$SFB_BUILD/sfbridge" check -c "$T/gap.yaml" --online >"$T/check1.out" 2>"$T/check1.err"
assert_eq "check --online, gone IDs the policies handle: exit 0" 0 "$?"
assert_file_contains "check: warns for all" "$T/check1.out" "WARN $A: stored replay ID $sa is no longer retained"
assert_file_contains "check: names policy all and what it does" "$T/check1.out" "on_invalid_replay: all (resubscribes from -2"
assert_file_contains "check: warns for new" "$T/check1.out" "WARN $N: stored replay ID $sn is no longer retained"
assert_file_contains "check: names policy new and what it does" "$T/check1.out" "on_invalid_replay: new (resubscribes from -1"
"$SFB_BUILD/sfbridge" check -c "$T/fail.yaml" --online >"$T/check2.out" 2>"$T/check2.err"
assert_eq "check --online under on_invalid_replay: fail: exit 1" 1 "$?"
assert_file_contains "check under fail names the channel" "$T/check2.out" \
        "FAIL $A: stored replay ID $sa is no longer retained by Salesforce and on_invalid_replay is fail"

# Run 2: the gaps are handled; then a forced re-handshake, no new event.
start_bridge "$T/gap.yaml"
wait_for 30 kcat_has it.gaponce.all 4 && wait_for 30 kcat_has it.gaponce.new 4 ||
        not_ok "run 2: sf.gap records written"
wait_for 20 ready || not_ok "run 2 ready"
hs=$(metric sfbridge_handshakes_total)
sfsim_admin POST "/admin/fault?kind=forget-clients" >/dev/null
wait_for 20 handshakes_ge $((hs + 1)) || not_ok "run 2: re-handshake after forget-clients"
# Ready: every route subscribed again, so a gap met again would be counted by now.
wait_for 20 ready || not_ok "run 2 ready after the re-handshake"
assert_eq "run 2: sfbridge_replay_gaps_total counts each gap once" 2 "$(metric sfbridge_replay_gaps_total)"
assert_eq "run 2: the stored position shown is -2" -2 "$(metric "sfbridge_replay_id{channel=\"$A\"}")"
stop_bridge TERM
assert_eq "run 2: clean stop" 0 "$BRIDGE_RC"
mv "$T/bridge.log" "$T/run2.log"
assert_eq "run 2: one gap line per channel" 2 "$(gaps_logged)"

"$SFB_BUILD/sfbridge" check -c "$T/gap.yaml" --online >"$T/check3.out" 2>"$T/check3.err"
assert_eq "check --online after the handled gaps: exit 0" 0 "$?"
assert_file_contains "check: resumes all (-2) after the gap" "$T/check3.out" "ok   $A -> it.gaponce.all, resumes all (-2)"

# Away again; events published meanwhile must all arrive.
publish "$A" 2 >>"$T/a.ids"
publish "$N" 2 >>"$T/n.ids"
start_bridge "$T/gap.yaml"
wait_for 30 kcat_has it.gaponce.all 6 && wait_for 30 kcat_has it.gaponce.new 6 ||
        not_ok "run 3 delivered what was published while down"
sleep 0.5 # room for a duplicate to show
stop_bridge TERM
mv "$T/bridge.log" "$T/run3.log"
assert_eq "no gap met again at the restart" 2 "$(gaps_logged)"
assert_file_not_contains "run 3: no gap line" "$T/run3.log" "msg=replay_gap "

# What landed, read by kcat.
expect_a="$(sed -n 1,3p "$T/a.ids" | tr '\n' ' ')$A $(sed -n 6,7p "$T/a.ids" | tr '\n' ' ')"
expect_n="$(sed -n 1,3p "$T/n.ids" | tr '\n' ' ')$N $(sed -n 6,7p "$T/n.ids" | tr '\n' ' ')"
assert_eq "all: events, the gap record in order, nothing twice" "$expect_a" "$(keys_in_order it.gaponce.all)"
assert_eq "new: events, the gap record in order, nothing lost" "$expect_n" "$(keys_in_order it.gaponce.new)"
assert_eq "all: one sf.gap record" 1 "$(gap_headers it.gaponce.all)"
assert_eq "new: one sf.gap record" 1 "$(gap_headers it.gaponce.new)"
kcat -b "$KAFKA_BOOTSTRAP" -C -e -q -t it.gaponce.all -o beginning -f '%h\n' >"$T/headers" 2>/dev/null
assert_file_contains "sf.gap header says what was lost" "$T/headers" \
        "sf.gap={\"channel\":\"$A\",\"stored_replay_id\":$sa,\"resubscribed_from\":-2,\"policy\":\"all\",\"detected_at\":\""
kcat_read it-gaponce.replay.gaps 1000 >"$T/gaps"
assert_eq "audit trail: one record per real gap" 2 "$(wc -l <"$T/gaps" | tr -d ' ')"
assert_eq "audit trail: unique keys" 2 "$(cut -f3 "$T/gaps" | sort -u | wc -l | tr -d ' ')"
assert_file_contains "audit record of all" "$T/gaps" "	it-gaponce:$A:gap:"
assert_file_contains "audit record of new" "$T/gaps" "\"stored_replay_id\":$sn,\"resubscribed_from\":-1,\"policy\":\"new\""
kcat_read it-gaponce.replay 1000 | cut -f3 >"$T/replay.keys"
assert_file_not_contains "the replay topic holds no gap record" "$T/replay.keys" ":gap"
finish
