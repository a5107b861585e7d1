#!/bin/sh
# Claim after proof: a second start of the same config that cannot work (a
# wrong password, a channel Salesforce refuses with on_route_error: fail,
# Kafka or Salesforce unreachable) never claims the name, so the running instance is not
# fenced and keeps delivering, nothing lost; a refused route with
# on_route_error: quarantine does not take over from a live instance
# either (readiness says why). A start that can work warns which live
# instance it takes over from.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim || { not_ok start_sfsim; finish; }

write_config "$T/a.yaml" it-start <<'YAML'
  - channel: /topic/SA
    topic: it.sa
    start: all
YAML
A_PORT=$METRICS_PORT

# variant FILE SED_EXPR: the same config with its own metrics port, edited.
variant() {
        _v_port=$(free_port)
        sed -e "s/127.0.0.1:$A_PORT/127.0.0.1:$_v_port/" -e "$2" "$T/a.yaml" >"$1"
}

# run_b NAME FILE: run a second instance in the foreground (bounded); its rc.
run_b() {
        timeout -k 5 30 "$SFB_BUILD/sfbridge" run -c "$2" >"$T/$1.out" 2>"$T/$1.log" </dev/null
}

# a_healthy LABEL COUNT: A still runs, delivers COUNT in all, and never saw a claim.
a_healthy() {
        wait_for 20 kcat_has it.sa "$2" || not_ok "$1: A delivered the events published after it"
        if _sfb_alive "$A_PID"; then ok "$1: A still running"; else not_ok "$1: A still running"; fi
        assert_file_not_contains "$1: A was not fenced" "$T/bridge.log" "fenced"
}

publish /topic/SA 3 >"$T/ids"
start_bridge "$T/a.yaml"
A_PID=$BRIDGE_PID
wait_for 30 kcat_has it.sa 3 || { not_ok "A delivers"; finish; }
A_INSTANCE=$(sed -n 's/.*msg=claimed .*instance=\([0-9a-f]*\).*/\1/p' "$T/bridge.log" | head -n 1)
# The probe's lines have names of their own: "msg=subscribed" (what readers
# wait for before publishing new-only events) comes only after the claim.
line_of() { grep -n -m1 -- "$1" "$T/bridge.log" | cut -d: -f1; }
assert_file_contains "the probe's subscribe is logged as such" "$T/bridge.log" "msg=probe_subscribe result=ok channel=/topic/SA"
if [ -n "$(line_of ' msg=claimed ')" ] && [ -n "$(line_of ' msg=subscribed ')" ] &&
   [ "$(line_of ' msg=subscribed ')" -gt "$(line_of ' msg=claimed ')" ]; then
        ok "msg=subscribed only after the claim"
else
        not_ok "msg=subscribed only after the claim" "$(grep -n 'subscribe\|claimed' "$T/bridge.log")"
fi

# 1. A wrong password: exit 3 on the login, nothing claimed.
variant "$T/b1.yaml" 's/password: .*/password: not-the-password/'
run_b b1 "$T/b1.yaml"
assert_eq "wrong password: B exits 3" 3 "$?"
assert_file_contains "wrong password: B says the login failed" "$T/b1.log" "login as"
assert_file_not_contains "wrong password: B never claimed" "$T/b1.log" "msg=claimed"
publish /topic/SA 3 >>"$T/ids"
a_healthy "wrong password" 6

# 2. A channel Salesforce refuses, on_route_error: fail: exit 3 unclaimed.
sfsim_admin POST "/admin/fault?kind=restricted-channel&channel=/topic/SR" >/dev/null
variant "$T/b2.yaml" 's/^routes:$/on_route_error: fail\
routes:\
  - channel: \/topic\/SR\
    topic: it.sr/'
run_b b2 "$T/b2.yaml"
assert_eq "refused channel: B exits 3" 3 "$?"
assert_file_contains "refused channel: B names the channel" "$T/b2.log" "/topic/SR"
assert_file_not_contains "refused channel: B never claimed" "$T/b2.log" "msg=claimed"
publish /topic/SA 3 >>"$T/ids"
a_healthy "refused channel" 9

# 3. The same refusal with on_route_error: quarantine: A is live, so B does
# not take over; it waits, not ready, naming the route and A.
variant "$T/b3.yaml" 's/^routes:$/routes:\
  - channel: \/topic\/SR\
    topic: it.sr/'
