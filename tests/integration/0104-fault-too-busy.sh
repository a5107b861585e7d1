#!/bin/sh
# 503::Server is too busy under an error of 401::Authentication invalid:
# back off and retry, never log in again.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-busy
tokens_before=$(sfsim_admin GET /admin/stats | sed -n 's/.*"tokens_issued":\([0-9]*\).*/\1/p')
stream_start 30 20 0.2
sleep 2
fault_admin too-busy 3
stream_wait
recovered_within 10 "after too busy"
expect_delivery "too busy"
check_recoveries_logged "too busy" too_busy backoff_long
tokens_after=$(sfsim_admin GET /admin/stats | sed -n 's/.*"tokens_issued":\([0-9]*\).*/\1/p')
assert_eq "too busy: no new login" "$tokens_before" "$tokens_after"
assert_eq "too busy: not counted as a re-login" "" "$(metric 'sfbridge_reauth_total{cause="too_busy"}')"
fault_finish
