#!/bin/sh
# Replica group over two orgs (HA.md §2.6, step 2): two sfsim instances are
# the orgs emea and us, each capped at one concurrent CometD client
# (--max-clients 1, as many as the org's units), one config with orgs:,
# two replicas. The owner of emea is SIGKILLed at a quiet point: its ghost
# client holds emea's only slot until sfsim forgets it (--client-expiry-ms
# 20000, counted from its last answer, which came at most 2 s before the
# kill), so the new owner's handshake is refused (concurrent limit) until
# then, and the failover completes within the expiry + 15 s. us is not
# disturbed when its owner survives; {org} topics and sf.org headers; every
# event once.
. "$SFB_ROOT/tests/integration/ha.inc.sh"

EXPIRY_MS=20000
HA_NAME=it-ha-cap
HA_UNITS="emea us"
HA_CHANNEL=/event/HaOrg__e
start_kafka 3 --topic "sfbridge.$HA_NAME.units:2" || { not_ok "start kafka"; finish; }
start_sfsim --connect-timeout-ms 2000 --max-clients 1 --client-expiry-ms $EXPIRY_MS \
        --org-id 00D000000000001AAA || { not_ok "start sfsim emea"; finish; }
HA_URL_emea=$SFSIM_URL
mv "$T/sfsim.out" "$T/sfsim-emea.out"; mv "$T/sfsim.err" "$T/sfsim-emea.err"
start_sfsim --connect-timeout-ms 2000 --max-clients 1 --client-expiry-ms $EXPIRY_MS \
        --org-id 00D000000000002BBB || { not_ok "start sfsim us"; finish; }
HA_URL_us=$SFSIM_URL
METRICS_PORT=$(free_port)
org_yaml() { # org_yaml ID URL
        cat <<YAML
  - id: $1
    salesforce:
      login_url: $2
      api_version: "59.0"
      auth:
        flow: password
        client_id: \${SF_CLIENT_ID}
        client_secret: \${SF_CLIENT_SECRET}
        username: \${SF_USERNAME}
        password: \${SF_PASSWORD}
      limit_backoff_s: 1
    routes:
      - channel: $HA_CHANNEL
        topic: "it.ha.{org}"
        start: all
YAML
}
{
        echo "name: $HA_NAME"
        echo "kafka:"
        echo "  bootstrap_servers: $KAFKA_BOOTSTRAP"
        echo "  delivery: exactly_once"
        echo "  replay_topic: $HA_NAME.replay"
        echo "metrics:"
        echo "  listen: 127.0.0.1:$METRICS_PORT"
        ha_coordination_yaml
        echo "orgs:"
        org_yaml emea "$HA_URL_emea"
        org_yaml us "$HA_URL_us"
} >"$T/ha.yaml"
HA_CONFIG="$T/ha.yaml"
"$SFB_BUILD/sfbridge" check -c "$HA_CONFIG" >"$T/check.out" 2>&1
assert_eq "the orgs: config passes check" 0 "$?"

ha_start 1; ha_start 2
ha_wait_settled 90 "two replicas share the two orgs"
ha_stream_start 5 0.3
sleep 3
ha_quiet || not_ok "quiet point before the kill"
victim=$(ha_owner emea)
[ -n "$victim" ] || { not_ok "emea has one owner" "$(ha_map)"; finish; }
survivor=$((3 - victim))
us_owner=$(ha_owner us)
us_subs=$(SFSIM_URL=$HA_URL_us; ha_stat_channel "$HA_CHANNEL" subscriptions)
refused0=$(SFSIM_URL=$HA_URL_emea; sfsim_admin GET /admin/stats | sed -n 's/.*"clients_refused":\([0-9]*\).*/\1/p')
note "owners: $(ha_map); killing replica $victim"
kill -KILL "$(ha_pid "$victim")"
t_kill=$(date +%s)
wait_exit "$(ha_pid "$victim")" 10
ha_resume
limit=$((EXPIRY_MS / 1000 + 15))
# Delivering again: a marker published to emea now lands.
marker=$(SFSIM_URL=$HA_URL_emea; publish "$HA_CHANNEL" 1 | tail -n 1)
echo "$marker" >>"$T/pub.emea.ids"
if wait_for $((limit + 5)) sh -c "kcat -b $KAFKA_BOOTSTRAP -C -e -q -t it.ha.emea -o beginning -X isolation.level=read_committed -f '%k\n' 2>/dev/null | grep -qx '$marker'"; then
        took=$(( $(date +%s) - t_kill ))
        note "emea delivering again $took s after the kill"
        [ "$took" -le "$limit" ] && ok "emea failed over within expiry + 15 s ($took s)" ||
                not_ok "emea failed over within expiry + 15 s" "$took s"
else
        not_ok "emea failed over within expiry + 15 s" "marker $marker not in Kafka; owners $(ha_map)"
fi
assert_eq "emea now owned by the survivor" "$survivor" "$(ha_owner emea)"
refused1=$(SFSIM_URL=$HA_URL_emea; sfsim_admin GET /admin/stats | sed -n 's/.*"clients_refused":\([0-9]*\).*/\1/p')
[ "${refused1:-0}" -gt "${refused0:-0}" ] && ok "the ghost client held emea's slot (a handshake refused)" ||
        not_ok "the ghost client held emea's slot (a handshake refused)" "clients_refused $refused0 -> $refused1"
if [ "$us_owner" = "$survivor" ]; then
        assert_eq "us (on the survivor): no new subscribe" "$us_subs" \
                "$(SFSIM_URL=$HA_URL_us; ha_stat_channel "$HA_CHANNEL" subscriptions)"
fi
sleep 2
ha_quiet || not_ok "quiet point after the failover"
hdr=$(kcat_read it.ha.us 1 | cut -f4)
assert_contains "records carry sf.org" "$hdr" "sf.org=us"
ha_stream_stop
ha_expect_delivery "client cap"
for r in $(ha_live); do
        ha_stop "$r"
        assert_eq "replica $r: SIGTERM exits 0" 0 "$?"
done
finish
