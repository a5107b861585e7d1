#!/bin/sh
# A silent stall: /meta/connect is accepted and never answered. The
# watchdog (stall_timeout_s 5) aborts it, readiness drops, and once the
# server answers again the bridge is back with nothing lost.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-stall
stream_start 30 20 0.2
sleep 1
fault_admin stall
start=$(date +%s)
check_recoveries_logged -w 8 "stall detected within stall_timeout_s (+ the poll in flight)" stall any
note "stall detected after $(( $(date +%s) - start )) s"
if wait_for 5 sh -c "! curl -sf -o /dev/null http://127.0.0.1:$METRICS_PORT/readyz"; then ok "readiness drops during the stall"; else not_ok "readiness drops during the stall"; fi
fault_admin clear
stream_wait
recovered_within 10 "after the stall cleared"
if wait_for 10 ready; then ok "ready again after the stall"; else not_ok "ready again after the stall"; fi
expect_delivery "silent stall"
fault_finish
