#!/bin/sh
# Issue 14, item 7: config and secrets.
# - A YAML error inside a secret's value (on the next line, in a block or
#   multi-line quoted scalar, flow style, invalid UTF-8) names
#   file:line:column but never shows the value; an alias of a secret into
#   another key is refused without showing it.
# - Key, token and CA files must be regular: a FIFO fails `check` and `run`
#   with exit 1 and a message naming the key, instead of blocking forever.
#   A FIFO as the config file itself reads as empty.
# - 100,000 levels of flow nesting fail at once ("nesting deeper than").
# - Warnings: a key file or a config holding a literal secret that group or
#   others can read; an http:// login URL.
# - The running bridge cannot dump core and is not dumpable (its own
#   prctl/getrlimit readback in the log, /proc/PID/limits).
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
cd "$T" || exit 1

SECRET=PLANTED-S3CRET
# check FILE: exit status in $RC, stdout+stderr in $T/out; never more than 10 s.
run_check() {
        timeout 10 "$SFB_BUILD/sfbridge" check -c "$1" >"$T/out" 2>&1 </dev/null
        RC=$?
}

# --- Redaction of broken files ------------------------------------------------
HDR='salesforce:
  auth:
    flow: password'
i=0
for body in \
        "    password:\n      $SECRET: x: y" \
        "    password:\n      \"$SECRET\" x" \
        "    password:\n      $SECRET\377" \
        "    password: |\n      a\n      $SECRET\001" \
        "    password: >\n      a\n     $SECRET: [" \
        "    password: \"abc\n      $SECRET\" junk" \
        "    password: 'abc\n      $SECRET\377'" \
        "    password: [a,\n      $SECRET: }" \
        "    client_secret:\n      $SECRET\n     - x" \
        "    password: &x $SECRET\nkafka:\n  delivery: *x" \
        "    password: &x $SECRET\nkafka:\n  properties:\n    linger.ms: *x"; do
        i=$((i + 1))
        { printf '%s\n' "$HDR"; printf "$body\n"; } >"$T/broken$i.yaml"
        run_check "$T/broken$i.yaml"
        line=$(head -n 1 "$T/out")
        if [ "$RC" = 1 ] && ! grep -q "$SECRET" "$T/out" &&
           printf '%s' "$line" | grep -Eq "^$T/broken$i.yaml:[0-9]+:[0-9]+: "; then
                ok "broken secret $i: exit 1 at file:line:column, value not shown"
        else
                not_ok "broken secret $i: exit 1 at file:line:column, value not shown" \
                        "exit $RC: $(cat -v "$T/out")"
        fi
done
assert_file_contains "the alias is refused at the other key" "$T/out" \
        "kafka.properties.linger.ms: shares its value with a secret key"

# --- FIFOs --------------------------------------------------------------------
mkfifo "$T/fifo"
fifo_config() { # KEY_LINES
        cat <<EOF
salesforce:
  login_url: https://acme.my.salesforce.com
$1
kafka:
  bootstrap_servers: 127.0.0.1:9
  replay_topic: t.replay
routes:
  - channel: /topic/A
    topic: a
EOF
}
PW_AUTH='  auth:
    flow: password
    client_id: c
    client_secret: ${SF_CLIENT_SECRET}
    username: u'
fifo_config "  ca_file: $T/fifo
$PW_AUTH
    password: \${SF_PASSWORD}" >"$T/fifo-ca.yaml"
fifo_config "  auth: {flow: jwt, client_id: c, username: u, private_key_file: $T/fifo}" >"$T/fifo-key.yaml"
fifo_config "  auth:
    flow: refresh_token
    client_id: c
    client_secret: \${SF_CLIENT_SECRET}
    refresh_token: \${SF_REFRESH_TOKEN}
    refresh_token_file: $T/fifo" >"$T/fifo-token.yaml"
