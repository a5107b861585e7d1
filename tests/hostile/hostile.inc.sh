# Shared body of the hostile-Salesforce tests (tests/hostile/0NNN-*.sh):
# tests/hostile/hostile.py plays Salesforce honestly but for one attack, the
# bridge runs against it and tests/kafka-mock, and every script asserts no
# sanitizer report, no secret in the bridge's output, and the behaviour the
# attack calls for. Sourced after nothing; it sources helpers.sh and bridge.sh.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

# Run alone (not from tests/run.sh), a sanitizer report still fails the bridge.
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1:exitcode=99}"
: "${LSAN_OPTIONS:=suppressions=$SFB_ROOT/tests/lsan.supp:print_suppressions=0}"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

HOSTILE_PY="$SFB_ROOT/tests/hostile/hostile.py"
HOSTILE_URL=""
HOSTILE_PID=""
HOSTILE_LOG="$T/hostile-requests.jsonl"  # not *.log: finish() would show its secrets
HOSTILE_TOKENS="$T/hostile-tokens"

# The credentials hostile.py accepts (the bridge's config reads them through
# ${VAR}); the secrets are grepped for in the bridge's output.
SF_CLIENT_ID=hostile-client
SF_CLIENT_SECRET=hostile-secret-Zq81Kd
SF_USERNAME=bridge@example.com
SF_PASSWORD=hostile-pass-Wm42Rt
export SF_CLIENT_ID SF_CLIENT_SECRET SF_USERNAME SF_PASSWORD

# start_hostile SCENARIO [hostile.py args...]: start the hostile server;
# sets HOSTILE_URL (also as SFSIM_URL, for write_config) and HOSTILE_PID.
start_hostile() {
        _h_scn=$1
        shift
        rm -f "$T/hostile.port"
        python3 "$HOSTILE_PY" --scenario "$_h_scn" --port-file "$T/hostile.port" \
                --log "$HOSTILE_LOG" --tokens-file "$HOSTILE_TOKENS" \
                --deadline "${HOSTILE_DEADLINE:-240}" "$@" \
                >"$T/hostile.out" 2>"$T/hostile.err" </dev/null &
        HOSTILE_PID=$!
        track_pid "$HOSTILE_PID"
        if ! wait_for 10 test -s "$T/hostile.port"; then
                echo "# start_hostile: no port file within 10 s" >&2
                show_file "$T/hostile.err" >&2
                return 1
        fi
        HOSTILE_URL="http://127.0.0.1:$(cat "$T/hostile.port")"
        SFSIM_URL=$HOSTILE_URL
        export HOSTILE_URL SFSIM_URL
}

# stop_hostile: SIGTERM the server and wait for it.
stop_hostile() {
        wait_exit "$HOSTILE_PID" 10 TERM
}

# start_raw_listener: a TCP listener that only counts the bytes it gets
# (lines "raw_bytes N" in $T/raw.log); sets RAW_PORT.
start_raw_listener() {
        python3 "$HOSTILE_PY" --raw --port-file "$T/raw.port" --log "$T/raw.log" \
                --deadline "${HOSTILE_DEADLINE:-240}" >/dev/null 2>"$T/raw.err" </dev/null &
        RAW_PID=$!
        track_pid "$RAW_PID"
        wait_for 10 test -s "$T/raw.port" || return 1
        RAW_PORT=$(cat "$T/raw.port")
        : >>"$T/raw.log"
}

# hostile_admin METHOD PATH: call the server's admin API; prints its JSON.
hostile_admin() {
        curl -sS -f --max-time 10 -X "$1" "$HOSTILE_URL$2"
}

# hpublish CHANNEL COUNT [KIND]: publish COUNT events (KIND good, nodata,
# badreplay, unrouted); prints their sequence numbers, one per line.
hpublish() {
        hostile_admin POST "/admin/publish?channel=$1&count=$2&kind=${3:-good}" |
                sed 's/.*\[\(.*\)\].*/\1/' | tr ',' '\n' | tr -d ' ' | grep -v '^$'
}

