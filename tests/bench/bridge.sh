#!/bin/sh
# The bridge benchmark (`make bench`, after the sfsim null-client one): how
# fast and how cheaply sfbridge drains a backlog, compared with a client that
# only reads the Bayeux server, and how soon a steady stream becomes visible
# in Kafka.
#
# Shape. Two channels, a PushTopic (/topic/BenchAccounts) and a Platform
# Event (/event/Bench__e), routed to two topics of BRIDGE_BENCH_PARTITIONS
# (64) partitions each, events of BRIDGE_BENCH_SIZE (500) bytes as sfsim
# renders them (the whole Bayeux message; the record value, data, is ~30 B
# less), sfsim --max-batch BRIDGE_BENCH_MAX_BATCH (1000) events per
# /meta/connect (sfsim fills a batch from one channel, then the next). The
# routes say partition_by: key (BRIDGE_BENCH_PARTITION_BY) so the replay-ID
# keys spread over all 64 partitions; a bridge whose config has no
# partition_by key (the check command rejects it) gets none, and
# librdkafka's partitioner spreads the keys the same way.
#
# For each backlog of BRIDGE_BENCH_COUNTS ("200000 1000000") events, half on
# each channel, one sfsim is preloaded once; then, on that same backlog:
#   1. the null client (build/bench/sfsim_null_client --no-preload) drains
#      both channels in one session (replay -2): its rate is events / the
#      time from the end of its first response that carried events to the
#      end of the last one;
#   2. for each delivery mode (BRIDGE_BENCH_MODES: exactly_once,
#      at_least_once) a fresh kafka-mock and a fresh bridge (its own name,
#      nothing stored, start: all) drain it, watched by
#      build/bench/bench_drain.
#
# Measured per mode and backlog:
#   drain rate       events / (last record's timestamp - first record's
#                    timestamp), and as a ratio of the null client's rate;
#   first record     the first record's timestamp - the time the bridge
#                    process was started (the old bridge waits a 2 s
#                    name-claim grace in there);
#   CPU              utime + stime of the bridge process, all threads (dead
#                    ones too), when the last record landed, in s and in
#                    microseconds per event; split into the main thread,
#                    librdkafka's rdk:* threads and the rest (threads alive
#                    then); start-up (login, reading the replay topic) is
#                    included; /proc counts in 10 ms ticks, so a small
#                    backlog reads coarse;
#   RSS              peak (VmHWM) and current (VmRSS) at that moment;
#   records          the partitions' end offsets added up (kafka-mock writes
#                    no transaction markers, so an offset is a record): each
#                    event once when it equals the backlog; plus what the
#                    mock dropped, and for context the CPU kafka-mock,
#                    sfsim and bench_drain used meanwhile (they share the
#                    2 cores; bench_drain takes ~0.1-0.6 s per drain).
#
# Where the record times come from, and why. Record timestamps are
# CreateTime, stamped by the bridge's librdkafka when it produces the record
# (kafka-mock has no LogAppendTime and keeps them as sent); nothing is read
# from the bridge's metrics or logs. librdkafka 2.0.2's mock keeps at most
# 5 MiB per partition and silently drops the oldest batches beyond. One
# record here is 610-660 B in its batch (a ~470 B value, the replay-ID key,
# 120-170 B of sf.* headers, sf.event_uuid on Platform Events only, record
# framing; bench_drain prints its estimate as record_bytes and the results
# file does the sums), plus ~61 B of batch header per ~15 records, so a
# partition holds 7,900-8,600 records. 200,000 events over 128 partitions
# is ~1,560 per partition (~1 MB): fits. 1,000,000 is ~7,800 per partition
# on average, 4.8-5.2 MB: at the limit; the keys do not spread exactly
# evenly (a few percent more in the busiest partitions), so the busiest
# Platform Event partitions lose their oldest batches by the end (in the
# first full run the mock dropped ~100 of the 1,000,000 records per mode);
# with partition_by: channel (one partition per topic, 500,000 records,
# ~320 MB each) the mock surely drops almost everything. So the first
# record cannot be relied on being readable after the drain
# (dropped_by_mock says whether the mock dropped any in a given run). Nor
# is the earliest timestamp still present per partition the first record:
# once a partition dropped its head, its earliest remaining record is one
# from the middle of the drain, and when every partition dropped its head
# (all fill at the same pace) the minimum over them is late by most of the
# drain. What stays true is that the newest records are never dropped, and
# the end offsets still count every record. Hence bench_drain, started
# before the bridge:
#   - reads, from the log start, only the first record of each partition
#     (offset 0, checked: first_lost counts partitions where offset 0 was
#     already gone, which would take ~8,000 records in a partition before
#     the watcher's first fetch) and then pauses that partition: the first
#     record of the drain is the earliest of these. Reading the first batch
#     of each partition costs next to nothing, where a consumer reading the
#     whole drain as it arrives would see every record too but would take
#     CPU from the bridge it measures on a 2-core machine;
#   - polls the end offsets (one ListOffsets per broker every 50 ms) until
#     they add up to the backlog, then samples the bridge's /proc (CPU, RSS)
#     at once, then reads the newest record of each partition: the last
#     record is the latest of these.
# If the record timestamps predate the bridge's start (a producer that sets
# them to the event time), the drain falls back to bench_drain's own clock
# (when it saw the first record, when the end offsets reached the count;
# 50-100 ms coarse) and the results say so.
#
# Latency (BRIDGE_BENCH_LATENCY_S, 60 s; 0 skips it), per mode, on a fresh
# sfsim, kafka-mock and bridge: build/bench/bench_publish publishes
# BRIDGE_BENCH_LATENCY_RATE (1,000) events/s in all, shared between the two
# channels, every 10 ms on an absolute schedule, once sfsim shows both
# channels subscribed; build/bench/bench_latency, an isolation.level=
# read_committed consumer of every partition, takes each record's receive
# time minus the publish time sfsim wrote into the event with ms precision
# (createdDate of a PushTopic, CreatedDate of a Platform Event): p50, p90,
# p99, p99.9, max; plus the record timestamp minus the publish time (how
# long before the bridge produced it) and the bridge's CPU meanwhile.
# Limits of the mock that bear on it: it writes no transaction markers, so a
# read_committed reader sees exactly_once records when they are written,
# not when the transaction commits (the EndTxn round trip is missing from
# the exactly_once figure; on a real broker it is in); and it holds an
# empty fetch for fetch.wait.max.ms without answering early when data
# arrives, so the reader asks with 1 ms (adds up to ~1 ms); sfsim's
# millisecond times add up to 1 ms more.
#
# Targets (2-core machine), each printed as met / NOT met; a missed target
# never fails the run (exit 0), only a run that could not complete does
# (exit 1, after writing the results): exactly_once drain >=
# 85 % of the null client, at_least_once >= 90 %; exactly_once <= 3 us CPU
# per event (aim 2); peak RSS <= 24 MB draining 1,000,000 (both modes; not
# judged when that backlog is not run); latency p99 <= 20 ms at 1,000
# events/s (both modes).
#
# Results: bench-results/bridge.txt, machine-readable lines
# (`exactly_once_200000: drain_ratio=0.87 ...`), a table, the targets.
#
# Environment:
#   SFB_BUILD                  build directory (build)
#   BRIDGE_BENCH_QUICK=1       a ~1 minute run: counts 20000, latency 10 s
#                              (explicit settings below still win)
#   BRIDGE_BENCH_COUNTS        backlogs, events in all ("200000 1000000";
#                              BRIDGE_BENCH_COUNT, the old single count, is
#                              read when this is unset)
#   BRIDGE_BENCH_MODES         "exactly_once at_least_once"
#   BRIDGE_BENCH_SIZE          event size in bytes (500)
#   BRIDGE_BENCH_PARTITIONS    partitions per topic (64)
#   BRIDGE_BENCH_MAX_BATCH     sfsim --max-batch (1000)
#   BRIDGE_BENCH_PARTITION_BY  key | channel | record_id | none (key); none
#                              writes no partition_by
#   BRIDGE_BENCH_LATENCY_S     seconds of steady publishing per mode (60; 0 = skip)
#   BRIDGE_BENCH_LATENCY_RATE  events/s of that stream (1000)
#   BRIDGE_BENCH_TIMEOUT       longest drain per mode, s (600)
#   BRIDGE_BENCH_OUT           results file (bench-results/bridge.txt)
#   SFB_KEEP=1                 keep the temp dir with every log
set -u
SFB_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SFB_BUILD=${SFB_BUILD:-$SFB_ROOT/build}
case "$SFB_BUILD" in /*) ;; *) SFB_BUILD="$SFB_ROOT/$SFB_BUILD" ;; esac
export SFB_ROOT SFB_BUILD
cd "$SFB_ROOT" || exit 1

if [ "${BRIDGE_BENCH_QUICK:-0}" = 1 ]; then
        COUNTS=${BRIDGE_BENCH_COUNTS:-${BRIDGE_BENCH_COUNT:-20000}}
        LAT_S=${BRIDGE_BENCH_LATENCY_S:-10}
else
        COUNTS=${BRIDGE_BENCH_COUNTS:-${BRIDGE_BENCH_COUNT:-200000 1000000}}
        LAT_S=${BRIDGE_BENCH_LATENCY_S:-60}
fi
MODES=${BRIDGE_BENCH_MODES:-exactly_once at_least_once}
SIZE=${BRIDGE_BENCH_SIZE:-500}
PARTITIONS=${BRIDGE_BENCH_PARTITIONS:-64}
MAX_BATCH=${BRIDGE_BENCH_MAX_BATCH:-1000}
PARTITION_BY=${BRIDGE_BENCH_PARTITION_BY:-key}
LAT_RATE=${BRIDGE_BENCH_LATENCY_RATE:-1000}
LIMIT=${BRIDGE_BENCH_TIMEOUT:-600}
OUT=${BRIDGE_BENCH_OUT:-$SFB_ROOT/bench-results/bridge.txt}
CHUNK=20000
CH1=/topic/BenchAccounts
CH2=/event/Bench__e
TOPIC1=bench.accounts
TOPIC2=bench.orders

for v in SIZE PARTITIONS MAX_BATCH LAT_RATE LIMIT; do
        eval "val=\$$v"
        case "$val" in
        ''|*[!0-9]*|0) echo "bench bridge: $v must be a positive integer, not '$val'" >&2; exit 2 ;;
        esac
done
case "$LAT_S" in
''|*[!0-9]*) echo "bench bridge: BRIDGE_BENCH_LATENCY_S must be a number of seconds, not '$LAT_S'" >&2; exit 2 ;;
esac
[ -n "$COUNTS" ] || { echo "bench bridge: BRIDGE_BENCH_COUNTS is empty" >&2; exit 2; }
for n in $COUNTS; do
        case "$n" in
        ''|*[!0-9]*|0|1) echo "bench bridge: backlog '$n' must be an integer >= 2" >&2; exit 2 ;;
        esac
done
for m in $MODES; do
        case "$m" in
        exactly_once|at_least_once) ;;
        *) echo "bench bridge: unknown delivery '$m' in BRIDGE_BENCH_MODES" >&2; exit 2 ;;
        esac
done
case "$PARTITION_BY" in
key|channel|record_id|none) ;;
*) echo "bench bridge: BRIDGE_BENCH_PARTITION_BY must be key, channel, record_id or none" >&2; exit 2 ;;
esac
for p in sfbridge sfsim kafka-mock bench/sfsim_null_client bench/bench_drain bench/bench_latency \
        bench/bench_publish; do
        [ -x "$SFB_BUILD/$p" ] || { echo "bench bridge: $SFB_BUILD/$p is not built (run make)" >&2; exit 1; }
done

SFB_KAFKA_LIFETIME=$((LIMIT + LAT_S + 600))
export SFB_KAFKA_LIFETIME
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CLK_TCK=$(getconf CLK_TCK)
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
T_BEGIN=$(date +%s)

fail() {
        echo "bench bridge: $*" >&2
        for f in "$T"/*.log "$T"/*.err; do
                [ -s "$f" ] && show_file "$f" 15 >&2
        done
        exit 1
}

say() {
        echo "bench bridge: $*" >&2
}

# cpu_ticks PID: utime + stime of PID (all its threads), in clock ticks.
cpu_ticks() {
        sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

now_ms() {
        date +%s%3N
}

# kv LINE KEY: the value of KEY=VALUE in LINE.
kv() {
        printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# ---------------------------------------------------------------------------
# Does this bridge take partition_by? (`check` is offline: no server needed.)

PB_LINE=""
PB_NOTE="partition_by: none written (BRIDGE_BENCH_PARTITION_BY=none): the bridge's default"
if [ "$PARTITION_BY" != none ]; then
        SFSIM_URL=http://127.0.0.1:9 KAFKA_BOOTSTRAP=127.0.0.1:9
        SF_CLIENT_ID=x SF_CLIENT_SECRET=x SF_USERNAME=x SF_PASSWORD=x
        export SF_CLIENT_ID SF_CLIENT_SECRET SF_USERNAME SF_PASSWORD
        write_config "$T/probe.yaml" bench-probe exactly_once <<YAML
  - channel: $CH1
    topic: $TOPIC1
    partition_by: $PARTITION_BY
YAML
        if "$SFB_BUILD/sfbridge" check -c "$T/probe.yaml" >"$T/probe.out" 2>&1; then
                PB_LINE="    partition_by: $PARTITION_BY"
                PB_NOTE="partition_by: $PARTITION_BY"
        else
                PB_NOTE="partition_by: not written, this bridge's check rejects it ($(sed -n 's/.*partition_by: //p' "$T/probe.out" | head -n 1 | cut -d '(' -f 1 | sed 's/ *$//')): librdkafka's default partitioner hashes the replay-ID key"
        fi
        SFSIM_URL="" KAFKA_BOOTSTRAP=""
fi

# routes [START]: the two routes of the benchmark.
routes() {
        echo "  - channel: $CH1"
        echo "    topic: $TOPIC1"
        echo "    start: ${1:-all}"
        [ -n "$PB_LINE" ] && echo "$PB_LINE"
        echo "  - channel: $CH2"
        echo "    topic: $TOPIC2"
        echo "    start: ${1:-all}"
        [ -n "$PB_LINE" ] && echo "$PB_LINE"
        return 0
}

# start_bg NAME CMD...: run CMD in the background (stdout $T/NAME.out,
# stderr $T/NAME.err), tracked for cleanup; sets BG_PID.
start_bg() {
        _bg_name=$1
        shift
        "$@" >"$T/$_bg_name.out" 2>"$T/$_bg_name.err" </dev/null &
        BG_PID=$!
        track_pid "$BG_PID"
}

# wait_ready NAME PID: wait (15 s) for the "ready" line of a bench tool.
wait_ready() {
        _sfb_first_line "$T/$1.out" '^ready ' 15 "$2" >/dev/null ||
                fail "$1 did not get ready: $(tail -n 3 "$T/$1.err" 2>/dev/null)"
}

: >"$T/machine"
: >"$T/table"
: >"$T/notes"
: >"$T/targets"

# ---------------------------------------------------------------------------
# One backlog: preload sfsim, the null client, then each mode.

# run_drain COUNT MODE NULL_RATE: a fresh kafka-mock and bridge drain the
# backlog under bench_drain's eye; appends results.
run_drain() {
        n=$1 mode=$2 null_rate=$3
        tag="${mode}_$n"
        start_kafka 3 --topic "$TOPIC1:$PARTITIONS" --topic "$TOPIC2:$PARTITIONS" ||
                fail "$tag: kafka-mock did not start"
        write_config "$T/$tag.yaml" "bench-$mode-$n" "$mode" <<YAML
$(routes all)
YAML
        rm -f "$T/bridge.pid"
        start_bg "drain-$tag" "$SFB_BUILD/bench/bench_drain" --bootstrap "$KAFKA_BOOTSTRAP" \
                --topic "$TOPIC1" --topic "$TOPIC2" --count "$n" --pid-file "$T/bridge.pid" \
                --timeout-s "$LIMIT"
        drain_pid=$BG_PID
        wait_ready "drain-$tag" "$drain_pid"
        sfsim_t0=$(cpu_ticks "$SFSIM_PID")
        t0=$(now_ms)
        start_bridge "$T/$tag.yaml"
        echo "$BRIDGE_PID" >"$T/bridge.pid"
        wait "$drain_pid"
        drain_rc=$?
        untrack_pid "$drain_pid"
        res=$(grep '^result ' "$T/drain-$tag.out")
        kafka_ticks=$(cpu_ticks "$KAFKA_PID")
        sfsim_ticks=$(( $(cpu_ticks "$SFSIM_PID") - sfsim_t0 ))
        bridge_alive=1
        _sfb_alive "$BRIDGE_PID" || bridge_alive=0
        stop_bridge TERM
        stop_kafka || say "$tag: kafka-mock did not stop cleanly"
        if [ "$drain_rc" != 0 ] || [ -z "$res" ]; then
                say "$tag: the drain did not complete (bench_drain exit $drain_rc; bridge exit $BRIDGE_RC)"
                show_file "$T/drain-$tag.err" 10 >&2
                show_file "$T/bridge.log" 15 >&2
                echo "$tag: status=failed bench_drain_exit=$drain_rc bridge_exit=$BRIDGE_RC $(echo "$res" | sed 's/^result //')" >>"$T/machine"
                echo "$tag: the drain did not complete: $(tail -n 1 "$T/drain-$tag.err" 2>/dev/null)" >>"$T/notes"
                return 0
        fi
        [ "$bridge_alive" = 1 ] || echo "$tag: the bridge had exited by the end of the drain" >>"$T/notes"
        [ "$BRIDGE_RC" = 0 ] || echo "$tag: the bridge exited $BRIDGE_RC on SIGTERM" >>"$T/notes"
        awk -v tag="$tag" -v n="$n" -v t0="$t0" -v null_rate="$null_rate" -v res="$res" \
            -v kt="$kafka_ticks" -v st="$sfsim_ticks" -v hz="$CLK_TCK" -v brc="$BRIDGE_RC" '
        BEGIN {
                m = split(res, f, " ")
                for (i = 2; i <= m; i++) { split(f[i], kv, "="); r[kv[1]] = kv[2] }
                src = "kafka_timestamps"
                first = r["first_ts_ms"]; last = r["last_ts_ms"]
                if (first < t0 - 1000 || last < first) {
                        src = "watcher_clock"
                        first = r["first_seen_ms"]; last = r["drained_seen_ms"]
                }
                span = (last - first) / 1000
                rate = span > 0 ? n / span : 0
                ratio = (null_rate > 0 && rate > 0) ? rate / null_rate : 0
                cpu = r["cpu_ticks"] / hz
                printf "%s: drain_ratio=%.3f rate=%.0f null_rate=%.0f drain_s=%.3f first_record_s=%.3f", tag, ratio, rate, null_rate, span, (first - t0) / 1000
                printf " cpu_s=%.2f cpu_us_per_event=%.2f cpu_user_s=%.2f cpu_main_s=%.2f cpu_rdkafka_s=%.2f cpu_other_s=%.2f", cpu, cpu * 1e6 / n, r["cpu_user_ticks"] / hz, r["cpu_main_ticks"] / hz, r["cpu_rdk_ticks"] / hz, r["cpu_other_ticks"] / hz
                printf " peak_rss_mb=%.1f rss_end_mb=%.1f records=%d dropped_by_mock=%d first_lost=%d partitions_used=%d record_bytes=%d", r["peak_rss_kb"] / 1024, r["rss_kb"] / 1024, r["records"], r["dropped"], r["first_lost"], r["partitions_used"], r["record_bytes"]
                printf " kafka_mock_cpu_s=%.2f sfsim_cpu_s=%.2f watcher_cpu_s=%.2f times=%s bridge_exit=%s\n", kt / hz, st / hz, r["watcher_cpu_ms"] / 1000, src, brc
        }' >>"$T/machine"
        line=$(grep "^$tag: " "$T/machine" | tail -n 1)
        [ "$(kv "$line" times)" = kafka_timestamps ] ||
                echo "$tag: record timestamps precede the bridge's start (the producer sets them?): drain times from bench_drain's clock, 50-100 ms coarse" >>"$T/notes"
        [ "$(kv "$line" first_lost)" = 0 ] ||
                echo "$tag: $(kv "$line" first_lost) partitions had dropped offset 0 before bench_drain read it: the first record time is late" >>"$T/notes"
        recs=$(kv "$line" records)
        if [ "$recs" != "$n" ]; then
                echo "$tag: $recs records in Kafka for $n events ($( [ "$recs" -gt "$n" ] && echo 'some twice' || echo 'MISSING some'))" >>"$T/notes"
        fi
}

run_backlog() {
        n=$1
        half=$((n / 2))
        start_sfsim --retention $((half + half / 10 + 1000)) --max-batch "$MAX_BATCH" ||
                fail "sfsim did not start"
        say "backlog $n: publishing $half events on $CH1 and $((n - half)) on $CH2"
        pub_t0=$(now_ms)
        for ch in "$CH1" "$CH2"; do
                want=$half
                [ "$ch" = "$CH2" ] && want=$((n - half))
                done_n=0
                while [ "$done_n" -lt "$want" ]; do
                        k=$CHUNK
                        [ $((want - done_n)) -lt "$k" ] && k=$((want - done_n))
                        got=$(publish "$ch" "$k" "$SIZE" | wc -l | tr -d ' ')
                        [ "$got" = "$k" ] || fail "publishing $k events on $ch gave $got replay IDs"
                        done_n=$((done_n + k))
                done
        done
        pub_s=$(awk -v a="$pub_t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
        echo "backlog $n: published in $pub_s s" >>"$T/notes"

        say "backlog $n: null client"
        # In the background and waited for, here and below: a signal to
        # this script then runs the cleanup at once, not after the child.
        start_bg "null-$n" timeout "$LIMIT" "$SFB_BUILD/bench/sfsim_null_client" --url "$SFSIM_URL" \
                --count "$n" --size "$SIZE" --no-preload --channel "$CH1" --channel "$CH2" \
                --client-id "$SF_CLIENT_ID" --client-secret "$SF_CLIENT_SECRET" \
                --username "$SF_USERNAME" --password "$SF_PASSWORD"
        wait "$BG_PID" || fail "the null client failed on backlog $n: $(cat "$T/null-$n.err")"
        untrack_pid "$BG_PID"
        null_line=$(grep '^first-to-last: ' "$T/null-$n.out")
        null_rate=$(echo "$null_line" | sed -n 's/.*: \([0-9][0-9]*\) events\/s.*/\1/p')
        null_s=$(echo "$null_line" | sed -n 's/.* in \([0-9.]*\) s:.*/\1/p')
        [ -n "$null_rate" ] || fail "no first-to-last rate from the null client: $(cat "$T/null-$n.out")"
        echo "null_$n: rate=$null_rate drain_s=$null_s events=$n" >>"$T/machine"

        for m in $MODES; do
                say "backlog $n: $m"
                run_drain "$n" "$m" "$null_rate"
        done
        wait_exit "$SFSIM_PID" 10 TERM || say "sfsim did not stop cleanly"
}