SF_CLIENT_SECRET=$SECRET-cs SF_PASSWORD=$SECRET-pw SF_REFRESH_TOKEN=$SECRET-rt
export SF_CLIENT_SECRET SF_PASSWORD SF_REFRESH_TOKEN
for kind in ca:salesforce.ca_file key:salesforce.auth.private_key_file token:salesforce.auth.refresh_token_file; do
        f=${kind%%:*}
        key=${kind#*:}
        run_check "$T/fifo-$f.yaml"
        assert_eq "check: a FIFO as $key fails with exit 1 (no hang)" 1 "$RC"
        assert_file_contains "check: the message names $key and says FIFO" "$T/out" \
                "$key: $T/fifo is not a regular file (a FIFO)"
        timeout 10 "$SFB_BUILD/sfbridge" run -c "$T/fifo-$f.yaml" >"$T/out" 2>&1 </dev/null
        assert_eq "run: a FIFO as $key exits 1 (no hang)" 1 "$?"
done
run_check "$T/fifo"
assert_eq "check: a FIFO without a writer as the config file fails at once" 1 "$RC"
assert_file_contains "... as an empty file" "$T/out" "the file is empty"

# --- Nesting ------------------------------------------------------------------
python3 -c "n = 100000; open('$T/deep.yaml', 'w').write('a: ' + '[' * n + ']' * n + '\n')"
run_check "$T/deep.yaml"
assert_eq "100,000 nested [ fail (within the 10 s timeout)" 1 "$RC"
assert_file_contains "... naming the place and the limit" "$T/out" \
        "deep.yaml:1:68: nesting deeper than 64 levels of [ and {"
python3 -c "n = 50000; open('$T/deep2.yaml', 'w').write('a: ' + '[{' * n + '}]' * n + '\n')"
run_check "$T/deep2.yaml"
assert_eq "100,000 nested [{ fail (within the 10 s timeout)" 1 "$RC"

# --- Warnings -----------------------------------------------------------------
cp "$SFB_ROOT/tests/certs/jwt.key" "$T/jwt.key"
chmod 644 "$T/jwt.key"
fifo_config "  auth: {flow: jwt, client_id: c, username: u, private_key_file: $T/jwt.key}" >"$T/key644.yaml"
run_check "$T/key644.yaml"
assert_eq "a readable key file: still valid" 0 "$RC"
assert_file_contains "... with a warning" "$T/out" \
        "warning: $T/key644.yaml:3:66: salesforce.auth.private_key_file: $T/jwt.key holds a secret and is readable by group or others (mode 0644); chmod 600 it"
chmod 600 "$T/jwt.key"
run_check "$T/key644.yaml"
assert_file_not_contains "mode 0600: no warning" "$T/out" "warning"

fifo_config "$PW_AUTH
    password: $SECRET-literal" >"$T/literal.yaml"
chmod 640 "$T/literal.yaml"
run_check "$T/literal.yaml"
assert_file_contains "a literal secret in a readable config: a warning" "$T/out" \
        "salesforce.auth.password: a secret written in $T/literal.yaml, which group or others can read (mode 0640)"
assert_file_not_contains "... that does not show it" "$T/out" "$SECRET"
chmod 600 "$T/literal.yaml"
run_check "$T/literal.yaml"
assert_file_not_contains "mode 0600: no warning" "$T/out" "warning"

sed 's#https://acme.my.salesforce.com#http://acme.my.salesforce.com#' "$T/literal.yaml" >"$T/http.yaml"
chmod 600 "$T/http.yaml"
run_check "$T/http.yaml"
assert_file_contains "an http:// login URL: a warning" "$T/out" \
        "salesforce.login_url: http:// sends the password and client secret in clear; use https://"

# --- No core dumps ------------------------------------------------------------
start_kafka 1 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }
write_config "$T/run.yaml" it-secrets <<'YAML'
  - channel: /topic/AccountUpdates
    topic: it.accounts
YAML
ulimit -c unlimited 2>/dev/null || ulimit -c 1024 2>/dev/null
start_bridge "$T/run.yaml"
line=$(_sfb_first_line "$T/bridge.log" " msg=hardening " 20 "$BRIDGE_PID")
assert_contains "run: the kernel's answer is logged" "$line" "core_dumps=disabled dumpable=0 core_limit=0"
limits=$(grep "Max core file size" "/proc/$BRIDGE_PID/limits" 2>/dev/null)
assert_contains "run: /proc/PID/limits: no core file" "$limits" "Max core file size        0                    0"
stop_bridge TERM
assert_eq "SIGTERM: clean exit 0" 0 "$BRIDGE_RC"
assert_file_not_contains "no secret in the log" "$T/bridge.log" "$SF_PASSWORD"

SFBRIDGE_CORE_DUMPS=1
export SFBRIDGE_CORE_DUMPS
start_bridge "$T/run.yaml"
unset SFBRIDGE_CORE_DUMPS
line=$(_sfb_first_line "$T/bridge.log" " msg=hardening core_dumps=allowed" 20 "$BRIDGE_PID")
assert_contains "SFBRIDGE_CORE_DUMPS=1: core dumps stay allowed, with a warning" "$line" \
        "level=warn msg=hardening core_dumps=allowed dumpable=1"
stop_bridge TERM
finish
