#!/bin/sh
# `make soak`: the bridge under a long, steady stream while faults rain on
# it, then an account of every event: published, in Kafka (read with kcat,
# read_committed), lost, duplicated; recoveries by cause; the bridge's RSS.
#
# What happens:
#   1. kafka-mock (3 brokers), sfsim (--connect-timeout-ms 2000,
#      --max-clients 20: an org's concurrent-client cap) and the
#      plain build's bridge (stall_timeout_s 5, limit_backoff_s 1) with four
#      routes, one per channel kind (PushTopic, Platform Event, CDC,
#      generic), each to its own topic, start: all.
#   2. A publisher publishes SOAK_CHUNK events of ~200 bytes on each channel
#      every SOAK_PUBLISH_PAUSE s, for SOAK_SECONDS, recording every replay
#      ID sfsim hands back.
#   3. Every SOAK_FAULT_EVERY s a fault is drawn at random from a shuffled
#      deck of every kind (each kind comes once per round, in random
#      order): revoke-tokens, forget-clients, disconnect, too-busy (count 2),
#      stall (cleared after 7 s), close-mid-poll (count 1), http-503
#      (count 3), malformed (count 1), all Kafka brokers down for 3-6 s,
#      SIGTERM + restart, SIGKILL + restart. (concurrent-limit, count 2,
#      then forget-clients so a handshake meets it, is left out unless named
#      in SOAK_FAULTS: the soak asserts the org's real cap is never met, and
#      the simulated refusal reads the same in the bridge's log.)
#      Meanwhile sfsim's live clients (/admin/stats "clients") are sampled
#      every second: a bridge holds one; a second lives only while it
#      replaces the first. Every clientId a bridge abandons without a
#      /meta/disconnect holds a slot for ~40 s, and a fault every few
#      seconds would pile them up to the org's cap.
#      Faults overlap by design: one that lands while the bridge is backing
#      off or holding a batch for Kafka may pass unseen (a stall cleared
#      before the next /meta/connect). close-mid-poll with count 1 is
#      absorbed by libcurl: a request on a reused connection that dies
#      before any answer is re-sent once on a fresh connection, so the
#      bridge sees no failure (count 2 or more shows as cause=transport).
#      The SIGKILL lands only while no Kafka transaction is open: the
#      publisher pauses, every event published so far is in Kafka, and sfsim
#      has received the /meta/connect that follows the last batch's commit
#      (the bridge sends it only after the commit). librdkafka 2.0.2's mock
#      cluster writes no transaction markers, so records of a transaction
#      the SIGKILL interrupted would stay visible to read_committed readers
#      and count as duplicates although a real broker hides them (see
#      tests/integration/restart.inc.sh).
#   4. Publishing stops, faults are cleared, Kafka is up; the bridge has
#      SOAK_CATCHUP_S to deliver everything; it is stopped with SIGTERM and
#      the topics are read back.
#
# Sizing against the mock's limit: it keeps about 5 MiB per partition and
# drops the oldest batches beyond that, which would read as lost events. A
# channel gets at most SOAK_SECONDS / SOAK_PUBLISH_PAUSE * SOAK_CHUNK events
# (fewer in fact: each cycle also waits for four HTTP calls), 600 / 0.25 * 5
# = 12,000 by default. The largest record is the CDC one: a ~665-byte value,
# ~130 bytes of headers, a 7-digit key and the record's own overhead, under
# SOAK_RECORD_BYTES (1,100) in all. Each topic gets
#     ceil(events * SOAK_RECORD_BYTES / 4 MiB)  partitions, at least 4
# (4 MiB: 80 % of the limit, a margin for uneven key hashing), so 4 by
# default. The replay topic takes one record per channel per transaction:
# at most 4 * SOAK_SECONDS / SOAK_PUBLISH_PAUSE records of ~250 bytes,
# 2.4 MB by default, under the limit even if every key hashed to one
# partition. The script checks afterwards that every partition still starts
# at offset 0 (nothing dropped) and fails if not.
#
# Environment (defaults in brackets):
#   SOAK_SECONDS [600]        publishing time
#   SOAK_FAULT_EVERY [8]      seconds between fault starts
#   SOAK_FAULTS [all but concurrent-limit]   space-separated subset of: revoke-tokens
#                             forget-clients disconnect too-busy
#                             concurrent-limit stall close-mid-poll http-503
#                             malformed kafka-down sigterm sigkill
#   SOAK_DELIVERY [exactly_once]   or at_least_once (duplicates then allowed)
#   SOAK_CHUNK [5]            events per channel per publish cycle
#   SOAK_PUBLISH_PAUSE [0.25] seconds between publish cycles
#   SOAK_SIZE [200]           event size asked of sfsim (bytes)
#   SOAK_RECORD_BYTES [1100]  upper bound of one record in the mock (sizing)
#   SOAK_CATCHUP_S [180]      time the bridge gets to deliver everything at the end
#   SOAK_MAX_CLIENTS [20]     sfsim --max-clients: the org's concurrent clients
#   SOAK_MAX_LIVE [2]         most live clients allowed at any sample
#   SOAK_RESULTS [bench-results/soak.txt]   where the figures go; empty: nowhere
#   SFB_BUILD [build]         the build to run (the plain, optimised one)
#   SFB_KEEP=1                keep the temp dir with every log
#
# Exit status: 0 when nothing was lost, nothing duplicated (exactly_once),
# the bridge never died on its own, every SIGTERM stop exited 0, the mock
# dropped nothing, sfsim never refused a handshake for the org's cap (its
# "clients_refused"; nor the bridge's log a "concurrent user limit" when
# that fault is not drawn) and no sample saw more than SOAK_MAX_LIVE live
# clients; 1 otherwise. The figures go to stdout and to SOAK_RESULTS.
set -u
SFB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SFB_BUILD=${SFB_BUILD:-$SFB_ROOT/build}
case "$SFB_BUILD" in /*) ;; *) SFB_BUILD="$SFB_ROOT/$SFB_BUILD" ;; esac
export SFB_ROOT SFB_BUILD
cd "$SFB_ROOT" || exit 1

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_FAULT_EVERY=${SOAK_FAULT_EVERY:-8}
SOAK_DELIVERY=${SOAK_DELIVERY:-exactly_once}
SOAK_CHUNK=${SOAK_CHUNK:-5}
SOAK_PUBLISH_PAUSE=${SOAK_PUBLISH_PAUSE:-0.25}
SOAK_SIZE=${SOAK_SIZE:-200}
SOAK_RECORD_BYTES=${SOAK_RECORD_BYTES:-1100}
SOAK_CATCHUP_S=${SOAK_CATCHUP_S:-180}
SOAK_MAX_CLIENTS=${SOAK_MAX_CLIENTS:-20}
SOAK_MAX_LIVE=${SOAK_MAX_LIVE:-2}
SOAK_RESULTS=${SOAK_RESULTS-$SFB_ROOT/bench-results/soak.txt}
ALL_FAULTS="revoke-tokens forget-clients disconnect too-busy concurrent-limit stall close-mid-poll http-503 malformed kafka-down sigterm sigkill"
SOAK_FAULTS=${SOAK_FAULTS:-$(echo "$ALL_FAULTS" | sed 's/ concurrent-limit//')}

_soak_usage() {
        echo "soak: $*" >&2
        exit 2
}
for _v in SOAK_SECONDS SOAK_FAULT_EVERY SOAK_CHUNK SOAK_SIZE SOAK_RECORD_BYTES SOAK_CATCHUP_S \
        SOAK_MAX_CLIENTS SOAK_MAX_LIVE; do
        _val=""
        eval "_val=\$$_v"
        case "$_val" in
        ''|*[!0-9]*) _soak_usage "$_v must be a positive integer, not '$_val'" ;;
        esac
        [ "$_val" -gt 0 ] || _soak_usage "$_v must be a positive integer, not '$_val'"
done
case "$SOAK_PUBLISH_PAUSE" in
''|*[!0-9.]*|*.*.*) _soak_usage "SOAK_PUBLISH_PAUSE must be a number of seconds, not '$SOAK_PUBLISH_PAUSE'" ;;
esac
case "$SOAK_DELIVERY" in
exactly_once|at_least_once) ;;
*) _soak_usage "SOAK_DELIVERY must be exactly_once or at_least_once, not '$SOAK_DELIVERY'" ;;
esac
for _f in $SOAK_FAULTS; do
        case " $ALL_FAULTS " in
        *" $_f "*) ;;
        *) _soak_usage "unknown fault '$_f' in SOAK_FAULTS (known: $ALL_FAULTS)" ;;
        esac
done
for _p in sfbridge sfsim kafka-mock; do
        [ -x "$SFB_BUILD/$_p" ] || _soak_usage "$SFB_BUILD/$_p is not built (run make)"
done
command -v kcat >/dev/null 2>&1 || _soak_usage "kcat is not installed (make deps)"

# The mock must outlive the whole run (helpers.sh's default is 900 s).
SFB_KAFKA_LIFETIME=$((SOAK_SECONDS + SOAK_CATCHUP_S + 900))
export SFB_KAFKA_LIFETIME
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

if [ -n "$SOAK_RESULTS" ]; then
        mkdir -p "$(dirname "$SOAK_RESULTS")"
fi

# The four routes: channel, topic, extra publish query (read through ch()).
NCH=4
# shellcheck disable=SC2034
{
        CH_1=/topic/SoakAccounts;       TOPIC_1=soak.topic;   Q_1=""
        CH_2=/event/Soak__e;            TOPIC_2=soak.event;   Q_2=""
        CH_3=/data/AccountChangeEvent;  TOPIC_3=soak.cdc;     Q_3="entity=Account"
        CH_4=/u/SoakNotes;              TOPIC_4=soak.generic; Q_4=""
}

# ch VAR I: the value of VAR_I (CH, TOPIC, Q).
ch() {
        eval "printf '%s' \"\$${1}_$2\""
}

# rand N: a random integer in [0, N).
rand() {
        echo $(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1 ))
}

now() {
        date +%s
}

# ---------------------------------------------------------------------------
# Sizing (see the header)

EVENTS_MAX=$(awk -v s="$SOAK_SECONDS" -v p="$SOAK_PUBLISH_PAUSE" -v c="$SOAK_CHUNK" \
        'BEGIN { p = p > 0.01 ? p : 0.01; printf "%d", s / p * c + c }')
PARTITIONS=$(awk -v n="$EVENTS_MAX" -v b="$SOAK_RECORD_BYTES" \
        'BEGIN { budget = 4 * 1048576; p = int((n * b + budget - 1) / budget); if (p < 4) p = 4; print p }')
REPLAY_BYTES=$(awk -v s="$SOAK_SECONDS" -v p="$SOAK_PUBLISH_PAUSE" -v n="$NCH" \
        'BEGIN { p = p > 0.01 ? p : 0.01; printf "%d", n * s / p * 250 }')
RETENTION=$((EVENTS_MAX * 2 + 1000))
note "sizing: at most $EVENTS_MAX events per channel x $SOAK_RECORD_BYTES bytes -> $PARTITIONS partitions per topic (4 MiB each of the mock's ~5 MiB); replay topic at most ~$((REPLAY_BYTES / 1024)) KiB"
if [ "$REPLAY_BYTES" -gt $((4 * 1048576)) ]; then
        note "warning: the replay topic may exceed the mock's 5 MiB per partition; old replay records (never the newest) may be dropped"
fi

# ---------------------------------------------------------------------------
# Start

_topics=""
i=1
while [ "$i" -le "$NCH" ]; do
        _topics="$_topics --topic $(ch TOPIC "$i"):$PARTITIONS"
        i=$((i + 1))
done
# shellcheck disable=SC2086
start_kafka 3 $_topics --topic soak.replay:4 || { not_ok "start kafka-mock"; finish; }
start_sfsim --connect-timeout-ms 2000 --retention "$RETENTION" --max-clients "$SOAK_MAX_CLIENTS" ||
        { not_ok "start sfsim"; finish; }

i=1
while [ "$i" -le "$NCH" ]; do
        echo "  - channel: $(ch CH "$i")"
        echo "    topic: $(ch TOPIC "$i")"
        echo "    start: all"
        # The sizing above spreads each topic over its partitions: by the
        # replay-ID key, not the default (one partition per channel).
        echo "    partition_by: key"
        i=$((i + 1))
done >"$T/routes.yaml"
# Not in a pipeline: write_config sets METRICS_PORT for this shell.
SFB_STALL_S=5 write_config "$T/soak.yaml" soak "$SOAK_DELIVERY" <"$T/routes.yaml"

GEN=0
SKIPPED=0
CRASHES=0
BAD_STOPS=0
RSS_MAX=0
RSS_AT_STOP=""
: >"$T/faults.log"
: >"$T/events.log"

# event TEXT: one line of the run's chronicle ($T/events.log, kept in the
# results when something goes wrong).
event() {
        printf '%s +%ss %s\n' "$(date -u +%H:%M:%S)" "$(( $(now) - ${T0:-$(now)} ))" "$*" >>"$T/events.log"
}

rss_kb() {
        awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# sample_rss: note the bridge's RSS in RSS_NOW and the running maximum.
sample_rss() {
        RSS_NOW=$(rss_kb "$BRIDGE_PID")
        [ -n "$RSS_NOW" ] || return 0
        [ "$RSS_NOW" -gt "$RSS_MAX" ] && RSS_MAX=$RSS_NOW
        return 0
}

# scrape: keep the latest /metrics of the running bridge generation; the
# counters restart with each process, so the totals sum the generations.
scrape() {
        curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/metrics.tmp" 2>/dev/null &&
                grep -q '^sfbridge_up ' "$T/metrics.tmp" &&
                mv "$T/metrics.tmp" "$T/metrics.$GEN"
        return 0
}

bridge_start() {
        GEN=$((GEN + 1))
        echo "# --- bridge process $GEN" >>"$T/bridge.log"
        start_bridge "$T/soak.yaml"
        event "bridge $GEN started (pid $BRIDGE_PID)"
}

# bridge_check: if the bridge died on its own, count it and start another.
bridge_check() {
        _sfb_alive "$BRIDGE_PID" && return 0
        wait_exit "$BRIDGE_PID" 1
        _c_rc=$?
        CRASHES=$((CRASHES + 1))
        event "bridge $GEN exited on its own with status $_c_rc"
        note "bridge process $GEN exited on its own with status $_c_rc; restarting it"
        bridge_start
}

# bridge_stop SIGNAL: scrape, stop the bridge, record how.
bridge_stop() {
        scrape
        sample_rss
        RSS_AT_STOP="$RSS_AT_STOP $((RSS_NOW / 1024))"
        _s_start=$(now)
        if [ "$1" = KILL ]; then
                kill -KILL "$BRIDGE_PID"
                wait_exit "$BRIDGE_PID" 10
                event "bridge $GEN SIGKILLed"
                return 0
        fi
        stop_bridge TERM
        _s_took=$(( $(now) - _s_start ))
        event "bridge $GEN SIGTERM: exit $BRIDGE_RC after ${_s_took} s"
        if [ "$BRIDGE_RC" != 0 ] || [ "$_s_took" -gt 10 ]; then
                BAD_STOPS=$((BAD_STOPS + 1))
                note "bridge process $GEN: SIGTERM gave exit $BRIDGE_RC after $_s_took s (want 0 within 10 s)"
        fi
}

bridge_start
if wait_for 60 ready; then
        ok "bridge ready"
else
        not_ok "bridge ready within 60 s"
        finish
fi
sample_rss
RSS_START=$RSS_NOW

# ---------------------------------------------------------------------------
# The publisher

i=1
while [ "$i" -le "$NCH" ]; do
        : >"$T/pub.$i.ids"
        i=$((i + 1))
done
: >"$T/pub.errors"

# Pausing: the main shell creates $T/pause and waits for $T/paused, which
# the publisher creates between two cycles; removing $T/pause resumes it.
# $T/stop ends it between two cycles.
(
        trap - EXIT INT TERM
        while [ ! -f "$T/stop" ]; do
                if [ -f "$T/pause" ]; then
                        : >"$T/paused"
                        sleep 0.1
                        continue
                fi
                rm -f "$T/paused"
                i=1
                while [ "$i" -le "$NCH" ]; do
                        publish "$(ch CH "$i")" "$SOAK_CHUNK" "$SOAK_SIZE" "$(ch Q "$i")" \
                                >"$T/pub.chunk" 2>>"$T/pub.errors.log"
                        n=$(wc -l <"$T/pub.chunk" | tr -d ' ')
                        [ "$n" = "$SOAK_CHUNK" ] ||
                                echo "$(date -u +%H:%M:%S) $(ch CH "$i"): $n of $SOAK_CHUNK replay IDs" >>"$T/pub.errors"
                        cat "$T/pub.chunk" >>"$T/pub.$i.ids"
                        i=$((i + 1))
                done
                sleep "$SOAK_PUBLISH_PAUSE"
        done
        exit 0
) &
PUB_PID=$!
track_pid "$PUB_PID"

# sim_stat NAME: one number from sfsim's /admin/stats.
sim_stat() {
        sfsim_admin GET /admin/stats 2>/dev/null | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# The live-client sampler: "HH:MM:SS clients" (UTC, as in the chronicle), once a second,
# until the run is over ($T/stop_sampler).
: >"$T/clients.samples"
(
        trap - EXIT INT TERM
        while [ ! -f "$T/stop_sampler" ]; do
                _n=$(sim_stat clients)
                [ -n "$_n" ] && echo "$(date -u +%H:%M:%S) $_n" >>"$T/clients.samples"
                sleep 1
        done
        exit 0
) &
SAMPLER_PID=$!
track_pid "$SAMPLER_PID"

published_total() {
        cat "$T"/pub.[0-9]*.ids | wc -l | tr -d ' '
}

# all_landed: true when every replay ID published so far is in Kafka
# (each channel's IDs among its topic's keys, read_committed).
all_landed() {
        _l_i=1
        while [ "$_l_i" -le "$NCH" ]; do
                sort -u "$T/pub.$_l_i.ids" >"$T/pub.$_l_i.sorted"
                _l_want=$(wc -l <"$T/pub.$_l_i.sorted" | tr -d ' ')
                _l_have=$(KCAT_TIMEOUT=60 kcat_read "$(ch TOPIC "$_l_i")" 10000000 | cut -f3 |
                        sort -u | comm -12 - "$T/pub.$_l_i.sorted" | wc -l | tr -d ' ')
                [ "$_l_have" -ge "$_l_want" ] || return 1
                _l_i=$((_l_i + 1))
        done
        return 0
}

# wait_landed TIMEOUT_S: wait until all_landed.
wait_landed() {
        _w_deadline=$(( $(now) + $1 ))
        while :; do
                all_landed && return 0
                [ "$(now)" -ge "$_w_deadline" ] && return 1
                sleep 1
        done
}

sfsim_connects() {
        sfsim_admin GET /admin/stats | sed -n 's/.*"connects":\([0-9]*\).*/\1/p'
}

