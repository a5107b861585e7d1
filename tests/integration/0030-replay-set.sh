#!/bin/sh
# Evidence 3: `replay set --id N` makes the next start resume after N;
# `--new` skips what is retained; `--all` replays everything retained.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }
write_config "$T/replay.yaml" it-replay <<'YAML'
  - channel: /topic/Replayed
    topic: it.replayed
    start: all
YAML
CFG="$T/replay.yaml"
count() { kcat_count it.replayed; }

publish /topic/Replayed 5 >"$T/ids"
start_bridge "$CFG"
wait_for 60 kcat_has it.replayed 5
stop_bridge TERM
assert_eq "first run delivers 5" 5 "$(count)"

third=$(sed -n 3p "$T/ids")
"$SFB_BUILD/sfbridge" replay set -c "$CFG" --channel /topic/Replayed --id "$third" >"$T/set.out" 2>&1
assert_eq "replay set --id exits 0" 0 "$?"
"$SFB_BUILD/sfbridge" replay list -c "$CFG" >"$T/list.out" 2>&1
grep -q "^/topic/Replayed  *$third " "$T/list.out" && ok "replay list shows the set ID" || not_ok "replay list shows the set ID" "$(cat "$T/list.out")"
start_bridge "$CFG"
wait_for 30 kcat_has it.replayed 7
sleep 1
stop_bridge TERM
assert_eq "--id N: resumes after N (events 4 and 5 again)" 7 "$(count)"
assert_eq "--id N: the replayed ones are 4 and 5" "$(sed -n '4,5p' "$T/ids" | tr '\n' ' ')" \
        "$(kcat_read it.replayed 100 | cut -f3 | sort -n | uniq -d | tr '\n' ' ')"

"$SFB_BUILD/sfbridge" replay set -c "$CFG" --channel /topic/Replayed --new >/dev/null 2>&1
assert_eq "replay set --new exits 0" 0 "$?"
start_bridge "$CFG"
wait_for 30 ready
publish /topic/Replayed 2 >>"$T/ids"
wait_for 30 kcat_has it.replayed 9
sleep 1
stop_bridge TERM
assert_eq "--new: only the 2 new events" 9 "$(count)"

"$SFB_BUILD/sfbridge" replay set -c "$CFG" --channel /topic/Replayed --all >/dev/null 2>&1
assert_eq "replay set --all exits 0" 0 "$?"
start_bridge "$CFG"
wait_for 30 kcat_has it.replayed 16
sleep 1
stop_bridge TERM
assert_eq "--all: all 7 retained again" 16 "$(count)"

"$SFB_BUILD/sfbridge" replay set -c "$CFG" --channel /topic/Nope --id 1 >"$T/bad.out" 2>&1
assert_eq "replay set on an unrouted channel: exit 2" 2 "$?"
"$SFB_BUILD/sfbridge" replay set -c "$CFG" --channel /topic/Replayed >"$T/bad2.out" 2>&1
assert_eq "replay set without --id/--new/--all: exit 2" 2 "$?"
finish