# ---------------------------------------------------------------------------
# Latency: a steady stream through a fresh sfsim, kafka-mock and bridge.

# both_subscribed: sfsim's stats show a subscriber on both channels.
both_subscribed() {
        _st=$(sfsim_admin GET /admin/stats) || return 1
        for _c in "$CH1" "$CH2"; do
                printf '%s' "$_st" | grep -q "\"$_c\":{\"subscriptions\":[0-9]*,\"subscribers\":[1-9]" || return 1
        done
        return 0
}

run_latency() {
        mode=$1
        tag="${mode}_latency"
        start_sfsim --max-batch "$MAX_BATCH" || fail "$tag: sfsim did not start"
        start_kafka 3 --topic "$TOPIC1:$PARTITIONS" --topic "$TOPIC2:$PARTITIONS" ||
                fail "$tag: kafka-mock did not start"
        write_config "$T/$tag.yaml" "bench-$mode-latency" "$mode" <<YAML
$(routes all)
YAML
        start_bg "lat-$mode" "$SFB_BUILD/bench/bench_latency" --bootstrap "$KAFKA_BOOTSTRAP" \
                --topic "$TOPIC1" --topic "$TOPIC2" --idle-ms 3000 --max-s $((LAT_S + 300)) \
                --fetch-wait-ms 1
        lat_pid=$BG_PID
        wait_ready "lat-$mode" "$lat_pid"
        start_bridge "$T/$tag.yaml"
        wait_for 60 both_subscribed || fail "$tag: the bridge did not subscribe to both channels in 60 s"
        sleep 1
        cpu0=$(cpu_ticks "$BRIDGE_PID")
        start_bg "pub-$mode" "$SFB_BUILD/bench/bench_publish" --url "$SFSIM_URL" --channel "$CH1" \
                --channel "$CH2" --rate "$LAT_RATE" --seconds "$LAT_S" --size "$SIZE"
        wait "$BG_PID" || echo "$tag: the publisher failed: $(tail -n 1 "$T/pub-$mode.err")" >>"$T/notes"
        untrack_pid "$BG_PID"
        cpu1=$(cpu_ticks "$BRIDGE_PID")
        _sfb_alive "$BRIDGE_PID" || {
                echo "$tag: the bridge exited during the latency run" >>"$T/notes"
                kill -TERM "$lat_pid" 2>/dev/null
        }
        wait "$lat_pid"
        untrack_pid "$lat_pid"
        stop_bridge TERM
        stop_kafka || say "$tag: kafka-mock did not stop cleanly"
        wait_exit "$SFSIM_PID" 10 TERM || say "sfsim did not stop cleanly"
        pub=$(grep '^publish ' "$T/pub-$mode.out")
        lat=$(grep '^latency ' "$T/lat-$mode.out")
        if [ -z "$lat" ] || [ -z "$pub" ]; then
                echo "$tag: status=failed" >>"$T/machine"
                echo "$tag: no latency figures: $(tail -n 2 "$T/lat-$mode.err" "$T/pub-$mode.err" 2>/dev/null | tr '\n' ' ')" >>"$T/notes"
                return 0
        fi
        awk -v tag="$tag" -v pub="$pub" -v lat="$lat" -v c0="${cpu0:-0}" -v c1="${cpu1:-0}" -v hz="$CLK_TCK" '
        function parse(line, arr,    m, f, i, kv) {
                m = split(line, f, " ")
                for (i = 2; i <= m; i++) { split(f[i], kv, "="); arr[kv[1]] = kv[2] }
        }
        BEGIN {
                parse(pub, p); parse(lat, l)
                cpu = (c1 - c0) / hz
                printf "%s: rate=%s seconds=%s published=%s received=%s p50_ms=%s p90_ms=%s p99_ms=%s p999_ms=%s max_ms=%s min_ms=%s mean_ms=%s produce_p50_ms=%s produce_p99_ms=%s produce_max_ms=%s bridge_cpu_pct=%.1f publisher_max_late_ms=%s\n", tag, p["rate"], p["seconds"], p["events"], l["records"], l["p50_ms"], l["p90_ms"], l["p99_ms"], l["p999_ms"], l["max_ms"], l["min_ms"], l["mean_ms"], l["produce_p50_ms"], l["produce_p99_ms"], l["produce_max_ms"], (p["seconds"] > 0 ? 100 * cpu / p["seconds"] : 0), p["max_late_ms"]
        }' >>"$T/machine"
        line=$(grep "^$tag: " "$T/machine")
        [ "$(kv "$line" published)" = "$(kv "$line" received)" ] ||
                echo "$tag: published $(kv "$line" published), received $(kv "$line" received)" >>"$T/notes"
}

