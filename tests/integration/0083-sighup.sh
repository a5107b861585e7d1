#!/bin/sh
# SIGHUP reloads credentials for rotated secrets without dropping the
# session: the config file is read again, changed salesforce.auth.* values
# apply to the next login (no re-login, no re-handshake now), other changed
# keys are named in a warning and keep their old values, and msg=reloaded
# names what changed, never a value. After a password rotation in the
# emulator, a token revocation forces a login that succeeds with the new
# password, and later events land in Kafka. A broken config or JWT key file
# is reported (naming the file) and the bridge keeps running; a login needed
# while the key file is broken fails, is retried, and succeeds once the file
# is fixed, with no restart; SIGTERM still stops it cleanly.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

[ -f "$SFB_ROOT/tests/certs/jwt.key" ] || sh "$SFB_ROOT/tests/gen-certs.sh" "$SFB_ROOT/tests/certs" >/dev/null
CH=/topic/Hup
TP=it.hup
NEW_PASSWORD='N3w-PLANTED-pw "rotated" #2'

start_kafka 1 || { not_ok "start kafka"; finish; }
start_sfsim --jwt-public-key "$SFB_ROOT/tests/certs/jwt.pub" || { not_ok "start sfsim"; finish; }

# count PATTERN: lines of the bridge log holding PATTERN.
count() {
        grep -cF -- "$1" "$T/bridge.log"
}
log_grows() {
        [ "$(count "$1")" -gt "$2" ]
}
alive() {
        kill -0 "$BRIDGE_PID" 2>/dev/null
}

# --- Password flow: the password lives in the config file ---------------------
write_config "$T/hup.yaml" it-hup <<YAML
  - channel: $CH
    topic: $TP
    start: all
YAML
# An operator whose config is rendered from a secret store: the password is
# in the file itself, where a rotation rewrites it.
sed "s|password: \${SF_PASSWORD}|password: \"$SF_PASSWORD\"|" "$T/hup.yaml" >"$T/hup.tmp" &&
        mv "$T/hup.tmp" "$T/hup.yaml"
assert_file_contains "config holds the password literally" "$T/hup.yaml" "password: \"$SF_PASSWORD\""

start_bridge "$T/hup.yaml"
if wait_for 30 ready; then ok "password run: ready"; else not_ok "password run: ready"; finish; fi
publish "$CH" 2 >/dev/null
wait_for 20 kcat_has "$TP" 2 || not_ok "first events in Kafka"

logins=$(count " msg=login ")
handshakes=$(count " msg=handshake ")

# Rotate: Salesforce first (the old password stops working), then the file,
# with one non-credential change that needs a restart.
sfsim_admin POST "/admin/credentials" --data-urlencode "password=$NEW_PASSWORD" -G >/dev/null ||
        not_ok "sfsim rotates the password"
python3 - "$T/hup.yaml" "$SF_PASSWORD" "$NEW_PASSWORD" <<'PY'
import json, sys
path, old, new = sys.argv[1:4]
text = open(path).read()
# A YAML double-quoted scalar is a JSON string.
text = text.replace('password: "%s"' % old, "password: %s" % json.dumps(new))
text = text.replace("limit_backoff_s: 1", "limit_backoff_s: 2")
open(path, "w").write(text)
PY
kill -HUP "$BRIDGE_PID"
if wait_for 10 log_grows " msg=reloaded " 0; then ok "SIGHUP: msg=reloaded"; else not_ok "SIGHUP: msg=reloaded"; fi
sleep 0.5
if alive; then ok "SIGHUP: still running"; else not_ok "SIGHUP: still running" "the process is gone"; finish; fi
assert_file_contains "reloaded names the changed credential" "$T/bridge.log" \
        " msg=reloaded changed=salesforce.auth.password restart_needed=salesforce.limit_backoff_s "
assert_file_contains "a warning names the key that needs a restart" "$T/bridge.log" \
        " level=warn msg=reload keys=salesforce.limit_backoff_s "
assert_eq "no re-login at the reload" "$logins" "$(count " msg=login ")"
assert_eq "no re-handshake at the reload" "$handshakes" "$(count " msg=handshake ")"
if ready; then ok "still ready after the reload"; else not_ok "still ready after the reload"; fi

# The session's token dies: the next login must use the new password.
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
if wait_for 20 log_grows " msg=login " "$logins"; then
        ok "revoked token: logged in again with the rotated password"
else
        not_ok "revoked token: logged in again with the rotated password" \
                "$(grep -E 'auth_rejected|msg=login' "$T/bridge.log" | tail -n 2)"
fi
assert_eq "no login was refused" 0 "$(count " msg=auth_rejected ")"
wait_for 20 ready || not_ok "ready after the new login"
publish "$CH" 3 >/dev/null
if wait_for 20 kcat_has "$TP" 5; then ok "events after the new login land in Kafka"; else
        not_ok "events after the new login land in Kafka" "$(kcat_count "$TP") records"; fi

# A config that no longer loads: an error, the bridge runs on unchanged.
cp "$T/hup.yaml" "$T/hup.good"
printf 'routes: [unclosed\n' >>"$T/hup.yaml"
before=$(count " msg=reload ")
kill -HUP "$BRIDGE_PID"
wait_for 10 log_grows " level=error msg=reload " 0 || :
assert_file_contains "broken config: error naming the file" "$T/bridge.log" \
        " level=error msg=reload config=$T/hup.yaml err="
sleep 0.5
if alive && ready; then ok "broken config: still running and ready"; else not_ok "broken config: still running and ready"; fi

