#!/bin/sh
# A failed /meta/connect that Salesforce did not explain (HTTP 503, a
# connection closed mid-poll) is retried on the same clientId: no new
# handshake, so no second concurrent-client slot. A re-handshake that
# leaves a live clientId behind (a malformed answer) disconnects it, so
# sfsim's live-client count is back to one at once, not after 40 s.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

# sfsim_stat NAME: one number of /admin/stats.
sfsim_stat() {
        sfsim_admin GET /admin/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

handshakes_above() {
        [ "$(sfsim_stat handshakes)" -gt "$1" ]
}

fault_setup it-connect-retry
stream_start 15 20 0.2
sleep 1

# --- HTTP 503 on connect: same client ---------------------------------------
h0=$(sfsim_stat handshakes)
fault_admin http-503 2
check_recoveries_logged -w 10 "503 on /meta/connect: retried on the same clientId" http_5xx retry
sleep 1
assert_eq "503 on /meta/connect: no new handshake" "$h0" "$(sfsim_stat handshakes)"

# --- connection closed mid-poll: same client --------------------------------
fault_admin close-mid-poll 2
check_recoveries_logged -w 10 "closed mid-poll: retried on the same clientId" transport retry
sleep 1
assert_eq "closed mid-poll: no new handshake" "$h0" "$(sfsim_stat handshakes)"
assert_eq "one live client" 1 "$(sfsim_stat clients)"

# --- a re-handshake abandons a live client: it is disconnected ---------------
d0=$(sfsim_stat disconnects)
fault_admin malformed 1
if wait_for 10 handshakes_above "$h0"; then
        ok "malformed answer: a new handshake"
else
        not_ok "malformed answer: a new handshake"
fi
if wait_for 5 grep -q 'msg=disconnect client_id=[a-z0-9]* reason=abandoned status=200' "$T/bridge.log"; then
        ok "the abandoned clientId got a /meta/disconnect"
else
        not_ok "the abandoned clientId got a /meta/disconnect"
fi
assert_eq "sfsim counted the disconnect" "$((d0 + 1))" "$(sfsim_stat disconnects)"
assert_eq "one live client after the re-handshake" 1 "$(sfsim_stat clients)"

stream_wait
recovered_within 10 "after the connect failures"
expect_delivery "connect failures"
# Every clientId sfsim issued was opened by this bridge (the start probe's included).
assert_eq "sfbridge_sessions_opened_total = sfsim's handshakes" "$(sfsim_stat handshakes)" \
        "$(metric sfbridge_sessions_opened_total)"
fault_finish