# ---------------------------------------------------------------------------

for n in $COUNTS; do
        run_backlog "$n"
done
if [ "$LAT_S" -gt 0 ]; then
        for m in $MODES; do
                say "latency: $m, $LAT_RATE events/s for $LAT_S s"
                run_latency "$m"
        done
fi

# ---------------------------------------------------------------------------
# The report

# target LABEL OK VALUE: one line of the targets section.
target() {
        if [ "$2" = 1 ]; then v=met; else v="NOT met"; fi
        printf '%-64s %-8s (%s)\n' "$1" "$v" "$3" >>"$T/targets"
}

for n in $COUNTS; do
        for m in $MODES; do
                line=$(grep "^${m}_$n: " "$T/machine")
                case "$line" in *status=failed*|"") continue ;; esac
                ratio=$(kv "$line" drain_ratio)
                us=$(kv "$line" cpu_us_per_event)
                rss=$(kv "$line" peak_rss_mb)
                if [ "$m" = exactly_once ]; then
                        target "exactly_once drain >= 85% of the null client ($n)" \
                                "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.85) }')" "$ratio"
                        target "exactly_once CPU <= 3 us/event, aim 2 ($n)" \
                                "$(awk -v u="$us" 'BEGIN { print (u <= 3) }')" "$us us/event"
                else
                        target "at_least_once drain >= 90% of the null client ($n)" \
                                "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.90) }')" "$ratio"
                fi
                if [ "$n" = 1000000 ]; then
                        target "$m peak RSS <= 24 MB draining 1,000,000" \
                                "$(awk -v r="$rss" 'BEGIN { print (r <= 24) }')" "$rss MB"
                fi
        done
