# Shared body of the replica-group tests (016N-ha-*.sh, HA.md §2.6): several
# bridges of one name in one consumer group on a coordination topic, each
# unit a channel routed to its own topic, a publisher that can be held at a
# quiet point, and the checks every scenario ends with (kcat read_committed:
# every published event once). Sourced after nothing: it sources helpers.sh
# and bridge.sh itself.
#
#     . "$SFB_ROOT/tests/integration/ha.inc.sh"
#     ha_setup NAME "a b c" [sfsim args...]   # kafka-mock, sfsim, $T/ha.yaml
#     ha_start 1; ha_start 2                  # replicas: logs $T/r1.log ...
#     ha_stream_start; ...; ha_quiet; kill -KILL "$(ha_pid 1)"; ha_resume
#     ha_stream_stop; ha_expect_delivery "after the kill"
#
# Units: unit U is routed from channel /event/HaU__e to topic it.ha.U and
# pinned to coordination partition i (its place in the list) through
# coordination.partitions, so which units can move together is fixed
# (FNV-1a collisions would make "each replica owns one" untestable). The
# unit "default" is the top-level routes with no unit: key.
#
# Who owns what comes from each replica's /metrics
# (sfbridge_unit_owned{unit="U"}), the moves from its log (msg=unit_*), what
# Salesforce saw from sfsim's /admin/stats (per channel: subscriptions,
# max_concurrent_pollers, poll_overlap_ms) and /admin/clients.
#
# Kills land at quiet points only: librdkafka 2.0.2's mock cluster writes
# no transaction markers, so a read_committed reader also sees the records
# of a transaction cut short by a kill, which a real broker would hide
# (README, "The local Kafka").
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

HA_PY="$SFB_ROOT/tests/integration/ha.py"
HA_NAME=""
HA_UNITS=""
HA_REPLICAS=""

# ha_channel U / ha_topic U: the channel and topic of unit U ($HA_CHANNEL:
# the same channel for every unit, each in its own org). ha_url U: the
# sfsim (org) serving unit U: $HA_URL_U, else $SFSIM_URL.
ha_url() {
        eval "echo \${HA_URL_$1:-\$SFSIM_URL}"
}
ha_channel() {
        if [ -n "${HA_CHANNEL:-}" ]; then
                echo "$HA_CHANNEL"
        elif [ "$1" = default ]; then echo /event/HaDefault__e; else echo "/event/Ha$1__e"; fi
}
ha_topic() {
        echo "it.ha.$1"
}

# ha_coordination_yaml [EXTRA_LINES]: the coordination: block (defaults,
# the partition of every unit pinned); extra keys from $HA_COORD_EXTRA.
ha_coordination_yaml() {
        echo "coordination:"
        [ -n "${HA_COORD_EXTRA:-}" ] && printf '%s\n' "$HA_COORD_EXTRA"
        _ha_i=0
        _ha_p=""
        for _ha_u in $HA_UNITS; do
                _ha_p="$_ha_p${_ha_p:+, }$_ha_u: $_ha_i"
                _ha_i=$((_ha_i + 1))
        done
        echo "  partitions: { $_ha_p }"
}

# ha_setup NAME "UNITS" [sfsim args...]: kafka-mock (3 brokers) with the
# coordination topic sfbridge.NAME.units of one partition per unit (the
# mock cannot create topics through the admin API), sfsim with a 2 s
# long-poll, and $T/ha.yaml: one route per unit.
ha_setup() {
        HA_NAME=$1
        HA_UNITS=$2
        shift 2
        _ha_n=$(echo $HA_UNITS | wc -w)
        start_kafka 3 --topic "sfbridge.$HA_NAME.units:$_ha_n" || { not_ok "start kafka"; finish; }
        start_sfsim --connect-timeout-ms 2000 --retention 100000 "$@" || { not_ok "start sfsim"; finish; }
        TOP_EXTRA=$(ha_coordination_yaml) write_config "$T/ha.yaml" "$HA_NAME" <<EOF
$(for _ha_u in $HA_UNITS; do
        echo "  - channel: $(ha_channel "$_ha_u")"
        echo "    topic: $(ha_topic "$_ha_u")"
        echo "    start: all"
        [ "$_ha_u" = default ] || echo "    unit: $_ha_u"
done)
EOF
        HA_CONFIG="$T/ha.yaml"
}

