#!/bin/sh
# Replica group, Kafka down (HA.md §2.6, A3 A4 A6): three replicas, three
# units. At a quiet point every broker goes down for longer than the
# session timeout (6 s): each replica loses its units (its session expires
# on its own clock) and stops long-polling Salesforce; when the brokers
# come back the units are owned again, and every event lands once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

ha_setup it-ha-kdown "a b c"
ha_start 1; ha_start 2; ha_start 3
ha_wait_settled 90 "three replicas share the three units"
ha_stream_start 5 0.3
sleep 3
ha_quiet || not_ok "quiet point before Kafka goes down"
note "owners: $(ha_map)"
for r in 1 2 3; do eval "lines_$r=\$(wc -l <'$T/r$r.log')"; done
kafka_ctl "down all" || { not_ok "kafka down"; finish; }
lost_all() {
        for r in 1 2 3; do
                eval "l=\$lines_$r"
                tail -n +$((l + 1)) "$T/r$r.log" | grep -qE 'msg=(unit_lost|unit_revoked unit=[^ ]* lost=1)' || return 1
        done
}
if wait_for 30 lost_all; then
        ok "every replica lost its units"
else
        not_ok "every replica lost its units"
fi
for r in 1 2 3; do
        assert_eq "replica $r owns nothing while Kafka is down" 0 "$(ha_metric "$r" sfbridge_units_owned)"
done
# No replica long-polls Salesforce for a unit it does not own: sfsim holds
# no poll once the last held one (2 s) has ended.
sleep 3
nowpolling() {
        ha_clients | awk '$3 == "true"' | wc -l | tr -d ' '
}
if ha_has_clients; then
        assert_eq "no client long-polls while Kafka is down" 0 "$(nowpolling)"
else
        not_ok "sfsim lists its clients (GET /admin/clients)"
fi
sleep 4
kafka_ctl "up all" || not_ok "kafka up"
ha_resume
ha_wait_settled 90 "every unit owned once after Kafka came back"
sleep 3
ha_stream_stop
ha_expect_delivery "Kafka down" 120
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