# quiet: no Kafka transaction is open. Everything published is in Kafka,
# and sfsim then receives a /meta/connect: the bridge sends it only after
# the last batch's commit.
quiet() {
        wait_landed 120 || return 1
        _q_c0=$(sfsim_connects)
        [ -n "$_q_c0" ] || return 1
        wait_for 15 sh -c "[ \"\$(curl -s --max-time 5 $SFSIM_URL/admin/stats | sed -n 's/.*\"connects\":\([0-9]*\).*/\1/p')\" -gt $_q_c0 ]" || return 1
        sleep 0.3
        return 0
}

# ---------------------------------------------------------------------------
# Faults

# fault_admin KIND [COUNT]: arm or fire one sfsim fault (as fault.inc.sh,
# which cannot be sourced next to helpers.sh twice); a failed call is
# counted and noted.
FAULT_ERRORS=0
fault_admin() {
        if sfsim_admin POST "/admin/fault?kind=$1${2:+&count=$2}" >/dev/null; then
                return 0
        fi
        FAULT_ERRORS=$((FAULT_ERRORS + 1))
        event "sfsim refused or did not answer /admin/fault?kind=$1"
        return 1
}

DECK=""
# draw: set KIND to a fault drawn from the deck (refilled with every kind
# when empty, so each kind comes once per round, in random order).
draw() {
        [ -n "$DECK" ] || DECK=$SOAK_FAULTS
        # shellcheck disable=SC2086
        set -- $DECK
        _d_n=$(rand $#)
        KIND=""
        _d_rest=""
        _d_i=0
        for _d_f; do
                if [ "$_d_i" -eq "$_d_n" ]; then KIND=$_d_f; else _d_rest="$_d_rest $_d_f"; fi
                _d_i=$((_d_i + 1))
        done
        DECK=$_d_rest
}

# inject KIND: inject one fault; returns when it is over (stall cleared,
# brokers up, bridge restarted). Sets DETAIL. Runs in the main shell: it
# starts and reaps bridge processes.
inject() {
        DETAIL=""
        case "$1" in
        revoke-tokens|forget-clients|disconnect)
                fault_admin "$1" ;;
        too-busy|concurrent-limit)
                fault_admin "$1" 2
                # concurrent-limit strikes at handshakes: make one happen.
                [ "$1" = concurrent-limit ] && fault_admin forget-clients ;;
        close-mid-poll|malformed)
                fault_admin "$1" 1 ;;
        http-503)
                fault_admin "$1" 3 ;;
        stall)
                fault_admin stall
                sleep 7
                fault_admin clear ;;
        kafka-down)
                _i_s=$((3 + $(rand 4)))
                DETAIL="${_i_s} s"
                kafka_ctl "down all" || FAULT_ERRORS=$((FAULT_ERRORS + 1))
                sleep "$_i_s"
                kafka_ctl "up all" || {
                        sleep 1
                        kafka_ctl "up all" || FAULT_ERRORS=$((FAULT_ERRORS + 1))
                } ;;
        sigterm)
                bridge_stop TERM
                DETAIL="exit $BRIDGE_RC"
                bridge_start ;;
        sigkill)
                : >"$T/pause"
                if ! wait_for 30 test -f "$T/paused"; then
                        rm -f "$T/pause"
                        DETAIL="skipped: the publisher did not pause"
                        SKIPPED=$((SKIPPED + 1))
                        return 1
                fi
                if ! quiet; then
                        rm -f "$T/pause"
                        DETAIL="skipped: the bridge did not catch up within 120 s"
                        SKIPPED=$((SKIPPED + 1))
                        return 1
                fi
                bridge_stop KILL
                rm -f "$T/pause"
                bridge_start ;;
        esac
        return 0
}

