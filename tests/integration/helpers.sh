# Shared helpers for the numbered integration scripts. Sourced, never run:
#
#     . "${SFB_ROOT:-$PWD}/tests/integration/helpers.sh"
#
# POSIX sh (dash): no bashisms, no `local` (helper variables carry a _prefix).
# Every script is run from the repo root as `sh tests/integration/NNNN-x.sh`
# with SFB_BUILD (absolute build dir, build-asan by default) and SFB_ROOT
# (absolute repo root). Output is TAP-like: `ok NAME` / `not ok NAME` lines,
# which tests/run.sh counts; diagnostics start with `# `.
#
# Environment:
#   SFB_BUILD        build directory holding sfbridge, sfsim, kafka-mock
#   SFB_ROOT         repository root
#   SFB_KEEP=1       keep the per-test temp dir $T (its path is printed)
#   SFB_KILL_GRACE   seconds between TERM and KILL at cleanup (default 5)
#
# Conventions: every process a test starts goes through a helper here (or
# track_pid), so the EXIT/INT/TERM trap kills it even when the test fails.

SFB_BUILD=${SFB_BUILD:-$PWD/build-asan}
SFB_ROOT=${SFB_ROOT:-$PWD}
export SFB_BUILD SFB_ROOT

_sfb_name=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/sfb-$_sfb_name.XXXXXX") || {
        echo "not ok helpers: cannot create a temp dir" >&2
        exit 1
}
export T

_sfb_pids=""
_sfb_failures=0
_sfb_passes=0
_sfb_cleaned=0

# ---------------------------------------------------------------------------
# Processes and cleanup

# track_pid PID: kill PID (TERM, then KILL after the grace period) at exit.
track_pid() {
        _sfb_pids="$_sfb_pids $1"
}

# untrack_pid PID: forget PID (it was reaped; its number may be reused).
untrack_pid() {
        _sfb_kept=""
        for _sfb_p in $_sfb_pids; do
                [ "$_sfb_p" = "$1" ] || _sfb_kept="$_sfb_kept $_sfb_p"
        done
        _sfb_pids=$_sfb_kept
}

# _sfb_alive PID: true while PID runs (a zombie counts as gone).
_sfb_alive() {
        _sfb_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
        case "$_sfb_st" in Z*|"") return 1 ;; esac
        return 0
}

_sfb_cleanup() {
        [ "$_sfb_cleaned" = 1 ] && return 0
        _sfb_cleaned=1
        trap - INT TERM
        if [ -n "$_sfb_pids" ]; then
                for _sfb_p in $_sfb_pids; do
                        kill -TERM "$_sfb_p" 2>/dev/null
                done
                _sfb_grace=$(( ${SFB_KILL_GRACE:-5} * 10 ))
                while [ "$_sfb_grace" -gt 0 ]; do
                        _sfb_any=0
                        for _sfb_p in $_sfb_pids; do
                                _sfb_alive "$_sfb_p" && _sfb_any=1
                        done
                        [ "$_sfb_any" = 0 ] && break
                        sleep 0.1
                        _sfb_grace=$((_sfb_grace - 1))
                done
                for _sfb_p in $_sfb_pids; do
                        if _sfb_alive "$_sfb_p"; then
                                echo "# cleanup: pid $_sfb_p ignored TERM, sending KILL"
                                kill -KILL "$_sfb_p" 2>/dev/null
                        fi
                done
                for _sfb_p in $_sfb_pids; do
                        wait "$_sfb_p" 2>/dev/null
                done
        fi
        if [ "${SFB_KEEP:-0}" = 1 ]; then
                echo "# SFB_KEEP=1: kept $T"
        else
                rm -rf "$T"
        fi
}

trap '_sfb_cleanup' EXIT
trap '_sfb_cleanup; exit 130' INT
trap '_sfb_cleanup; exit 143' TERM

# ---------------------------------------------------------------------------
# Reporting

# note TEXT...: a diagnostic line (ignored by the runner's counting).
note() {
        echo "# $*"
}

