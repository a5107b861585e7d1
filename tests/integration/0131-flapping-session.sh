#!/bin/sh
# A session that flaps: every new client is forgotten right after its
# first /meta/connect answered (sfsim forget-after-first-connect). That
# first connect proves nothing, so the backoff grows and handshakes stay
# at least 1 s apart: a bounded number of handshakes in 5 s, not a hot
# loop. (No events are published while it flaps: a first connect that
# delivers events is progress, and does reset the backoff.) Once the
# fault clears, the bridge is back and nothing is lost.
. "$SFB_ROOT/tests/integration/fault.inc.sh"

sfsim_stat() {
        sfsim_admin GET /admin/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

fault_setup it-flapping
stream_start 5 20 0.1
stream_wait
sleep 1
h0=$(sfsim_stat handshakes)
fault_admin forget-after-first-connect
fault_admin forget-clients
sleep 5
h1=$(sfsim_stat handshakes)
flaps=$((h1 - h0))
note "handshakes while flapping for 5 s: $flaps"
if [ "$flaps" -ge 2 ]; then ok "the session flapped ($flaps handshakes)"; else not_ok "the session flapped" "$flaps handshakes"; fi
if [ "$flaps" -le 5 ]; then
        ok "the flapping session backs off: $flaps handshakes in 5 s (at most 5)"
else
        not_ok "the flapping session backs off: at most 5 handshakes in 5 s" "$flaps"
fi
# At least 1 s between two handshakes, whatever the backoff said (the log
# lines are written when each answers: a little tolerance).
grep 'msg=handshake client_id' "$T/bridge.log" | sed -n 's/^ts=[0-9-]*T\([0-9:.]*\)Z.*/\1/p' |
        awk -F: '{ t = $1 * 3600 + $2 * 60 + $3; if (NR > 1 && t - p < 0.9) bad++; p = t }
                 END { print bad + 0 }' >"$T/gaps"
assert_eq "handshakes at least 1 s apart" 0 "$(cat "$T/gaps")"
fault_admin clear
recovered_within 20 "after the flapping stopped"
expect_delivery "flapping session"
fault_finish
