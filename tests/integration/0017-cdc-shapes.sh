#!/bin/sh
# Change events as Salesforce sends them, with replay IDs from 2^40: merged
# changes (several recordIds), a multi-event transaction (one transactionKey,
# sequenceNumber 1..n), changedFields, and overflow events (GAP_OVERFLOW,
# recordIds []). Checked with kcat: each event lands once, value byte for
# byte as sfsim sent data; a key: record_id route keys by the first record ID
# and an overflow by its entity (never a null key); partitions are Kafka's
# Java murmur2 of the first record ID (of the entity for an overflow), with
# replay IDs ascending in each; overflows count as gap events without a
# warning; partition_by: entity keeps a whole entity in one partition;
# sfbridge_replay_id and the replay records hold the exact 64-bit ID;
# a restart resumes after the last one: no event twice, none skipped.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

VALUES="$SFB_ROOT/tests/integration/values.py"
FIRST_ID=1099511627776 # 2^40
A=001xx0000000001AAA
B=001xx0000000002AAA
C=001xx0000000003AAA

start_kafka 3 --topic it.cdc.acct:8 --topic it.cdc.all:8 --topic it.cdc.entity:8 || { not_ok start_kafka; finish; }
start_sfsim --first-replay-id "$FIRST_ID" || { not_ok start_sfsim; finish; }

write_config "$T/cdc.yaml" it-cdc-shapes <<'YAML'
  - channel: /data/AccountChangeEvent
    topic: it.cdc.acct
    key: record_id
    start: all
  - channel: /data/ChangeEvents
    topic: it.cdc.all
    start: all
  - channel: /data/ContactChangeEvent
    topic: it.cdc.entity
    partition_by: entity
    start: all
YAML

acct() { publish /data/AccountChangeEvent "$1" "" "$2" >>"$T/acct.ids"; }
cdc_all() { publish /data/ChangeEvents "$1" "" "$2" >>"$T/all.ids"; }
contact() { publish /data/ContactChangeEvent "$1" "" "$2" >>"$T/contact.ids"; }
: >"$T/acct.ids"
: >"$T/all.ids"
: >"$T/contact.ids"
# Account: B twice, A, B and C merged, a transaction on A that overflows.
# ChangeEvents: two Contact overflows, merges of made-up IDs, a Lead
# transaction ending in an overflow.
acct 2 "record_id=$B&change_type=UPDATE" || not_ok "publish B's updates"
acct 1 "record_ids=$A,$B,$C&change_type=UPDATE" || not_ok "publish a merged update"
acct 3 "record_id=$A&transaction=1&change_type=UPDATE,UPDATE,GAP_OVERFLOW" || not_ok "publish a transaction"
cdc_all 2 "entity=Contact&change_type=GAP_OVERFLOW" || not_ok "publish Contact overflows"
cdc_all 2 "records=3&change_type=UPDATE" || not_ok "publish merged updates"
cdc_all 2 "entity=Lead&transaction=1&change_type=CREATE,GAP_OVERFLOW" || not_ok "publish a Lead transaction"
# partition_by: entity: D alone, then D merged behind E, then D again.
D=003xx0000000004AAA
E=003xx0000000005AAA
contact 1 "record_id=$D&change_type=UPDATE" || not_ok "publish D's update"
contact 1 "record_ids=$E,$D&change_type=UPDATE" || not_ok "publish a merged Contact update"
contact 1 "record_id=$D&change_type=DELETE" || not_ok "publish D's delete"
assert_eq "sfsim: the first Account replay ID is exactly 2^40" "$FIRST_ID" "$(head -n 1 "$T/acct.ids")"
assert_eq "published 6 Account change events" 6 "$(wc -l <"$T/acct.ids" | tr -d ' ')"