T0=$(now)
END=$((T0 + SOAK_SECONDS))
note "soak: ${SOAK_SECONDS} s, $SOAK_DELIVERY, a fault every ${SOAK_FAULT_EVERY} s from: $SOAK_FAULTS"
next=$((T0 + SOAK_FAULT_EVERY))
while :; do
        t=$(now)
        [ "$t" -ge "$END" ] && break
        if [ "$t" -lt "$next" ]; then
                _sl=$((next - t))
                [ $((t + _sl)) -gt "$END" ] && _sl=$((END - t))
                sleep "$_sl"
                continue
        fi
        bridge_check
        scrape
        sample_rss
        draw
        event "fault $KIND"
        inject "$KIND"
        echo "$KIND" >>"$T/faults.log"
        event "fault $KIND over${DETAIL:+: $DETAIL}"
        next=$((next + SOAK_FAULT_EVERY))
        [ "$next" -lt $(( $(now) + 2 )) ] && next=$(( $(now) + 2 ))
done

# ---------------------------------------------------------------------------
# Wind down: stop publishing, clear every fault, let the bridge catch up.

: >"$T/stop"
wait_exit "$PUB_PID" 60
T_PUB_END=$(now)
rm -f "$T/pause"
fault_admin clear || note "could not clear the sfsim faults"
kafka_ctl "up all" || note "could not bring the brokers up"
bridge_check
event "publishing stopped, faults cleared"
if wait_landed "$SOAK_CATCHUP_S"; then
        CATCHUP="$(( $(now) - T_PUB_END )) s"
        # One more /meta/connect after the last batch: its commit is done.
        _c0=$(sfsim_connects)
        wait_for 15 sh -c "[ \"\$(curl -s --max-time 5 $SFSIM_URL/admin/stats | sed -n 's/.*\"connects\":\([0-9]*\).*/\1/p')\" -gt ${_c0:-0} ]"
