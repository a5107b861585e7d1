#!/bin/sh
# Poison events: an event that cannot be produced never blocks the others
# and is never skipped silently.
#  (a) exactly_once with kafka.dead_letter_topic: an event above the
#      producer's message.max.bytes goes to the dead-letter topic, cut to fit,
#      in its batch; every other event lands once; the replay ID passes it.
#  (b) exactly_once without: its route stops just before it and says how to
#      resolve it; the other route flows.
#  (c) at_least_once with kafka.dead_letter_topic: a {entity} topic that
#      expands to a name Kafka refuses (longer than 249 bytes) is dead-lettered.
#  (d) exactly_once with kafka.dead_letter_topic: {entity} topics the cluster
#      will not take (no Write ACL: TOPIC_AUTHORIZATION_FAILED; not created:
#      UNKNOWN_TOPIC_OR_PART, as with auto.create.topics.enable=false) are
#      dead-lettered at once instead of aborting every batch forever; the
#      other entities and the other route keep flowing.
#  (e) at_least_once without: such a topic stops its route just before the
#      event, saying which topic and why.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }

LIMIT=20000
BIG=60000

# replay_of CONFIG CHANNEL: the committed replay ID of CHANNEL.
replay_of() {
        "$SFB_BUILD/sfbridge" replay list -c "$1" 2>/dev/null |
                awk -v ch="$2" '$1 == ch { print $2 }'
}

# --- (a) dead-letter topic, exactly_once --------------------------------------
publish /topic/PoisonA 3 >"$T/a.good.ids"
publish /topic/PoisonA 1 $BIG >"$T/a.big.ids"
publish /topic/PoisonA 2 >"$T/a.after.ids"
publish /event/SteadyA__e 4 >"$T/a.steady.ids"
big=$(cat "$T/a.big.ids")

KAFKA_EXTRA="  dead_letter_topic: it.dlq.a
  properties:
    message.max.bytes: $LIMIT" write_config "$T/a.yaml" it-poison-a <<'YAML'
  - channel: /topic/PoisonA
    topic: it.poison.a
    start: all
  - channel: /event/SteadyA__e
    topic: it.steady.a
    start: all
YAML
start_bridge "$T/a.yaml"
wait_for 60 kcat_has it.poison.a 5 || not_ok "(a) the events around the big one landed"
wait_for 30 kcat_has it.steady.a 4 || not_ok "(a) the other route landed"
wait_for 30 kcat_has it.dlq.a 1 || not_ok "(a) the big event is in the dead-letter topic"
wait_for 30 sh -c "[ \"\$(curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep -c 'sfbridge_dead_letters_total{')\" -ge 1 ]"
assert_eq "(a) every normal event once" \
        "$(cat "$T/a.good.ids" "$T/a.after.ids" | sort -n | tr '\n' ' ')" "$(keys_of it.poison.a | tr '\n' ' ')"
assert_eq "(a) the other channel once each" "$(sort -n "$T/a.steady.ids" | tr '\n' ' ')" \
        "$(keys_of it.steady.a | tr '\n' ' ')"