done
case " $(echo $COUNTS) " in
*" 1000000 "*) ;;
*) echo "peak RSS <= 24 MB draining 1,000,000: not judged (backlog 1000000 not in this run)" >>"$T/targets" ;;
esac
if [ "$LAT_S" -gt 0 ]; then
        for m in $MODES; do
                line=$(grep "^${m}_latency: " "$T/machine")
                case "$line" in *status=failed*|"") continue ;; esac
                p99=$(kv "$line" p99_ms)
                label="$m latency p99 <= 20 ms at 1,000 events/s"
                [ "$LAT_RATE" = 1000 ] || label="$label (run at $LAT_RATE/s)"
                [ "$LAT_S" -ge 60 ] || label="$label ($LAT_S s)"
                target "$label" "$(awk -v p="$p99" 'BEGIN { print (p != "" && p <= 20) }')" "$p99 ms"
        done
else
        echo "latency p99 <= 20 ms at 1,000 events/s: not judged (BRIDGE_BENCH_LATENCY_S=0)" >>"$T/targets"
fi

# The readable table.
{
        printf '%-9s %-14s %10s %10s %6s %8s %9s %16s %9s %8s %12s %10s\n' backlog mode "drain/s" "null/s" ratio "us/ev" "CPU s" "main/rdk/other" "peak RSS" "RSS end" "first rec s" records
        for n in $COUNTS; do
                for m in $MODES; do
                        line=$(grep "^${m}_$n: " "$T/machine")
                        case "$line" in *status=failed*|"") printf '%-9s %-14s %s\n' "$n" "$m" "(failed, see notes)"; continue ;; esac
                        printf '%-9s %-14s %10s %10s %6s %8s %9s %16s %8sM %7sM %12s %10s\n' "$n" "$m" \
                                "$(kv "$line" rate)" "$(kv "$line" null_rate)" "$(kv "$line" drain_ratio)" \
                                "$(kv "$line" cpu_us_per_event)" "$(kv "$line" cpu_s)" \
                                "$(kv "$line" cpu_main_s)/$(kv "$line" cpu_rdkafka_s)/$(kv "$line" cpu_other_s)" \
                                "$(kv "$line" peak_rss_mb)" "$(kv "$line" rss_end_mb)" \
                                "$(kv "$line" first_record_s)" "$(kv "$line" records)"
                done
        done
        if [ "$LAT_S" -gt 0 ]; then
                echo
                printf '%-14s %8s %10s %10s %8s %8s %8s %8s %8s %14s %10s\n' "latency" "rate/s" published received "p50 ms" "p90 ms" "p99 ms" "p99.9" "max ms" "produce p50/99" "bridge CPU"
                for m in $MODES; do
                        line=$(grep "^${m}_latency: " "$T/machine")
                        case "$line" in *status=failed*|"") printf '%-14s %s\n' "$m" "(failed, see notes)"; continue ;; esac
                        printf '%-14s %8s %10s %10s %8s %8s %8s %8s %8s %14s %9s%%\n' "$m" "$(kv "$line" rate)" \
                                "$(kv "$line" published)" "$(kv "$line" received)" "$(kv "$line" p50_ms)" \
                                "$(kv "$line" p90_ms)" "$(kv "$line" p99_ms)" "$(kv "$line" p999_ms)" \
                                "$(kv "$line" max_ms)" "$(kv "$line" produce_p50_ms)/$(kv "$line" produce_p99_ms)" \
                                "$(kv "$line" bridge_cpu_pct)"
                done
        fi
} >"$T/table"

