#!/bin/sh
# Connect replies a bridge must survive (issue 14, finding 8):
#  (6) odd advice: reconnect "none" on a successful reply re-handshakes
#      (README's recovery table: advice_none, counted); reconnect "bogus", a
#      number for reconnect, a string interval, a negative interval and
#      timeout, absurd timeouts (1e300, 1e20): no crash, the bridge never
#      exits and keeps delivering;
#  (7) a /meta/connect reply 404::Unknown channel (successful:false) mid-run:
#      back off and rebuild (a new handshake reaches the server), counted in
#      sfbridge_recoveries_total, never exit.
. "$SFB_ROOT/tests/hostile/hostile.inc.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }

# --- (6) odd advice -----------------------------------------------------------
start_hostile advice || { not_ok "(6) start hostile"; finish; }
hpublish "$HCHANNEL" 2 >"$T/advice.ids"
HTOPIC=hostile.advice hostile_config "$T/advice.yaml" hx-advice
start_bridge "$T/advice.yaml"
wait_for 30 kcat_has hostile.advice 2 || not_ok "(6) delivering before the attack"
hs=$(hstat handshakes)
rec=$(sum_metric sfbridge_recoveries_total)
harm 1
wait_for 15 hstat_at_least attacks 1 || not_ok "(6) the reconnect none reply was served"
if wait_for 15 grep -q 'msg=recovery cause=advice_none' "$T/bridge.log"; then
        ok "(6) reconnect none: logged as a recovery (advice_none)"
else
        not_ok "(6) reconnect none: logged as a recovery (advice_none)"
fi
if wait_for 15 hstat_at_least handshakes $((hs + 1)); then ok "(6) reconnect none: a new handshake"; else not_ok "(6) reconnect none: a new handshake" "handshakes $hs -> $(hstat handshakes)"; fi
if wait_for 10 sh -c "[ \$(curl -s --max-time 5 http://127.0.0.1:$METRICS_PORT/metrics | awk 'index(\$1, \"sfbridge_recoveries_total{\") == 1 { s += \$2 } END { print s + 0 }') -gt $rec ]"; then
        ok "(6) reconnect none: counted"
else
        not_ok "(6) reconnect none: counted" "sfbridge_recoveries_total $rec -> $(sum_metric sfbridge_recoveries_total)"
fi
# The other odd advices, one per connect, while events keep coming.
harm 5
i=0
while [ $i -lt 5 ]; do
        hpublish "$HCHANNEL" 1 >>"$T/advice.ids"
        sleep 0.5
        i=$((i + 1))
done
if wait_for 40 hstat_at_least attacks 6; then ok "(6) all odd advices were served"; else not_ok "(6) all odd advices were served" "attacks=$(hstat attacks)"; fi
id=$(hpublish "$HCHANNEL" 1)
echo "$id" >>"$T/advice.ids"
if lands_within 30 hostile.advice "$id"; then ok "(6) delivering after the odd advices"; else not_ok "(6) delivering after the odd advices" "event $id not in Kafka"; fi
check "(6) the bridge is still running" bridge_alive
assert_eq "(6) every event once" "$(sort -n "$T/advice.ids" | tr '\n' ' ')" "$(keys_of hostile.advice | tr '\n' ' ')"
stop_bridge TERM
assert_eq "(6) clean stop" 0 "$BRIDGE_RC"
no_crash "(6)"
no_secrets "(6)"
stop_hostile
save_bridge_log advice

# --- (7) 404::Unknown channel on /meta/connect -----------------------------------
HOSTILE_LOG="$T/unknown-requests.jsonl"
start_hostile unknown-channel || { not_ok "(7) start hostile"; finish; }
hpublish "$HCHANNEL" 2 >"$T/unknown.ids"
HTOPIC=hostile.unknown hostile_config "$T/unknown.yaml" hx-unknown
start_bridge "$T/unknown.yaml"
wait_for 30 kcat_has hostile.unknown 2 || not_ok "(7) delivering before the attack"
wait_for 10 ready || not_ok "(7) ready before the attack"
hs=$(hstat handshakes)
rec=$(sum_metric sfbridge_recoveries_total)
lines=$(wc -l <"$T/bridge.log")
harm 2
wait_for 20 hstat_at_least attacks 2 || not_ok "(7) both 404 replies were served" "attacks=$(hstat attacks)"
if wait_for 20 hstat_at_least handshakes $((hs + 1)); then ok "(7) rebuilt: a new handshake"; else not_ok "(7) rebuilt: a new handshake" "handshakes $hs -> $(hstat handshakes)"; fi
check "(7) the bridge did not exit" bridge_alive
now=$(sum_metric sfbridge_recoveries_total)
if [ "$now" -gt "$rec" ]; then ok "(7) counted in sfbridge_recoveries_total ($rec -> $now)"; else not_ok "(7) counted in sfbridge_recoveries_total" "$rec -> $now"; fi
tail -n +"$((lines + 1))" "$T/bridge.log" | grep -m 1 'msg=recovery' >"$T/unknown.recovery"
if [ -s "$T/unknown.recovery" ]; then ok "(7) logged as a recovery: $(cut -c 25-220 "$T/unknown.recovery")"; else not_ok "(7) logged as a recovery"; fi
assert_file_not_contains "(7) no fatal exit" "$T/bridge.log" "msg=fatal"
id=$(hpublish "$HCHANNEL" 1)
echo "$id" >>"$T/unknown.ids"
if lands_within 30 hostile.unknown "$id"; then ok "(7) delivering again"; else not_ok "(7) delivering again" "event $id not in Kafka"; fi
check "(7) the bridge is still running" bridge_alive
assert_eq "(7) every event once" "$(sort -n "$T/unknown.ids" | tr '\n' ' ')" "$(keys_of hostile.unknown | tr '\n' ' ')"
if bridge_alive; then
        stop_bridge TERM
        assert_eq "(7) clean stop" 0 "$BRIDGE_RC"
else
        wait_exit "$BRIDGE_PID" 1
        not_ok "(7) clean stop" "the bridge had exited with $?"
fi
no_crash "(7)"
no_secrets "(7)"
finish
