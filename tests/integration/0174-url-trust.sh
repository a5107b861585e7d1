#!/bin/sh
# Trust no URL (issue 14, item 3). sfsim serves https and plays a hostile
# token endpoint (/admin/token-answer). The bridge must refuse, before any
# request, an instance_url that is gopher:// (a listening TCP port gets no
# byte), on a foreign host, or plain http while login_url is https, and an
# access_token holding CR LF (it would inject a request header): at start
# with exit 3 and a message naming salesforce.allowed_hosts, during a run
# as a counted recovery that never exits. salesforce.allowed_hosts lets a
# listed host through.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"
[ -f "$SFB_ROOT/tests/certs/server.pem" ] || sh "$SFB_ROOT/tests/gen-certs.sh" "$SFB_ROOT/tests/certs" >/dev/null
C="$SFB_ROOT/tests/certs"
start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --tls-cert "$C/server.pem" --tls-key "$C/server.key" --connect-timeout-ms 2000 ||
        { not_ok start_sfsim; finish; }
case "$SFSIM_URL" in https://*) ok "emulator serves https" ;; *) not_ok "emulator serves https" "$SFSIM_URL"; finish ;; esac

# A TCP listener that counts the bytes anyone sends it (gives up after 150 s).
timeout -k 2 150 python3 -c '
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
total = 0
lock = threading.Lock()
def serve(c):
    global total
    c.settimeout(5)
    try:
        while True:
            b = c.recv(4096)
            if not b: break
            with lock:
                total += len(b)
                open(sys.argv[1], "w").write("%d\n" % total)
    except Exception: pass
    c.close()
open(sys.argv[1], "w").write("0\n")
while True:
    c, _ = s.accept()
    with lock:
        open(sys.argv[1] + ".conns", "a").write("1\n")
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$T/sink.bytes" >"$T/sink.port" 2>"$T/sink.err" &
SINK_PID=$!
track_pid "$SINK_PID"
wait_for 10 test -s "$T/sink.port" || { not_ok "byte sink listening"; finish; }
SINK=$(cat "$T/sink.port")
sink_untouched() {
        _b=$(cat "$T/sink.bytes" 2>/dev/null)
        _c=$(cat "$T/sink.bytes.conns" 2>/dev/null | wc -l | tr -d ' ')
        assert_eq "$1: the listening port got no connection and no byte" "0 0" "${_b:-0} $_c"
}

