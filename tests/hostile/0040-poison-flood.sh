#!/bin/sh
# Events the bridge cannot parse or route (issue 14, finding 2):
#  (8) with kafka.dead_letter_topic: an event with no `data`, one whose
#      replayId is not a number and one on a channel no route subscribes to
#      each land on the dead-letter topic; the good events around them land
#      on their topic once; the stored replay ID is the last good event's
#      (it never passes an event that was neither delivered nor dead-lettered);
#  (9) one /meta/connect answer with 5,000 bad events: the bridge's log
#      stays small (< 200 lines mention them), the repeated error is
#      rate-limited (log_suppressed event=... count=N), and /metrics counts
#      all 5,000.
. "$SFB_ROOT/tests/hostile/hostile.inc.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }
start_hostile honest || { not_ok "start hostile"; finish; }

# replay_of CONFIG CHANNEL: the stored replay ID of CHANNEL (replay list).
replay_of() {
        "$SFB_BUILD/sfbridge" replay list -c "$1" 2>/dev/null |
                awk -v ch="$2" '$1 == ch { print $2 }'
}

# --- (8) poison events ----------------------------------------------------------
{
        hpublish "$HCHANNEL" 2
        hpublish "$HCHANNEL" 1 nodata >"$T/p.nodata"
        hpublish "$HCHANNEL" 1
        hpublish "$HCHANNEL" 1 badreplay >"$T/p.bad"
        hpublish "$HCHANNEL" 1
        hpublish "$HCHANNEL" 1 unrouted >"$T/p.unrouted"
        hpublish "$HCHANNEL" 1
} >"$T/p.good"
good=$(sort -n "$T/p.good" | tr '\n' ' ')
last=$(tail -n 1 "$T/p.good")
HTOPIC=hostile.poison KAFKA_EXTRA="  dead_letter_topic: hostile.dlq" \
        hostile_config "$T/poison.yaml" hx-poison
start_bridge "$T/poison.yaml"
wait_for 30 kcat_has hostile.poison 5 || not_ok "(8) the good events landed"
wait_for 20 kcat_has hostile.dlq 3 || not_ok "(8) three dead letters" "$(kcat_count hostile.dlq)"
assert_eq "(8) every good event once, in order" "$good" "$(kcat_read hostile.poison 100 | cut -f3 | tr '\n' ' ')"
assert_eq "(8) three dead letters" 3 "$(kcat_count hostile.dlq)"
kcat_read hostile.dlq 100 -f '%h\t%s\n' >"$T/p.dlq"
if grep -q "sf.channel=/event/Unrouted__e" "$T/p.dlq"; then ok "(8) the unrouted event is a dead letter"; else not_ok "(8) the unrouted event is a dead letter"; fi
if grep -q "\"replayId\":\"x$(cat "$T/p.bad")\"" "$T/p.dlq"; then ok "(8) the non-numeric replayId is a dead letter"; else not_ok "(8) the non-numeric replayId is a dead letter"; fi
if grep -q '{"channel":"/event/Hostile__e"}$' "$T/p.dlq"; then ok "(8) the event without data is a dead letter"; else not_ok "(8) the event without data is a dead letter"; fi
assert_eq "(8) each dead letter says why (sf.error)" 3 "$(grep -c 'sf.error=' "$T/p.dlq")"
check "(8) the bridge is still running" bridge_alive
stop_bridge TERM
assert_eq "(8) clean stop" 0 "$BRIDGE_RC"
assert_eq "(8) the stored replay ID is the last good event's" "$last" "$(replay_of "$T/poison.yaml" "$HCHANNEL")"
no_crash "(8)"
no_secrets "(8)"
save_bridge_log poison

# --- (9) a log flood ---------------------------------------------------------------
# 5,000 keeps the dead letters (about 400 bytes each) well inside what the
# mock cluster keeps per partition; it drops the oldest records beyond a
# few MB, which read back as offsets without records.
FLOOD=5000
FLOOD_EXTRA=0
FCHANNEL=/event/Flood__e
hpublish "$FCHANNEL" 1 >"$T/f.good"
hpublish "$FCHANNEL" $FLOOD badreplay >/dev/null
hpublish "$FCHANNEL" 1 >>"$T/f.good"
HCHANNEL=$FCHANNEL HTOPIC=hostile.flood KAFKA_EXTRA="  dead_letter_topic: hostile.flood.dlq" \
        SF_EXTRA="  max_response_bytes: 67108864" hostile_config "$T/flood.yaml" hx-flood
