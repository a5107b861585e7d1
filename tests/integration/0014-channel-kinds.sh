#!/bin/sh
# Every channel kind Salesforce serves, end to end: a standard event stream
# (/event/LoginEventStream), a custom platform event channel
# (/event/MyChannel__chn), a custom change event channel carrying two
# entities (/data/MyChannel__chn, split by {entity}), next to a PushTopic and
# a single-entity change event channel. `sfbridge check` accepts the config
# without a warning; every event lands once in the right topic, keyed by its
# replay ID, with the value shape of its kind (checked with kcat).
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }

write_config "$T/chan.yaml" it-chan <<'YAML'
  - channel: /event/LoginEventStream
    topic: it.logins
    value: payload
    start: all
  - channel: /event/MyChannel__chn
    topic: it.pe.chn
    start: all
  - channel: /data/MyChannel__chn
    topic: "it.chn.{entity}"
    start: all
  - channel: /topic/AccountUpdates
    topic: it.accounts
    start: all
  - channel: /data/AccountChangeEvent
    topic: it.account.cdc
    value: payload
    start: all
YAML

"$SFB_BUILD/sfbridge" check -c "$T/chan.yaml" >"$T/check.out" 2>"$T/check.err"
assert_eq "check accepts every channel kind" 0 "$?"
# (but the emulator's plain-http login URL's, which 0178 checks)
assert_eq "check: no warning on the new channel names" "" "$(grep warning "$T/check.err" | grep -v 'http:// sends')"
assert_file_contains "check lists the standard event route" "$T/check.out" "/event/LoginEventStream -> it.logins"

# Published before the bridge starts (start: all), the __chn change events
# interleaved by entity.
publish /event/LoginEventStream 3 >"$T/login.ids"
publish /event/MyChannel__chn 2 >"$T/pechn.ids"
publish /data/MyChannel__chn 1 "" entity=Account >"$T/chn-account.ids"
publish /data/MyChannel__chn 2 "" entity=Contact >"$T/chn-contact.ids"
publish /data/MyChannel__chn 1 "" entity=Account >>"$T/chn-account.ids"
publish /topic/AccountUpdates 2 >"$T/topic.ids"
publish /data/AccountChangeEvent 2 >"$T/cdc.ids"
assert_eq "published 13 events" 13 "$(cat "$T"/*.ids | wc -l | tr -d ' ')"

start_bridge "$T/chan.yaml"
if wait_for 60 kcat_has it.logins 3 && wait_for 30 kcat_has it.chn.Contact 2 &&
   wait_for 30 kcat_has it.account.cdc 2; then
        ok "bridge delivered every channel"
else
        not_ok "bridge delivered every channel"
fi
# One live event on the standard stream, while the bridge long-polls.
publish /event/LoginEventStream 1 >>"$T/login.ids"
wait_for 30 kcat_has it.logins 4

for pair in "it.logins login" "it.pe.chn pechn" "it.chn.Account chn-account" \
            "it.chn.Contact chn-contact" "it.accounts topic" "it.account.cdc cdc"; do
        set -- $pair
        kcat_read "$1" 1000 >"$T/$1.records"
        assert_eq "$1: every event exactly once" "$(wc -l <"$T/$2.ids" | tr -d ' ')" \
                "$(wc -l <"$T/$1.records" | tr -d ' ')"
        assert_eq "$1: keys are the replay IDs" "$(sort -n "$T/$2.ids" | tr '\n' ' ')" \
                "$(cut -f3 "$T/$1.records" | sort -n | tr '\n' ' ')"
done
assert_eq "{entity} made exactly the two entity topics" 'topic "it.chn.Account" topic "it.chn.Contact" ' \
        "$(kcat -b "$KAFKA_BOOTSTRAP" -L 2>/dev/null | grep -o 'topic "it\.chn\.[^"]*"' | sort | tr '\n' ' ')"

# LoginEventStream, value payload: the login fields themselves.
login=$(head -n 1 "$T/it.logins.records")
login_val=$(printf '%s' "$login" | cut -f5-)
assert_contains "LoginEventStream value has EventUuid" "$login_val" "\"EventUuid\":\""
assert_contains "LoginEventStream value has Username" "$login_val" "\"Username\":\""
assert_contains "LoginEventStream value has EventIdentifier" "$login_val" "\"EventIdentifier\":\""
assert_contains "LoginEventStream value has SourceIp" "$login_val" "\"SourceIp\":\""
assert_contains "LoginEventStream value has Status" "$login_val" "\"Status\":\"Success\""
assert_not_contains "LoginEventStream payload value has no event wrapper" "$login_val" "\"replayId\""
login_uuid=$(printf '%s' "$login_val" | sed 's/.*"EventUuid":"\([^"]*\)".*/\1/')
assert_contains "LoginEventStream header sf.event_uuid is the EventUuid" \
        "$(printf '%s' "$login" | cut -f4)" "sf.event_uuid=$login_uuid"
assert_contains "LoginEventStream header sf.channel" "$(printf '%s' "$login" | cut -f4)" \
        "sf.channel=/event/LoginEventStream"

# Custom platform event channel, value data: schema, payload, event.
pe=$(head -n 1 "$T/it.pe.chn.records")
assert_contains "__chn platform event value is data: schema" "$(printf '%s' "$pe" | cut -f5-)" "\"schema\":"
assert_contains "__chn platform event value is data: payload" "$(printf '%s' "$pe" | cut -f5-)" "\"payload\":{"
assert_contains "__chn platform event header sf.event_uuid" "$(printf '%s' "$pe" | cut -f4)" "sf.event_uuid="

# Custom change event channel: each entity in its own topic.
assert_contains "__chn change events: Account topic holds Account" \
        "$(cut -f5- "$T/it.chn.Account.records")" "\"entityName\":\"Account\""
assert_not_contains "__chn change events: Account topic holds no Contact" \
        "$(cut -f5- "$T/it.chn.Account.records")" "\"entityName\":\"Contact\""
assert_contains "__chn change events: Contact topic holds Contact" \
        "$(cut -f5- "$T/it.chn.Contact.records")" "\"entityName\":\"Contact\""
assert_not_contains "__chn change events: Contact topic holds no Account" \
        "$(cut -f5- "$T/it.chn.Contact.records")" "\"entityName\":\"Account\""
assert_contains "__chn change event header sf.channel" "$(head -n 1 "$T/it.chn.Contact.records" | cut -f4)" \
        "sf.channel=/data/MyChannel__chn"

# The old kinds alongside.
assert_contains "PushTopic value is data: sobject" "$(head -n 1 "$T/it.accounts.records" | cut -f5-)" "\"sobject\":{"
cdc_val=$(head -n 1 "$T/it.account.cdc.records" | cut -f5-)
assert_contains "AccountChangeEvent value is the payload" "$cdc_val" "\"ChangeEventHeader\":{"
assert_contains "AccountChangeEvent entity" "$cdc_val" "\"entityName\":\"Account\""

stop_bridge TERM
assert_eq "SIGTERM: clean exit 0" 0 "$BRIDGE_RC"
# (but the password flow's own startup warning, which 0040 checks)
assert_eq "no warning in the bridge log" "" "$(grep 'level=warn' "$T/bridge.log" | grep -v ' msg=password_flow ' | grep -v 'http:// sends')"
assert_file_not_contains "no password in the log" "$T/bridge.log" "$SF_PASSWORD"
finish
