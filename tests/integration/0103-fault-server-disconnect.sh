#!/bin/sh
# A server-pushed /meta/disconnect: re-handshake, resubscribe, nothing lost.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-disconnect
stream_start 30 20 0.2
sleep 2
fault_admin disconnect
stream_wait
recovered_within 10 "after a server disconnect"
expect_delivery "server disconnect"
check_recoveries_logged "server disconnect" 'server_disconnect|unknown_client' rehandshake
fault_finish
