#!/bin/sh
# Org limits reached mid-stream, as sfsim's faults say them: daily-limit
# (connects: 403::Organization total events daily limit exceeded) and
# server-limit (handshakes: 403::Handshake denied, the per-server connection
# limit in failureReason). Each: back off, not ready meanwhile, counted by
# cause, no new login, delivering again once it lifts, every event once.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-limits
not_ready() {
        ! ready
}
tokens() {
        sfsim_admin GET /admin/stats | sed -n 's/.*"tokens_issued":\([0-9]*\).*/\1/p'
}
tokens_before=$(tokens)
stream_start 20 20 0.2
sleep 1
fault_admin daily-limit
if wait_for 10 not_ready; then ok "daily limit: not ready"; else not_ok "daily limit: not ready"; fi
sleep 2
fault_admin clear
recovered_within 15 "after the daily limit"
check_recoveries_logged "daily limit" daily_limit backoff_long

fault_admin server-limit 2
fault_admin forget-clients
if wait_for 10 not_ready; then ok "server limit: not ready"; else not_ok "server limit: not ready"; fi
stream_wait
recovered_within 15 "after the server limit"
check_recoveries_logged "server limit" server_limit backoff_long
assert_eq "no new login for either" "$tokens_before" "$(tokens)"
expect_delivery "org limits"
fault_finish
