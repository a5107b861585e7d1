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
BRIDGE_PID=$SECOND_PID
stream_wait
recovered_within 15 "with the new instance"
expect_delivery "fencing"
fault_finish