# How full the mock's partitions got: record_bytes x records per used partition.
fit=$(for n in $COUNTS; do
        for m in $MODES; do
                line=$(grep "^${m}_$n: " "$T/machine")
                case "$line" in *status=failed*|"") continue ;; esac
                awk -v n="$n" -v m="$m" -v b="$(kv "$line" record_bytes)" -v u="$(kv "$line" partitions_used)" \
                    -v d="$(kv "$line" dropped_by_mock)" 'BEGIN {
                        if (u < 1) exit
                        per = n / u
                        if (d > 0) v = sprintf("the fullest partitions went over: the mock dropped their oldest %d records", d)
                        else if (per * b <= 5242880) v = "fits, nothing dropped"
                        else v = "over on average, yet nothing dropped"
                        printf "  %s %s: up to ~%d B/record x %.0f records per partition on average (%d partitions) = %.2f MB of 5.24 (5 MiB): %s\n", n, m, b, per, u, per * b / 1e6, v
                }'
        done
done)

{
        echo "# sfbridge bridge benchmark: draining a backlog, and a steady stream"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - T_BEGIN )) s"
        echo "commit: $(git -C "$SFB_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SFB_ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
        echo "machine: $(uname -srm), nproc $(nproc 2>/dev/null || echo '?'), load average before: $LOAD_BEFORE"
        echo "build: $SFB_BUILD"
        echo "shape: $CH1 -> $TOPIC1, $CH2 -> $TOPIC2, $PARTITIONS partitions each, $PB_NOTE"
        echo "       events of $SIZE bytes, half on each channel; sfsim --max-batch $MAX_BATCH; backlogs: $(echo $COUNTS); modes: $(echo $MODES)"
        echo "kafka: kafka-mock, 3 brokers (librdkafka 2.0.2's mock: ~5 MiB kept per partition, no transaction markers)"
        echo "method: tests/bench/bridge.sh's header. drain = backlog / (last - first record timestamp); null = the sfsim null"
        echo "        client on the same backlog, first to last response; CPU and RSS of the bridge when the last record landed;"
        echo "        first record = its timestamp - the bridge's start; latency = read_committed receive time - sfsim's publish"
        echo "        time (on the mock, exactly_once records are visible before their commit: the EndTxn round trip is not in it)"
        [ -n "$fit" ] && { echo "mock retention:"; echo "$fit"; }
        echo
        echo "## results"
        cat "$T/machine"
        echo
        cat "$T/table"
        echo
        echo "## targets (2-core machine)"
        cat "$T/targets"
        if [ -s "$T/notes" ]; then
                echo
                echo "## notes"
                sed 's/^/- /' "$T/notes"
        fi
} >"$T/bridge.txt"
mkdir -p "$(dirname "$OUT")"
cp "$T/bridge.txt" "$OUT"
cat "$OUT"
echo "bench: wrote $OUT"
# Missed targets are results; a run that could not complete is a failure.
if grep -q 'status=failed' "$T/machine"; then
        echo "bench bridge: some runs did not complete (see the notes)" >&2
        exit 1
fi
exit 0
