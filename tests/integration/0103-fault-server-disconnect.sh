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
grep -q 'msg=recovery cause=server_disconnect\|msg=recovery cause=unknown_client' "$T/bridge.log" && ok "recovery logged" || not_ok "recovery logged"
fault_finish
