#!/bin/sh
# Evidence 1 and 3 of the bridge: one config routing all four channel kinds
# (CDC by {entity} to two topics); every event lands once in the right topic
# with key, value and headers as DESIGN.md says, checked with kcat; the
# replay topic holds <name>:<channel> records and `replay list` shows them.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }

write_config "$T/routes.yaml" it-routes <<'YAML'
  - channel: /topic/AccountUpdates
    topic: it.accounts
    start: all
  - channel: /event/Order_Placed__e
    topic: it.orders
    start: all
  - channel: /data/ChangeEvents
    topic: "it.cdc.{entity}"
    key: record_id
    value: payload
    start: all
  - channel: /u/Notifications
    topic: it.generic
    value: message
    start: all
YAML

# Published before the bridge starts: start: all must fetch them.
publish /topic/AccountUpdates 3 >"$T/topic.ids"
publish /event/Order_Placed__e 3 >"$T/event.ids"
publish /data/ChangeEvents 2 "" entity=Account >"$T/cdc-account.ids"
publish /data/ChangeEvents 2 "" entity=Contact >"$T/cdc-contact.ids"
publish /u/Notifications 3 >"$T/generic.ids"
assert_eq "published 13 events" 13 "$(cat "$T"/*.ids | wc -l | tr -d ' ')"

start_bridge "$T/routes.yaml"
if wait_for 60 kcat_has it.generic 3 && wait_for 30 kcat_has it.cdc.Contact 2; then
        ok "bridge delivered the backlog"
else
        not_ok "bridge delivered the backlog"
fi
# Live events, published while the bridge long-polls.
publish /topic/AccountUpdates 2 >>"$T/topic.ids"
wait_for 30 kcat_has it.accounts 5

for pair in "it.accounts topic" "it.orders event" "it.cdc.Account cdc-account" \
            "it.cdc.Contact cdc-contact" "it.generic generic"; do
        set -- $pair
        kcat_read "$1" 1000 >"$T/$1.records"
        assert_eq "$1: every event exactly once" "$(wc -l <"$T/$2.ids" | tr -d ' ')" \
                "$(wc -l <"$T/$1.records" | tr -d ' ')"
done

# Keys: the replay ID (default) for PushTopic, Platform Event and generic.
for pair in "it.accounts topic" "it.orders event" "it.generic generic"; do
        set -- $pair
        assert_eq "$1: keys are the replay IDs" "$(sort -n "$T/$2.ids" | tr '\n' ' ')" \
                "$(cut -f3 "$T/$1.records" | sort -n | tr '\n' ' ')"
done

# Headers: sf.channel, sf.replay_id, sf.event_time, sf.event_uuid, sf.bridge.
first=$(head -n 1 "$T/it.accounts.records")
key=$(printf '%s' "$first" | cut -f3)
hdrs=$(printf '%s' "$first" | cut -f4)
assert_contains "PushTopic header sf.channel" "$hdrs" "sf.channel=/topic/AccountUpdates"
assert_contains "PushTopic header sf.replay_id equals the key" "$hdrs" "sf.replay_id=$key"
assert_contains "PushTopic header sf.event_time" "$hdrs" "sf.event_time=20"
assert_contains "PushTopic header sf.bridge" "$hdrs" "sf.bridge=it-routes"
assert_not_contains "PushTopic has no sf.event_uuid" "$hdrs" "sf.event_uuid"
val=$(printf '%s' "$first" | cut -f5-)
assert_contains "PushTopic value is data: event" "$val" "\"replayId\":$key"
assert_contains "PushTopic value is data: sobject" "$val" "\"sobject\":{"

ev=$(head -n 1 "$T/it.orders.records")
assert_contains "Platform Event header sf.event_uuid" "$(printf '%s' "$ev" | cut -f4)" "sf.event_uuid="
assert_contains "Platform Event value is data: schema" "$(printf '%s' "$ev" | cut -f5-)" "\"schema\":"
assert_contains "Platform Event value is data: payload" "$(printf '%s' "$ev" | cut -f5-)" "\"payload\":{"

cdc=$(head -n 1 "$T/it.cdc.Account.records")
cdc_key=$(printf '%s' "$cdc" | cut -f3)
cdc_val=$(printf '%s' "$cdc" | cut -f5-)
assert_contains "CDC value is the payload" "$cdc_val" "\"ChangeEventHeader\":{"
assert_not_contains "CDC payload value has no event wrapper" "$cdc_val" "\"replayId\""
assert_contains "CDC key is the first record ID" "$cdc_val" "\"recordIds\":[\"$cdc_key\""
assert_contains "CDC header sf.event_time from commitTimestamp" "$(printf '%s' "$cdc" | cut -f4)" "sf.event_time=20"
assert_contains "CDC Contact routed by {entity}" "$(cut -f5- "$T/it.cdc.Contact.records")" "\"entityName\":\"Contact\""
assert_not_contains "CDC Account topic holds no Contact" "$(cut -f5- "$T/it.cdc.Account.records")" "\"entityName\":\"Contact\""

gen=$(head -n 1 "$T/it.generic.records")
assert_contains "generic value is the whole message" "$(printf '%s' "$gen" | cut -f5-)" "\"channel\":\"/u/Notifications\""

# Evidence 3: the replay topic and `replay list`.
last_topic=$(sort -n "$T/topic.ids" | tail -n 1)
if wait_for 20 sh -c "kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it-routes.replay -o beginning -X isolation.level=read_committed -f '%k\t%s\n' | grep -q '^it-routes:/topic/AccountUpdates	.*\"replay_id\":$last_topic'"; then
        ok "replay record it-routes:/topic/AccountUpdates holds the last replay ID"
else
        not_ok "replay record it-routes:/topic/AccountUpdates holds the last replay ID"
fi
kcat -b "$KAFKA_BOOTSTRAP" -C -e -q -t it-routes.replay -o beginning -f '%k\t%s\n' >"$T/replay.records" 2>/dev/null
assert_file_contains "replay record value shape" "$T/replay.records" "{\"channel\":\"/topic/AccountUpdates\",\"replay_id\":$last_topic,\"event_time\":\""
assert_file_contains "replay record has committed_at" "$T/replay.records" "\"committed_at\":\""

stop_bridge TERM
assert_eq "SIGTERM: clean exit 0" 0 "$BRIDGE_RC"
assert_file_contains "startup line names version and delivery" "$T/bridge.log" "delivery=exactly_once"

"$SFB_BUILD/sfbridge" replay list -c "$T/routes.yaml" >"$T/list.out" 2>"$T/list.err"
assert_eq "replay list exits 0" 0 "$?"
assert_file_contains "replay list shows the PushTopic ID" "$T/list.out" "/topic/AccountUpdates"
grep -q "^/topic/AccountUpdates  *$last_topic " "$T/list.out" && ok "replay list value" || not_ok "replay list value" "$(cat "$T/list.out")"

# The log never holds a secret.
assert_file_not_contains "no password in the log" "$T/bridge.log" "$SF_PASSWORD"
assert_file_not_contains "no client secret in the log" "$T/bridge.log" "$SF_CLIENT_SECRET"
finish
