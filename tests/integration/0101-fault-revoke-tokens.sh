#!/bin/sh
# Token revocation, repeated every 2 s for 20 s: each time the bridge logs
# in again, re-handshakes and resubscribes from the last committed replay ID.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-revoke
stream_start 100 10 0.2
i=0
while [ $i -lt 10 ]; do
        fault_admin revoke-tokens
        sleep 2
        i=$((i + 1))
done
stream_wait
recovered_within 10 "after repeated revocation"
expect_delivery "token revocation x10"
n=$(metric 'sfbridge_reauth_total{cause="auth_invalid"}')
[ "${n:-0}" -ge 5 ] && ok "re-logins counted by cause ($n)" || not_ok "re-logins counted by cause" "sfbridge_reauth_total{cause=\"auth_invalid\"}=$n"
check_recoveries_logged "token revocation" auth_invalid reauth
fault_finish
