#!/bin/sh
# Answers built to exhaust the bridge (issue 14, finding 5):
#  (4) /meta/connect answers of 32 MiB (one with Content-Length, one
#      chunked) against salesforce.max_response_bytes 1 MiB: logged as
#      response_too_large (bytes=, limit=), the bridge rebuilds its session
#      (a new handshake reaches the server), never exits, keeps delivering,
#      and its peak RSS (VmHWM) stays under 256 MiB;
#  (5) a /meta/connect answer nested 100,000 '[' deep: a clear error line,
#      no crash, a new session, delivery goes on.
. "$SFB_ROOT/tests/hostile/hostile.inc.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }

# --- (4) huge answers ---------------------------------------------------------
LIMIT=1048576
start_hostile huge --huge-bytes $((32 << 20)) || { not_ok "(4) start hostile"; finish; }
hpublish "$HCHANNEL" 2 >"$T/huge.before.ids"
HTOPIC=hostile.huge SF_EXTRA="  max_response_bytes: $LIMIT" hostile_config "$T/huge.yaml" hx-huge
start_bridge "$T/huge.yaml"
wait_for 30 kcat_has hostile.huge 2 || not_ok "(4) delivering before the attack"
hs=$(hstat handshakes)
harm 2
if wait_for 30 hstat_at_least attacks 2; then ok "(4) two huge answers were served"; else not_ok "(4) two huge answers were served" "attacks=$(hstat attacks)"; fi
# The second may fall under the log's rate limit: one line is enough.
if wait_for 15 grep -q 'msg=response_too_large' "$T/bridge.log"; then ok "(4) logged as response_too_large"; else not_ok "(4) logged as response_too_large"; fi
line=$(grep -m 1 'msg=response_too_large' "$T/bridge.log")
assert_contains "(4) at level error" "$line" "level=error"
assert_contains "(4) it names the limit" "$line" "limit=$LIMIT"
assert_contains "(4) it names the size seen" "$line" "bytes="
if wait_for 20 hstat_at_least handshakes $((hs + 1)); then
        ok "(4) the session was rebuilt (handshakes $hs -> $(hstat handshakes))"
else
        not_ok "(4) the session was rebuilt" "handshakes $hs -> $(hstat handshakes)"
fi
id=$(hpublish "$HCHANNEL" 1)
if lands_within 30 hostile.huge "$id"; then ok "(4) delivering again"; else not_ok "(4) delivering again" "event $id not in Kafka"; fi
check "(4) the bridge is still running" bridge_alive
rss=$(peak_rss_mib "$BRIDGE_PID")
note "(4) peak RSS ${rss:-?} MiB"
if [ -n "$rss" ] && [ "$rss" -lt 256 ]; then ok "(4) peak RSS < 256 MiB"; else not_ok "(4) peak RSS < 256 MiB" "VmHWM ${rss:-?} MiB"; fi
assert_eq "(4) every event once" "$(cat "$T/huge.before.ids"; echo "$id")" "$(keys_of hostile.huge)"
stop_bridge TERM
assert_eq "(4) clean stop" 0 "$BRIDGE_RC"
no_crash "(4)"
no_secrets "(4)"
stop_hostile
save_bridge_log huge

# --- (5) a deeply nested answer ----------------------------------------------
HOSTILE_LOG="$T/nested-requests.jsonl"
start_hostile nested || { not_ok "(5) start hostile"; finish; }
hpublish "$HCHANNEL" 2 >"$T/nested.before.ids"
HTOPIC=hostile.nested hostile_config "$T/nested.yaml" hx-nested
start_bridge "$T/nested.yaml"
wait_for 30 kcat_has hostile.nested 2 || not_ok "(5) delivering before the attack"
hs=$(hstat handshakes)
lines=$(wc -l <"$T/bridge.log")
harm 1
wait_for 15 hstat_at_least attacks 1 || not_ok "(5) the nested answer was served"
wait_for 15 hstat_at_least handshakes $((hs + 1))
sleep 1
tail -n +"$((lines + 1))" "$T/bridge.log" >"$T/nested.after"
err=$(grep -E -m 1 'level=(warn|error) msg=recovery' "$T/nested.after")
if [ -n "$err" ]; then ok "(5) a clear error line: $(printf '%s' "$err" | cut -c 25-200)"; else not_ok "(5) a clear error line" "no warn/error recovery line after the attack"; fi
assert_contains "(5) it says the answer was malformed" "$err" "cause=malformed_response"
if hstat_at_least handshakes $((hs + 1)); then ok "(5) a new session"; else not_ok "(5) a new session" "handshakes $hs -> $(hstat handshakes)"; fi
id=$(hpublish "$HCHANNEL" 1)
if lands_within 30 hostile.nested "$id"; then ok "(5) delivering again"; else not_ok "(5) delivering again" "event $id not in Kafka"; fi
check "(5) the bridge is still running" bridge_alive
assert_eq "(5) every event once" "$(cat "$T/nested.before.ids"; echo "$id")" "$(keys_of hostile.nested)"
stop_bridge TERM
assert_eq "(5) clean stop" 0 "$BRIDGE_RC"
no_crash "(5)"
no_secrets "(5)"
finish
