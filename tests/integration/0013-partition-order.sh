#!/bin/sh
# Partitions keep Salesforce's order. On 8-partition topics, a CDC route
# (partition_by defaults to record_id on /data/) puts every change of one
# record in one partition, in replay order, at the partition Kafka's Java
# clients pick for the record ID (murmur2, computed here independently); a
# PushTopic route (default channel) puts its whole channel in one partition.
# Keys stay the replay IDs. partition_by: key puts each record where a Java
# producer puts its key.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 --topic it.cdc.order:8 --topic it.push.order:8 --topic it.noid.order:8 --topic it.key.order:8 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }

write_config "$T/part.yaml" it-partition <<'YAML'
  - channel: /data/ChangeEvents
    topic: it.cdc.order
    start: all
  - channel: /topic/AccountUpdates
    topic: it.push.order
    start: all
  - channel: /topic/NoIds
    topic: it.noid.order
    partition_by: record_id
    start: all
  - channel: /topic/Keyed
    topic: it.key.order
    partition_by: key
    start: all
YAML

RECORDS="001xx000001RecAAA 001xx000002RecAAA 001xx000003RecAAA 001xx000004RecAAA 001xx000005RecAAA"

# 5 records x 80 updates, interleaved 4 at a time; half published before the
# bridge starts (the backlog), half while it long-polls (live batches).
publish_rounds() {
        _r=0
        while [ "$_r" -lt "$1" ]; do
                for _id in $RECORDS; do
                        publish /data/ChangeEvents 4 "" "record_id=$_id&change_type=UPDATE" \
                                >>"$T/cdc.ids" || return 1
                done
                publish /topic/AccountUpdates 2 >>"$T/push.ids" || return 1
                _r=$((_r + 1))
        done
}
: >"$T/cdc.ids"
: >"$T/push.ids"
publish_rounds 10 || not_ok "publish the backlog"
# partition_by: record_id on events without a record ID (an sobject without
# Id): their channel's partition, said once for the route, not per event.
publish /topic/NoIds 3 "" 'fields=%7B%22Name%22%3A%22x%22%7D' >"$T/noid.ids"
publish /topic/Keyed 24 >"$T/key.ids"
start_bridge "$T/part.yaml"
wait_for 60 kcat_has it.cdc.order 200 || not_ok "bridge delivered the backlog"
publish_rounds 10 || not_ok "publish live events"
assert_eq "published 400 change events" 400 "$(wc -l <"$T/cdc.ids" | tr -d ' ')"
assert_eq "published 40 PushTopic events" 40 "$(wc -l <"$T/push.ids" | tr -d ' ')"
wait_for 60 kcat_has it.cdc.order 400 || not_ok "bridge delivered the live change events"
wait_for 30 kcat_has it.push.order 40 || not_ok "bridge delivered the PushTopic events"

kcat_read it.cdc.order 100000 >"$T/cdc.records"
kcat_read it.push.order 100000 >"$T/push.records"

# One checker, in Python, with an independent murmur2 (kafka_partition.py:
# Kafka's Utils.murmur2, & 0x7fffffff, % partitions). Records are partition \t offset \t
# key \t headers \t value; each check prints "ok NAME" or "not ok NAME: why".
cat >"$T/check.py" <<'PY'
import json, os, sys

sys.path.insert(0, os.path.join(os.environ["SFB_ROOT"], "tests", "integration"))
from kafka_partition import murmur2, java_partition

