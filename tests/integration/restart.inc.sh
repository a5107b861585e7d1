# Body of 0020/0021: restart in the middle of a 10,000-event stream, once
# with SIGTERM and once with SIGKILL. Set DELIVERY before sourcing.
#
# The SIGTERM lands wherever the stream is. The SIGKILL lands while the
# publisher pauses and the bridge sits in a long-poll with no transaction
# open: librdkafka 2.0.2's mock cluster writes no transaction markers, so
# it shows an aborted transaction's records even to read_committed readers,
# which would count as duplicates here though a real broker hides them.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

TOTAL=10000
CHUNK=250
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --retention 20000 --max-batch 500 || { not_ok start_sfsim; finish; }
write_config "$T/restart.yaml" "it-restart-$DELIVERY" "$DELIVERY" <<'YAML'
  - channel: /event/Stream__e
    topic: it.stream
    start: all
YAML

# The publisher: TOTAL events in chunks, paced so restarts land mid-stream.
(
        i=0
        while [ "$i" -lt $((TOTAL / CHUNK)) ]; do
                if [ "$i" -eq $((TOTAL * 6 / 10 / CHUNK)) ]; then
                        : >"$T/paused"
                        while [ ! -f "$T/go" ]; do sleep 0.1; done
                fi
                publish /event/Stream__e "$CHUNK" 200 >>"$T/published.ids" || exit 1
                i=$((i + 1))
                sleep 0.15
        done
) &
PUB_PID=$!
track_pid "$PUB_PID"

landed() { kcat_read it.stream 1000000 -X isolation.level=read_committed | wc -l | tr -d ' '; }

start_bridge "$T/restart.yaml"
wait_for 60 sh -c "[ \$(kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it.stream -o beginning -X isolation.level=read_committed -f 'x\n' 2>/dev/null | wc -l) -ge 2500 ]"
note "at SIGTERM: $(landed) landed"
stop_bridge TERM
assert_eq "SIGTERM mid-stream: exit 0" 0 "$BRIDGE_RC"

start_bridge "$T/restart.yaml"
wait_for 60 test -f "$T/paused"
wait_for 60 sh -c "[ \$(kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it.stream -o beginning -X isolation.level=read_committed -f 'x\n' 2>/dev/null | wc -l) -ge $((TOTAL * 6 / 10)) ]"
sleep 0.5
note "at SIGKILL: $(landed) landed"
kill -KILL "$BRIDGE_PID"
wait_exit "$BRIDGE_PID" 10
: >"$T/go"

start_bridge "$T/restart.yaml"
wait_exit "$PUB_PID" 120
assert_eq "publisher finished" 0 "$?"
assert_eq "published $TOTAL" "$TOTAL" "$(sort -u "$T/published.ids" | wc -l | tr -d ' ')"
wait_for 120 sh -c "[ \$(kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it.stream -o beginning -X isolation.level=read_committed -f '%k\n' 2>/dev/null | sort -u | wc -l) -ge $TOTAL ]"
sleep 1
stop_bridge TERM
assert_eq "final SIGTERM: exit 0" 0 "$BRIDGE_RC"
# Each clean stop releases the name, so the start after it does not wait;
# the start after SIGKILL finds the dead instance's claim, waits for a
# release that never comes, and goes on.
assert_eq "$DELIVERY: each clean stop released the name" 2 "$(grep -c 'msg=released name=' "$T/bridge.log")"
assert_eq "$DELIVERY: only the start after SIGKILL waited for a release" 2 "$(grep -c 'msg=takeover ' "$T/bridge.log")"
assert_eq "$DELIVERY: ... and went on without one" 1 "$(grep -c 'msg=takeover .*released=false' "$T/bridge.log")"

kcat_read it.stream 1000000 | cut -f3 >"$T/keys"
sort -u "$T/keys" >"$T/keys.uniq"
sort -u "$T/published.ids" >"$T/published.uniq"
missing=$(comm -23 "$T/published.uniq" "$T/keys.uniq" | wc -l | tr -d ' ')
extra=$(comm -13 "$T/published.uniq" "$T/keys.uniq" | wc -l | tr -d ' ')
dups=$(count_dups <"$T/keys")
note "$DELIVERY: $(wc -l <"$T/keys" | tr -d ' ') records, $missing missing, $dups duplicates"
assert_eq "$DELIVERY: no event lost across SIGTERM and SIGKILL" 0 "$missing"
assert_eq "$DELIVERY: nothing that was not published" 0 "$extra"
