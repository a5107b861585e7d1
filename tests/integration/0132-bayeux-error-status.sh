#!/bin/sh
# Salesforce's errors as they come: a Bayeux error wrapped in an HTTP 400
# or 401 is classified by what it says (403::Unknown client: a handshake
# with the same token; 401::Authentication invalid: a new token), an
# Unknown client that says reconnect: none is still a re-handshake, and
# CometD's server-side disconnect (reconnect: none) is a re-handshake
# without a new login. Nothing is lost through any of them.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

# count NEEDLE: how many bridge log lines hold NEEDLE.
count() {
        grep -c "$1" "$T/bridge.log"
}

fault_setup it-bayeux-status
stream_start 15 20 0.3
sleep 1

# --- 403::Unknown client in an HTTP 400 ----------------------------------------
fault_admin "forget-clients&status=400"
check_recoveries_logged -w 10 "HTTP 400 holding 403::Unknown client: re-handshake (cause unknown_client)" unknown_client rehandshake 1
assert_eq "not classified by the status alone" 0 "$(count 'cause=http_4xx')"
wait_for 10 ready
fault_admin clear

# --- 401::Authentication invalid in an HTTP 401 ---------------------------------
fault_admin "revoke-tokens&status=401"
check_recoveries_logged -w 10 "HTTP 401 holding 401::Authentication invalid: new token (cause auth_invalid)" auth_invalid reauth 1
assert_eq "not classified as a bare HTTP 401" 0 "$(count 'cause=http_401')"
wait_for 10 ready
fault_admin clear

# --- 403::Unknown client with reconnect: none ----------------------------------
reauth0=$(count 'action=reauth')
fault_admin "forget-clients&advice=none"
check_recoveries_logged -w 10 "Unknown client with reconnect none: re-handshake" unknown_client rehandshake 2
wait_for 10 ready
fault_admin clear

# --- server-side disconnect, reconnect: none (sfsim's default now) -------------
fault_admin disconnect
check_recoveries_logged -w 10 "server disconnect with reconnect none: re-handshake" server_disconnect rehandshake 1
assert_eq "no new login for either" "$reauth0" "$(count 'action=reauth')"

stream_wait
recovered_within 10 "after the wrapped errors"
expect_delivery "Bayeux errors in HTTP errors"
fault_finish
