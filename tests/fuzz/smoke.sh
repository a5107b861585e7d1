#!/bin/sh
# `make fuzz-smoke`, and one program of `make test`: runs every libFuzzer
# target of build-fuzz/ (make fuzz) for a few seconds over its committed
# seeds, and prints TAP lines run.sh counts:
#   ok fuzz_X seeds          its seed corpus exists, and reaches more edges
#                            than the empty input does (a missing or unread
#                            corpus fails here: without seeds the Bayeux
#                            target reached 70 edges, with them over 600);
#   ok fuzz_X run            SFB_FUZZ_SECONDS (3) of fuzzing found nothing.
# Each line quotes libFuzzer's coverage ("cov:" edges): from the empty
# input, from the seeds, and after the run; the README quotes them.
#
# New inputs go to a temporary directory, never into the tree; a crashing
# input is kept as $LOGS/fuzz-crash-fuzz_X-* (or /tmp) and shown in hex.
# Runs from the repository root: fuzz_config loads tests/certs/jwt.key
# (make certs) when it exists.
set -u
ROOT=${SFB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
FB=${SFB_BUILD:-$ROOT/build-fuzz}
SECS=${SFB_FUZZ_SECONDS:-3}
KEEP=${LOGS:-/tmp}
cd "$ROOT" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/sfb-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

# TARGET: its seed directories (all must exist and hold files).
seeds() {
        case $1 in
        fuzz_bayeux) echo tests/data/salesforce tests/fuzz/corpus/fuzz_bayeux ;;
        fuzz_config) echo config tests/data/config tests/fuzz/corpus/fuzz_config ;;
        fuzz_expand) echo tests/fuzz/corpus/fuzz_expand ;;
        fuzz_httpd) echo tests/fuzz/corpus/fuzz_httpd ;;
        fuzz_replay) echo tests/fuzz/corpus/fuzz_replay ;;
        esac
}

# The "cov:" of the last libFuzzer status line matching $2 in file $1.
cov() {
        sed -n "s/.*$2 *cov: \([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1
}

fail=0
for t in fuzz_bayeux fuzz_config fuzz_expand fuzz_httpd fuzz_replay; do
        bin=$FB/$t
        if [ ! -x "$bin" ]; then
                echo "not ok $t seeds # $bin missing: run make fuzz (needs clang)"
                echo "not ok $t run # $bin missing"
                fail=1
                continue
        fi
        dirs=$(seeds "$t")
        n=0; missing=
        for d in $dirs; do
                c=$(find "$d" -type f 2>/dev/null | wc -l)
                [ "$c" -gt 0 ] || missing="$missing $d"
                n=$((n + c))
        done
        # The empty input alone: what the target reaches with no seeds.
        mkdir -p "$T/$t.empty" "$T/$t.new"
        timeout 60 "$bin" -runs=0 "$T/$t.empty" >"$T/$t.base.log" 2>&1
        base=$(cov "$T/$t.base.log" INITED)
        timeout -k 5 $((SECS + 60)) "$bin" -max_total_time="$SECS" -timeout=10 \
                -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 \
                -artifact_prefix="$T/$t.crash-" "$T/$t.new" $dirs >"$T/$t.log" 2>&1
        rc=$?
        seeded=$(cov "$T/$t.log" INITED)
        done_cov=$(cov "$T/$t.log" DONE)
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$t.log")
        if [ -n "$missing" ]; then
                echo "not ok $t seeds # no seed files in:$missing"
                fail=1
        elif [ -z "$base" ] || [ -z "$seeded" ] || [ "$seeded" -le "$base" ]; then
                echo "not ok $t seeds # $n seed files reach cov ${seeded:-?}, the empty input ${base:-?}"
                fail=1
        else
                echo "ok $t seeds # $n seed files: cov $seeded edges (empty input: $base)"
        fi
        if [ "$rc" -eq 0 ] && [ -n "$done_cov" ]; then
                echo "ok $t run # ${SECS}s, ${runs:-?} runs, cov $done_cov edges"
        else
                echo "not ok $t run # exit $rc after ${runs:-?} runs"
                grep -E 'ERROR: |SUMMARY: |runtime error|#[0-9]+ +(pulse|NEW|REDUCE)' "$T/$t.log" | \
                        grep -v 'pulse\|NEW\|REDUCE' | head -n 20 | sed 's/^/    /'
                for a in "$T/$t".crash-*; do
                        [ -f "$a" ] || continue
                        keep="$KEEP/fuzz-crash-$t-$(basename "$a" | sed "s/^$t.crash-//")"
                        cp "$a" "$keep"
                        echo "    input kept as $keep:"
                        od -A d -c "$a" | head -n 20 | sed 's/^/    /'
                done
                fail=1
        fi
done
exit "$fail"
