#!/bin/sh
# A connected app that rotates refresh tokens (sfsim --rotate-refresh-token:
# each refresh answers with a new token, and a retired one presented again
# revokes them all). The bridge presents the newest token at every login,
# twice in a row after revoked sessions, keeps it in
# salesforce.auth.refresh_token_file (0600) and, after a restart, starts
# from the kept one rather than the configured (retired) one. Without the
# file it still runs, and says loudly that the token lives only in memory.
# Every event lands in Kafka once; no token reaches the log.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

SF_REFRESH_TOKEN=5Aep861-it-first-refresh.tok
export SF_REFRESH_TOKEN
CH=/event/Rotate__e
TP=it.auth.rotate

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --connect-timeout-ms 2000 --refresh-token "$SF_REFRESH_TOKEN" --rotate-refresh-token ||
        { not_ok start_sfsim; finish; }

# rotations: how many refreshes sfsim has answered with a new token.
rotations() { grep -c 'msg=refresh-token-rotated' "$T/sfsim.err"; }
# keys_once TOPIC N: TOPIC holds N distinct keys, none twice.
keys_once() {
        kcat_read "$1" 1000000 | cut -f3 >"$T/keys"
        assert_eq "$2: $(sort -u "$T/keys" | wc -l | tr -d ' ') distinct events, as published" \
                "$3" "$(sort -u "$T/keys" | wc -l | tr -d ' ')"
        assert_eq "$2: no duplicate" 0 "$(count_dups <"$T/keys")"
}

write_config "$T/rt.yaml" it-auth-rotate exactly_once refresh_token <<YAML
  - channel: $CH
    topic: $TP
    start: all
YAML
sed -i "s|^    flow: refresh_token\$|&\n    refresh_token_file: $T/kept/refresh.token|" "$T/rt.yaml"
mkdir "$T/kept"

publish "$CH" 2 >/dev/null
start_bridge "$T/rt.yaml"
if wait_for 30 kcat_has "$TP" 2; then ok "first login: delivers"; else not_ok "first login: delivers"; finish; fi
assert_eq "first login: the token rotated once" 1 "$(rotations)"
if [ -f "$T/kept/refresh.token" ]; then ok "the new token is kept in the file"; else not_ok "the new token is kept in the file"; fi
assert_eq "the file is mode 600" 600 "$(stat -c %a "$T/kept/refresh.token")"
assert_eq "no temporary file left beside it" 1 "$(ls "$T/kept" | wc -l | tr -d ' ')"
kept1=$(cat "$T/kept/refresh.token")
assert_not_contains "the file holds a new token, not the configured one" "$kept1" "$SF_REFRESH_TOKEN"
assert_file_contains "the rotation is logged" "$T/bridge.log" "msg=refresh_token_rotated persisted=yes"

# Twice in a row: each revoked session logs in again with the newest token.
n=2
for round in 1 2; do
        sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
        publish "$CH" 2 >/dev/null
        n=$((n + 2))
        if wait_for 30 kcat_has "$TP" "$n"; then ok "revoked session $round: logged in again, delivers"; else
                not_ok "revoked session $round: logged in again, delivers" "$(kcat_count "$TP") of $n"; fi
        assert_eq "revoked session $round: rotated again" $((round + 1)) "$(rotations)"
done
kept3=$(cat "$T/kept/refresh.token")
[ "$kept3" != "$kept1" ] && ok "the file follows each rotation" || not_ok "the file follows each rotation"
assert_file_not_contains "sfsim saw no retired token" "$T/sfsim.err" "retired refresh token was reused"

