#!/bin/sh
# A token answer that points the bridge somewhere else (issue 14, finding 3):
#  (1) instance_url gopher://127.0.0.1:P where P is a raw TCP listener (and
#      again with a path carrying a payload):
#      refused (instance_url_rejected cause=scheme), exit 3 at start naming
#      salesforce.allowed_hosts, and the listener never gets a byte;
#  (2) instance_url https://evil.example.net: refused (cause=host), exit 3;
#  (3) an access token holding "\r\nX-Injected: 1": token_rejected, no
#      request with an X-Injected header reaches the server, and the bridge
#      either exits 3 (credentials rejected at start) or keeps retrying.
. "$SFB_ROOT/tests/hostile/hostile.inc.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }

# run_to_exit NAME: run the bridge on $T/$NAME.yaml; sets RC (the exit
# status, or "running" when it is still up after 10 s; it is stopped then).
run_to_exit() {
        start_bridge "$T/$1.yaml"
        if wait_for 10 bridge_gone; then
                wait_exit "$BRIDGE_PID" 5
                RC=$?
        else
                RC=running
                stop_bridge TERM
        fi
}

# --- (1) gopher:// instance URL --------------------------------------------
start_raw_listener || { not_ok "(1) raw listener"; finish; }
start_hostile gopher --raw-port "$RAW_PORT" || { not_ok "(1) start hostile"; finish; }
hostile_config "$T/gopher.yaml" hx-gopher
run_to_exit gopher
assert_eq "(1) exit 3 at start" 3 "$RC"
line=$(grep -m 1 'msg=instance_url_rejected' "$T/bridge.log")
assert_contains "(1) instance_url_rejected, level error" "$line" "level=error"
assert_contains "(1) cause=scheme" "$line" "cause=scheme"
assert_contains "(1) host= named" "$line" "host=127.0.0.1"
assert_file_contains "(1) the message names salesforce.allowed_hosts" "$T/bridge.log" "salesforce.allowed_hosts"
sleep 1
assert_eq "(1) the raw listener got no connection" 0 "$(grep -c raw_connection "$T/raw.log")"
assert_eq "(1) the raw listener got 0 bytes" 0 \
        "$(awk '$1 == "raw_bytes" { s += $2 } END { print s + 0 }' "$T/raw.log")"
no_crash "(1)"
no_secrets "(1)"
stop_hostile
save_bridge_log gopher

# (1b) the same with a path that carries a payload: refused too (the cause
# may be the scheme or the syntax, a path being wrong as well), no byte sent.
start_hostile gopher --raw-port "$RAW_PORT" --gopher-path '/_HOSTILE%0d%0aPAYLOAD' ||
        { not_ok "(1b) start hostile"; finish; }
hostile_config "$T/gopher-path.yaml" hx-gopher-path
run_to_exit gopher-path
assert_eq "(1b) exit 3 at start" 3 "$RC"
line=$(grep -m 1 'msg=instance_url_rejected' "$T/bridge.log")
case "$line" in
*"cause=scheme"*|*"cause=syntax"*) ok "(1b) instance_url_rejected, cause scheme or syntax" ;;
*) not_ok "(1b) instance_url_rejected, cause scheme or syntax" "$line" ;;
esac
sleep 1
assert_eq "(1b) the raw listener got no connection" 0 "$(grep -c raw_connection "$T/raw.log")"
no_crash "(1b)"
no_secrets "(1b)"
stop_hostile
save_bridge_log gopher-path

# --- (2) a foreign host -------------------------------------------------------
start_hostile foreign-host || { not_ok "(2) start hostile"; finish; }
hostile_config "$T/foreign.yaml" hx-foreign
run_to_exit foreign
assert_eq "(2) exit 3 at start" 3 "$RC"
line=$(grep -m 1 'msg=instance_url_rejected' "$T/bridge.log")
assert_contains "(2) instance_url_rejected, level error" "$line" "level=error"
assert_contains "(2) cause=host" "$line" "cause=host"
assert_contains "(2) host=evil.example.net" "$line" "host=evil.example.net"
assert_file_contains "(2) the message names salesforce.allowed_hosts" "$T/bridge.log" "salesforce.allowed_hosts"
assert_file_not_contains "(2) no handshake logged" "$T/bridge.log" "msg=handshake "
no_crash "(2)"
no_secrets "(2)"
stop_hostile
save_bridge_log foreign

# --- (3) CR/LF in the access token -----------------------------------------
HOSTILE_LOG="$T/inject-requests.jsonl"
start_hostile header-inject || { not_ok "(3) start hostile"; finish; }
hostile_config "$T/inject.yaml" hx-inject
run_to_exit inject
case "$RC" in
3|running) ok "(3) exit 3 at start or keeps retrying ($RC)" ;;
*) not_ok "(3) exit 3 at start or keeps retrying" "rc=$RC" ;;
esac
assert_file_contains "(3) token_rejected logged" "$T/bridge.log" "msg=token_rejected"
assert_eq "(3) token_rejected at level error" 1 \
        "$(grep -m 1 'msg=token_rejected' "$T/bridge.log" | grep -c 'level=error')"
if grep -qi '\["X-Injected"' "$HOSTILE_LOG"; then
        not_ok "(3) no request with an injected header reached the server" \
                "$(grep -ic '\["X-Injected"' "$HOSTILE_LOG") requests carried X-Injected"
else
        ok "(3) no request with an injected header reached the server"
fi
assert_eq "(3) nothing but the token endpoint was asked" 0 \
        "$(grep -c '"path": "/cometd/' "$HOSTILE_LOG")"
no_crash "(3)"
no_secrets "(3)"
finish
