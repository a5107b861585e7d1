#!/bin/sh
# Evidence 4: each OAuth flow works against the emulator; rejected
# credentials make `run` exit 3 with a clear message holding no secret.
# The emulator is strict as Salesforce is: it plays a My Domain login host
# (client_credentials works only there), and takes only the documented JWT
# audiences, so the bridge's default aud (login.salesforce.com, whatever
# the login URL) is what gets it in.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

[ -f "$SFB_ROOT/tests/certs/jwt.key" ] || sh "$SFB_ROOT/tests/gen-certs.sh" "$SFB_ROOT/tests/certs" >/dev/null
SF_JWT_KEY="$SFB_ROOT/tests/certs/jwt.key"
SF_REFRESH_TOKEN=it-refresh-token-5ecret
export SF_JWT_KEY SF_REFRESH_TOKEN

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --my-domain --jwt-public-key "$SFB_ROOT/tests/certs/jwt.pub" --refresh-token "$SF_REFRESH_TOKEN" ||
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
        mv "$T/bridge.log" "$T/$flow-run.log"
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

# JWT with an explicit audience that is the My Domain URL: refused, and
# the message says what aud Salesforce takes.
SF_JWT_KEY="$SFB_ROOT/tests/certs/jwt.key"
sed "s|^    flow: jwt\$|&\n    audience: $SFSIM_URL|" "$T/jwt.yaml" >"$T/jwt-aud.yaml"
: >"$T/bridge.log"
start_bridge "$T/jwt-aud.yaml"
wait_exit "$BRIDGE_PID" 30
assert_eq "JWT aud = the My Domain URL: exit 3" 3 "$?"
assert_file_contains "JWT wrong aud: quotes Salesforce's reason" "$T/bridge.log" "invalid_grant: audience is invalid"
assert_file_contains "JWT wrong aud: names the key to fix" "$T/bridge.log" \
        "(the JWT aud is salesforce.auth.audience: https://login.salesforce.com, https://test.salesforce.com"

# The password flow works, with a warning at start: new orgs block it.
assert_file_contains "password flow: a startup warning" "$T/password-run.log" \
        "level=warn msg=password_flow err=\"Salesforce blocks the username-password flow by default in new orgs"
assert_file_not_contains "other flows: no such warning" "$T/jwt-run.log" "msg=password_flow"

# client_credentials against login.salesforce.com: a config error naming
# file:line, from check and from run alike.
sed "s|^  login_url: .*|  login_url: https://login.salesforce.com|" "$T/client_credentials.yaml" >"$T/cc-login.yaml"
"$SFB_BUILD/sfbridge" check -c "$T/cc-login.yaml" >"$T/cc-check.out" 2>&1
assert_eq "client_credentials on login.salesforce.com: check fails (1)" 1 "$?"
assert_file_contains "client_credentials on login: check names file:line and why" "$T/cc-check.out" \
        "$T/cc-login.yaml:3:14: salesforce.login_url: client_credentials needs the org's My Domain login URL"
: >"$T/bridge.log"
start_bridge "$T/cc-login.yaml"
wait_exit "$BRIDGE_PID" 30
assert_eq "client_credentials on login.salesforce.com: run exits 1" 1 "$?"
assert_file_contains "client_credentials on login: run says it too" "$T/bridge.log" "$T/cc-login.yaml:3:14: salesforce.login_url"
finish
