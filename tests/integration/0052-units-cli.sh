#!/bin/sh
# `sfbridge units`: per unit its coordination partition, transactional.id
# and current owner, read from the owner records on the replay topic
# ("<name>:owner" for the default unit, "<name>:<unit>:owner" for another);
# `check` prints the same unit map offline and warns on a collision.
. "$SFB_ROOT/tests/integration/helpers.sh"

start_kafka 1 || { not_ok start_kafka; finish; }
kafka_ctl "topic it-units.replay 1" || not_ok "create the replay topic"
cat >"$T/units.yaml" <<YAML
name: it-units
salesforce:
  login_url: https://login.salesforce.com
  auth: { flow: password, client_id: a, client_secret: b, username: c, password: d }
kafka:
  bootstrap_servers: $KAFKA_BOOTSTRAP
  replay_topic: it-units.replay
coordination: {}
routes:
  - { channel: /event/A__e, topic: it.a }
  - { channel: /data/ChangeEvents, topic: "it.cdc.{entity}", unit: cdc }
  - { channel: /event/C__e, topic: it.c, unit: other }
YAML

# Offline: the map (3 units, 3 partitions: FNV-1a-32 puts default and
# other... whichever share one is named) and the success line.
"$SFB_BUILD/sfbridge" check -c "$T/units.yaml" >"$T/check.out" 2>"$T/check.err"
assert_eq "check passes" 0 "$?"
assert_file_contains "check: coordination line" "$T/check.out" \
        "coordination: topic sfbridge.it-units.units (3 partitions when created), group sfbridge-it-units-units"
assert_file_contains "check: default unit keeps the single-instance names" "$T/check.out" \
        "unit default: org default, 1 route, partition 0, transactional.id sfbridge-it-units, owner key it-units:owner"
assert_file_contains "check: unit cdc" "$T/check.out" \
        "unit cdc: org default, 1 route, partition 0, transactional.id sfbridge-it-units-cdc, owner key it-units:cdc:owner"
# fnv1a32("default") % 3 == 0 and fnv1a32("cdc") % 3 == 0: a collision.
assert_file_contains "check: the collision is named" "$T/check.out" \
        "WARN units default and cdc share partition 0 of 3: they move together"

# Nothing claimed yet.
"$SFB_BUILD/sfbridge" units -c "$T/units.yaml" >"$T/none.out" 2>"$T/none.err"
assert_eq "units exits 0" 0 "$?"
assert_file_contains "units: header" "$T/none.out" "UNIT"
assert_contains "units: default unclaimed" "$(grep '^default ' "$T/none.out")" "none"

printf '%s\n' \
  'it-units:owner|{"instance":"aaaa000011112222","host":"hostA","pid":1,"member_id":"m-1","state":"claimed","at":"2026-12-01T10:00:00.000Z"}' \
  'it-units:cdc:owner|{"instance":"bbbb000011112222","host":"hostB","pid":2,"member_id":"m-2","state":"claimed","at":"2026-12-01T10:00:01.000Z"}' \
  'it-units:other:owner|{"instance":"cccc000011112222","host":"hostC","pid":3,"state":"released","at":"2026-12-01T10:00:02.000Z"}' |
        kcat_produce it-units.replay -K '|' || not_ok "write the owner records"

"$SFB_BUILD/sfbridge" units -c "$T/units.yaml" >"$T/owned.out" 2>"$T/owned.err"
assert_eq "units exits 0 with owners" 0 "$?"
assert_contains "units: default owner" "$(grep '^default ' "$T/owned.out")" \
        "sfbridge-it-units                        instance aaaa000011112222 host hostA member m-1 since 2026-12-01T10:00:00.000Z"
# These two need the store of a unit's view to read that unit's owner record.
assert_contains "units: cdc owner" "$(grep '^cdc ' "$T/owned.out")" \
        "instance bbbb000011112222 host hostB member m-2 since 2026-12-01T10:00:01.000Z"
assert_contains "units: other released" "$(grep '^other ' "$T/owned.out")" "released (by instance cccc000011112222"

# A bad config exits 1; Kafka gone exits 3.
printf 'name: x\n' >"$T/bad.yaml"
"$SFB_BUILD/sfbridge" units -c "$T/bad.yaml" >/dev/null 2>&1
assert_eq "units on a bad config exits 1" 1 "$?"
finish
