#!/bin/sh
# The server forgets the client (403::Unknown client): re-handshake with the
# same token, resubscribe from the committed IDs; no new login.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-unknown
stream_start 30 20 0.2
sleep 2
fault_admin forget-clients
stream_wait
recovered_within 10 "after forget-clients"
expect_delivery "unknown client"
check_recoveries_logged "forget-clients" unknown_client rehandshake
assert_eq "no re-login for an unknown client" "" "$(metric 'sfbridge_reauth_total{cause="unknown_client"}')"
fault_finish
