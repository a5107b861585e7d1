#!/bin/sh
# (10) A hung server: it accepts a /meta/connect and never answers. The
# bridge notices within its connect timeout (advice.timeout + 10 s, at most
# salesforce.stall_timeout_s, here 5 s), logs a stall recovery, connects
# again and keeps delivering; it never exits. A regression test: this held
# before issue 14.
. "$SFB_ROOT/tests/hostile/hostile.inc.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }
start_hostile hung || { not_ok "start hostile"; finish; }
hpublish "$HCHANNEL" 2 >"$T/hung.ids"
HTOPIC=hostile.hung SFB_STALL_S=5 hostile_config "$T/hung.yaml" hx-hung
start_bridge "$T/hung.yaml"
wait_for 30 kcat_has hostile.hung 2 || not_ok "(10) delivering before the attack"
harm 1
wait_for 10 hstat_at_least attacks 1 || not_ok "(10) a connect was hung" "attacks=$(hstat attacks)"
t0=$(date +%s)
# An event published while the connect hangs must arrive after the stall.
id=$(hpublish "$HCHANNEL" 1)
echo "$id" >>"$T/hung.ids"
if wait_for 15 grep -q 'msg=recovery cause=stall' "$T/bridge.log"; then
        ok "(10) the stall is noticed and logged within $(( $(date +%s) - t0 )) s (stall_timeout_s 5)"
else
        not_ok "(10) the stall is noticed and logged" "no msg=recovery cause=stall within 15 s"
fi
if wait_for 10 grep -q '"attack": "hung_released"' "$HOSTILE_LOG"; then ok "(10) the bridge dropped the hung request"; else not_ok "(10) the bridge dropped the hung request"; fi
if lands_within 20 hostile.hung "$id"; then ok "(10) delivering again"; else not_ok "(10) delivering again" "event $id not in Kafka"; fi
if wait_for 10 ready; then ok "(10) ready again"; else not_ok "(10) ready again"; fi
check "(10) the bridge is still running" bridge_alive
assert_eq "(10) every event once" "$(sort -n "$T/hung.ids" | tr '\n' ' ')" "$(keys_of hostile.hung | tr '\n' ' ')"
stop_bridge TERM
assert_eq "(10) clean stop" 0 "$BRIDGE_RC"
no_crash "(10)"
no_secrets "(10)"
finish
