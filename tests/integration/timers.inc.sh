# Shared by the production-timer tests (0150, scaled down, and
# tests/slow/0151, the real values): after fault.inc.sh, a bridge on
# $FAULT_CHANNEL -> $FAULT_TOPIC, its metrics on $METRICS_PORT, every
# published replay ID appended to $T/published.ids.
#   TIMERS_WAIT_S  how long events published by `after` may take to land
#   TIMERS_HELD_S  a /meta/connect answered later than this was held

# sim_stat NAME: one number from sfsim's /admin/stats.
sim_stat() {
        sfsim_admin GET /admin/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

no_clients() {
        [ "$(sim_stat clients)" = 0 ]
}

# landed: every replay ID published so far is in Kafka.
landed() {
        sort -u "$T/published.ids" >"$T/want"
        kcat_read "$FAULT_TOPIC" 1000000 2>/dev/null | cut -f3 | sort -u >"$T/have"
        [ -z "$(comm -23 "$T/want" "$T/have")" ]
}

# after NAME [N]: publish N (default 5) events now; they must land within
# TIMERS_WAIT_S (the bridge recovered). Sets TOOK to the seconds it took
# and notes the step, seconds since T0, in $T/steps.
after() {
        _a_t0=$(date +%s)
        echo "$((_a_t0 - ${T0:-_a_t0})) $1" >>"$T/steps"
        publish "$FAULT_CHANNEL" "${2:-5}" 100 >>"$T/published.ids"
        if wait_for "$TIMERS_WAIT_S" landed; then
                TOOK=$(( $(date +%s) - _a_t0 ))
                ok "$1: recovered, every event so far in Kafka (${TOOK} s)"
        else
                TOOK=""
                not_ok "$1: recovered, every event so far in Kafka within $TIMERS_WAIT_S s" \
                        "$(comm -23 "$T/want" "$T/have" | wc -l | tr -d ' ') missing"
        fi
}

# held_long: /meta/connect answers that took more than TIMERS_HELD_S.
held_long() {
        curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v le="$TIMERS_HELD_S" '
                $1 == "sfbridge_connect_seconds_count" { c = $2 }
                $1 == "sfbridge_connect_seconds_bucket{le=\"" le "\"}" { b = $2 }
                END { print c - b }'
}

held_more_than() {
        [ "$(held_long)" -gt "$1" ]
}

stall_count() {
        grep -c 'msg=recovery cause=stall' "$T/bridge.log"
}
