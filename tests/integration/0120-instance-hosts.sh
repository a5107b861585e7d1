#!/bin/sh
# Salesforce's hosts: the bridge logs in on the login URL and runs CometD on
# the instance URL the token answer names (sfsim refuses CometD on its login
# URL); revoke-tokens moves the org to another instance host, which the next
# login names; the load-balancer cookie expires every 3 s (sfsim answers
# 403::Unknown client and the bridge handshakes again). Every event lands
# once, and the bridge never talks CometD to the login host.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-hosts exactly_once --lb-cookie-ttl-ms 3000 --connect-timeout-ms 1000
login=$SFSIM_URL
first=$(sfsim_admin GET /admin/stats | sed -n 's/.*"instance_url":"\([^"]*\)".*/\1/p')
case "$first" in
http://127.0.0.1:*) [ "$first" != "$login" ] && ok "sfsim names an instance host apart from the login URL" \
        || not_ok "sfsim names an instance host apart from the login URL" "$first" ;;
*) not_ok "sfsim names an instance host" "stats: instance_url=$first" ;;
esac
log_has "the bridge runs CometD on the token's instance URL" "instance_url=$first "
stream_start 20 10 0.2
sleep 2
fault_admin revoke-tokens
second=$(sfsim_admin GET /admin/stats | sed -n 's/.*"instance_url":"\([^"]*\)".*/\1/p')
[ -n "$second" ] && [ "$second" != "$first" ] && ok "revoke-tokens moved the org ($second)" \
        || not_ok "revoke-tokens moved the org" "before $first, after $second"
stream_wait
recovered_within 10 "after the org moved"
expect_delivery "instance host, org move, cookie expiry"
if wait_for 10 grep -q "msg=login .*instance_url=$second " "$T/bridge.log"; then
        ok "the bridge logged in again and follows the new instance host"
else
        not_ok "the bridge logged in again and follows the new instance host" \
                "$(grep 'msg=login' "$T/bridge.log" | tail -n 3)"
fi
assert_file_not_contains "no login names the login URL as instance" "$T/bridge.log" "instance_url=$login "
st=$(sfsim_admin GET /admin/stats)
lb=$(printf '%s' "$st" | sed -n 's/.*"lb_refused":\([0-9]*\).*/\1/p')
[ "${lb:-0}" -ge 1 ] && ok "the load-balancer cookie expired under the bridge ($lb times)" \
        || not_ok "the load-balancer cookie expired under the bridge" "$st"
check_recoveries_logged "the expired cookie led to a new handshake" unknown_client rehandshake
hs=$(printf '%s' "$st" | sed -n 's/.*"handshakes":\([0-9]*\).*/\1/p')
note "sfsim: handshakes=$hs lb_refused=$lb wrong_host=$(printf '%s' "$st" | sed -n 's/.*"wrong_host":\([0-9]*\).*/\1/p')"
fault_finish