# show_file FILE [LINES]: the last LINES (default 20) of FILE as diagnostics.
show_file() {
        [ -f "$1" ] || return 0
        echo "# --- tail of $1"
        tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

ok() {
        _sfb_passes=$((_sfb_passes + 1))
        echo "ok $1"
}

# not_ok NAME [DETAIL...]
not_ok() {
        _sfb_failures=$((_sfb_failures + 1))
        echo "not ok $1"
        shift
        [ $# -gt 0 ] && echo "#   $*"
        return 0
}

# check NAME CMD...: ok when CMD succeeds, not ok otherwise.
check() {
        _sfb_n=$1
        shift
        if "$@"; then ok "$_sfb_n"; else not_ok "$_sfb_n" "command failed: $*"; fi
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
        if [ "$2" = "$3" ]; then
                ok "$1"
        else
                not_ok "$1" "expected [$2], got [$3]"
        fi
}

# assert_contains NAME HAYSTACK NEEDLE: NEEDLE is a fixed string.
assert_contains() {
        case "$2" in
        *"$3"*) ok "$1" ;;
        *) not_ok "$1" "[$3] not found in: $(printf '%s' "$2" | head -c 2000)" ;;
        esac
}

# assert_not_contains NAME HAYSTACK NEEDLE
assert_not_contains() {
        case "$2" in
        *"$3"*) not_ok "$1" "[$3] found in: $(printf '%s' "$2" | head -c 2000)" ;;
        *) ok "$1" ;;
        esac
}

# assert_file_contains NAME FILE NEEDLE / assert_file_not_contains (fixed strings)
assert_file_contains() {
        if grep -qF -- "$3" "$2" 2>/dev/null; then
                ok "$1"
        else
                not_ok "$1" "[$3] not found in $2"
                show_file "$2"
        fi
}

assert_file_not_contains() {
        if grep -qF -- "$3" "$2" 2>/dev/null; then
                not_ok "$1" "[$3] found in $2: $(grep -F -- "$3" "$2" | head -n 3)"
        else
                ok "$1"
        fi
}

