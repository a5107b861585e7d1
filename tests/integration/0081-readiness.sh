#!/bin/sh
# /healthz and /readyz: readiness is 503 with its reason while starting,
# during a silent stall and while Salesforce rejects the credentials in the
# middle of a run (the emulator comes back with another password), and 200
# again once the bridge recovered; /healthz stays 200 throughout, since the
# loop keeps running. The credentials' fix is picked up without a restart.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CH=/event/Ready__e
TP=it.ready

# probe PATH: print "STATUS BODY" of one GET on the metrics listener.
probe() {
        curl -s --max-time 5 -o "$T/probe.body" -w '%{http_code}' \
                "http://127.0.0.1:$METRICS_PORT$1" >"$T/probe.code" 2>/dev/null
        printf '%s %s\n' "$(cat "$T/probe.code")" "$(tr -d '\n' <"$T/probe.body")"
}

# readyz_says TEXT: /readyz answers 503 and its body holds TEXT (for wait_for).
readyz_says() {
        _r=$(probe /readyz)
        case "$_r" in
        "503 "*"$1"*) return 0 ;;
        esac
        return 1
}

# sfsim_restart PASSWORD: kill the emulator and start a new one on the same
# port, accepting PASSWORD for the password flow.
sfsim_restart() {
        _port=${SFSIM_URL##*:}
        kill -KILL "$SFSIM_PID" 2>/dev/null
        wait_exit "$SFSIM_PID" 5
        _sfsim_n=$((${_sfsim_n:-0} + 1))
        "$SFB_BUILD/sfsim" --listen "127.0.0.1:$_port" --connect-timeout-ms 2000 --single-host \
                --client-id "$SF_CLIENT_ID" --client-secret "$SF_CLIENT_SECRET" \
                --username "$SF_USERNAME" --password "$1" \
                >"$T/sfsim$_sfsim_n.out" 2>"$T/sfsim$_sfsim_n.err" </dev/null &
        SFSIM_PID=$!
        track_pid "$SFSIM_PID"
        wait_for 10 grep -q 'sfsim listening' "$T/sfsim$_sfsim_n.out"
}

start_kafka 3 || { not_ok "start kafka"; finish; }
# One host (--single-host): the restarts below come back on the same port,
# which the bridge reaches again at once; an instance host would come back
# on another port, found only after 30 s of connect retries (0110 shows that).
start_sfsim --connect-timeout-ms 2000 --single-host || { not_ok "start sfsim"; finish; }
SFB_STALL_S=4 write_config "$T/ready.yaml" it-obs-ready <<YAML
  - channel: $CH
    topic: $TP
    start: all
YAML
# With both sides answering, the bridge is ready within a fraction of a
# second: refuse the first handshakes so the starting state can be seen.
sfsim_admin POST "/admin/fault?kind=http-503&count=3" >/dev/null
start_bridge "$T/ready.yaml"

# --- Starting: alive, not ready -------------------------------------------
wait_for 10 sh -c "curl -s -o /dev/null --max-time 2 http://127.0.0.1:$METRICS_PORT/healthz"
r=$(probe /readyz)
case "$r" in
"503 not ready: starting"*|"503 not ready: not handshaken"*) ok "starting: /readyz is 503 with a reason ($r)" ;;
*) not_ok "starting: /readyz is 503 with a reason" "got [$r]" ;;
esac
assert_eq "starting: /healthz is 200" "200 ok" "$(probe /healthz)"
if wait_for 30 ready; then ok "ready"; else not_ok "ready"; finish; fi
assert_eq "ready: /readyz says so" "200 ready" "$(probe /readyz)"
assert_eq "ready: /healthz is 200" "200 ok" "$(probe /healthz)"
publish "$CH" 3 >>"$T/published.ids"
wait_for 30 kcat_has "$TP" 3

# --- A silent stall --------------------------------------------------------
sfsim_admin POST "/admin/fault?kind=stall" >/dev/null
start=$(date +%s)
if wait_for 12 readyz_says "stalled"; then
        ok "stall: /readyz is 503 'stalled' after $(( $(date +%s) - start )) s"
