#!/bin/sh
# Evidence 5: `check --online` passes against the emulator, fails clearly
# on a channel that does not exist and warns about a stored replay ID that
# is no longer retained (the route's on_invalid_replay handles it). Kafka's
# half: reachability (FAIL when it is down), the replay topic's
# cleanup.policy, each static topic (FAIL on TOPIC_AUTHORIZATION_FAILED) and
# whether {entity} topics can be created (librdkafka's mock cluster answers
# no DescribeConfigs: WARN lines). (Offline validation of config/ and of bad configs is in
# tests/unit/test_config.c and 0051-check-offline.sh.)
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --missing-channel /topic/Missing || { not_ok start_sfsim; finish; }
write_config "$T/good.yaml" it-check <<'YAML'
  - channel: /topic/Kept
    topic: it.kept
    start: all
  - channel: /event/Other__e
    topic: it.other
  - channel: /data/ChangeEvents
    topic: it.cdc.{entity}
YAML

kafka_ctl "topic it.other 2" || not_ok "create it.other"
"$SFB_BUILD/sfbridge" check -c "$T/good.yaml" --online >"$T/online.out" 2>"$T/online.err"
assert_eq "check --online passes" 0 "$?"
assert_file_contains "check --online: login line" "$T/online.out" "ok   login (password flow)"
assert_file_contains "check --online: route line" "$T/online.out" "ok   /topic/Kept -> it.kept"
assert_file_contains "check --online: success line" "$T/online.out" "test is successful (online)"
assert_file_contains "check --online: Kafka reachable, named" "$T/online.out" \
        "ok   kafka $KAFKA_BOOTSTRAP: reachable, 3 brokers"
assert_file_contains "check --online: a replay topic not there yet is created compacted" "$T/online.out" \
        "ok   replay topic it-check.replay: does not exist yet; a start creates it with cleanup.policy=compact"
assert_file_contains "check --online: an existing static topic" "$T/online.out" \
        "ok   topic it.other (route /event/Other__e): exists, 2 partitions"
assert_file_contains "check --online: a missing static topic, creation not verifiable" "$T/online.out" \
        "WARN topic it.kept (route /topic/Kept): does not exist yet; whether the cluster creates it is not verifiable (DescribeConfigs: "
assert_file_contains "check --online: {entity} topics, creation not verifiable" "$T/online.out" \
        "WARN {entity} topics of /data/ChangeEvents (it.cdc.{entity}): whether the cluster creates them is not verifiable"

# A topic the bridge's principal may not write: a start would loop or dead-letter.
kafka_ctl "topic-error it.denied TOPIC_AUTHORIZATION_FAILED" || not_ok "inject the ACL refusal"
write_config "$T/denied.yaml" it-check <<'YAML'
  - channel: /topic/Kept
    topic: it.kept
  - channel: /event/Other__e
    topic: it.denied
YAML
"$SFB_BUILD/sfbridge" check -c "$T/denied.yaml" --online >"$T/denied.out" 2>"$T/denied.err"
assert_eq "check --online with a topic Kafka refuses: exit 1" 1 "$?"
assert_file_contains "names the topic and the ACL" "$T/denied.out" \
        "FAIL topic it.denied (route /event/Other__e): TOPIC_AUTHORIZATION_FAILED"

write_config "$T/missing.yaml" it-check <<'YAML'
  - channel: /topic/Kept
    topic: it.kept
  - channel: /topic/Missing
    topic: it.missing
YAML
"$SFB_BUILD/sfbridge" check -c "$T/missing.yaml" --online >"$T/missing.out" 2>"$T/missing.err"
assert_eq "check --online with a channel that does not exist: exit 1" 1 "$?"
assert_file_contains "names the missing channel" "$T/missing.out" "FAIL /topic/Missing"
assert_file_contains "quotes Salesforce's reason" "$T/missing.out" "doesn't exist"
assert_file_contains "ends with the failure line" "$T/missing.err" "online test failed"

# Commit a replay ID, then let retention pass it.
publish /topic/Kept 3 >"$T/ids"
start_bridge "$T/good.yaml"
wait_for 60 kcat_has it.kept 3
sleep 1
stop_bridge TERM
publish /topic/Kept 3 >>"$T/ids"
sfsim_admin POST "/admin/retention?keep=1" >/dev/null
stored=$(sed -n 3p "$T/ids")
"$SFB_BUILD/sfbridge" check -c "$T/good.yaml" --online >"$T/gone.out" 2>"$T/gone.err"
# on_invalid_replay: all (the default) handles it at start: a warning, not a failure (0119: fail).
assert_eq "check --online with a stored replay ID past retention: exit 0" 0 "$?"
assert_file_contains "names the channel and the lost ID" "$T/gone.out" "WARN /topic/Kept: stored replay ID $stored is no longer retained"
assert_file_contains "the replay topic's cleanup.policy: not verifiable on the mock" "$T/gone.out" \
        "WARN replay topic it-check.replay: cleanup.policy not verifiable (DescribeConfigs: "
assert_file_contains "the route's topic exists now" "$T/gone.out" "ok   topic it.kept (route /topic/Kept): exists"

# Kafka down: one line naming the bootstrap servers.
kafka_ctl "down all" || not_ok "take Kafka down"
"$SFB_BUILD/sfbridge" check -c "$T/good.yaml" --online >"$T/down.out" 2>"$T/down.err"
assert_eq "check --online with Kafka down: exit 1" 1 "$?"
assert_file_contains "says Kafka is unreachable, naming it" "$T/down.out" \
        "FAIL kafka $KAFKA_BOOTSTRAP: unreachable: no metadata within 10 s"
finish