assert_eq "(a) one dead letter" 1 "$(kcat_count it.dlq.a)"
kcat_read it.dlq.a 1 -f '%k\n%h\n%S\n' >"$T/a.dlq"
assert_eq "(a) the dead letter keeps the event's key" "$big" "$(sed -n 1p "$T/a.dlq")"
hdrs=$(sed -n 2p "$T/a.dlq")
assert_contains "(a) sf.channel" "$hdrs" "sf.channel=/topic/PoisonA"
assert_contains "(a) sf.replay_id" "$hdrs" "sf.replay_id=$big"
assert_contains "(a) sf.error names the limit" "$hdrs" "sf.error=a record of "
assert_contains "(a) sf.error names message.max.bytes" "$hdrs" "message.max.bytes ($LIMIT)"
assert_contains "(a) sf.topic is where it should have gone" "$hdrs" "sf.topic=it.poison.a"
assert_contains "(a) sf.bridge" "$hdrs" "sf.bridge=it-poison-a"
orig=$(printf '%s\n' "$hdrs" | tr ',' '\n' | sed -n 's/^sf.truncated=//p')
if [ -n "$orig" ] && [ "$orig" -ge $BIG ]; then ok "(a) sf.truncated gives the original length"; else not_ok "(a) sf.truncated gives the original length" "$hdrs"; fi
size=$(sed -n 3p "$T/a.dlq")
if [ "$size" -gt 1000 ] && [ "$size" -lt $LIMIT ]; then ok "(a) the value is cut to fit"; else not_ok "(a) the value is cut to fit" "$size"; fi
kcat_read it.dlq.a 1 -f '%s' | head -c 40 >"$T/a.dlq.value"
assert_file_contains "(a) the value is the Bayeux message as sent" "$T/a.dlq.value" '{"data":{"event":'
assert_eq "(a) counted once, by channel and reason" 1 \
        "$(metric 'sfbridge_dead_letters_total{channel="/topic/PoisonA",reason="too_large"}')"
assert_file_contains "(a) logged with channel, replay ID, reason, topic" "$T/bridge.log" \
        "cause=poison_event action=dead_lettered channel=/topic/PoisonA replay_id=$big reason=too_large topic=it.poison.a dead_letter_topic=it.dlq.a"
assert_eq "(a) logged once" 1 "$(grep -c 'cause=poison_event' "$T/bridge.log")"
assert_file_not_contains "(a) no batch aborted over it" "$T/bridge.log" "produce_failed"
stop_bridge TERM
assert_eq "(a) clean stop" 0 "$BRIDGE_RC"
assert_eq "(a) the committed replay ID passed it" "$(tail -n 1 "$T/a.after.ids")" \
        "$(replay_of "$T/a.yaml" /topic/PoisonA)"
mv "$T/bridge.log" "$T/bridge-a.log"

# --- (b) no dead-letter topic: the route stops just before it ------------------
publish /topic/PoisonB 3 >"$T/b.good.ids"
publish /topic/PoisonB 1 $BIG >"$T/b.big.ids"
publish /topic/PoisonB 2 >/dev/null
publish /event/SteadyB__e 4 >/dev/null
big=$(cat "$T/b.big.ids")

KAFKA_EXTRA="  properties:
    message.max.bytes: $LIMIT" write_config "$T/b.yaml" it-poison-b <<'YAML'
  - channel: /topic/PoisonB
    topic: it.poison.b
    start: all
  - channel: /event/SteadyB__e
    topic: it.steady.b
    start: all
YAML
start_bridge "$T/b.yaml"
wait_for 60 kcat_has it.steady.b 4 || not_ok "(b) the other route delivered its backlog"
wait_for 30 kcat_has it.poison.b 3 || not_ok "(b) the events before the big one landed"
wait_for 30 grep -q 'cause=bad_event' "$T/bridge.log"
assert_file_contains "(b) the error names the event and the reason" "$T/bridge.log" \
        "level=error msg=recovery cause=bad_event action=route_stopped channel=/topic/PoisonB replay_id=$big reason=too_large topic=it.poison.b"
assert_file_contains "(b) and says how to resolve it" "$T/bridge.log" \
        'resolve="raise the topic'"'"'s max.message.bytes and the producer'"'"'s message.max.bytes (kafka.properties), or set kafka.dead_letter_topic, or move the route past it with `sfbridge replay set`; then restart"'
publish /event/SteadyB__e 2 >/dev/null
if wait_for 30 kcat_has it.steady.b 6; then ok "(b) the other route keeps flowing"; else not_ok "(b) the other route keeps flowing"; fi
assert_eq "(b) nothing from the big event on" "$(sort -n "$T/b.good.ids" | tr '\n' ' ')" \
        "$(keys_of it.poison.b | tr '\n' ' ')"
assert_eq "(b) read_committed sees each event once" 0 \
        "$( { keys_of it.poison.b; keys_of it.steady.b; } | count_dups)"