start_bridge "$T/cdc.yaml"
wait_for 60 kcat_has it.cdc.acct 6 || not_ok "bridge delivered the Account events"
wait_for 30 kcat_has it.cdc.all 6 || not_ok "bridge delivered the /data/ChangeEvents events"
wait_for 10 sh -c "[ -n \"\$(curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep '^sfbridge_replay_id{channel=\"/data/ChangeEvents\"}')\" ]"

last_acct=$(tail -n 1 "$T/acct.ids")
last_all=$(tail -n 1 "$T/all.ids")
assert_eq "sfbridge_replay_id holds the exact 64-bit ID" "$last_acct" \
        "$(metric 'sfbridge_replay_id{channel="/data/AccountChangeEvent"}')"
assert_eq "overflow events count as gap events (Account: 1)" 1 \
        "$(metric 'sfbridge_cdc_gap_events_total{channel="/data/AccountChangeEvent"}')"
assert_eq "overflow events count as gap events (ChangeEvents: 3)" 3 \
        "$(metric 'sfbridge_cdc_gap_events_total{channel="/data/ChangeEvents"}')"

# The checker: the partitioner of Kafka's Java clients (kafka_partition.py; 0013 checks it against
# Kafka's test vectors). Records: partition offset key headers value.
cat >"$T/check.py" <<'PY'
import json, os, sys

sys.path.insert(0, os.path.join(os.environ["SFB_ROOT"], "tests", "integration"))
from kafka_partition import murmur2, java_partition

def part(s):
    return java_partition(s, 8)

def report(name, cond, why=""):
    print(("ok " + name) if cond else ("not ok %s: %s" % (name, why)))

mode, dump, expected, ids_path, channel = sys.argv[1:6]
want = {}
for line in open(expected, "rb"):
    f = line.rstrip(b"\n").split(b"\t")
    if f[0].decode() == channel:
        want[f[1].decode()] = f[2]
published = open(ids_path).read().split()
rows = []
for line in open(dump, "rb"):
    p, o, k, h, v = line.rstrip(b"\n").split(b"\t", 4)
    hdr = dict(x.split(b"=", 1) for x in h.split(b",") if b"=" in x)
    rows.append((int(p), int(o), k.decode(), hdr.get(b"sf.replay_id", b"").decode(), v))
rows.sort()
ids = [r[3] for r in rows]
report(mode + ": each published event once (sf.replay_id, exact)", sorted(ids) == sorted(published),
       "%s vs %s" % (sorted(ids), sorted(published)))
report(mode + ": sfsim sent what was published", sorted(want) == sorted(published), sorted(want))
bad = [r[3] for r in rows if want.get(r[3]) != r[4]]
report(mode + ": values are data byte for byte", not bad, bad)
last, why, seen = {}, "", {}
for p, _o, _k, rid, _v in rows:
    if p in last and int(rid) <= last[p]:
        why = "partition %d: %s after %d" % (p, rid, last[p])
    last[p] = int(rid)
report(mode + ": replay IDs ascend within each partition", not why, why)
wrong_key, wrong_part, multi, overflow, tx = [], [], 0, 0, {}
for p, _o, k, rid, v in rows:
    hdr = json.loads(v)["payload"]["ChangeEventHeader"]
    rids = hdr["recordIds"]
    unit = rids[0] if rids else hdr["entityName"]
    if hdr["changeType"] == "GAP_OVERFLOW":
        overflow += 1
        if rids:
            wrong_key.append((rid, "overflow with record IDs"))
    multi += len(rids) > 1
    if mode == "entity":
        unit = hdr["entityName"]
    want_key = unit if mode == "acct" else rid
    if k != want_key:
        wrong_key.append((rid, k, want_key))
    if p != part(unit):
        wrong_part.append((rid, p, unit, part(unit)))
    if hdr["changeType"] == "UPDATE" and "LastModifiedDate" not in hdr["changedFields"]:
        wrong_key.append((rid, "UPDATE without changedFields"))
    tx.setdefault(hdr["transactionKey"], []).append((int(rid), hdr["sequenceNumber"],
                                                     hdr["isTransactionEnd"], p))
