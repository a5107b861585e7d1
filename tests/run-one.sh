#!/bin/sh
# One program of the test suite, run by tests/run.sh (possibly several at
# once): runs it under a time limit with its output in test-logs/NAME.log,
# counts what it reported, prints one PASS/FAIL block and leaves the counts
# in test-logs/NAME.result ("passed failed") for run.sh to add up.
#
# Usage: run-one.sh BUILD_DIR PROGRAM [ARGS...]   (PROGRAM "sh" runs ARGS[0])
set -u
build=$1; shift
prog=$1
[ "$prog" = sh ] && prog=$2
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
# One write per report, so reports of programs running side by side never interleave.
if [ "$f" -eq 0 ]; then
    report="PASS $build $prog ($p passed, ${secs}s)"
else
    report=$(
        echo "FAIL $build $prog ($p passed, $f failed, exit $rc, ${secs}s) — log: test-logs/$name.log"
        grep -E '^not ok |^\[  FAILED  \]|^\[  ERROR   \]|ERROR: |runtime error' "$log" | head -20 | sed 's/^/    /'
        tail -n 15 "$log" | sed 's/^/    | /'
    )
fi
printf '%s\n' "$report"
echo "$p $f $name" >"$LOGS/$name.result"