stats_num() {
        sfsim_admin GET /admin/stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
inst=$(sfsim_admin GET /admin/stats | sed -n 's/.*"instance_url":"\([^"]*\)".*/\1/p')
inst_port=${inst##*:}
note "login $SFSIM_URL, instance $inst, byte sink 127.0.0.1:$SINK"

token_answer() {
        sfsim_admin POST "/admin/token-answer?$1" >/dev/null ||
                not_ok "sfsim /admin/token-answer?$1"
}

write_config "$T/b.yaml" it-urltrust <<'YAML'
  - channel: /topic/Trust
    topic: it.trust
    start: all
YAML

# at_start NAME QUERY EVENT [HINT]: with the token endpoint answering QUERY,
# the bridge logs EVENT, exits 3 (its message holding HINT) and never
# handshakes.
at_start() {
        : >"$T/bridge.log"
        hs0=$(stats_num handshakes)
        token_answer "$2"
        start_bridge "$T/b.yaml"
        wait_exit "$BRIDGE_PID" 30
        assert_eq "$1: exit 3 at start" 3 "$?"
        assert_file_contains "$1: logged as $3" "$T/bridge.log" "$3"
        [ -n "${4:-}" ] && assert_file_contains "$1: the message says $4" "$T/bridge.log" "$4"
        assert_eq "$1: no handshake reached Salesforce" "$hs0" "$(stats_num handshakes)"
        assert_file_not_contains "$1: the injected header never shows" "$T/bridge.log" "X-Sfsim-Injected"
        cp "$T/bridge.log" "$T/bridge-$(echo "$1" | tr -c 'a-z0-9\n' '-').log"
}

at_start "gopher" "instance_url=gopher://127.0.0.1:$SINK" "msg=instance_url_rejected cause=scheme host=127.0.0.1" \
        "msg=fatal exit=3 err=\"login (password flow) refused by sfbridge: the token endpoint named an instance_url"
sink_untouched "gopher"
at_start "plain http under an https login" "instance_url=http://127.0.0.1:$SINK" \
        "msg=instance_url_rejected cause=plain_http host=127.0.0.1" "salesforce.allowed_hosts"
sink_untouched "plain http"
at_start "foreign host" "instance_url=https://localhost:$inst_port" "msg=instance_url_rejected cause=host host=localhost" \
        "If that host is right, list it in salesforce.allowed_hosts"
at_start "CR LF in access_token" "access_token=crlf" "msg=token_rejected flow=password field=access_token" \
        "access_token holds control characters"

# salesforce.allowed_hosts lets a host through: localhost (in the test
# certificate) serves the org's instance.
SF_EXTRA="  allowed_hosts: localhost" write_config "$T/allowed.yaml" it-urltrust <<'YAML'
  - channel: /topic/Trust
    topic: it.trust
    start: all
YAML
publish /topic/Trust 3 >"$T/ids"
: >"$T/bridge.log"
token_answer "instance_url=https://localhost:$inst_port"
start_bridge "$T/allowed.yaml"
if wait_for 30 kcat_has it.trust 3; then ok "allowed_hosts: the listed host serves the org"; else not_ok "allowed_hosts: the listed host serves the org"; fi
assert_file_contains "allowed_hosts: logged in on the listed host" "$T/bridge.log" "instance_url=https://localhost:$inst_port "

# During a run: the next login names the byte sink. A counted recovery with
# backoff; no exit, no byte; once the answer is right the bridge goes on.
token_answer "instance_url=gopher://127.0.0.1:$SINK"
sfsim_admin POST "/admin/fault?kind=revoke-tokens" >/dev/null
# revoke-tokens moves the org to sfsim's other instance host.
inst=$(sfsim_admin GET /admin/stats | sed -n 's/.*"instance_url":"\([^"]*\)".*/\1/p')
inst_port=${inst##*:}
if wait_for 20 grep -q "msg=instance_url_rejected cause=scheme" "$T/bridge.log"; then
        ok "during a run: the gopher URL is refused"
else
        not_ok "during a run: the gopher URL is refused"
fi
token_answer "access_token=crlf"
if wait_for 20 grep -q "msg=token_rejected" "$T/bridge.log"; then
        ok "during a run: the CR LF token is refused"
else
        not_ok "during a run: the CR LF token is refused"
fi
if kill -0 "$BRIDGE_PID" 2>/dev/null; then ok "during a run: no exit"; else not_ok "during a run: no exit"; fi
assert_eq "during a run: the refused URL counted as a recovery" 1 \
        "$([ "$(metric 'sfbridge_recoveries_total{cause="instance_url_rejected",action="backoff"}')" -ge 1 ] 2>/dev/null && echo 1)"
assert_eq "during a run: the refused token counted as a recovery" 1 \
        "$([ "$(metric 'sfbridge_recoveries_total{cause="token_rejected",action="backoff"}')" -ge 1 ] 2>/dev/null && echo 1)"
ready && not_ok "during a run: not ready while refused" || ok "during a run: not ready while refused"
sink_untouched "during a run"
publish /topic/Trust 2 >>"$T/ids"
token_answer "instance_url=https://localhost:$inst_port"
if wait_for 90 kcat_has it.trust 5; then ok "during a run: delivering again once the answer is right"; else not_ok "during a run: delivering again once the answer is right"; fi
assert_file_not_contains "no injected header in the log" "$T/bridge.log" "X-Sfsim-Injected"
stop_bridge TERM
assert_eq "clean stop" 0 "$BRIDGE_RC"
finish