def load(path):
    rows = []
    for line in open(path):
        p, o, k, _h, v = line.rstrip("\n").split("\t", 4)
        rows.append((int(p), int(o), k, json.loads(v)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows

def report(name, cond, why=""):
    print(("ok " + name) if cond else ("not ok %s: %s" % (name, why)))

def ascending_per_partition(rows):
    last = {}
    for p, _o, k, _v in rows:
        if p in last and int(k) <= last[p]:
            return "partition %d: key %s after %d" % (p, k, last[p])
        last[p] = int(k)
    return ""

mode, path, ids_path = sys.argv[1], sys.argv[2], sys.argv[3]
rows = load(path)
published = sorted(int(x) for x in open(ids_path).read().split())
report(mode + ": keys are still the replay IDs, each once",
       sorted(int(r[2]) for r in rows) == published,
       "%d keys, %d published" % (len(rows), len(published)))
why = ascending_per_partition(rows)
report(mode + ": replay IDs ascend within each partition", not why, why)

if mode == "key":
    wrong = [(p, k) for p, _o, k, _v in rows if p != java_partition(k, 8)]
    report("key: each record in Java's murmur2(key) % 8", not wrong, wrong[:5])
    report("key: the keys use several partitions", len(set(r[0] for r in rows)) >= 3,
           sorted(set(r[0] for r in rows)))
elif mode == "cdc":
    where = {}
    for p, _o, _k, v in rows:
        rid = v["payload"]["ChangeEventHeader"]["recordIds"][0]
        where.setdefault(rid, set()).add(p)
    records = sys.argv[4].split()
    report("cdc: the 5 records arrived", sorted(where) == sorted(records), sorted(where))
    spread = {r: sorted(ps) for r, ps in where.items() if len(ps) != 1}
    report("cdc: each record ID in exactly one partition", not spread, spread)
    wrong = {r: (sorted(ps), java_partition(r, 8)) for r, ps in where.items()
             if ps != {java_partition(r, 8)}}
    report("cdc: each record's partition is Java's murmur2(record ID) % 8", not wrong, wrong)
    used = set(p for ps in where.values() for p in ps)
    report("cdc: the records use several partitions", len(used) >= 3, sorted(used))
    for rid in records:
        mine = [int(k) for p, _o, k, v in rows
                if v["payload"]["ChangeEventHeader"]["recordIds"][0] == rid]
        if mine != sorted(mine) or len(mine) != 80:
            report("cdc: %s's 80 updates in Salesforce's order" % rid, False, mine[:10])
            break
    else:
        report("cdc: every record's 80 updates in Salesforce's order", True)
else:
    channel = sys.argv[4] if len(sys.argv) > 4 else "/topic/AccountUpdates"
    parts = sorted(set(r[0] for r in rows))
    report("push %s: the whole channel in one partition" % channel, len(parts) == 1, parts)
    report("push %s: that partition is murmur2(channel) %% 8" % channel,
           parts == [java_partition(channel, 8)], parts)
PY

check_py() {
        python3 "$T/check.py" "$@" >"$T/check.out" 2>&1 || echo "not ok checker: $(tail -n 1 "$T/check.out")" >>"$T/check.out"
        while IFS= read -r line; do
                case "$line" in
                "ok "*) ok "${line#ok }" ;;
                *) not_ok "${line#not ok }" ;;
                esac
        done <"$T/check.out"
}
check_py cdc "$T/cdc.records" "$T/cdc.ids" "$RECORDS"
check_py push "$T/push.records" "$T/push.ids"

# The murmur2 of the checker itself agrees with Kafka's own test vectors.
assert_eq "checker's murmur2 matches Kafka's UtilsTest vectors" "-973932308 479470107 -58897971" \
        "$(python3 -c "
import sys; sys.argv = ['x', 'none', '/dev/null', '/dev/null']
exec(open('$T/check.py').read().split('mode, path')[0])
s = lambda v: v - (1 << 32) if v & 0x80000000 else v
print(s(murmur2(b'21')), s(murmur2(b'abc')), s(murmur2(b'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')))")"

wait_for 30 kcat_has it.key.order 24 || not_ok "bridge delivered the partition_by: key events"
kcat_read it.key.order 100000 >"$T/key.records"
check_py key "$T/key.records" "$T/key.ids"

wait_for 30 kcat_has it.noid.order 3 || not_ok "bridge delivered the events without a record ID"
kcat_read it.noid.order 100000 >"$T/noid.records"
check_py push "$T/noid.records" "$T/noid.ids" /topic/NoIds
assert_eq "no record ID: said once for the route" 1 "$(grep -c 'msg=partition_fallback' "$T/bridge.log")"
assert_file_contains "no record ID: the line names the route and the fallback" "$T/bridge.log" \
        "msg=partition_fallback channel=/topic/NoIds"
assert_file_contains "no record ID: by channel" "$T/bridge.log" "cause=no_record_id action=partition_by_channel"
stop_bridge
finish
