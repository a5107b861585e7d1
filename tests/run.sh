#!/bin/sh
# The test runner behind `make test`. Runs every unit test binary (plain and
# sanitizer builds), the emulator's tests and every integration script, each
# with a time limit (tests/run-one.sh), keeps each one's output in
# test-logs/, and ends with one line: "N passed, N failed".
#
# Counting: cmocka binaries report their own cases ("[  PASSED  ] N test(s).",
# "[  FAILED  ] N test(s)"); scripts print TAP-style "ok NAME" / "not ok NAME"
# lines. A program that exits non-zero without reporting a failure counts as
# one failure, so a crash can never pass.
#
# Programs run SFB_JOBS at a time (default 3, on 2 cores too): each test's servers bind free
# ports and its files live in its own temporary directory, so they do not
# meet, and most of an integration test's time is spent waiting on timers.
#
# Environment: SFB_ONLY=PATTERN runs only programs whose path matches;
# SFB_JOBS=N runs N at a time (1: one after another); SFB_SUITE=slow runs
# the slow tests instead (tests/slow/*.sh, `make test-slow`): minutes each,
# with production's timers or a short soak; a script that names its build
# on a line "# sfb-build: build" runs against that build, others against
# build-asan.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LOGS="$ROOT/test-logs"
rm -rf "$LOGS"; mkdir -p "$LOGS"
ONLY=${SFB_ONLY:-}
SUITE=${SFB_SUITE:-}
case "$SUITE" in
""|slow) ;;
*) echo "run.sh: SFB_SUITE must be empty or slow, not '$SUITE'" >&2; exit 2 ;;
esac
LIMIT=${SFB_TEST_TIMEOUT:-$([ "$SUITE" = slow ] && echo 1200 || echo 600)}
JOBS=${SFB_JOBS:-3}
export ROOT LOGS LIMIT

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

# The plan: one line per program, "BUILD PROGRAM [ARG]". Integration scripts
# come first: they are the long ones, so the pool ends with short programs.
plan() {
    if [ "$SUITE" = slow ]; then
        for t in tests/slow/[0-9]*.sh; do
            [ -f "$t" ] || continue
            b=$(sed -n 's/^# sfb-build: *\([a-z-]*\).*/\1/p' "$t" | head -n 1)
            echo "${b:-build-asan} sh $t"
        done
        return
    fi
    for t in tests/integration/[0-9]*.sh tests/hostile/[0-9]*.sh; do
        [ -f "$t" ] && echo "build-asan sh $t"
    done
    # A few seconds of each fuzz target over its seeds (make fuzz), and the
    # plain build's unit tests under valgrind: a minute or so each.
    echo "build-fuzz sh tests/fuzz/smoke.sh"
    echo "build sh tests/valgrind.sh"
    for build in build build-asan; do
        for t in "$build"/tests/unit/test_*; do
            [ -x "$t" ] && [ ! -d "$t" ] && case "$t" in *.d|*.o) ;; *) echo "$build $t" ;; esac
        done
    done
    for t in build-asan/tests/sfsim/test_*; do
        [ -x "$t" ] && case "$t" in *.d|*.o) ;; *) echo "build-asan $t" ;; esac
    done
}

plan | while read -r build prog arg; do
    case "${arg:-$prog}" in *"$ONLY"*) echo "$build $prog${arg:+ $arg}" ;; esac
done | xargs -P "$JOBS" -L 1 sh "$ROOT/tests/run-one.sh"

passed=0; failed=0
for r in "$LOGS"/*.result; do
    [ -f "$r" ] || continue
    read -r p f name <"$r"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] || echo "failed: $name"
done
rm -f "$LOGS"/*.result
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
