#!/bin/sh
# Replay state is bound to the org: two emulators are two orgs (their replay
# IDs overlap, as two real orgs' may), one Kafka. After a run against org 1
# the same config pointed at org 2 must not resume from org 1's replay ID
# (that silently skipped 10 of 12 retained events): on_org_change: fail
# (default) exits 3 naming both orgs and producing nothing, `check --online`
# says so; on_org_change: start begins at the route's start (all: org 2's
# 12 retained events), logged and counted, and the stored records then name
# org 2 (`replay list`).
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

ORG1=00D000000000001AAA
ORG2=00D000000000002BBB

start_kafka 1 || { not_ok start_kafka; finish; }
start_sfsim --org-id $ORG1 || { not_ok "start_sfsim org 1"; finish; }
URL1=$SFSIM_URL
mv "$T/sfsim.out" "$T/sfsim1.out"
mv "$T/sfsim.err" "$T/sfsim1.err"
start_sfsim --org-id $ORG2 || { not_ok "start_sfsim org 2"; finish; }
URL2=$SFSIM_URL

# Org 2 holds 12 retained events of its own.
publish /topic/OrgA 12 >"$T/org2.ids"

SFSIM_URL=$URL1
write_config "$T/org1.yaml" it-org <<'YAML'
  - channel: /topic/OrgA
    topic: it.orga
    start: all
YAML
publish /topic/OrgA 10 >"$T/org1.ids"
start_bridge "$T/org1.yaml"
wait_for 30 kcat_has it.orga 10 || { not_ok "org 1's events delivered"; finish; }
stop_bridge
assert_eq "org 1 run stops cleanly" 0 "$BRIDGE_RC"
assert_file_contains "the login names org 1" "$T/bridge.log" "org_id=$ORG1"
mv "$T/bridge.log" "$T/org1.log"

# The same config, now at org 2.
sed "s#login_url: .*#login_url: $URL2#" "$T/org1.yaml" >"$T/org2.yaml"
timeout -k 5 30 "$SFB_BUILD/sfbridge" run -c "$T/org2.yaml" >"$T/fail.out" 2>"$T/fail.log" </dev/null
assert_eq "on_org_change: fail exits 3" 3 "$?"
assert_file_contains "the error names the stored org" "$T/fail.log" "org $ORG1"
assert_file_contains "the error names the org logged in to" "$T/fail.log" "logged in to org $ORG2"
assert_file_contains "the error says what to run" "$T/fail.log" "sfbridge replay set -c $T/org2.yaml --channel /topic/OrgA --new"
assert_file_not_contains "nothing claimed" "$T/fail.log" "msg=claimed"
assert_eq "nothing produced" 10 "$(kcat_count it.orga)"

"$SFB_BUILD/sfbridge" check --online -c "$T/org2.yaml" >"$T/check.out" 2>&1
assert_eq "check --online fails" 1 "$?"
assert_file_contains "check --online names both orgs" "$T/check.out" "belongs to org $ORG1"

sed 's/^routes:$/on_org_change: start\
routes:/' "$T/org2.yaml" >"$T/start.yaml"
start_bridge "$T/start.yaml"
if wait_for 30 kcat_has it.orga 22; then
        ok "on_org_change: start delivers all 12 retained events of org 2"
else
        not_ok "on_org_change: start delivers all 12 retained events of org 2" \
                "it.orga holds $(kcat_count it.orga), want 22"
fi
line=$(grep "msg=org_changed" "$T/bridge.log" | head -n 1)
assert_contains "org change logged" "$line" "stored_org=$ORG1"
assert_contains "org change names the new org and action" "$line" "org=$ORG2 login_host=${URL2#http://} action=start"
assert_eq "org change counted" 1 "$(metric 'sfbridge_recoveries_total{cause="org_changed",action="start"}')"
# Their replay IDs overlap org 1's: the topic holds both runs' keys, each once.
assert_eq "org 1's and org 2's events, none skipped" "$(sort -n "$T/org1.ids" "$T/org2.ids" | tr '\n' ' ')" \
        "$(keys_of it.orga | tr '\n' ' ')"
stop_bridge
assert_eq "org 2 run stops cleanly" 0 "$BRIDGE_RC"

"$SFB_BUILD/sfbridge" replay list -c "$T/start.yaml" >"$T/list.out" 2>&1
last2=$(tail -n 1 "$T/org2.ids")
grep -q "^/topic/OrgA  *$last2 .* $ORG2 (${URL2#http://})\$" "$T/list.out" &&
        ok "replay list shows org 2's ID and org" || not_ok "replay list shows org 2's ID and org" "$(cat "$T/list.out")"

# Bound now: the next start at org 2 resumes, with no org change.
mv "$T/bridge.log" "$T/start.log"
start_bridge "$T/org2.yaml"
wait_for 20 grep -q "msg=subscribed channel=/topic/OrgA replay_from=$last2" "$T/bridge.log" ||
        not_ok "org 2 resumes from its own replay ID" "$(grep subscribed "$T/bridge.log")"
assert_file_not_contains "no org change the second time" "$T/bridge.log" "org_changed"
stop_bridge

# Back at org 1: refused again; the remedy the message names (`replay set`,
# here --all) is accepted as "unknown org" and the start goes on.
mv "$T/bridge.log" "$T/again.log"
timeout -k 5 30 "$SFB_BUILD/sfbridge" run -c "$T/org1.yaml" >"$T/back.out" 2>"$T/back.log" </dev/null
assert_eq "back at org 1: exits 3" 3 "$?"
assert_file_contains "back at org 1: names org 2 as the stored one" "$T/back.log" "org $ORG2"
"$SFB_BUILD/sfbridge" replay set -c "$T/org1.yaml" --channel /topic/OrgA --all >/dev/null 2>&1
assert_eq "replay set --all" 0 "$?"
start_bridge "$T/org1.yaml"
if wait_for 30 kcat_has it.orga 32; then
        ok "after replay set org 1's retained events come again"
else
        not_ok "after replay set org 1's retained events come again" "it.orga holds $(kcat_count it.orga), want 32"
fi
assert_file_not_contains "replay set's record passes the org check" "$T/bridge.log" "org_changed"
stop_bridge
finish
