#!/bin/sh
# `make bench`: runs each benchmark and keeps its output in bench-results/.
# Benchmarks are measurements, not tests: a run fails only when a benchmark
# cannot run. Each one is a function bench_NAME writing
# bench-results/NAME.txt; SFB_BENCH=NAME runs just one.
#
#   sfsim   the emulator alone: a null client drains 200,000 preloaded 1 KB
#           events (target >= 200,000 events/s, so sfsim is never the
#           bottleneck of the bridge's benchmark).
#   bridge  sfbridge drains backlogs of 200,000 and 1,000,000 events of
#           500 B on a PushTopic and a Platform Event (two topics of 64
#           partitions, batches of 1,000) into kafka-mock, with exactly_once
#           and at_least_once: drain rate as a ratio of the sfsim null
#           client's on the same backlog, CPU per event, peak RSS, time to
#           the first record; then the latency publish -> visible to a
#           read_committed consumer at 1,000 events/s for 60 s
#           (tests/bench/bridge.sh, which documents how each figure is
#           measured and its BRIDGE_BENCH_* settings; BRIDGE_BENCH_QUICK=1
#           makes it a ~1 minute run).
#   failover  a replica group of two bridges with one unit, default
#           coordination settings: 10 SIGKILL and 10 SIGTERM failovers,
#           min/median/max of signal -> unit_assigned on the survivor and
#           signal -> first record produced by the new owner; standby RSS
#           and CPU (tests/bench/failover.sh, FAILOVER_BENCH_* settings).
#
# Environment: SFB_BUILD (default build), SFB_BENCH, SFSIM_BENCH_COUNT (200000),
# SFSIM_BENCH_SIZE (1024).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${SFB_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
RESULTS="$ROOT/bench-results"
ONLY=${SFB_BENCH:-}
mkdir -p "$RESULTS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sfb-bench.XXXXXX") || exit 1

PIDS=""
cleanup() {
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_sfsim NAME ARGS...: starts sfsim in the background, waits for its ready
# line (10 s at most), sets SFSIM_URL and SFSIM_PID.
start_sfsim() {
    name=$1; shift
    "$BUILD/sfsim" --listen 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SFSIM_PID=$!
    PIDS="$PIDS $SFSIM_PID"
    i=0
    while [ $i -lt 100 ]; do
        SFSIM_URL=$(sed -n 's/^sfsim listening on //p' "$TMP/$name.out")
        [ -n "$SFSIM_URL" ] && return 0
        kill -0 "$SFSIM_PID" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    echo "bench: sfsim did not start:" >&2
    cat "$TMP/$name.err" >&2
    return 1
}

# stop_sfsim: SIGTERM, and wait for a clean exit.
stop_sfsim() {
    kill -TERM "$SFSIM_PID" 2>/dev/null
    wait "$SFSIM_PID"
    rc=$?
    PIDS=$(echo "$PIDS" | sed "s/ $SFSIM_PID\$//; s/ $SFSIM_PID / /")
    return $rc
}

header() { # header TITLE
    echo "# $1"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "machine: $(uname -srm), $(nproc 2>/dev/null || echo '?') cores"
    echo "build: $BUILD"
}

bench_sfsim() {
    count=${SFSIM_BENCH_COUNT:-200000}
    size=${SFSIM_BENCH_SIZE:-1024}
    out="$RESULTS/sfsim.txt"
    start_sfsim sfsim --client-id bench-client --client-secret bench-secret \
        --username bench@example.com --password bench-password \
        --retention "$((count + 1000))" || return 1
    {
        header "sfsim null-client benchmark"
        echo "target: >= 200000 events/s of 1 KB events"
        echo
        "$BUILD/bench/sfsim_null_client" --url "$SFSIM_URL" --count "$count" --size "$size" \
            --channel /event/Bench__e --client-id bench-client --client-secret bench-secret \
            --username bench@example.com --password bench-password
    } >"$TMP/sfsim.txt" 2>&1
    rc=$?
    stop_sfsim || { echo "bench: sfsim did not stop cleanly" >&2; rc=1; }
    rate=$(sed -n 's/^drain: .* \([0-9][0-9]*\) events\/s.*/\1/p' "$TMP/sfsim.txt")
    if [ "$rc" -eq 0 ] && [ -n "$rate" ]; then
        if [ "$rate" -ge 200000 ]; then verdict="met"; else verdict="NOT met"; fi
        echo "result: $rate events/s (target $verdict)" >>"$TMP/sfsim.txt"
    fi
    cp "$TMP/sfsim.txt" "$out"
    cat "$out"
    echo "bench: wrote $out"
    return $rc
}

bench_bridge() {
    SFB_BUILD="$BUILD" sh "$ROOT/tests/bench/bridge.sh"
}

bench_failover() {
    SFB_BUILD="$BUILD" SFB_ROOT="$ROOT" sh "$ROOT/tests/bench/failover.sh"
}

failed=0
for b in sfsim bridge failover; do
    case "$b" in *"$ONLY"*) ;; *) continue ;; esac
    if ! "bench_$b"; then
        echo "bench: $b failed" >&2
        failed=1
    fi
done
exit $failed