start_bridge "$T/flood.yaml"
if wait_for 90 kcat_has hostile.flood 2; then ok "(9) the good events around the flood landed"; else not_ok "(9) the good events around the flood landed"; fi
assert_eq "(9) each once" "$(sort -n "$T/f.good" | tr '\n' ' ')" "$(keys_of hostile.flood | tr '\n' ' ')"
# Every bad event is counted: as a dead letter, or as a recovery with a
# poison or unrouted cause (whichever the bridge's accounting uses).
flood_counted() {
        _f_m=$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics")
        _f_dl=$(printf '%s\n' "$_f_m" | awk -v c="channel=\"$FCHANNEL\"" \
                'index($1, "sfbridge_dead_letters_total{") == 1 && index($1, c) { s += $2 } END { printf "%d", s }')
        _f_rc=$(printf '%s\n' "$_f_m" | awk \
                'index($1, "sfbridge_recoveries_total{") == 1 && $1 ~ /cause="(poison_event|bad_event|unrouted_event)"/ { s += $2 } END { printf "%d", s }')
        FLOOD_COUNTED="dead_letters=$_f_dl recoveries=$_f_rc"
        [ "$_f_dl" -ge $FLOOD ] || [ "$_f_rc" -ge $FLOOD ]
}
if wait_for 30 flood_counted; then ok "(9) /metrics counts all $FLOOD ($FLOOD_COUNTED)"; else flood_counted; not_ok "(9) /metrics counts all $FLOOD" "$FLOOD_COUNTED"; fi
# The summary comes at most every 10 s: give it one period, then one more
# bad event (for a limiter that reports when the error comes back).
if ! wait_for 12 grep -q 'msg=log_suppressed' "$T/bridge.log"; then
        hpublish "$FCHANNEL" 1 badreplay >/dev/null
        FLOOD_EXTRA=1
fi
if wait_for 5 grep -q 'msg=log_suppressed' "$T/bridge.log"; then
        line=$(grep -m 1 'msg=log_suppressed' "$T/bridge.log")
        ok "(9) the repeated error is rate-limited: $(printf '%s' "$line" | cut -c 25-200)"
        assert_contains "(9) the summary names the event" "$line" " event="
        assert_contains "(9) the summary counts" "$line" " count="
else
        not_ok "(9) the repeated error is rate-limited" "no msg=log_suppressed line"
fi
n=$(grep -cE 'Flood__e|poison_event|bad_event|unrouted|dead_letter|log_suppressed' "$T/bridge.log")
if [ "$n" -lt 200 ]; then ok "(9) the log stays small ($n lines about the flood)"; else not_ok "(9) the log stays small" "$n lines mention the flood ($(wc -c <"$T/bridge.log") bytes of log)"; fi
# Every bad event reached the dead-letter topic, read back by kcat.
dlq_n=$(kcat_count hostile.flood.dlq)
note "(9) dead-letter topic: kcat reads $dlq_n records"
if [ "$dlq_n" -ge $((FLOOD + FLOOD_EXTRA)) ]; then ok "(9) every bad event in the dead-letter topic"; else not_ok "(9) every bad event in the dead-letter topic" "kcat reads $dlq_n"; fi
check "(9) the bridge is still running" bridge_alive
rss=$(peak_rss_mib "$BRIDGE_PID")
note "(9) peak RSS ${rss:-?} MiB for a ~12 MB answer"
stop_bridge TERM
assert_eq "(9) clean stop" 0 "$BRIDGE_RC"
assert_eq "(9) the stored replay ID is the last good event's" "$(tail -n 1 "$T/f.good")" "$(replay_of "$T/flood.yaml" "$FCHANNEL")"
no_crash "(9)"
no_secrets "(9)"
finish