# ha_start R [CONFIG] [args...]: start replica R (a number) of CONFIG
# (default $HA_CONFIG) with its own metrics port; log $T/rR.log.
ha_start() {
        _ha_r=$1
        shift
        _ha_cfg=${1:-$HA_CONFIG}
        [ $# -gt 0 ] && shift
        _ha_port=$(free_port)
        sed "s/^  listen: 127\.0\.0\.1:[0-9]*\$/  listen: 127.0.0.1:$_ha_port/" "$_ha_cfg" >"$T/r$_ha_r.yaml"
        "$SFB_BUILD/sfbridge" run -c "$T/r$_ha_r.yaml" "$@" \
                >>"$T/r$_ha_r.out" 2>>"$T/r$_ha_r.log" </dev/null &
        _ha_pid=$!
        track_pid "$_ha_pid"
        eval "HA_PID_$_ha_r=$_ha_pid HA_PORT_$_ha_r=$_ha_port"
        case " $HA_REPLICAS " in *" $_ha_r "*) ;; *) HA_REPLICAS="$HA_REPLICAS $_ha_r" ;; esac
}

# ha_pid R / ha_port R
ha_pid() { eval "echo \${HA_PID_$1:-}"; }
ha_port() { eval "echo \${HA_PORT_$1:-}"; }

# ha_live: the replicas still running and not stopped (SIGSTOP: a stopped
# one cannot answer /metrics).
ha_live() {
        for _ha_r in $HA_REPLICAS; do
                _ha_st=$(ps -o stat= -p "$(ha_pid "$_ha_r")" 2>/dev/null)
                case "$_ha_st" in ""|Z*|T*) ;; *) printf '%s ' "$_ha_r" ;; esac
        done
        echo
}

# ha_stop R [SIGNAL] [TIMEOUT_S]: signal replica R (default TERM) and wait
# for its exit (default 20 s, then KILL); returns its exit status.
ha_stop() {
        wait_exit "$(ha_pid "$1")" "${3:-20}" "${2:-TERM}"
}

# ha_metric R NAME_WITH_LABELS: one sample of replica R's /metrics ("" when
# absent or the replica does not answer).
ha_metric() {
        curl -s --max-time 5 "http://127.0.0.1:$(ha_port "$1")/metrics" 2>/dev/null |
                awk -v n="$2" '$1 == n { print $2; found=1 } END { if (!found) print "" }'
}

# ha_readyz R: "CODE BODY" of replica R's /readyz.
ha_readyz() {
        _ha_body=$(curl -s -w ' %{http_code}' --max-time 5 "http://127.0.0.1:$(ha_port "$1")/readyz" 2>/dev/null)
        echo "${_ha_body##* } ${_ha_body% *}"
}

# ha_owners U: the live replicas whose /metrics say they own unit U.
ha_owners() {
        for _ha_r in $(ha_live); do
                [ "$(ha_metric "$_ha_r" "sfbridge_unit_owned{unit=\"$1\"}")" = 1 ] && printf '%s ' "$_ha_r"
        done
        echo
}

# ha_owner U: the one live replica owning U and serving it (ready), or
# nothing (and false) while there is none or more than one.
ha_owner() {
        _ha_o=$(ha_owners "$1")
        set -- $_ha_o
        [ $# -eq 1 ] || return 1
        [ "$(ha_readyz "$1" | cut -d' ' -f1)" = 200 ] || return 1
        echo "$1"
}

# ha_settled: every unit owned by exactly one live replica, every live
# replica ready (a standby is ready with 0 units).
ha_settled() {
        for _ha_u in $HA_UNITS; do
                _ha_o=$(ha_owners "$_ha_u")
                [ "$(echo $_ha_o | wc -w)" = 1 ] || return 1
        done
        for _ha_r in $(ha_live); do
                [ "$(ha_readyz "$_ha_r" | cut -d' ' -f1)" = 200 ] || return 1
        done
        return 0
}

# ha_map: "U=R ..." for every unit (R "-" or "1+2" when not exactly one).
ha_map() {
        for _ha_u in $HA_UNITS; do
                _ha_o=$(ha_owners "$_ha_u")
                set -- $_ha_o
                case $# in
                0) printf '%s=- ' "$_ha_u" ;;
                1) printf '%s=%s ' "$_ha_u" "$1" ;;
                *) printf '%s=%s ' "$_ha_u" "$(echo $_ha_o | tr ' ' '+')" ;;
                esac
        done
        echo
}

