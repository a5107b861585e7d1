#!/bin/sh
# Evidence 4: each OAuth flow works against the emulator; rejected
# credentials make `run` exit 3 with a clear message holding no secret.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

[ -f "$SFB_ROOT/tests/certs/jwt.key" ] || sh "$SFB_ROOT/tests/gen-certs.sh" "$SFB_ROOT/tests/certs" >/dev/null
SF_JWT_KEY="$SFB_ROOT/tests/certs/jwt.key"
SF_REFRESH_TOKEN=it-refresh-token-5ecret
export SF_JWT_KEY SF_REFRESH_TOKEN

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --jwt-public-key "$SFB_ROOT/tests/certs/jwt.pub" --refresh-token "$SF_REFRESH_TOKEN" ||
        { not_ok start_sfsim; finish; }

n=0
for flow in password jwt refresh_token client_credentials; do
        n=$((n + 1))
        write_config "$T/$flow.yaml" "it-auth-$flow" exactly_once "$flow" <<YAML
  - channel: /topic/Auth$n
    topic: it.auth.$flow
    start: all
YAML
        publish "/topic/Auth$n" 2 >/dev/null
        start_bridge "$T/$flow.yaml"
        if wait_for 45 kcat_has "it.auth.$flow" 2; then ok "$flow flow: logs in and delivers"; else not_ok "$flow flow: logs in and delivers"; fi
        stop_bridge TERM
        assert_eq "$flow flow: clean stop" 0 "$BRIDGE_RC"
        assert_file_contains "$flow flow: login logged" "$T/bridge.log" "msg=login flow=$flow"
done

# Rejected at start: exit 3, clear message, no secret.
SF_PASSWORD=wrong-Pa55word-9931
export SF_PASSWORD
write_config "$T/bad.yaml" it-auth-bad <<'YAML'
  - channel: /topic/AuthBad
    topic: it.auth.bad
YAML
: >"$T/bridge.log"
start_bridge "$T/bad.yaml"
wait_exit "$BRIDGE_PID" 30
assert_eq "wrong password: exit 3" 3 "$?"
assert_file_contains "wrong password: says the login failed" "$T/bridge.log" "login as bridge@example.com failed"
assert_file_contains "wrong password: quotes Salesforce's reason" "$T/bridge.log" "authentication failure"
assert_file_not_contains "wrong password: the password is not printed" "$T/bridge.log" "$SF_PASSWORD"

SF_JWT_KEY="$SFB_ROOT/tests/certs/jwt-other.key"
: >"$T/bridge.log"
start_bridge "$T/jwt.yaml"
wait_exit "$BRIDGE_PID" 30
assert_eq "JWT signed with the wrong key: exit 3" 3 "$?"
assert_file_contains "JWT wrong key: says the login failed" "$T/bridge.log" "login as bridge@example.com failed"
assert_file_not_contains "JWT wrong key: no key material printed" "$T/bridge.log" "PRIVATE KEY"
finish