B3_PORT=$(sed -n 's/.*listen: 127.0.0.1:\([0-9]*\).*/\1/p' "$T/b3.yaml")
"$SFB_BUILD/sfbridge" run -c "$T/b3.yaml" >"$T/b3.out" 2>"$T/b3.log" </dev/null &
B3_PID=$!
track_pid "$B3_PID"
wait_for 15 grep -q "msg=start_held" "$T/b3.log" || not_ok "quarantine: B holds its start"
assert_file_contains "quarantine: B names the live instance" "$T/b3.log" "previous_instance=$A_INSTANCE"
body=$(curl -s --max-time 5 "http://127.0.0.1:$B3_PORT/readyz")
assert_contains "quarantine: B's /readyz says why" "$body" "start held: route /topic/SR refused"
wait_exit "$B3_PID" 15 TERM
assert_eq "quarantine: B stops cleanly on SIGTERM" 0 "$?"
assert_file_not_contains "quarantine: B never claimed" "$T/b3.log" "msg=claimed"
publish /topic/SA 3 >>"$T/ids"
a_healthy "quarantine" 12

# 4. Kafka unreachable: B retries without writing anything; SIGTERM exits 0.
variant "$T/b4.yaml" "s/bootstrap_servers: .*/bootstrap_servers: 127.0.0.1:$(free_port)/"
"$SFB_BUILD/sfbridge" run -c "$T/b4.yaml" >"$T/b4.out" 2>"$T/b4.log" </dev/null &
B4_PID=$!
track_pid "$B4_PID"
sleep 3
if _sfb_alive "$B4_PID"; then ok "no Kafka: B keeps trying"; else not_ok "no Kafka: B keeps trying"; fi
wait_exit "$B4_PID" 5 TERM
assert_eq "no Kafka: B stops cleanly and soon on SIGTERM" 0 "$?"
assert_file_not_contains "no Kafka: B never claimed" "$T/b4.log" "msg=claimed"
publish /topic/SA 3 >>"$T/ids"
a_healthy "no Kafka" 15

# 5. Salesforce unreachable (connection refused): retried with backoff, unclaimed.
variant "$T/b5.yaml" "s#login_url: .*#login_url: http://127.0.0.1:$(free_port)#"
"$SFB_BUILD/sfbridge" run -c "$T/b5.yaml" >"$T/b5.out" 2>"$T/b5.log" </dev/null &
B5_PID=$!
track_pid "$B5_PID"
wait_for 10 grep -q "msg=recovery cause=" "$T/b5.log" || not_ok "no Salesforce: B retries"
wait_exit "$B5_PID" 5 TERM
assert_eq "no Salesforce: B stops cleanly on SIGTERM" 0 "$?"
assert_file_not_contains "no Salesforce: B never claimed" "$T/b5.log" "msg=claimed"
publish /topic/SA 3 >>"$T/ids"
a_healthy "no Salesforce" 18

assert_eq "every event once" "$(sort -n "$T/ids" | tr '\n' ' ')" "$(keys_of it.sa | tr '\n' ' ')"
wait_exit "$A_PID" 15 TERM
assert_eq "A stops cleanly" 0 "$?"

# 6. A start that can work says whom it takes over from; after a clean stop
# (released) there is nobody.
mv "$T/bridge.log" "$T/a.log"
start_bridge "$T/a.yaml"
A2_PID=$BRIDGE_PID
wait_for 20 grep -q "msg=claimed" "$T/bridge.log" || not_ok "A2 starts"
assert_file_not_contains "after a clean stop no takeover is pending" "$T/bridge.log" "takeover_pending"
A2_INSTANCE=$(sed -n 's/.*msg=claimed .*instance=\([0-9a-f]*\).*/\1/p' "$T/bridge.log" | head -n 1)
variant "$T/c.yaml" ''
"$SFB_BUILD/sfbridge" run -c "$T/c.yaml" >"$T/c.out" 2>"$T/c.log" </dev/null &
C_PID=$!
track_pid "$C_PID"
wait_for 20 grep -q "msg=claimed" "$T/c.log" || not_ok "C claims"
line=$(grep "msg=takeover_pending" "$T/c.log")
assert_contains "takeover warning names the live instance" "$line" "previous_instance=$A2_INSTANCE"
assert_contains "takeover warning says when it claimed" "$line" "claimed_at=20"
wait_exit "$A2_PID" 15
assert_eq "the instance taken over from exits 3" 3 "$?"
wait_exit "$C_PID" 15 TERM
finish
