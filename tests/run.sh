#!/bin/sh
# The test runner behind `make test`. Runs every unit test binary (plain and
# sanitizer builds), the emulator's tests and every integration script, each
# with a time limit, keeps each one's output in test-logs/, and ends with one
# line: "N passed, N failed".
#
# Counting: cmocka binaries report their own cases ("[  PASSED  ] N test(s).",
# "[  FAILED  ] N test(s)"); scripts print TAP-style "ok NAME" / "not ok NAME"
# lines. A program that exits non-zero without reporting a failure counts as
# one failure, so a crash can never pass.
#
# Environment: SFB_ONLY=PATTERN runs only programs whose path matches.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LOGS="$ROOT/test-logs"
rm -rf "$LOGS"; mkdir -p "$LOGS"
ONLY=${SFB_ONLY:-}
LIMIT=${SFB_TEST_TIMEOUT:-600}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

passed=0; failed=0; failures=""

run_one() { # run_one BUILD_DIR PROGRAM [ARGS...]
    build=$1; shift
    prog=$1
    [ "$prog" = sh ] && prog=$2
    case "$prog" in *"$ONLY"*) ;; *) return ;; esac
    name=$(echo "$build:$prog" | sed 's|^\./||; s|[/:]|_|g')
    log="$LOGS/$name.log"
    start=$(date +%s)
    SFB_BUILD="$ROOT/$build" SFB_ROOT="$ROOT" timeout -k 10 "$LIMIT" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    secs=$(( $(date +%s) - start ))
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    tp=$(grep -c '^ok ' "$log")
    tf=$(grep -c '^not ok ' "$log")
    p=$((p + tp)); f=$((f + tf))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # a program that tested nothing
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -eq 0 ]; then
        echo "PASS $build $prog ($p passed, ${secs}s)"
    else
        echo "FAIL $build $prog ($p passed, $f failed, exit $rc, ${secs}s) — log: test-logs/$name.log"
        grep -E '^not ok |^\[  FAILED  \]|^\[  ERROR   \]|ERROR: |runtime error' "$log" | head -20 | sed 's/^/    /'
        tail -n 15 "$log" | sed 's/^/    | /'
        failures="$failures $name"
    fi
}

for build in build build-asan; do
    for t in "$build"/tests/unit/test_*; do
        [ -x "$t" ] && [ ! -d "$t" ] && case "$t" in *.d|*.o) ;; *) run_one "$build" "$t" ;; esac
    done
done
for t in build-asan/tests/sfsim/test_*; do
    [ -x "$t" ] && case "$t" in *.d|*.o) ;; *) run_one build-asan "$t" ;; esac
done
for t in tests/integration/[0-9]*.sh; do
    [ -f "$t" ] && run_one build-asan sh "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
