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
log_has "recovery logged as concurrent_limit" "cause=concurrent_limit"
n=$(metric 'sfbridge_recoveries_total{cause="concurrent_limit",action="backoff_long"}')
[ "${n:-0}" -ge 1 ] && ok "counted by cause ($n)" || not_ok "counted by cause" "$n"
fault_finish
