#!/bin/sh
# The TCP connection closes in the middle of a long-poll.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-close
stream_start 30 20 0.2
sleep 1
fault_admin close-mid-poll 3
stream_wait
recovered_within 10 "after closed connections"
expect_delivery "connection closed mid-poll"
check_recoveries_logged "closed mid-poll" transport any
fault_finish