else
        CATCHUP="not within $SOAK_CATCHUP_S s"
fi
event "caught up: $CATCHUP"
sleep 1
bridge_check
scrape
sample_rss
RSS_END=$RSS_NOW
ELAPSED=$(( $(now) - T0 ))
bridge_stop TERM
: >"$T/stop_sampler"
wait_exit "$SAMPLER_PID" 15

# ---------------------------------------------------------------------------
# The account

PUBLISHED=0
IN_KAFKA=0
LOST=0
DUPS=0
EXTRA=0
DROPPED=""
per_channel=""
i=1
while [ "$i" -le "$NCH" ]; do
        topic=$(ch TOPIC "$i")
        KCAT_TIMEOUT=120 kcat_read "$topic" 10000000 >"$T/kafka.$i"
        cut -f3 "$T/kafka.$i" >"$T/keys.$i"
        sort -u "$T/pub.$i.ids" >"$T/pub.$i.uniq"
        sort -u "$T/keys.$i" >"$T/keys.$i.uniq"
        p=$(wc -l <"$T/pub.$i.uniq" | tr -d ' ')
        k=$(wc -l <"$T/keys.$i" | tr -d ' ')
        comm -23 "$T/pub.$i.uniq" "$T/keys.$i.uniq" >"$T/lost.$i"
        l=$(wc -l <"$T/lost.$i" | tr -d ' ')
        d=$(count_dups <"$T/keys.$i")
        x=$(comm -13 "$T/pub.$i.uniq" "$T/keys.$i.uniq" | wc -l | tr -d ' ')
        # Partitions whose first readable offset is not 0: the mock dropped records.
        dr=$(awk -F '\t' '!($1 in min) || $2 < min[$1] { min[$1] = $2 }
                END { for (p in min) if (min[p] > 0) printf " %s@%s", p, min[p] }' "$T/kafka.$i")
        [ -n "$dr" ] && DROPPED="$DROPPED $topic:$dr"
        PUBLISHED=$((PUBLISHED + p))
        IN_KAFKA=$((IN_KAFKA + k))
        LOST=$((LOST + l))
        DUPS=$((DUPS + d))
        EXTRA=$((EXTRA + x))
        per_channel="$per_channel$(printf '  %-26s -> %-13s published %6d  in Kafka %6d  lost %d  duplicated %d' \
                "$(ch CH "$i")" "$topic" "$p" "$k" "$l" "$d")
"
        i=$((i + 1))
done

# Recoveries: the sum over every bridge process of its last /metrics, and
# the log lines naming a cause and an action (msg=recovery, and
# msg=kafka_unavailable for a batch held) as a cross-check.
recoveries_metrics=$(cat "$T"/metrics.[0-9]* 2>/dev/null | awk '
        /^sfbridge_recoveries_total\{/ {
                c = $1; sub(/.*cause="/, "", c); sub(/".*/, "", c)
                a = $1; sub(/.*action="/, "", a); sub(/".*/, "", a)
                n[c " " a] += $2
        }
        END { for (k in n) { split(k, f, " "); printf "  %-20s %-16s %6d\n", f[1], f[2], n[k] } }' | sort)
recoveries_log=$(grep ' cause=.* action=' "$T/bridge.log" | grep -v ' msg=kafka ' | awk '
        {
                c = ""; a = ""
                for (i = 1; i <= NF; i++) {
                        if ($i ~ /^cause=/) c = substr($i, 7)
                        if ($i ~ /^action=/) a = substr($i, 8)
                }
                n[c " " a]++
        }
        END { for (k in n) { split(k, f, " "); printf "%s %s %d\n", f[1], f[2], n[k] } }')
recoveries_total=$(printf '%s\n' "$recoveries_metrics" | awk 'NF { s += $3 } END { print s + 0 }')
recoveries_log_total=$(printf '%s\n' "$recoveries_log" | awk 'NF { s += $3 } END { print s + 0 }')
produced=$(cat "$T"/metrics.[0-9]* 2>/dev/null | awk '/^sfbridge_events_total\{/ { s += $2 } END { print s + 0 }')
handshakes=$(cat "$T"/metrics.[0-9]* 2>/dev/null | awk '/^sfbridge_handshakes_total / { s += $2 } END { print s + 0 }')
faults=$(sort "$T/faults.log" | uniq -c | awk '{ printf "%s %s, ", $2, $1 }' | sed 's/, $//')
nfaults=$(wc -l <"$T/faults.log" | tr -d ' ')
pub_errors=$(wc -l <"$T/pub.errors" | tr -d ' ')
aborts=$(grep -c 'msg=batch_aborted\|msg=kafka_txn_abort\|open batch aborted' "$T/bridge.log")

# The org's clients: sfsim's refusals for its cap, the bridge log's
# concurrent-limit lines (meaningful only when that fault was not drawn),
# and the live-client samples.
REFUSED=$(sim_stat clients_refused)
LIMIT_LINES=$(grep -c 'concurrent user limit' "$T/bridge.log")
case " $SOAK_FAULTS " in
*" concurrent-limit "*) LIMIT_DRAWN=1 ;;
*) LIMIT_DRAWN=0 ;;
esac
NSAMPLES=$(wc -l <"$T/clients.samples" | tr -d ' ')
LIVE_MAX=$(cut -d' ' -f2 "$T/clients.samples" | sort -n | tail -n 1)
LIVE_OVER=$(awk -v m="$SOAK_MAX_LIVE" '$2 > m' "$T/clients.samples" | wc -l | tr -d ' ')
LIVE_HIST=$(cut -d' ' -f2 "$T/clients.samples" | sort -n | uniq -c | awk '{ printf "%s%s: %s", (NR > 1 ? ", " : ""), $2, $1 }')

verdict=PASS
reasons=""
[ "$LOST" -gt 0 ] && reasons="$reasons, $LOST lost"
if [ "$SOAK_DELIVERY" = exactly_once ] && [ "$DUPS" -gt 0 ]; then
        reasons="$reasons, $DUPS duplicated"
fi
[ "$CRASHES" -gt 0 ] && reasons="$reasons, the bridge died on its own $CRASHES times"
[ "$BAD_STOPS" -gt 0 ] && reasons="$reasons, $BAD_STOPS SIGTERM stops did not exit 0 within 10 s"
[ -n "$DROPPED" ] && reasons="$reasons, the mock dropped records (sizing)"
[ "$PUBLISHED" -eq 0 ] && reasons="$reasons, nothing was published"
[ "${REFUSED:-x}" = 0 ] || reasons="$reasons, sfsim refused ${REFUSED:-?} handshakes for the org's client cap"
[ "$LIMIT_DRAWN" = 0 ] && [ "$LIMIT_LINES" -gt 0 ] &&
        reasons="$reasons, $LIMIT_LINES concurrent user limit lines in the bridge log"
[ "$NSAMPLES" -eq 0 ] && reasons="$reasons, no live-client sample"
[ "$LIVE_OVER" -gt 0 ] && reasons="$reasons, $LIVE_OVER samples over $SOAK_MAX_LIVE live clients (highest $LIVE_MAX)"
[ -n "$reasons" ] && verdict="FAIL (${reasons#, })"

mb() {
        awk -v k="${1:-0}" 'BEGIN { printf "%.1f MB", k / 1024 }'
}

{
        echo "# sfbridge soak"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "commit: $(git -C "$SFB_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "machine: $(uname -srm), $(nproc 2>/dev/null || echo '?') cores"
        echo "build: $SFB_BUILD"
        echo "run: ${SOAK_SECONDS} s of publishing (${ELAPSED} s in all), delivery $SOAK_DELIVERY, $SOAK_CHUNK events of size $SOAK_SIZE per channel every ${SOAK_PUBLISH_PAUSE} s, a fault every ${SOAK_FAULT_EVERY} s, topics of $PARTITIONS partitions"
        echo
        echo "published: $PUBLISHED"
        echo "in Kafka (read_committed, kcat): $IN_KAFKA"
        echo "lost: $LOST"
        echo "duplicated: $DUPS"
        echo "in Kafka but not recorded as published: $EXTRA (publish calls that failed: $pub_errors)"
        printf '%s' "$per_channel"
        echo "produced by the bridge (sfbridge_events_total, summed over the last scrape of each process): $produced"
        echo "aborted batches (log): $aborts"
        echo "caught up after publishing stopped: $CATCHUP"
        echo "faults injected: $nfaults ($faults)"
        [ "$SKIPPED" -gt 0 ] && echo "faults skipped: $SKIPPED (see the chronicle)"
        [ "$FAULT_ERRORS" -gt 0 ] && echo "fault injections that failed: $FAULT_ERRORS (see the chronicle)"
        echo "bridge processes: $GEN (died on their own: $CRASHES, bad SIGTERM stops: $BAD_STOPS)"
        echo "handshakes (summed): $handshakes"
        echo "org client cap (sfsim --max-clients): $SOAK_MAX_CLIENTS; handshakes sfsim refused for it: ${REFUSED:-?}; concurrent user limit lines in the bridge log: $LIMIT_LINES$([ "$LIMIT_DRAWN" = 1 ] && echo ' (the concurrent-limit fault was drawn)')"
        echo "live clients in sfsim: $NSAMPLES samples (1 s apart), highest ${LIVE_MAX:-?}, over $SOAK_MAX_LIVE: $LIVE_OVER; samples by count: $LIVE_HIST"
        echo "recoveries by cause (sfbridge_recoveries_total{cause,action} summed over $GEN processes; log lines with cause= and action= in brackets):"
        printf '%s\n' "$recoveries_metrics" | while read -r c a n; do
                [ -n "$c" ] || continue
                l=$(printf '%s\n' "$recoveries_log" | awk -v c="$c" -v a="$a" '$1 == c && $2 == a { print $3 }')
                printf '  %-20s %-16s %6d  [%s]\n' "$c" "$a" "$n" "${l:-0}"
        done
        printf '%s\n' "$recoveries_log" | while read -r c a n; do
                [ -n "$c" ] || continue
                printf '%s\n' "$recoveries_metrics" | awk -v c="$c" -v a="$a" '$1 == c && $2 == a { f = 1 } END { exit !f }' ||
                        printf '  %-20s %-16s %6s  [%s] (log only)\n' "$c" "$a" "-" "$n"
        done
        echo "  total: $recoveries_total (log: $recoveries_log_total)"
        echo "bridge RSS: start $(mb "$RSS_START") (first process, ready), end $(mb "$RSS_END") (last process, after catching up); highest sampled $(mb "$RSS_MAX"); at each stop (MB):${RSS_AT_STOP}"
        [ -n "$DROPPED" ] && echo "the mock dropped records (partition@first offset):$DROPPED"
        echo "verdict: $verdict"
} >"$T/soak.txt"
cat "$T/soak.txt"
if [ -n "$SOAK_RESULTS" ]; then
        cp "$T/soak.txt" "$SOAK_RESULTS"
        echo "# wrote $SOAK_RESULTS"
fi

# Evidence for an investigation: the lost and duplicated replay IDs with
# where each copy sits, and the run's chronicle.
if [ "$LOST" -gt 0 ] || [ "$DUPS" -gt 0 ]; then
        i=1
        while [ "$i" -le "$NCH" ]; do
                if [ -s "$T/lost.$i" ]; then
                        note "$(ch CH "$i"): lost replay IDs (first 20): $(head -n 20 "$T/lost.$i" | tr '\n' ' ')"
                fi
                sort "$T/keys.$i" | uniq -d | head -n 20 >"$T/dups.$i"
                if [ -s "$T/dups.$i" ]; then
                        note "$(ch CH "$i"): duplicated replay IDs (first 20; partition/offset of each copy):"
                        awk -F '\t' 'NR == FNR { d[$1] = 1; next } ($3 in d) { w[$3] = w[$3] " " $1 "/" $2 }
                                END { for (k in w) print "#   " k ":" w[k] }' "$T/dups.$i" "$T/kafka.$i" | sort
                fi
                i=$((i + 1))
        done
fi
if [ "$LOST" -gt 0 ] || [ "$DUPS" -gt 0 ] || [ "$LIVE_OVER" -gt 0 ]; then
        [ "$LIVE_OVER" -gt 0 ] &&
                note "samples over $SOAK_MAX_LIVE live clients (first 30): $(awk -v m="$SOAK_MAX_LIVE" '$2 > m { printf "%s=%s ", $1, $2 }' "$T/clients.samples" | cut -d' ' -f1-30)"
        note "chronicle of the run:"
        sed 's/^/#   /' "$T/events.log"
        note "keep everything with SFB_KEEP=1 (bridge log, sfsim and kafka logs)"
fi

case "$verdict" in
PASS) ok "soak: nothing lost$([ "$SOAK_DELIVERY" = exactly_once ] && echo ', nothing duplicated')" ;;
*) not_ok "soak" "$verdict" ;;
esac
assert_eq "sfsim refused no handshake for the org's cap of $SOAK_MAX_CLIENTS clients" 0 "${REFUSED:-?}"
if [ "$LIMIT_DRAWN" = 0 ]; then
        assert_eq "no concurrent user limit in the bridge log" 0 "$LIMIT_LINES"
fi
if [ "$NSAMPLES" -gt 0 ] && [ "$LIVE_OVER" -eq 0 ]; then
        ok "at most $SOAK_MAX_LIVE live clients at every sample ($NSAMPLES samples, highest $LIVE_MAX)"
else
        not_ok "at most $SOAK_MAX_LIVE live clients at every sample" \
                "$NSAMPLES samples, $LIVE_OVER over, highest ${LIVE_MAX:-none}"
fi
assert_file_not_contains "no secret in the bridge log" "$T/bridge.log" "$SF_PASSWORD"
finish