# Rotated in Salesforce before the file: logins are refused and back off
# (the fifth waits 4 to 8 s). The reload retries at once.
NEWER_PASSWORD=N3wer-PLANTED-pw
sfsim_admin POST "/admin/credentials?password=$NEWER_PASSWORD" >/dev/null
logins=$(count " msg=login ")
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
wait_for 20 log_grows " msg=auth_rejected " 4 || not_ok "logins refused with the old password"
sed "s|^    password: .*|    password: $NEWER_PASSWORD|" "$T/hup.good" >"$T/hup.yaml"
kill -HUP "$BRIDGE_PID"
if wait_for 2 log_grows " msg=login " "$logins"; then
        ok "reload during a refused-login backoff: logged in at once"
else
        not_ok "reload during a refused-login backoff: logged in at once" \
                "$(grep -E 'msg=(backoff|reloaded|login|auth_rejected) ' "$T/bridge.log" | tail -n 4)"
fi
wait_for 20 ready || not_ok "ready after the rotated login"
stop_bridge TERM
assert_eq "password run: clean stop after the reloads" 0 "$BRIDGE_RC"
grep -F -e "N3w-PLANTED" -e "N3wer-PLANTED" "$T/bridge.log" >/dev/null &&
        not_ok "the new password is never logged" || ok "the new password is never logged"
grep -F -- "$SF_PASSWORD" "$T/bridge.log" >/dev/null &&
        not_ok "the old password is never logged" || ok "the old password is never logged"
mv "$T/bridge.log" "$T/password.log"

# --- JWT flow: the key file ---------------------------------------------------
SF_JWT_KEY="$T/sf-jwt.key"
export SF_JWT_KEY
cp "$SFB_ROOT/tests/certs/jwt.key" "$SF_JWT_KEY"
write_config "$T/jwt.yaml" it-hup-jwt exactly_once jwt <<YAML
  - channel: $CH
    topic: $TP
    start: new
YAML
start_bridge "$T/jwt.yaml"
if wait_for 30 ready; then ok "jwt run: ready"; else not_ok "jwt run: ready"; finish; fi

kill -HUP "$BRIDGE_PID"
wait_for 10 log_grows " msg=reloaded " 0 || :
assert_file_contains "same key: reloaded, nothing changed" "$T/bridge.log" \
        " msg=reloaded changed=none restart_needed=none "

cp "$SFB_ROOT/tests/certs/jwt-other.key" "$SF_JWT_KEY"
kill -HUP "$BRIDGE_PID"
wait_for 10 log_grows " msg=reloaded " 1 || :
assert_file_contains "rotated key file: its contents named as changed" "$T/bridge.log" \
        " msg=reloaded changed=salesforce.auth.private_key_file.contents "
cp "$SFB_ROOT/tests/certs/jwt.key" "$SF_JWT_KEY"

printf 'this is not a PEM key\n' >"$SF_JWT_KEY"
kill -HUP "$BRIDGE_PID"
wait_for 10 log_grows " level=error msg=reload " 0 || :
# Config loading checks the key file (check == run), so the reload's error
# names the config line and the key file both.
if grep " level=error msg=reload " "$T/bridge.log" | grep -q "$SF_JWT_KEY: no PEM private key in the file"; then
        ok "broken key file: error naming the file and the problem"
else
        not_ok "broken key file: error naming the file and the problem"
fi
sleep 0.5
if alive && ready; then ok "broken key file: still running and ready"; else not_ok "broken key file: still running and ready"; fi
# A FIFO in place of the key file must not hang the reload (issue 14).
rm -f "$SF_JWT_KEY"; mkfifo "$SF_JWT_KEY"
kill -HUP "$BRIDGE_PID"
wait_for 10 log_grows " level=error msg=reload " 1 || :
if grep " level=error msg=reload " "$T/bridge.log" | grep -q "$SF_JWT_KEY is not a regular file"; then
        ok "key file replaced by a FIFO: the reload says so"
else
        not_ok "key file replaced by a FIFO: the reload says so"
fi
if alive && ready; then ok "key file replaced by a FIFO: still running and ready"; else
        not_ok "key file replaced by a FIFO: still running and ready"; fi
rm -f "$SF_JWT_KEY"; printf 'this is not a PEM key\n' >"$SF_JWT_KEY"
# A login needed while the file is broken: an error naming it, retried at
# the backoff pace, never an exit; fixing the file is enough.
logins=$(count " msg=login ")
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
if wait_for 15 log_grows " level=error msg=auth_rejected flow=jwt err=\"$SF_JWT_KEY: no PEM private key" 0; then
        ok "login with the broken key file: error naming the file"
else
        not_ok "login with the broken key file: error naming the file"
fi
if alive; then ok "login with the broken key file: still running"; else not_ok "login with the broken key file: still running"; finish; fi
cp "$SFB_ROOT/tests/certs/jwt.key" "$SF_JWT_KEY"
if wait_for 20 log_grows " msg=login " "$logins" && wait_for 20 ready; then
        ok "key file fixed: logged in again and ready, no restart"
else
        not_ok "key file fixed: logged in again and ready, no restart"
fi
publish "$CH" 2 >/dev/null
if wait_for 20 kcat_has "$TP" 7; then ok "jwt run: events after the fix land in Kafka"; else
        not_ok "jwt run: events after the fix land in Kafka" "$(kcat_count "$TP") records"; fi
assert_file_not_contains "no key material logged" "$T/bridge.log" "PRIVATE KEY"
stop_bridge TERM
assert_eq "jwt run: SIGTERM after the reloads stops cleanly" 0 "$BRIDGE_RC"
finish
