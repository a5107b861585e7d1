#!/bin/sh
# One program of `make test`: the plain build's unit tests ($SFB_BUILD,
# default build/: no sanitizer) under valgrind memcheck, one TAP line per
# test binary:
#   ok valgrind test_X       no invalid access, no use of uninitialised
#                            memory, no definite or indirect leak;
#   not ok valgrind test_X   with valgrind's report (or the failed case).
# The sanitizer build already runs these under ASan and UBSan; memcheck adds
# uninitialised reads (ASan has no MSan) in the code the release build runs.
#
# Left out, so the pass stays under a minute on two shared cores (valgrind
# runs code 20-50 times slower):
# - tests that start librdkafka (its mock cluster, or a client): found by
#   their source naming kafka_fixture.h, rd_kafka_mock or rd_kafka_new; a
#   client's threads and timers make each take 20 s and more, and the ASan
#   build covers them;
# - test_jwt: RSA signing under valgrind takes over a minute;
# - test_session: it times retries against 1-2 ms backoffs, which valgrind's
#   slowdown overtakes (test_route_retry_succeeds then sees the retry early).
# Each skip prints a "# skipped" comment, never an ok line.
set -u
ROOT=${SFB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
B=${SFB_BUILD:-$ROOT/build}
cd "$ROOT" || exit 1
if ! command -v valgrind >/dev/null 2>&1; then
        echo "not ok valgrind # valgrind is not installed (make deps)"
        exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sfb-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

SLOW="test_jwt test_session"
fail=0; n=0
for bin in "$B"/tests/unit/test_*; do
        case $bin in *.d|*.o) continue ;; esac
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        t=$(basename "$bin")
        case " $SLOW " in *" $t "*) echo "# skipped $t: too slow or timing-bound under valgrind"; continue ;; esac
        if grep -qE 'kafka_fixture\.h|rd_kafka_mock|rd_kafka_new' "tests/unit/$t.c" 2>/dev/null; then
                echo "# skipped $t: starts librdkafka"
                continue
        fi
        n=$((n + 1))
        timeout -k 5 120 valgrind -q --error-exitcode=98 --leak-check=full \
                --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
                "$bin" >"$T/$t.log" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
                echo "ok valgrind $t"
                continue
        fi
        fail=1
        echo "not ok valgrind $t # exit $rc ($([ "$rc" -eq 98 ] && echo "valgrind found errors" || echo "the test failed"))"
        # Indented, so run.sh does not count the test's own cmocka summary.
        grep -E '^==[0-9]+==|\[  (FAILED|ERROR)|LINE' "$T/$t.log" | head -n 40 | sed 's/^/    /'
done
[ "$n" -gt 0 ] || { echo "not ok valgrind # no unit test binaries in $B (make)"; exit 1; }
exit "$fail"
