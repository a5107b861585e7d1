#!/bin/sh
# routes[].max_topics: a {entity} template writes to at most that many
# topics while the route runs (issue 14 item 6: 1,100 entity names created
# 1,100 topics). With max_topics 2, the third entity's events are poison
# (reason too_many_topics): with kafka.dead_letter_topic they go there, the
# first two entities keep flowing, nothing is lost, and the repeats of the
# poison line are held back in the log.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 1 || { not_ok "start kafka"; finish; }
start_sfsim || { not_ok "start sfsim"; finish; }
KAFKA_EXTRA="  dead_letter_topic: it.dlq" write_config "$T/b.yaml" it-max-topics <<YAML
  - channel: /data/ChangeEvents
    topic: "it.mt.{entity}"
    start: all
    max_topics: 2
YAML
publish /data/ChangeEvents 3 "" entity=Account >"$T/account.ids"
publish /data/ChangeEvents 3 "" entity=Contact >"$T/contact.ids"
publish /data/ChangeEvents 40 "" entity=Lead >"$T/lead.ids"
publish /data/ChangeEvents 2 "" entity=Account >>"$T/account.ids"
start_bridge "$T/b.yaml"
wait_for 30 ready || not_ok "ready"
wait_for 30 sh -c "[ \$(kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it.dlq -o beginning -f '%k\n' 2>/dev/null | wc -l) -ge 40 ]"
sleep 1
assert_eq "Account: every event on its topic" "$(sort -n "$T/account.ids")" "$(keys_of it.mt.Account)"
assert_eq "Contact: every event on its topic" "$(sort -n "$T/contact.ids")" "$(keys_of it.mt.Contact)"
kcat -b "$KAFKA_BOOTSTRAP" -L 2>/dev/null | sed -n 's/^ *topic "\(it\.mt\.[^"]*\)".*/\1/p' | sort >"$T/topics"
assert_eq "two topics created, no third" "it.mt.Account it.mt.Contact" "$(tr '\n' ' ' <"$T/topics" | sed 's/ $//')"
kcat_read it.dlq 1000 >"$T/dlq"
assert_eq "Lead: all 40 events dead-lettered" 40 "$(wc -l <"$T/dlq" | tr -d ' ')"
assert_contains "dead letters say why" "$(cut -f4 "$T/dlq" | head -n 1)" "max_topics"
n=$(metric 'sfbridge_dead_letters_total{channel="/data/ChangeEvents",reason="too_many_topics"}')
assert_eq "counted, each one" 40 "${n:-0}"
lines=$(grep -c 'reason=too_many_topics' "$T/bridge.log")
[ "$lines" -le 3 ] && ok "the repeats are held back in the log ($lines lines)" || not_ok "the repeats are held back in the log" "$lines lines"
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
assert_file_contains "the held-back lines are summarised" "$T/bridge.log" "msg=log_suppressed event=recovery key=poison_event/too_many_topics count=39"
finish