# ha_wait_settled TIMEOUT_S NAME: one ok/not ok on every unit being owned
# once and every replica ready.
ha_wait_settled() {
        if wait_for "$1" ha_settled; then
                ok "$2 (owners: $(ha_map))"
        else
                not_ok "$2" "owners: $(ha_map); live: $(ha_live)"
                for _ha_r in $HA_REPLICAS; do show_file "$T/r$_ha_r.log" 15; done
        fi
}

# ---------------------------------------------------------------------------
# The publisher: CHUNK events on every unit's channel every PAUSE_S, replay
# IDs appended to $T/pub.U.ids. ha_quiet holds it and waits until Kafka
# shows every published event (a quiet point); ha_resume lets it go on.

ha_stream_start() {
        rm -f "$T/hold" "$T/held" "$T/stop"
        (
                while [ ! -f "$T/stop" ]; do
                        if [ -f "$T/hold" ]; then
                                : >"$T/held"
                                sleep 0.1
                                continue
                        fi
                        rm -f "$T/held"
                        for _ha_u in $HA_UNITS; do
                                (SFSIM_URL=$(ha_url "$_ha_u")
                                 publish "$(ha_channel "$_ha_u")" "${1:-5}" 100) >>"$T/pub.$_ha_u.ids" || exit 1
                        done
                        sleep "${2:-0.3}"
                done
        ) &
        HA_STREAM_PID=$!
        track_pid "$HA_STREAM_PID"
}

# ha_landed U: how many distinct published events of unit U Kafka shows
# (read_committed).
ha_landed() {
        kcat_read "$(ha_topic "$1")" 1000000 | cut -f3 | sort -u >"$T/landed.$1"
        sort -u "$T/pub.$1.ids" 2>/dev/null | comm -12 - "$T/landed.$1" | wc -l | tr -d ' '
}

# ha_all_landed: every published event of every unit is in Kafka.
ha_all_landed() {
        for _ha_u in $HA_UNITS; do
                _ha_want=$(sort -u "$T/pub.$_ha_u.ids" 2>/dev/null | wc -l | tr -d ' ')
                [ "$(ha_landed "$_ha_u")" -ge "$_ha_want" ] || return 1
        done
        return 0
}

# ha_quiet [TIMEOUT_S]: hold the publisher; true once everything published
# is in Kafka (then no transaction is open: a quiet point).
ha_quiet() {
        : >"$T/hold"
        wait_for 15 test -f "$T/held" || { echo "# ha_quiet: publisher not held"; return 1; }
        wait_for "${1:-60}" ha_all_landed || { echo "# ha_quiet: not everything landed"; return 1; }
        sleep 0.5
}

ha_resume() {
        rm -f "$T/hold"
}

ha_stream_stop() {
        : >"$T/stop"
        wait_exit "$HA_STREAM_PID" 60
        assert_eq "publisher finished" 0 "$?"
}

# ha_expect_delivery NAME [TIMEOUT_S]: per unit, every published event in
# Kafka (read_committed) exactly once, nothing else.
ha_expect_delivery() {
        wait_for "${2:-90}" ha_all_landed
        sleep 1
        _ha_lost=0
        _ha_dups=0
        _ha_extra=0
        _ha_total=0
        for _ha_u in $HA_UNITS; do
                kcat_read "$(ha_topic "$_ha_u")" 1000000 | cut -f3 >"$T/keys.$_ha_u"
                sort -u "$T/pub.$_ha_u.ids" >"$T/pub.$_ha_u.uniq" 2>/dev/null
                sort -u "$T/keys.$_ha_u" >"$T/keys.$_ha_u.uniq"
                _ha_m=$(comm -23 "$T/pub.$_ha_u.uniq" "$T/keys.$_ha_u.uniq" | wc -l | tr -d ' ')
                _ha_x=$(comm -13 "$T/pub.$_ha_u.uniq" "$T/keys.$_ha_u.uniq" | wc -l | tr -d ' ')
                _ha_d=$(count_dups <"$T/keys.$_ha_u")
                _ha_p=$(wc -l <"$T/pub.$_ha_u.uniq" | tr -d ' ')
                note "unit $_ha_u: $_ha_p published, $(wc -l <"$T/keys.$_ha_u" | tr -d ' ') records, $_ha_m lost, $_ha_d duplicated"
                _ha_lost=$((_ha_lost + _ha_m))
                _ha_dups=$((_ha_dups + _ha_d))
                _ha_extra=$((_ha_extra + _ha_x))
                _ha_total=$((_ha_total + _ha_p))
        done
        if [ "$_ha_total" -gt 0 ]; then ok "$1: events were published ($_ha_total)"; else not_ok "$1: events were published"; fi
        assert_eq "$1: 0 lost (read_committed)" 0 "$_ha_lost"
        assert_eq "$1: 0 duplicated (read_committed)" 0 "$_ha_dups"
        assert_eq "$1: nothing that was not published" 0 "$_ha_extra"
}

