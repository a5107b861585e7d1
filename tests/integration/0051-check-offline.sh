#!/bin/sh
# Evidence 5 through the command line: `sfbridge check` accepts every
# config/ example and rejects every bad config of tests/data/config with
# exit 1 and the exact file:line:column message on stderr.
. "$SFB_ROOT/tests/integration/helpers.sh"
cd "$SFB_ROOT" || exit 1

SF_CLIENT_ID=test-client-id SF_CLIENT_SECRET=PLANTED-SECRET-client SF_USERNAME=user@example.com
SF_PASSWORD=PLANTED-SECRET-pw SF_REFRESH_TOKEN=PLANTED-SECRET-rt
SF_PRIVATE_KEY_FILE=tests/certs/jwt.key SF_LOGIN_URL=https://acme.my.salesforce.com
SFSIM_URL=http://127.0.0.1:8080 KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 SFB_TEST_EMPTY=
export SF_CLIENT_ID SF_CLIENT_SECRET SF_USERNAME SF_PASSWORD SF_REFRESH_TOKEN SF_PRIVATE_KEY_FILE
export SF_LOGIN_URL SFSIM_URL KAFKA_BOOTSTRAP_SERVERS SFB_TEST_EMPTY
unset SFB_TEST_UNSET_VAR SF_CA_FILE SF_PROXY SFSIM_CA_FILE SFB_STALL_TIMEOUT_S SFB_METRICS_LISTEN

for f in config/*.yaml; do
        "$SFB_BUILD/sfbridge" check -c "$f" >"$T/out" 2>"$T/err"
        rc=$?
        if [ "$rc" = 0 ] && grep -q "test is successful" "$T/out"; then
                ok "check accepts $f"
        else
                not_ok "check accepts $f" "exit $rc: $(head -c 500 "$T/err")"
        fi
done

n=0
for err in tests/data/config/*.err; do
        yaml=${err%.err}.yaml
        [ -f "$yaml" ] || continue
        n=$((n + 1))
        "$SFB_BUILD/sfbridge" check -c "$yaml" >"$T/out" 2>"$T/err"
        rc=$?
        # The loader's message (two lines), then check's own failure line.
        head -n "$(wc -l <"$err")" "$T/err" >"$T/got"
        if [ "$rc" = 1 ] && cmp -s "$err" "$T/got" && grep -q "test failed" "$T/err"; then
                ok "check rejects $yaml"
        else
                not_ok "check rejects $yaml" "exit $rc; expected: $(cat "$err") got: $(cat "$T/err")"
        fi
        if grep -q PLANTED "$T/err" "$T/out"; then not_ok "no secret in the error for $yaml"; fi
done
[ "$n" -ge 50 ] && ok "$n bad configs checked" || not_ok "bad configs checked" "only $n"

# check == run: what check refuses (a kafka.properties key or value librdkafka
# refuses, a key file that is no private key, a topic clash), run refuses
# with the same words before connecting to anything.
for name in property-unknown property-bad-value property-managed property-secret-bad-value \
            key-file-certificate key-file-not-pem topic-is-replay-topic; do
        yaml=tests/data/config/$name.yaml
        timeout 20 "$SFB_BUILD/sfbridge" run -c "$yaml" >"$T/out" 2>"$T/err"
        rc=$?
        # run logs the loader's message inside its log line.
        if [ "$rc" = 1 ] && grep -qF "$(head -n 1 "tests/data/config/$name.err")" "$T/err"; then
                ok "run refuses $name as check does"
        else
                not_ok "run refuses $name as check does" "exit $rc: $(head -c 500 "$T/err")"
        fi
        if grep -q PLANTED "$T/err" "$T/out"; then not_ok "no secret in run's error for $name"; fi
done
finish
