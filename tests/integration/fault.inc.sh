# Shared body of the fault tests (01NN-*.sh): a stream is published while
# the bridge runs, the test injects a fault mid-stream, and afterwards Kafka
# must hold every published event exactly once (exactly_once) or at least
# once (at_least_once), and the bridge must be delivering again within 10 s
# of the fault clearing.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

FAULT_TOPIC=it.fault
FAULT_CHANNEL=/event/Fault__e

# fault_setup NAME [DELIVERY] [sfsim args...]: Kafka, the emulator with a
# short long-poll (so a 5 s stall_timeout_s is meaningful), a bridge that
# is ready. The bridge config is $T/fault.yaml.
fault_setup() {
        _f_name=$1
        _f_delivery=${2:-exactly_once}
        shift
        [ $# -gt 0 ] && shift
        start_kafka 3 || { not_ok "start kafka"; finish; }
        start_sfsim --connect-timeout-ms 2000 "$@" || { not_ok "start sfsim"; finish; }
        SFB_STALL_S=${SFB_STALL_S:-5} write_config "$T/fault.yaml" "$_f_name" "$_f_delivery" <<YAML
  - channel: $FAULT_CHANNEL
    topic: $FAULT_TOPIC
    start: all
YAML
        FAULT_DELIVERY=$_f_delivery
        start_bridge "$T/fault.yaml"
        if wait_for 30 ready; then ok "bridge ready before the fault"; else not_ok "bridge ready before the fault"; finish; fi
}

# stream_start CHUNKS [CHUNK_SIZE] [PAUSE_S]: publish in the background,
# appending replay IDs to $T/published.ids.
stream_start() {
        (
                _s_i=0
                while [ "$_s_i" -lt "$1" ]; do
                        publish "$FAULT_CHANNEL" "${2:-20}" 100 >>"$T/published.ids" || exit 1
                        _s_i=$((_s_i + 1))
                        sleep "${3:-0.2}"
                done
        ) &
        STREAM_PID=$!
        track_pid "$STREAM_PID"
}

stream_wait() {
        wait_exit "$STREAM_PID" 120
        assert_eq "publisher finished" 0 "$?"
}

# fault_admin KIND [COUNT]
fault_admin() {
        if [ -n "${2:-}" ]; then
                sfsim_admin POST "/admin/fault?kind=$1&count=$2" >/dev/null
        else
                sfsim_admin POST "/admin/fault?kind=$1" >/dev/null
        fi
}

# recovered_within S NAME: a marker event published now lands within S s.
recovered_within() {
        _r_id=$(publish "$FAULT_CHANNEL" 1 | tail -n 1)
        echo "$_r_id" >>"$T/published.ids"
        if wait_for "$1" sh -c "kcat -b $KAFKA_BOOTSTRAP -C -e -q -t $FAULT_TOPIC -o beginning -X isolation.level=read_committed -f '%k\n' 2>/dev/null | grep -qx '$_r_id'"; then
                ok "$2: delivering again within $1 s"
        else
                not_ok "$2: delivering again within $1 s" "marker $_r_id not in Kafka"
        fi
}

# expect_delivery NAME: every published event is in Kafka (read_committed)
# once; with at_least_once, at least once.
expect_delivery() {
        _e_total=$(sort -u "$T/published.ids" | wc -l | tr -d ' ')
        wait_for 60 sh -c "[ \$(kcat -b $KAFKA_BOOTSTRAP -C -e -q -t $FAULT_TOPIC -o beginning -X isolation.level=read_committed -f '%k\n' 2>/dev/null | sort -u | wc -l) -ge $_e_total ]"
        sleep 1
        kcat_read "$FAULT_TOPIC" 1000000 | cut -f3 >"$T/keys"
        sort -u "$T/published.ids" >"$T/published.uniq"
        sort -u "$T/keys" >"$T/keys.uniq"
        _e_missing=$(comm -23 "$T/published.uniq" "$T/keys.uniq" | wc -l | tr -d ' ')
        _e_dups=$(count_dups <"$T/keys")
        note "$1: published $_e_total, in Kafka $(wc -l <"$T/keys" | tr -d ' '), missing $_e_missing, duplicates $_e_dups"
        assert_eq "$1: no event lost" 0 "$_e_missing"
        if [ "$FAULT_DELIVERY" = exactly_once ]; then
                assert_eq "$1: no duplicate (read_committed)" 0 "$_e_dups"
        fi
}

# log_has NAME NEEDLE: the bridge log holds NEEDLE (fixed string).
log_has() {
        assert_file_contains "$1" "$T/bridge.log" "$2"
}

# fault_finish: stop the bridge cleanly and report.
fault_finish() {
        stop_bridge TERM
        assert_eq "clean stop after the fault" 0 "$BRIDGE_RC"
        assert_file_not_contains "no secret in the log" "$T/bridge.log" "$SF_PASSWORD"
        finish
}
