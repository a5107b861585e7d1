#!/bin/sh
# A burst of HTTP 503 answers: exponential backoff with jitter, then on.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-503
stream_start 30 20 0.2
sleep 1
fault_admin http-503 4
stream_wait
recovered_within 20 "after the 503 burst"
expect_delivery "HTTP 503 burst"
log_has "recovery logged with the HTTP status" "detail=\"HTTP 503\""
fault_finish