# `check --online` beside the running bridge logs in too, from the file,
# and rotates it; the bridge's next login reads the file again instead of
# presenting the token check retired.
"$SFB_BUILD/sfbridge" check -c "$T/rt.yaml" --online >"$T/check.out" 2>&1
assert_eq "check --online beside the bridge: succeeds" 0 "$?"
assert_eq "check --online: rotated the token" 4 "$(rotations)"
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
publish "$CH" 2 >/dev/null
n=$((n + 2))
if wait_for 30 kcat_has "$TP" "$n"; then ok "after check rotated it: the bridge logs in with the file's token"; else
        not_ok "after check rotated it: the bridge logs in with the file's token" "$(kcat_count "$TP") of $n"; fi
assert_file_contains "the bridge noticed the file changed" "$T/bridge.log" \
        "action=use_kept_token reason=\"rotated by another process\""
assert_file_not_contains "sfsim saw no retired token after check" "$T/sfsim.err" "retired refresh token was reused"

# A restart starts from the kept token, not the configured (retired) one.
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
publish "$CH" 2 >/dev/null
start_bridge "$T/rt.yaml"
n=$((n + 2))
if wait_for 30 kcat_has "$TP" "$n"; then ok "after a restart: logs in with the kept token, delivers"; else
        not_ok "after a restart: logs in with the kept token, delivers" "$(kcat_count "$TP") of $n"; fi
assert_file_contains "after a restart: the kept token is used" "$T/bridge.log" \
        "msg=refresh_token_file file=$T/kept/refresh.token action=use_kept_token"
assert_eq "after a restart: rotated again" 6 "$(rotations)"
assert_file_not_contains "after a restart: sfsim saw no retired token" "$T/sfsim.err" \
        "retired refresh token was reused"
stop_bridge TERM
assert_eq "clean stop after the restart" 0 "$BRIDGE_RC"
keys_once "$TP" "with the file" "$n"
for tok in "$SF_REFRESH_TOKEN" "$kept1" "$kept3" "$(cat "$T/kept/refresh.token")"; do
        assert_file_not_contains "no refresh token in the log" "$T/bridge.log" "$tok"
        assert_file_not_contains "no refresh token in check's output" "$T/check.out" "$tok"
done

# Without the file: rotation still followed in memory, and an error says
# what a restart would do and what to change. (A second emulator: the
# first one's family is in the file above.)
mv "$T/bridge.log" "$T/bridge-file.log"
start_sfsim --connect-timeout-ms 2000 --refresh-token "$SF_REFRESH_TOKEN" --rotate-refresh-token ||
        { not_ok "start a second sfsim"; finish; }
write_config "$T/mem.yaml" it-auth-rotate-mem exactly_once refresh_token <<YAML
  - channel: $CH
    topic: $TP.mem
    start: all
YAML
publish "$CH" 2 >/dev/null
start_bridge "$T/mem.yaml"
if wait_for 30 kcat_has "$TP.mem" 2; then ok "no file: delivers"; else not_ok "no file: delivers"; finish; fi
if wait_for 5 grep -q 'level=error msg=refresh_token_rotated persisted=no' "$T/bridge.log"; then
        ok "no file: the rotation is an error in the log"; else not_ok "no file: the rotation is an error in the log"; fi
assert_file_contains "no file: says to set refresh_token_file, turn rotation off or use jwt" "$T/bridge.log" \
        "Set salesforce.auth.refresh_token_file, turn refresh token rotation off in the connected app, or use the jwt flow"
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
publish "$CH" 2 >/dev/null
if wait_for 30 kcat_has "$TP.mem" 4; then ok "no file: a revoked session logs in with the in-memory token"; else
        not_ok "no file: a revoked session logs in with the in-memory token"; fi
assert_file_not_contains "no file: sfsim saw no retired token" "$T/sfsim.err" "retired refresh token was reused"
assert_eq "no file: the loud error is said once" 1 "$(grep -c 'level=error msg=refresh_token_rotated' "$T/bridge.log")"
stop_bridge TERM
assert_eq "no file: clean stop" 0 "$BRIDGE_RC"
keys_once "$TP.mem" "no file" 4
assert_file_not_contains "no file: no refresh token in the log" "$T/bridge.log" "$SF_REFRESH_TOKEN"
finish