# harm COUNT: the scenario's connect attack applies to the next COUNT connects.
harm() {
        hostile_admin POST "/admin/arm?count=$1" >/dev/null
}

# hstat NAME: one counter of the server's /admin/stats.
hstat() {
        hostile_admin GET /admin/stats | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}

# hstat_at_least NAME N (for wait_for)
hstat_at_least() {
        [ "$(hstat "$1")" -ge "$2" ] 2>/dev/null
}

# hostile_config FILE NAME: write_config against the hostile server, one
# route $HCHANNEL -> $HTOPIC (start: all), limits poll off. Extra lines as
# for write_config ($SF_EXTRA, $KAFKA_EXTRA, $TOP_EXTRA).
HCHANNEL=/event/Hostile__e
HTOPIC=hostile.events
hostile_config() {
        SF_EXTRA="  limits_poll_s: 0${SF_EXTRA:+
$SF_EXTRA}" write_config "$1" "$2" "${HDELIVERY:-exactly_once}" <<YAML
  - channel: $HCHANNEL
    topic: $HTOPIC
    start: all
YAML
}

# sum_metric PREFIX: the sum of every /metrics sample whose name (with
# labels) starts with PREFIX.
sum_metric() {
        curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
                awk -v p="$1" 'index($1, p) == 1 { s += $2 } END { printf "%d\n", s }'
}

# bridge_alive: true while the bridge process runs.
bridge_alive() {
        _sfb_alive "$BRIDGE_PID"
}

bridge_gone() {
        ! _sfb_alive "$BRIDGE_PID"
}

# lands_within S TOPIC ID: record key ID is in TOPIC (read_committed) within S s.
lands_within() {
        wait_for "$1" sh -c "kcat -b $KAFKA_BOOTSTRAP -C -e -q -t $2 -o beginning \
                -X isolation.level=read_committed -f '%k\n' 2>/dev/null | grep -qx '$3'"
}

# no_crash NAME [FILE]: no sanitizer report in the bridge's log.
no_crash() {
        _h_f=${2:-$T/bridge.log}
        if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$_h_f" 2>/dev/null; then
                not_ok "$1: no sanitizer report" \
                        "$(grep -E -m 3 'Sanitizer|runtime error' "$_h_f")"
        else
                ok "$1: no sanitizer report"
        fi
}

# no_secrets NAME [FILE...]: neither the password, the client secret nor any
# access token hostile.py issued appears in FILEs (default the bridge's
# stderr and stdout).
no_secrets() {
        _h_n=$1
        shift
        [ $# -gt 0 ] || set -- "$T/bridge.log" "$T/bridge.out"
        _h_leak=""
        for _h_s in "$SF_PASSWORD" "$SF_CLIENT_SECRET"; do
                cat "$@" 2>/dev/null | grep -qF -- "$_h_s" && _h_leak="$_h_leak secret"
        done
        if [ -f "$HOSTILE_TOKENS" ]; then
                # Only the token's random tail: the org ID prefix is public.
                for _h_s in $(sed 's/.*!AQ//' "$HOSTILE_TOKENS"); do
                        cat "$@" 2>/dev/null | grep -qF -- "$_h_s" && _h_leak="$_h_leak token"
                done
        fi
        if [ -z "$_h_leak" ]; then
                ok "$_h_n: no secret in the bridge's output"
        else
                not_ok "$_h_n: no secret in the bridge's output" "leaked:$_h_leak"
        fi
}

# peak_rss_mib PID: the process's VmHWM in MiB (empty when gone).
peak_rss_mib() {
        awk '/^VmHWM:/ { printf "%d\n", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

# save_bridge_log NAME: keep this run's log apart before the next bridge run.
save_bridge_log() {
        mv "$T/bridge.log" "$T/bridge-$1.log" 2>/dev/null
        mv "$T/bridge.out" "$T/bridge-$1.out" 2>/dev/null
        : >"$T/bridge.log"
}
