#!/bin/sh
# The emulator is killed and restarted on the same port. Its tokens and
# events are gone (as after a real outage with state loss): the bridge logs
# in again, finds its stored replay ID unknown, applies on_invalid_replay
# (all), and delivers what the new server publishes. The new server numbers
# its events far above the old one's, as Salesforce never reuses a replay ID:
# with both counting from the same base the accounting below would take the
# new events for duplicates whenever the bridge came back before the stream.
# Its instance hosts come back on other ports: the bridge, finding the
# cached instance host gone, logs in again to learn the new one.
. "$SFB_ROOT/tests/integration/fault.inc.sh"
fault_setup it-f-restart
publish "$FAULT_CHANNEL" 50 >>"$T/published.ids"
wait_for 30 kcat_has "$FAULT_TOPIC" 50
port=${SFSIM_URL##*:}
kill -KILL "$SFSIM_PID"
wait_exit "$SFSIM_PID" 5
sleep 2
"$SFB_BUILD/sfsim" --listen "127.0.0.1:$port" --connect-timeout-ms 2000 \
        --first-replay-id 50000000001 \
        --client-id "$SF_CLIENT_ID" --client-secret "$SF_CLIENT_SECRET" \
        --username "$SF_USERNAME" --password "$SF_PASSWORD" >"$T/sfsim2.out" 2>"$T/sfsim2.err" &
SFSIM_PID=$!
track_pid "$SFSIM_PID"
wait_for 10 grep -q 'sfsim listening' "$T/sfsim2.out" && ok "emulator back on port $port" || not_ok "emulator back on port $port"
stream_start 10 20 0.2
stream_wait
# The bridge first retries its /meta/connect on the same clientId for 30 s
# (the instance host may come back), then finds the handshake unanswered
# too and logs in again: allow for the 30 s.
recovered_within 45 "after the emulator restart"
expect_delivery "emulator restart"
log_has "transport failure logged" "cause=transport"
log_has "a re-login when the instance host is gone" "msg=relogin cause=instance_unreachable"
fault_finish
