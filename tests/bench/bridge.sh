#!/bin/sh
# The bridge benchmark (`make bench`, after the sfsim null-client one): how
# fast sfbridge drains a backlog, and what it costs.
#
# sfsim is preloaded with BRIDGE_BENCH_COUNT (200,000) events of
# BRIDGE_BENCH_SIZE (1 KB) on one Platform Event channel (--retention
# 250,000, published in chunks of 20,000). For each delivery mode
# (exactly_once, then at_least_once) a fresh kafka-mock and a fresh bridge
# (its own name, so nothing is stored for it: start: all) drain the
# backlog; /metrics is polled every 50 ms until sfbridge_events_total
# reaches the count. Measured:
#   wall time      from the bridge's start (includes the 2 s name-claim
#                  grace and the login) and from its first event
#   events/s       count / the time from the first event
#   CPU            utime + stime of the sfbridge process (/proc/PID/stat)
#                  at the end, in s and in microseconds per event
#   RSS            peak (VmHWM) and at the end (VmRSS), /proc/PID/status
# plus the CPU of the bridge's main thread against librdkafka's threads, and,
# for context, the CPU the emulator and the mock used meanwhile (they share
# the machine's cores with the bridge).
#
# A limit of the mock that shows here: unless tests/kafka-mock sets
# socket.nagle.disable on the handle its cluster runs on, its broker sockets
# keep Nagle's algorithm, so the second response pipelined on a connection
# waits ~40 ms for the client's delayed ACK. exactly_once flushes once per
# transaction and waits for exactly those responses, so its rate then
# measures the mock; the results file says so when that is the case (a real
# broker sets TCP_NODELAY).
#
# Kafka sizing: the events go to one topic of BRIDGE_BENCH_PARTITIONS (8)
# partitions, as a production topic might have. librdkafka 2.0.2's mock
# keeps about 5 MiB per partition and drops the oldest batches beyond it,
# so of the ~270 MB produced (1 KB value + headers) only the newest ~40 MB
# stay readable: acceptable for a throughput benchmark, which reads nothing
# back. What is checked instead: the partitions' end offsets add up to the
# count (the mock writes no transaction markers, so an offset is a record),
# proving every event reached Kafka once.
#
# Environment: SFB_BUILD (build), BRIDGE_BENCH_COUNT (200000),
# BRIDGE_BENCH_SIZE (1024), BRIDGE_BENCH_PARTITIONS (8),
# BRIDGE_BENCH_MODES ("exactly_once at_least_once"),
# BRIDGE_BENCH_TIMEOUT (600 s per mode), BRIDGE_BENCH_OUT
# (bench-results/bridge.txt), SFB_KEEP=1 keeps the logs.
set -u
SFB_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SFB_BUILD=${SFB_BUILD:-$SFB_ROOT/build}
case "$SFB_BUILD" in /*) ;; *) SFB_BUILD="$SFB_ROOT/$SFB_BUILD" ;; esac
export SFB_ROOT SFB_BUILD
cd "$SFB_ROOT" || exit 1

COUNT=${BRIDGE_BENCH_COUNT:-200000}
SIZE=${BRIDGE_BENCH_SIZE:-1024}
PARTITIONS=${BRIDGE_BENCH_PARTITIONS:-8}
MODES=${BRIDGE_BENCH_MODES:-exactly_once at_least_once}
LIMIT=${BRIDGE_BENCH_TIMEOUT:-600}
OUT=${BRIDGE_BENCH_OUT:-$SFB_ROOT/bench-results/bridge.txt}
CHUNK=20000
CHANNEL=/event/Bench__e
TOPIC=bench.events

for v in COUNT SIZE PARTITIONS LIMIT; do
        eval "val=\$$v"
        case "$val" in
        ''|*[!0-9]*|0) echo "bench bridge: $v must be a positive integer, not '$val'" >&2; exit 2 ;;
        esac
done
for m in $MODES; do
        case "$m" in
        exactly_once|at_least_once) ;;
        *) echo "bench bridge: unknown delivery '$m' in BRIDGE_BENCH_MODES" >&2; exit 2 ;;
        esac
done
for p in sfbridge sfsim kafka-mock; do
        [ -x "$SFB_BUILD/$p" ] || { echo "bench bridge: $SFB_BUILD/$p is not built (run make)" >&2; exit 1; }
done

SFB_KAFKA_LIFETIME=$((LIMIT + 300))
export SFB_KAFKA_LIFETIME
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CLK_TCK=$(getconf CLK_TCK)
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)

fail() {
        echo "bench bridge: $*" >&2
        for f in "$T"/*.log "$T"/*.err; do
                [ -s "$f" ] && show_file "$f" 15 >&2
        done
        exit 1
}

# cpu_ticks PID: utime + stime of PID, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name).
cpu_ticks() {
        sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# thread_cpu PID: CPU seconds of the bridge's main thread, of librdkafka's
# threads (rdk:*) and of the rest (the metrics listener), as "main rdk other".
thread_cpu() {
        for _tc in /proc/"$1"/task/*; do
                printf '%s\t%s\t%s\n' "${_tc##*/}" "$(cat "$_tc/comm" 2>/dev/null)" \
                        "$(sed 's/^.*) //' "$_tc/stat" 2>/dev/null | awk '{ print $12 + $13 }')"
        done | awk -F '\t' -v pid="$1" -v hz="$CLK_TCK" '
                $1 == pid { main = $3; next }   # the main thread: tid == pid
                $2 ~ /^rdk:/ { rdk += $3; next }
                { other += $3 }
                END { printf "%.2f %.2f %.2f", main / hz, rdk / hz, other / hz }'
}