assert_eq "(b) said once" 1 "$(grep -c 'cause=bad_event' "$T/bridge.log")"
assert_eq "(b) no dead letters counted" "" \
        "$(metric 'sfbridge_dead_letters_total{channel="/topic/PoisonB",reason="too_large"}')"
stop_bridge TERM
assert_eq "(b) clean stop" 0 "$BRIDGE_RC"
assert_eq "(b) the committed replay ID stays just before it" "$(tail -n 1 "$T/b.good.ids")" \
        "$(replay_of "$T/b.yaml" /topic/PoisonB)"
mv "$T/bridge.log" "$T/bridge-b.log"

# --- (c) a {entity} topic Kafka refuses, at_least_once -------------------------
long=$(printf '%0250d' 0 | tr 0 E)
publish /data/ChangeEvents 2 "" "entity=Account" >"$T/c.good.ids"
publish /data/ChangeEvents 1 "" "entity=$long" >"$T/c.bad.ids"
publish /data/ChangeEvents 1 "" "entity=Account" >>"$T/c.good.ids"
assert_eq "(c) sfsim took the long entity" 1 "$(wc -l <"$T/c.bad.ids" | tr -d ' ')"
bad=$(cat "$T/c.bad.ids")

KAFKA_EXTRA="  dead_letter_topic: it.dlq.c" write_config "$T/c.yaml" it-poison-c at_least_once <<'YAML'
  - channel: /data/ChangeEvents
    topic: it.{entity}
    start: all
YAML
start_bridge "$T/c.yaml"
wait_for 60 kcat_has it.Account 3 || not_ok "(c) the events around it landed"
wait_for 30 kcat_has it.dlq.c 1 || not_ok "(c) the event is in the dead-letter topic"
wait_for 30 sh -c "[ \"\$(curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep -c 'sfbridge_dead_letters_total{')\" -ge 1 ]"
assert_eq "(c) every other event" "$(sort -n "$T/c.good.ids" | tr '\n' ' ')" \
        "$(keys_of it.Account | tr '\n' ' ')"
hdrs=$(kcat_read it.dlq.c 1 -f '%h')
assert_contains "(c) sf.replay_id" "$hdrs" "sf.replay_id=$bad"
assert_contains "(c) sf.error says why" "$hdrs" "longer than Kafka's limit of 249"
assert_contains "(c) sf.topic is the illegal name" "$hdrs" "sf.topic=it.EEEE"
assert_not_contains "(c) not truncated" "$hdrs" "sf.truncated"
assert_eq "(c) counted as illegal_topic" 1 \
        "$(metric 'sfbridge_dead_letters_total{channel="/data/ChangeEvents",reason="illegal_topic"}')"
assert_file_contains "(c) logged" "$T/bridge.log" \
        "cause=poison_event action=dead_lettered channel=/data/ChangeEvents replay_id=$bad reason=illegal_topic"
stop_bridge TERM
assert_eq "(c) clean stop" 0 "$BRIDGE_RC"
assert_eq "(c) the committed replay ID passed it" "$(tail -n 1 "$T/c.good.ids")" \
        "$(replay_of "$T/c.yaml" /data/ChangeEvents)"
mv "$T/bridge.log" "$T/bridge-c.log"

# --- (d) {entity} topics the cluster refuses, exactly_once -------------------
kafka_ctl "topic-error it.d.Denied TOPIC_AUTHORIZATION_FAILED" || not_ok "(d) inject the ACL refusal"
kafka_ctl "topic-error it.d.Missing UNKNOWN_TOPIC_OR_PART" || not_ok "(d) inject the missing topic"
KAFKA_EXTRA="  dead_letter_topic: it.dlq.d" write_config "$T/d.yaml" it-poison-d <<'YAML'
  - channel: /data/ChangeEvents
    topic: it.d.{entity}
  - channel: /event/SteadyD__e
    topic: it.steady.d
