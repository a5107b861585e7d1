#!/bin/sh
# 403::Organization concurrent user limit exceeded at handshake: back off
# with jitter, readiness false meanwhile, counted by cause.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-limit
stream_start 30 20 0.2
sleep 1
fault_admin concurrent-limit
fault_admin forget-clients
if wait_for 10 sh -c "! curl -sf -o /dev/null http://127.0.0.1:$METRICS_PORT/readyz"; then ok "not ready while over the limit"; else not_ok "not ready while over the limit"; fi
sleep 3
fault_admin clear
stream_wait
recovered_within 15 "after the limit lifted"
expect_delivery "concurrent limit"
check_recoveries_logged "concurrent limit" concurrent_limit backoff_long
fault_finish
