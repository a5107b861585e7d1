#!/bin/sh
# Evidence 5: `check --online` passes against the emulator, fails clearly
# on a channel that does not exist and warns about a stored replay ID that
# is no longer retained (the route's on_invalid_replay handles it). (Offline validation of config/ and of bad configs is in
# tests/unit/test_config.c and 0051-check-offline.sh.)
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --missing-channel /topic/Missing || { not_ok start_sfsim; finish; }
write_config "$T/good.yaml" it-check <<'YAML'
  - channel: /topic/Kept
    topic: it.kept
    start: all
  - channel: /event/Other__e
    topic: it.other
YAML

"$SFB_BUILD/sfbridge" check -c "$T/good.yaml" --online >"$T/online.out" 2>"$T/online.err"
assert_eq "check --online passes" 0 "$?"
assert_file_contains "check --online: login line" "$T/online.out" "ok   login (password flow)"
assert_file_contains "check --online: route line" "$T/online.out" "ok   /topic/Kept -> it.kept"
assert_file_contains "check --online: success line" "$T/online.out" "test is successful (online)"

write_config "$T/missing.yaml" it-check <<'YAML'
  - channel: /topic/Kept
    topic: it.kept
  - channel: /topic/Missing
    topic: it.missing
YAML
"$SFB_BUILD/sfbridge" check -c "$T/missing.yaml" --online >"$T/missing.out" 2>"$T/missing.err"
assert_eq "check --online with a channel that does not exist: exit 1" 1 "$?"
assert_file_contains "names the missing channel" "$T/missing.out" "FAIL /topic/Missing"
assert_file_contains "quotes Salesforce's reason" "$T/missing.out" "doesn't exist"
assert_file_contains "ends with the failure line" "$T/missing.err" "online test failed"

# Commit a replay ID, then let retention pass it.
publish /topic/Kept 3 >"$T/ids"
start_bridge "$T/good.yaml"
wait_for 60 kcat_has it.kept 3
sleep 1
stop_bridge TERM
publish /topic/Kept 3 >>"$T/ids"
sfsim_admin POST "/admin/retention?keep=1" >/dev/null
stored=$(sed -n 3p "$T/ids")
"$SFB_BUILD/sfbridge" check -c "$T/good.yaml" --online >"$T/gone.out" 2>"$T/gone.err"
# on_invalid_replay: all (the default) handles it at start: a warning, not a failure (0119: fail).
assert_eq "check --online with a stored replay ID past retention: exit 0" 0 "$?"
assert_file_contains "names the channel and the lost ID" "$T/gone.out" "WARN /topic/Kept: stored replay ID $stored is no longer retained"
finish
