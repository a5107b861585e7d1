#!/bin/sh
# A /meta/connect reply with words the recovery table calls fatal only on a
# subscribe or handshake reply (404::Unknown channel): the bridge backs off
# and rebuilds, counted as connect_error, and never exits 3 (issue 14 item
# 8: it exited 3 before). Every event of the stream lands once.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-connect-error
stream_start 20 20 0.2
sleep 1
fault_admin connect-unknown-channel 3
stream_wait
if _sfb_alive "$BRIDGE_PID"; then ok "still running after three 404::Unknown channel connect replies"; else
        not_ok "still running after three 404::Unknown channel connect replies"; fi
recovered_within 20 "after the connect errors"
log_has "logged with its cause" "cause=connect_error action=backoff"
log_has "logged with Salesforce's words" "404::Unknown channel"
n=$(metric 'sfbridge_recoveries_total{cause="connect_error",action="backoff"}')
[ "${n:-0}" -ge 3 ] && ok "counted ($n)" || not_ok "counted 3 times" "$n"
assert_file_not_contains "no fatal exit" "$T/bridge.log" "msg=fatal"
expect_delivery "connect errors"
fault_finish