else
        not_ok "stall: /readyz is 503 'stalled'" "got [$(probe /readyz)]"
fi
assert_eq "stall: /healthz stays 200" "200 ok" "$(probe /healthz)"
assert_eq "stall: sfbridge_ready is 0" 0 "$(metric sfbridge_ready)"
sfsim_admin POST "/admin/fault?kind=clear" >/dev/null
if wait_for 15 ready; then ok "stall: ready again once the server answers"; else not_ok "stall: ready again"; fi
assert_eq "stall: sfbridge_ready back to 1" 1 "$(metric sfbridge_ready)"

# --- Credentials rejected during a run -------------------------------------
WRONG_PASSWORD=rotated-elsewhere-password
if sfsim_restart "$WRONG_PASSWORD"; then ok "emulator back with another password"; else not_ok "emulator back with another password"; fi
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
start=$(date +%s)
if wait_for 30 readyz_says "credentials rejected"; then
        ok "auth loss: /readyz is 503 'credentials rejected' after $(( $(date +%s) - start )) s"
else
        not_ok "auth loss: /readyz is 503 'credentials rejected'" "got [$(probe /readyz)]"
fi
assert_eq "auth loss: /healthz stays 200" "200 ok" "$(probe /healthz)"
assert_eq "auth loss: sfbridge_ready is 0" 0 "$(metric sfbridge_ready)"
n=$(metric 'sfbridge_recoveries_total{cause="auth_rejected",action="backoff"}')
if [ "${n:-0}" -ge 1 ]; then ok "auth loss: counted as auth_rejected ($n)"; else not_ok "auth loss: counted as auth_rejected" "got [$n]"; fi
assert_file_contains "auth loss: an error line with Salesforce's reason" "$T/bridge.log" "level=error msg=auth_rejected"
# README: every recovery is logged once with its cause label (msg=recovery cause=... action=...).
if grep -E '(^| )cause=auth_rejected( |$)' "$T/bridge.log" | grep -qE '(^| )action=backoff( |$)'; then
        ok "auth loss: logged with its cause label (cause=auth_rejected action=backoff)"
else
        not_ok "auth loss: logged with its cause label (cause=auth_rejected action=backoff)" \
                "the line is: $(grep -m 1 'msg=auth_rejected' "$T/bridge.log")"
fi
if _sfb_alive "$BRIDGE_PID"; then ok "auth loss: the bridge keeps running"; else not_ok "auth loss: the bridge keeps running"; fi
sleep 2
assert_eq "auth loss: still not ready while the credentials are refused" 1 \
        "$(readyz_says 'credentials rejected' && echo 1 || echo 0)"

# --- The admin's fix is picked up without a restart -------------------------
if sfsim_restart "$SF_PASSWORD"; then ok "emulator back with the bridge's password"; else not_ok "emulator back with the bridge's password"; fi
start=$(date +%s)
if wait_for 40 ready; then
        ok "auth fixed: ready again after $(( $(date +%s) - start )) s, no restart"
else
        not_ok "auth fixed: ready again" "got [$(probe /readyz)]"
fi
assert_eq "auth fixed: /readyz says ready" "200 ready" "$(probe /readyz)"
assert_eq "auth fixed: /healthz is 200" "200 ok" "$(probe /healthz)"
id=$(publish "$CH" 1 | tail -n 1)
if wait_for 20 sh -c "kcat -b $KAFKA_BOOTSTRAP -C -e -q -t $TP -o beginning -X isolation.level=read_committed -f '%k\n' 2>/dev/null | grep -qx '$id'"; then
        ok "auth fixed: delivering again"
else
        not_ok "auth fixed: delivering again" "replay ID $id not in Kafka"
fi

for f in "$T"/bridge.log "$T"/bridge.out; do
        assert_file_not_contains "no password in $(basename "$f")" "$f" "$SF_PASSWORD"
        assert_file_not_contains "no rotated password in $(basename "$f")" "$f" "$WRONG_PASSWORD"
        assert_file_not_contains "no client secret in $(basename "$f")" "$f" "$SF_CLIENT_SECRET"
done
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