# status_kb PID FIELD: a VmXXX field of /proc/PID/status, in kB.
status_kb() {
        awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

now_s() {
        date +%s.%N
}

events_total() {
        curl -s --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
                awk '/^sfbridge_events_total\{/ { s += $2; n++ } END { if (n) print s; else print -1 }'
}

# ---------------------------------------------------------------------------
# The backlog

start_sfsim --retention $((COUNT + 50000)) || fail "sfsim did not start"
pub_start=$(now_s)
published=0
while [ "$published" -lt "$COUNT" ]; do
        n=$CHUNK
        [ $((COUNT - published)) -lt "$n" ] && n=$((COUNT - published))
        got=$(publish "$CHANNEL" "$n" "$SIZE" | wc -l | tr -d ' ')
        [ "$got" = "$n" ] || fail "publishing $n events gave $got replay IDs"
        published=$((published + n))
done
pub_s=$(awk -v a="$pub_start" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')

# ---------------------------------------------------------------------------
# One run per delivery mode

# run_mode DELIVERY: drain the backlog with a fresh mock and bridge; appends
# one block of results to $T/results.
run_mode() {
        mode=$1
        start_kafka 3 --topic "$TOPIC:$PARTITIONS" || fail "kafka-mock did not start"
        write_config "$T/$mode.yaml" "bench-$mode" "$mode" <<YAML
  - channel: $CHANNEL
    topic: $TOPIC
    start: all
YAML
        sfsim_cpu0=$(cpu_ticks "$SFSIM_PID")
        t0=$(now_s)
        start_bridge "$T/$mode.yaml"
        t_first=""
        deadline=$(( $(date +%s) + LIMIT ))
        while :; do
                n=$(events_total)
                t=$(now_s)
                if [ -z "$t_first" ] && [ "${n%.*}" -gt 0 ] 2>/dev/null; then
                        t_first=$t
                fi
                [ "${n%.*}" -ge "$COUNT" ] 2>/dev/null && break
                _sfb_alive "$BRIDGE_PID" || fail "$mode: the bridge exited before draining the backlog"
                [ "$(date +%s)" -ge "$deadline" ] && fail "$mode: only $n of $COUNT events after $LIMIT s"
                sleep 0.05
        done
        t_done=$t
        ticks=$(cpu_ticks "$BRIDGE_PID")
        threads=$(thread_cpu "$BRIDGE_PID")
        hwm=$(status_kb "$BRIDGE_PID" VmHWM)
        rss=$(status_kb "$BRIDGE_PID" VmRSS)
        kafka_ticks=$(cpu_ticks "$KAFKA_PID")
        sfsim_ticks=$(( $(cpu_ticks "$SFSIM_PID") - sfsim_cpu0 ))
        user_ticks=$(sed 's/^.*) //' "/proc/$BRIDGE_PID/stat" | awk '{ print $12 }')

        # Every event reached Kafka once: wait for the last acknowledgements,
        # then add up the partitions' end offsets.
        wait_for 30 sh -c "[ \"\$(curl -s --max-time 2 http://127.0.0.1:$METRICS_PORT/metrics | awk '\$1 == \"sfbridge_kafka_in_flight\" { print \$2 }')\" = 0 ]"
        stop_bridge TERM
        [ "$BRIDGE_RC" = 0 ] || note "$mode: the bridge exited $BRIDGE_RC on SIGTERM"
        offsets=0
        p=0
        while [ "$p" -lt "$PARTITIONS" ]; do
                last=$(timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -C -q -e -t "$TOPIC" -p "$p" -o -1 -c 1 \
                        -f '%o\n' 2>/dev/null | tail -n 1)
                [ -n "$last" ] && offsets=$((offsets + last + 1))
                p=$((p + 1))
        done
        stop_kafka || note "$mode: kafka-mock did not stop cleanly"

        awk -v mode="$mode" -v count="$COUNT" -v t0="$t0" -v tf="$t_first" -v td="$t_done" \
            -v ticks="$ticks" -v uticks="$user_ticks" -v hz="$CLK_TCK" -v hwm="$hwm" -v rss="$rss" \
            -v kticks="$kafka_ticks" -v sticks="$sfsim_ticks" -v offsets="$offsets" \
            -v threads="$threads" 'BEGIN {
                split(threads, th, " ")
                wall = td - t0; drain = td - tf; cpu = ticks / hz
                printf "%s:\n", mode
                printf "  wall time      %.2f s from start, %.2f s from the first event\n", wall, drain
                printf "  events/s       %.0f (from the first event), %.0f (from start)\n", count / drain, count / wall
                printf "  CPU            %.2f s (user %.2f, system %.2f) = %.1f us/event\n", cpu, uticks / hz, (ticks - uticks) / hz, cpu * 1e6 / count
                printf "  CPU by thread  main %.2f s, librdkafka (rdk:*) %.2f s, other %.2f s (threads alive at the end)\n", th[1], th[2], th[3]
                printf "  peak RSS       %.1f MB (VmHWM)\n", hwm / 1024
                printf "  RSS at end     %.1f MB (VmRSS)\n", rss / 1024
                printf "  in Kafka       %d records (sum of end offsets; %s)\n", offsets, offsets == count ? "every event once" : (offsets > count ? "some twice" : "MISSING some")
                printf "  meanwhile      kafka-mock %.2f s CPU, sfsim %.2f s CPU\n", kticks / hz, sticks / hz
        }' >>"$T/results"
        echo "$mode $offsets" >>"$T/offsets"
}

: >"$T/results"
: >"$T/offsets"
for m in $MODES; do
        run_mode "$m"
done
stop_sfsim_rc=0
wait_exit "$SFSIM_PID" 10 TERM || stop_sfsim_rc=$?

{
        echo "# sfbridge bridge benchmark: draining a backlog"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "commit: $(git -C "$SFB_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SFB_ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
        echo "machine: $(uname -srm), nproc $(nproc 2>/dev/null || echo '?'), load average before: $LOAD_BEFORE"
        echo "build: $SFB_BUILD"
        echo "backlog: $COUNT events of $SIZE bytes on $CHANNEL (sfsim --retention $((COUNT + 50000)), max 1000 events per /meta/connect), published in ${pub_s} s"
        echo "kafka: kafka-mock, 3 brokers, topic $TOPIC with $PARTITIONS partitions (the mock keeps ~5 MiB per partition and drops older records: nothing is read back)"
        echo "reference: competing bridges drain such a backlog at ~35-40k events/s, ~20 us CPU/event, 100-170 MB"
        if ! grep -q 'socket.nagle.disable' "$SFB_ROOT/tests/kafka-mock/kafka_mock.c" 2>/dev/null; then
                echo "note: kafka-mock leaves Nagle on for its broker sockets (no socket.nagle.disable in"
                echo "      tests/kafka-mock/kafka_mock.c): a second pipelined response on a connection waits"
                echo "      ~40 ms for the client's delayed ACK, which stalls each exactly_once commit flush."
                echo "      exactly_once here is bounded by the mock, not the bridge; a real broker sets"
                echo "      TCP_NODELAY."
        fi
        echo
        cat "$T/results"
} >"$T/bridge.txt"
mkdir -p "$(dirname "$OUT")"
cp "$T/bridge.txt" "$OUT"
cat "$OUT"
echo "bench: wrote $OUT"
[ "$stop_sfsim_rc" = 0 ] || echo "bench bridge: sfsim exited $stop_sfsim_rc" >&2
exit 0
