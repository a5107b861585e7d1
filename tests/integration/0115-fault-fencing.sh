#!/bin/sh
# A second instance with the same name fences the first: the first exits 3
# with a clear message and never double-produces.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-fence
stream_start 40 10 0.25
sleep 2
FIRST_PID=$BRIDGE_PID
mv "$T/bridge.log" "$T/first.log"
# Same name, its own metrics port.
FIRST_METRICS_PORT=$METRICS_PORT
METRICS_PORT=$(free_port)
sed "s/127.0.0.1:$FIRST_METRICS_PORT/127.0.0.1:$METRICS_PORT/" "$T/fault.yaml" >"$T/second.yaml"
start_bridge "$T/second.yaml"
SECOND_PID=$BRIDGE_PID
wait_exit "$FIRST_PID" 60
assert_eq "fenced instance exits 3" 3 "$?"
assert_file_contains "fenced instance says why" "$T/first.log" "fenced"
# The broker (librdkafka's mock) does not fence, so the newcomer must not
# read the replay IDs before the first instance's last commit is done: it
# waits for the first one's release, which comes after that commit.
FIRST_INSTANCE=$(sed -n 's/.*msg=claimed .*instance=\([0-9a-f]*\).*/\1/p' "$T/first.log" | head -n 1)
assert_file_contains "fenced instance releases the name after its last commit" "$T/first.log" \
        "msg=released name=it-f-fence instance=$FIRST_INSTANCE"
wait_for 10 grep -q "msg=takeover previous_instance=$FIRST_INSTANCE released=" "$T/bridge.log"
assert_file_contains "newcomer waited for that release before loading the replay IDs" "$T/bridge.log" \
        "msg=takeover previous_instance=$FIRST_INSTANCE released=true"
BRIDGE_PID=$SECOND_PID
stream_wait
recovered_within 15 "with the new instance"
expect_delivery "fencing"
fault_finish