report(mode + ": keys: " + ("first record ID, an overflow its entity" if mode == "acct"
                            else "the exact replay ID"), not wrong_key, wrong_key)
report(mode + ": partition = Java murmur2(" + ("entityName" if mode == "entity" else
       "first record ID, or an overflow's entity") + ") % 8",
       not wrong_part, wrong_part)
if mode == "entity":
    report("entity: every change of the entity in its one partition, merged ones too",
           multi >= 1 and len(set(r[0] for r in rows)) == 1, sorted(set(r[0] for r in rows)))
    sys.exit(0)
report(mode + ": merged changes and overflows arrived", multi >= 1 and overflow >= 1,
       "%d merged, %d overflows" % (multi, overflow))
long_tx = [sorted(v) for v in tx.values() if len(v) > 1]
ok_tx = all([s for _r, s, _e, _p in t] == list(range(1, len(t) + 1)) and
            [e for _r, _s, e, _p in t] == [False] * (len(t) - 1) + [True] for t in long_tx)
report(mode + ": a transaction's events in sequenceNumber order, the last one its end",
       long_tx and ok_tx, long_tx)
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
assert_file_not_contains "no fallback warning for an overflow" "$T/bridge.log" "msg=partition_fallback"
assert_file_not_contains "no incomplete-event warning for an overflow" "$T/bridge.log" "msg=event_incomplete"
assert_file_not_contains "no poison event" "$T/bridge.log" "msg=poison"

# Restart: the stored position is the exact last ID; the bridge resumes
# after it, so the events published while it was down arrive once each.
stop_bridge
assert_eq "SIGTERM: exit 0" 0 "$BRIDGE_RC"
assert_contains "the replay record holds the exact 64-bit ID" \
        "$(kcat_read it-cdc-shapes.replay 100 | grep '/data/AccountChangeEvent' | tail -n 1)" \
        "\"replay_id\":$last_acct,"
acct 2 "record_id=$B&change_type=UPDATE" || not_ok "publish while down"
cdc_all 1 "entity=Case&change_type=GAP_OVERFLOW" || not_ok "publish an overflow while down"
start_bridge "$T/cdc.yaml"
wait_for 60 kcat_has it.cdc.acct 8 || not_ok "the restarted bridge delivered the Account events"
wait_for 30 kcat_has it.cdc.all 7 || not_ok "the restarted bridge delivered the overflow"
wait_for 30 kcat_has it.cdc.entity 3 || not_ok "bridge delivered the Contact events"
assert_file_contains "resubscribed after the stored 2^40+ ID" "$T/bridge.log" \
        "msg=subscribed channel=/data/AccountChangeEvent replay_from=$last_acct"
assert_file_contains "... on both channels" "$T/bridge.log" \
        "msg=subscribed channel=/data/ChangeEvents replay_from=$last_all"
sleep 1
# What sfsim sent, read by an independent client: channel, replayId, data.
python3 "$VALUES" fetch "$SFSIM_URL" 18 /data/AccountChangeEvent /data/ChangeEvents \
        /data/ContactChangeEvent >"$T/expected.tsv" 2>"$T/fetch.err"
assert_eq "an independent client reads all 18 events from sfsim" 18 "$(wc -l <"$T/expected.tsv" | tr -d ' ')"
kcat_read it.cdc.acct 1000 >"$T/acct.records"
kcat_read it.cdc.all 1000 >"$T/all.records"
check_py acct "$T/acct.records" "$T/expected.tsv" "$T/acct.ids" /data/AccountChangeEvent
check_py all "$T/all.records" "$T/expected.tsv" "$T/all.ids" /data/ChangeEvents
kcat_read it.cdc.entity 1000 >"$T/contact.records"
check_py entity "$T/contact.records" "$T/expected.tsv" "$T/contact.ids" /data/ContactChangeEvent
stop_bridge
finish
