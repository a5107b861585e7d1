#!/bin/sh
# TLS with the wrong CA: a clear TLS error, logged every time, no crash;
# once the CA file on disk is right, the bridge connects with no restart.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
[ -f "$SFB_ROOT/tests/certs/server.pem" ] || sh "$SFB_ROOT/tests/gen-certs.sh" "$SFB_ROOT/tests/certs" >/dev/null
C="$SFB_ROOT/tests/certs"
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --tls-cert "$C/server.pem" --tls-key "$C/server.key" --connect-timeout-ms 2000 || { not_ok start_sfsim; finish; }
case "$SFSIM_URL" in https://*) ok "emulator serves https" ;; *) not_ok "emulator serves https" "$SFSIM_URL" ;; esac
cp "$C/wrong-ca.pem" "$T/ca.pem"
SF_CA_FILE="$T/ca.pem" write_config "$T/tls.yaml" it-f-tls <<'YAML'
  - channel: /topic/Tls
    topic: it.tls
    start: all
YAML
publish /topic/Tls 5 >"$T/ids"
start_bridge "$T/tls.yaml"
if wait_for 20 sh -c "[ \$(grep -c 'cause=tls' $T/bridge.log) -ge 2 ]"; then ok "TLS failure logged as such, each time"; else not_ok "TLS failure logged as such, each time"; fi
assert_file_contains "the error says what failed" "$T/bridge.log" "TLS failure talking to Salesforce"
kill -0 "$BRIDGE_PID" 2>/dev/null && ok "no crash, still retrying" || not_ok "no crash, still retrying"
ready && not_ok "not ready without TLS" || ok "not ready without TLS"
cp "$C/ca.pem" "$T/ca.pem"
if wait_for 75 kcat_has it.tls 5; then ok "recovers once the CA is right"; else not_ok "recovers once the CA is right"; fi
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