# check_recoveries_logged [-w S] [-l LOG] NAME CAUSE ACTION [MIN [MAX]]: LOG
# ($T/bridge.log) holds at least MIN (1) and, when given, at most MAX lines
# "msg=recovery cause=CAUSE action=ACTION", waiting up to S s (0) for MIN.
# CAUSE may be an alternation (server_disconnect|unknown_client); ACTION
# "any" takes every action. While the bridge's /metrics answers
# ($METRICS_PORT), sfbridge_recoveries_total for the same cause and action
# must count within the same bounds too: every recovery is logged once and
# counted (README). One ok/not_ok line each.
check_recoveries_logged() {
        _cr_wait=0
        _cr_log=$T/bridge.log
        while :; do
                case "$1" in
                -w) _cr_wait=$2; shift 2 ;;
                -l) _cr_log=$2; shift 2 ;;
                *) break ;;
                esac
        done
        _cr_cause=$2
        _cr_action=$3
        _cr_min=${4:-1}
        _cr_max=${5:-}
        [ "$_cr_action" = any ] && _cr_action='[a-z_]+'
        _cr_re="msg=recovery cause=($_cr_cause) action=($_cr_action)( |\$)"
        wait_for "$_cr_wait" _cr_logged_ge "$_cr_log" "$_cr_re" "$_cr_min"
        _cr_n=$(grep -cE -- "$_cr_re" "$_cr_log" 2>/dev/null)
        _cr_n=${_cr_n:-0}
        if [ "$_cr_n" -ge "$_cr_min" ] && { [ -z "$_cr_max" ] || [ "$_cr_n" -le "$_cr_max" ]; }; then
                ok "$1: recovery cause=$2 action=$3 logged $_cr_n time(s)"
        else
                not_ok "$1: recovery cause=$2 action=$3 logged $_cr_n time(s)" \
                        "want ${_cr_min}..${_cr_max:-} lines matching [$_cr_re] in $_cr_log"
                grep -E 'msg=recovery' "$_cr_log" 2>/dev/null | tail -n 5 | sed 's/^/#   /'
        fi
        [ -n "${METRICS_PORT:-}" ] || return 0
        _cr_scrape=$(curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") || return 0
        _cr_m=$(printf '%s\n' "$_cr_scrape" | awk -v c="$_cr_cause" -v a="$_cr_action" '
                $1 ~ "^sfbridge_recoveries_total[{]" &&
                $1 ~ ("[{,]cause=\"(" c ")\"") && $1 ~ ("[{,]action=\"(" a ")\"") { s += $2 }
                END { print s + 0 }')
        if [ "$_cr_m" -ge "$_cr_min" ] && { [ -z "$_cr_max" ] || [ "$_cr_m" -le "$_cr_max" ]; }; then
                ok "$1: recovery cause=$2 action=$3 counted $_cr_m"
        else
                not_ok "$1: recovery cause=$2 action=$3 counted $_cr_m" \
                        "want ${_cr_min}..${_cr_max:-} in sfbridge_recoveries_total"
        fi
}

# _cr_logged_ge LOG ERE N: LOG holds at least N lines matching ERE.
_cr_logged_ge() {
        [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -ge "$3" ]
}

# finish: print a summary; exit non-zero if any not_ok. On failure, show the
# tails of the logs of this test so the runner's log explains it.
finish() {
        if [ "$_sfb_failures" -gt 0 ]; then
                for _sfb_f in "$T"/*.log "$T"/*.err "$T"/*.out; do
                        [ -f "$_sfb_f" ] && show_file "$_sfb_f"
                done
        fi
        echo "# $_sfb_passes passed, $_sfb_failures failed"
        [ "$_sfb_failures" -eq 0 ] && exit 0
        exit 1
}

# ---------------------------------------------------------------------------
# Polling

# wait_for TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds (return
# 0) or TIMEOUT_S seconds pass (return 1). CMD's output is discarded.
wait_for() {
        _sfb_deadline=$(( $(date +%s) + $1 ))
        shift
        while :; do
                "$@" >/dev/null 2>&1 && return 0
                [ "$(date +%s)" -ge "$_sfb_deadline" ] && return 1
                sleep 0.1
        done
}

# _sfb_first_line FILE PATTERN TIMEOUT_S PID: wait until FILE has a line
# matching the extended regex PATTERN and print the first such line; fail
# early if PID exits.
_sfb_first_line() {
        _sfb_deadline=$(( $(date +%s) + $3 ))
        while :; do
                _sfb_line=$(grep -E -m 1 -- "$2" "$1" 2>/dev/null)
                if [ -n "$_sfb_line" ]; then
                        printf '%s\n' "$_sfb_line"
                        return 0
                fi
                _sfb_alive "$4" || return 1
                [ "$(date +%s)" -ge "$_sfb_deadline" ] && return 1
                sleep 0.1
        done
}

# free_port: print a TCP port no socket on this machine uses right now (for
# listeners that cannot take port 0, such as metrics.listen). Picked below
# Linux's ephemeral range (32768+) so a connect() cannot grab it meanwhile.
free_port() {
        _sfb_used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
                awk 'NR > 1 { split($2, a, ":"); print a[2] }')
        _sfb_try=0
        while [ "$_sfb_try" -lt 100 ]; do
                _sfb_try=$((_sfb_try + 1))
                _sfb_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
                _sfb_port=$((20000 + _sfb_r % 12000))
                _sfb_hex=$(printf '%04X' "$_sfb_port")
                case " $(echo $_sfb_used) " in
                *" $_sfb_hex "*) continue ;;
                esac
                echo "$_sfb_port"
                return 0
        done
        echo "free_port: no free port found" >&2
        return 1
}

# ---------------------------------------------------------------------------
# Kafka: tests/kafka-mock (librdkafka's mock cluster)

KAFKA_BOOTSTRAP=""
KAFKA_PID=""
KAFKA_CTL="$T/kafka.ctl"

# start_kafka [BROKERS] [kafka-mock args...]: start a mock cluster (default
# 3 brokers); sets KAFKA_BOOTSTRAP and KAFKA_PID. One kafka-mock per test at
# a time (stop_kafka before starting another). Logs: $T/kafka.out (bootstrap
# line and command acknowledgements), $T/kafka.err (librdkafka's log).
# `kafka-mock --help` lists the commands and the mock's limits.
start_kafka() {
        _sfb_brokers=${1:-3}
        [ $# -gt 0 ] && shift
        if [ ! -x "$SFB_BUILD/kafka-mock" ]; then
                echo "# start_kafka: $SFB_BUILD/kafka-mock not built" >&2
                return 1
        fi
        "$SFB_BUILD/kafka-mock" --brokers "$_sfb_brokers" \
                --control "$KAFKA_CTL" \
                --max-lifetime-s "${SFB_KAFKA_LIFETIME:-900}" "$@" \
                >"$T/kafka.out" 2>"$T/kafka.err" </dev/null &
        KAFKA_PID=$!
        track_pid "$KAFKA_PID"
        _sfb_line=$(_sfb_first_line "$T/kafka.out" '^kafka-mock bootstrap ' \
                15 "$KAFKA_PID") || {
                echo "# start_kafka: no bootstrap line within 15 s" >&2
                show_file "$T/kafka.err" >&2
                return 1
        }
        KAFKA_BOOTSTRAP=${_sfb_line#kafka-mock bootstrap }
        export KAFKA_BOOTSTRAP
        return 0
}

# stop_kafka: SIGTERM the running kafka-mock and wait (10 s) for its exit;
# returns its exit status (0 on a clean stop).
stop_kafka() {
        wait_exit "$KAFKA_PID" 10 TERM
}

# kafka_ctl CMD: send one command to the running kafka-mock ("down all",
# "up 2", "error Produce 3 NOT_LEADER_FOR_PARTITION", ...) and wait for its
# acknowledgement. Returns 0 on "ok", 1 on "error" or no answer in 10 s.
kafka_ctl() {
        _sfb_before=$(wc -l <"$T/kafka.out")
        _sfb_alive "$KAFKA_PID" || {
                echo "# kafka_ctl $1: kafka-mock is not running" >&2
                return 1
        }
        # The FIFO always has kafka-mock as reader, but the write is bounded
        # anyway in case it dies in between.
        if ! timeout 5 sh -c 'printf "%s\n" "$1" >"$2"' sh "$1" "$KAFKA_CTL"; then
                echo "# kafka_ctl $1: cannot write to $KAFKA_CTL" >&2
                return 1
        fi
        _sfb_deadline=$(( $(date +%s) + 10 ))
        while :; do
                # The first acknowledgement of this command after our write:
                # "kafka-mock ok: CMD" or "kafka-mock error: CMD: reason".
                _sfb_ack=$(tail -n +"$((_sfb_before + 1))" "$T/kafka.out" |
                        _SFB_CMD=$1 awk '
                        $0 == "kafka-mock ok: " ENVIRON["_SFB_CMD"] ||
                        index($0, "kafka-mock error: " ENVIRON["_SFB_CMD"] ": ") == 1 {
                                print; exit
                        }')
                case "$_sfb_ack" in
                "kafka-mock ok: "*) return 0 ;;
                "kafka-mock error: "*)
                        echo "# kafka_ctl: $_sfb_ack" >&2
                        return 1 ;;
                esac
                if [ "$(date +%s)" -ge "$_sfb_deadline" ]; then
                        echo "# kafka_ctl $1: no acknowledgement in 10 s" >&2
                        return 1
                fi
                sleep 0.05
        done
}

# The record format of kcat_read: one record per line, tab-separated:
#     partition <TAB> offset <TAB> key <TAB> headers <TAB> value
# A missing key or value reads NULL (kcat -Z); headers read name=value,...
# (empty when none). Fields: `cut -f1` partition ... `cut -f5-` value.
KCAT_FORMAT='%p\t%o\t%k\t%h\t%s\n'

# kcat_read TOPIC COUNT [kcat args...]: print up to COUNT records of TOPIC,
# from the beginning of every partition, as an independent reader (kcat),
# with isolation.level=read_committed unless the extra args override it
# (-X isolation.level=read_uncommitted). Stops at COUNT records or at the end
# of every partition, and after ${KCAT_TIMEOUT:-30} s at most.
kcat_read() {
        _sfb_topic=$1
        _sfb_count=$2
        shift 2
        timeout -k 5 "${KCAT_TIMEOUT:-30}" kcat -b "$KAFKA_BOOTSTRAP" -C -q -e -Z \
                -t "$_sfb_topic" -o beginning -c "$_sfb_count" \
                -X isolation.level=read_committed \
                -f "$KCAT_FORMAT" "$@"
}

# kcat_count TOPIC [kcat args...]: print how many records kcat_read sees.
kcat_count() {
        _sfb_topic=$1
        shift
        kcat_read "$_sfb_topic" 1000000 "$@" | wc -l | tr -d ' '
}

# kcat_has TOPIC N [kcat args...]: true when TOPIC holds at least N records
# (for wait_for).
kcat_has() {
        _sfb_topic=$1
        _sfb_n=$2
        shift 2
        [ "$(kcat_count "$_sfb_topic" "$@")" -ge "$_sfb_n" ]
}

# kcat_produce TOPIC [kcat args...]: produce stdin, one record per line
# (use -K: for key:value lines, -H name=value for headers).
kcat_produce() {
        _sfb_topic=$1
        shift
        timeout -k 5 "${KCAT_TIMEOUT:-30}" kcat -b "$KAFKA_BOOTSTRAP" -P -q \
                -t "$_sfb_topic" "$@"
}

# ---------------------------------------------------------------------------
# Salesforce emulator: tests/sfsim

SFSIM_URL=""
SFSIM_PID=""

# start_sfsim [sfsim args...]: start the emulator on a free port with the
# test credentials (exported as SF_CLIENT_ID, SF_CLIENT_SECRET, SF_USERNAME,
# SF_PASSWORD for the bridge's ${VAR} config); sets SFSIM_URL and SFSIM_PID.
# Logs: $T/sfsim.out, $T/sfsim.err.
start_sfsim() {
        SF_CLIENT_ID=test-client
        SF_CLIENT_SECRET=test-secret
        SF_USERNAME=bridge@example.com
        SF_PASSWORD=test-password
        export SF_CLIENT_ID SF_CLIENT_SECRET SF_USERNAME SF_PASSWORD
        if [ ! -x "$SFB_BUILD/sfsim" ]; then
                echo "# start_sfsim: $SFB_BUILD/sfsim not built" >&2
                return 1
        fi
        "$SFB_BUILD/sfsim" --listen 127.0.0.1:0 \
                --client-id "$SF_CLIENT_ID" --client-secret "$SF_CLIENT_SECRET" \
                --username "$SF_USERNAME" --password "$SF_PASSWORD" "$@" \
                >"$T/sfsim.out" 2>"$T/sfsim.err" </dev/null &
        SFSIM_PID=$!
        track_pid "$SFSIM_PID"
        _sfb_line=$(_sfb_first_line "$T/sfsim.out" \
                '^sfsim listening on https?://127\.0\.0\.1:[0-9]+' 15 \
                "$SFSIM_PID") || {
                echo "# start_sfsim: no 'sfsim listening on' line within 15 s" >&2
                show_file "$T/sfsim.err" >&2
                return 1
        }
        SFSIM_URL=${_sfb_line#sfsim listening on }
        SFSIM_URL=${SFSIM_URL%% *}
        export SFSIM_URL
        return 0
}

# sfsim_admin METHOD PATH [curl args...]: call the emulator's admin API
# (PATH starts with /admin/) and print the JSON answer. Fails on an HTTP
# error status or no answer within 10 s.
sfsim_admin() {
        _sfb_method=$1
        _sfb_path=$2
        shift 2
        _sfb_ca=""
        case "$SFSIM_URL" in
        https:*) _sfb_ca="$SFB_ROOT/tests/certs/ca.pem" ;;
        esac
        curl -sS -f --max-time 10 -X "$_sfb_method" \
                ${_sfb_ca:+--cacert "$_sfb_ca"} "$@" "$SFSIM_URL$_sfb_path"
}

# ---------------------------------------------------------------------------
# The bridge

BRIDGE_PID=""
BRIDGE_RC=""

# start_bridge CONFIG [args...]: run "$SFB_BUILD/sfbridge" run -c CONFIG in
# the background; sets BRIDGE_PID. stderr (its log) goes to $T/bridge.log,
# stdout to $T/bridge.out.
start_bridge() {
        _sfb_config=$1
        shift
        if [ ! -x "$SFB_BUILD/sfbridge" ]; then
                echo "# start_bridge: $SFB_BUILD/sfbridge not built" >&2
                return 1
        fi
        "$SFB_BUILD/sfbridge" run -c "$_sfb_config" "$@" \
                >>"$T/bridge.out" 2>>"$T/bridge.log" </dev/null &
        BRIDGE_PID=$!
        BRIDGE_RC=""
        track_pid "$BRIDGE_PID"
        return 0
}

# stop_bridge [SIGNAL]: send SIGNAL (default TERM) to the bridge and wait for
# it to exit, at most ${SFB_STOP_TIMEOUT:-15} s (then KILL). Sets BRIDGE_RC
# to its exit status and returns it (137 when it had to be killed).
stop_bridge() {
        wait_exit "$BRIDGE_PID" "${SFB_STOP_TIMEOUT:-15}" "${1:-TERM}"
        BRIDGE_RC=$?
        return "$BRIDGE_RC"
}

# wait_exit PID TIMEOUT_S [SIGNAL]: optionally send SIGNAL to PID (a child
# of this shell), then wait for its exit status, at most TIMEOUT_S seconds
# before a KILL. Returns the status; PID is then untracked.
wait_exit() {
        _sfb_wpid=$1
        [ -n "$_sfb_wpid" ] || return 127
        [ -n "${3:-}" ] && kill -"$3" "$_sfb_wpid" 2>/dev/null
        _sfb_ticks=$(( $2 * 10 ))
        while _sfb_alive "$_sfb_wpid"; do
                if [ "$_sfb_ticks" -le 0 ]; then
                        echo "# wait_exit: pid $_sfb_wpid still running after $2 s, killed"
                        kill -KILL "$_sfb_wpid" 2>/dev/null
                        break
                fi
                sleep 0.1
                _sfb_ticks=$((_sfb_ticks - 1))
        done
        wait "$_sfb_wpid"
        _sfb_rc=$?
        untrack_pid "$_sfb_wpid"
        return "$_sfb_rc"
}