YAML
start_bridge "$T/d.yaml"
wait_for 30 grep -q "subscribed channel=/event/SteadyD__e" "$T/bridge.log" || not_ok "(d) subscribed"
publish /data/ChangeEvents 2 "" "entity=Account" >"$T/d.good.ids"
publish /data/ChangeEvents 1 "" "entity=Denied" >"$T/d.denied.ids"
publish /data/ChangeEvents 1 "" "entity=Account" >>"$T/d.good.ids"
publish /data/ChangeEvents 1 "" "entity=Missing" >"$T/d.missing.ids"
publish /event/SteadyD__e 3 >"$T/d.steady.ids"
wait_for 30 kcat_has it.dlq.d 2 || not_ok "(d) both refused events are in the dead-letter topic"
wait_for 30 kcat_has it.d.Account 3 || not_ok "(d) the other entity's events landed"
wait_for 30 kcat_has it.steady.d 3 || not_ok "(d) the other route landed"
assert_eq "(d) every other entity's event once" "$(sort -n "$T/d.good.ids" | tr '\n' ' ')" \
        "$(keys_of it.d.Account | tr '\n' ' ')"
assert_eq "(d) the other route once each" "$(sort -n "$T/d.steady.ids" | tr '\n' ' ')" \
        "$(keys_of it.steady.d | tr '\n' ' ')"
assert_eq "(d) two dead letters" 2 "$(kcat_count it.dlq.d)"
hdrs=$(kcat_read it.dlq.d 2 -f '%h\n')
assert_contains "(d) sf.topic names the denied topic" "$hdrs" "sf.topic=it.d.Denied"
assert_contains "(d) sf.error names the ACL" "$hdrs" "TOPIC_AUTHORIZATION_FAILED"
assert_contains "(d) sf.topic names the missing topic" "$hdrs" "sf.topic=it.d.Missing"
assert_contains "(d) sf.error says it is not created" "$hdrs" "does not exist and Kafka does not create it"
assert_eq "(d) counted as topic_denied" 1 \
        "$(metric 'sfbridge_dead_letters_total{channel="/data/ChangeEvents",reason="topic_denied"}')"
assert_eq "(d) counted as topic_missing" 1 \
        "$(metric 'sfbridge_dead_letters_total{channel="/data/ChangeEvents",reason="topic_missing"}')"
assert_file_contains "(d) logged with the topic and the cause" "$T/bridge.log" \
        "cause=poison_event action=dead_lettered channel=/data/ChangeEvents replay_id=$(cat "$T/d.denied.ids") reason=topic_denied topic=it.d.Denied"
assert_file_not_contains "(d) no batch aborted over them" "$T/bridge.log" "produce_failed"
assert_file_not_contains "(d) no batch failed over them" "$T/bridge.log" "batch_aborted"
stop_bridge TERM
assert_eq "(d) the committed replay ID passed them" "$(cat "$T/d.missing.ids")" \
        "$(replay_of "$T/d.yaml" /data/ChangeEvents)"
mv "$T/bridge.log" "$T/bridge-d.log"

# --- (e) the same without a dead-letter topic, at_least_once -----------------
write_config "$T/e.yaml" it-poison-e at_least_once <<'YAML'
  - channel: /data/ChangeEvents
    topic: it.d.{entity}
YAML
start_bridge "$T/e.yaml"
wait_for 30 grep -q "subscribed channel=/data/ChangeEvents" "$T/bridge.log" || not_ok "(e) subscribed"
publish /data/ChangeEvents 1 "" "entity=Account" >"$T/e.good.ids"
publish /data/ChangeEvents 1 "" "entity=Denied" >"$T/e.denied.ids"
publish /data/ChangeEvents 1 "" "entity=Account" >/dev/null
wait_for 30 grep -q 'cause=bad_event' "$T/bridge.log" || not_ok "(e) the route stopped"
assert_file_contains "(e) the error names the topic and the cause" "$T/bridge.log" \
        "level=error msg=recovery cause=bad_event action=route_stopped channel=/data/ChangeEvents replay_id=$(cat "$T/e.denied.ids") reason=topic_denied topic=it.d.Denied"
assert_file_contains "(e) and says how to resolve it" "$T/bridge.log" \
        "resolve=\"grant the bridge's Kafka principal Write (and Create) on the topic"
stop_bridge TERM
finish