# ---------------------------------------------------------------------------
# What Salesforce (sfsim) saw

# ha_stat_channel CHANNEL KEY: a number of the channel in /admin/stats,
# wherever sfsim puts it (ha.py looks for KEY under the channel's name).
ha_stat_channel() {
        sfsim_admin GET /admin/stats | python3 "$HA_PY" channel-stat "$1" "$2"
}

# ha_reset_pollers: start max_concurrent_pollers/poll_overlap_ms afresh.
ha_reset_pollers() {
        sfsim_admin POST /admin/reset-pollers >/dev/null || not_ok "sfsim: POST /admin/reset-pollers"
}

# ha_clients: sfsim's /admin/clients as "clientId subscriptions,... polling
# disconnected connects last_connect state" lines (empty without the
# endpoint); state is live for a client sfsim still holds (a killed
# replica's client too, until it expires).
ha_clients() {
        sfsim_admin GET /admin/clients 2>/dev/null | python3 "$HA_PY" clients
}

# ha_client_of CHANNEL: the live clientIds subscribed to CHANNEL, sorted,
# space-separated.
ha_client_of() {
        ha_clients | awk -v ch="$1" '$7 == "live" { n = split($2, s, ","); for (i = 1; i <= n; i++) if (s[i] == ch) print $1 }' |
                sort | tr '\n' ' '
}

# ha_others VICTIM UNIT...: the units of the list that replica VICTIM does
# not own, space-separated.
ha_others() {
        _ha_v=$1; shift
        for _ha_u in "$@"; do
                _ha_o=$(ha_owner "$_ha_u")
                [ -n "$_ha_o" ] && [ "$_ha_o" != "$_ha_v" ] && printf ' %s' "$_ha_u"
        done
}

# ha_remember UNIT...: what Salesforce sees of each unit now (how often its
# channel was subscribed, its live CometD client), for ha_kept.
ha_remember() {
        for _ha_u in "$@"; do
                eval "subs_$_ha_u=\$(ha_stat_channel '$(ha_channel "$_ha_u")' subscriptions)"
                eval "client_$_ha_u=\$(ha_client_of '$(ha_channel "$_ha_u")')"
        done
}

# ha_kept UNIT WHY [SAME_CLIENT_TEXT]: assert the unit was not subscribed
# again and kept its CometD client since ha_remember (a unit no failover
# touched: cooperative rebalancing left it alone).
ha_kept() {
        eval "_ha_was=\$subs_$1; _ha_cl=\$client_$1"
        assert_eq "unit $1 ($2): no new subscribe" "$_ha_was" \
                "$(ha_stat_channel "$(ha_channel "$1")" subscriptions)"
        assert_eq "unit $1${3:+ $3}: the same Salesforce client" "$_ha_cl" \
                "$(ha_client_of "$(ha_channel "$1")")"
}

# ha_has_clients: sfsim answers /admin/clients.
ha_has_clients() {
        sfsim_admin GET /admin/clients >/dev/null 2>&1
}

# ha_has_pollers: sfsim's /admin/stats shows max_concurrent_pollers.
ha_has_pollers() {
        sfsim_admin GET /admin/stats 2>/dev/null | grep -q '"max_concurrent_pollers"'
}

# ha_log_count R PATTERN: lines of replica R's log matching the ERE.
ha_log_count() {
        grep -cE -- "$2" "$T/r$1.log" 2>/dev/null || true
}
