#!/bin/sh
# Malformed JSON in /meta/connect answers: a clear error naming the problem,
# then a new session from the committed IDs; nothing lost.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-malformed
stream_start 30 20 0.2
sleep 1
fault_admin malformed 3
stream_wait
recovered_within 10 "after malformed answers"
expect_delivery "malformed JSON"
check_recoveries_logged "malformed answers" malformed_response any
fault_finish
