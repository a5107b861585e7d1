#!/bin/sh
# Logs: logfmt by default, one JSON object per line with --log-format json
# (every line of a run with recoveries parsed by a JSON parser), debug lines
# for each Bayeux message sent and answered (channel, advice, errors, event
# counts) and for OAuth (flow, HTTP status; never a secret), levels
# (--log-level warn hides info), a startup line naming version, config path,
# routes and delivery mode, one line per recovery with its cause (as many
# lines as sfbridge_recoveries_total counts), logs on stderr only, and never
# a secret: recognisable secrets are planted in SF_PASSWORD,
# SF_CLIENT_SECRET and a Kafka property, then every output is searched.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

CH=/event/Logs__e
TP=it.logs
CH2=/topic/LogsB
TP2=it.logs.b
VERSION=$(cat "$SFB_ROOT/VERSION")

# Planted secrets: any of them in any output is a leak.
SF_CLIENT_ID=obs-logs-client
SF_CLIENT_SECRET=CsPLANTED-client-secret-4b7e1d
SF_USERNAME=obs-logs@example.com
SF_PASSWORD=PwPLANTED-password-9c1e+TokPLANTED77
KAFKA_SASL_PASSWORD=KsPLANTED-sasl-password-31f0
export SF_CLIENT_ID SF_CLIENT_SECRET SF_USERNAME SF_PASSWORD KAFKA_SASL_PASSWORD
# sfsim's access tokens are "<15-char org id>!<serial><random>".
TOKEN_PREFIX='00D000000000001!'

# start_sfsim_planted: the emulator, accepting the planted credentials.
start_sfsim_planted() {
        "$SFB_BUILD/sfsim" --listen 127.0.0.1:0 --connect-timeout-ms 2000 \
                --client-id "$SF_CLIENT_ID" --client-secret "$SF_CLIENT_SECRET" \
                --username "$SF_USERNAME" --password "$SF_PASSWORD" \
                >"$T/sfsim.out" 2>"$T/sfsim.err" </dev/null &
        SFSIM_PID=$!
        track_pid "$SFSIM_PID"
        _line=$(_sfb_first_line "$T/sfsim.out" '^sfsim listening on http://' 15 "$SFSIM_PID") || return 1
        SFSIM_URL=${_line#sfsim listening on }
        SFSIM_URL=${SFSIM_URL%% *}
        export SFSIM_URL
}

# recoveries_of CAUSE: sum of sfbridge_recoveries_total{cause=CAUSE,*} now.
recoveries_of() {
        curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
                awk -v c="sfbridge_recoveries_total{cause=\"$1\"," \
                        'index($0, c) == 1 { s += $2 } END { print s + 0 }'
}

# recoveries_above CAUSE N: more than N recoveries with CAUSE (for wait_for).
recoveries_above() {
        [ "$(recoveries_of "$1")" -gt "$2" ]
}

# inject KIND CAUSE [COUNT]: arm an sfsim fault for COUNT requests (default
# 1), wait until the bridge counted a recovery with CAUSE and is ready again.
inject() {
        _before=$(recoveries_of "$2")
        case "$1" in
        revoke-tokens|forget-clients|disconnect) sfsim_admin POST "/admin/fault?kind=$1" >/dev/null ;;
        *) sfsim_admin POST "/admin/fault?kind=$1&count=${3:-1}" >/dev/null ;;
        esac
        if wait_for 15 recoveries_above "$2" "$_before" && wait_for 15 ready; then
                ok "$RUN: $1 -> recovery cause=$2, ready again"
        else
                not_ok "$RUN: $1 -> recovery cause=$2, ready again" "recoveries with cause $2: $(recoveries_of "$2")"
        fi
}

# no_secret NAME FILE...: none of the planted secrets, nor an access token,
# in FILE. Reports file and line number only, never the secret itself.
no_secret() {
        _ns_name=$1
        shift
        _ns_hits=""
        for _ns_f in "$@"; do
                [ -f "$_ns_f" ] || continue
                for _ns_s in "$SF_PASSWORD" "$SF_CLIENT_SECRET" "$KAFKA_SASL_PASSWORD" \
                             "TokPLANTED77" "$TOKEN_PREFIX" "Bearer "; do
                        _ns_l=$(grep -nF -- "$_ns_s" "$_ns_f" | cut -d: -f1 | head -n 3 | tr '\n' ' ')
                        [ -n "$_ns_l" ] && _ns_hits="$_ns_hits $(basename "$_ns_f") line(s) $_ns_l;"
                done
        done
        if [ -z "$_ns_hits" ]; then ok "$_ns_name"; else not_ok "$_ns_name" "secret found in:$_ns_hits"; fi
}

# recovery_lines_match NAME SCRAPE LOG FORMAT: for every series of
# sfbridge_recoveries_total{cause,action} in SCRAPE, LOG holds exactly that
# many lines with that cause and action (logfmt keys or JSON members).
recovery_lines_match() {
        sed -n 's/^sfbridge_recoveries_total{cause="\([^"]*\)",action="\([^"]*\)"} \([0-9][0-9]*\)$/\1 \2 \3/p' \
                "$2" >"$T/recoveries.tab"
        if [ ! -s "$T/recoveries.tab" ]; then
                not_ok "$1: recoveries counted" "no sfbridge_recoveries_total series in $2"
                return
        fi
        while read -r _c _a _n; do
                if [ "$4" = json ]; then
                        _got=$(python3 -c '
import json, sys
c, a = sys.argv[1], sys.argv[2]
n = 0
for line in open(sys.argv[3]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if isinstance(o, dict) and o.get("cause") == c and o.get("action") == a:
        n += 1
print(n)' "$_c" "$_a" "$3")
                else
                        _got=$(grep -E "(^| )cause=$_c( |$)" "$3" | grep -cE "(^| )action=$_a( |$)")
                fi
                if [ "$_got" = "$_n" ]; then
                        ok "$1: cause=$_c action=$_a counted $_n, logged $_got"
                else
                        not_ok "$1: cause=$_c action=$_a counted $_n, logged $_got" \
                                "one log line per recovery, with its cause and action"
                fi
        done <"$T/recoveries.tab"
}

start_kafka 3 || { not_ok "start kafka"; finish; }
start_sfsim_planted || { not_ok "start sfsim"; finish; }
KAFKA_EXTRA='  properties:
    sasl.password: ${KAFKA_SASL_PASSWORD}' write_config "$T/logs.yaml" it-obs-logs <<YAML
  - channel: $CH
    topic: $TP
    start: all
  - channel: $CH2
    topic: $TP2
    start: all
YAML
assert_file_contains "config references the secrets only as \${VAR}" "$T/logs.yaml" 'password: ${SF_PASSWORD}'

# --- Bad flags: exit 2 naming the flag ---------------------------------------
"$SFB_BUILD/sfbridge" run -c "$T/logs.yaml" --log-format xml >"$T/badfmt.out" 2>"$T/badfmt.err" </dev/null
assert_eq "--log-format xml: exit 2" 2 "$?"
assert_file_contains "--log-format xml: says what is wrong" "$T/badfmt.err" "log-format"
"$SFB_BUILD/sfbridge" run -c "$T/logs.yaml" --log-level loud >"$T/badlvl.out" 2>"$T/badlvl.err" </dev/null
assert_eq "--log-level loud: exit 2" 2 "$?"
assert_file_contains "--log-level loud: says what is wrong" "$T/badlvl.err" "log-level"
"$SFB_BUILD/sfbridge" check -c "$T/logs.yaml" >"$T/check.out" 2>"$T/check.err" </dev/null
assert_eq "check: exit 0" 0 "$?"

# --- Run 1: the default, logfmt at info --------------------------------------
RUN=logfmt
start_bridge "$T/logs.yaml"
if wait_for 30 ready; then ok "$RUN: ready"; else not_ok "$RUN: ready"; finish; fi
publish "$CH" 3 >/dev/null
inject revoke-tokens auth_invalid
inject forget-clients unknown_client
publish "$CH2" 2 >/dev/null
inject disconnect server_disconnect
inject http-503 http_5xx
inject malformed malformed_response
inject too-busy too_busy
# libcurl silently retries a request whose reused connection died before
# any answer, once: the second close is the bridge's to handle.
inject close-mid-poll transport 2
publish "$CH" 2 >/dev/null
wait_for 30 kcat_has "$TP" 5
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/logfmt.metrics"
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/readyz" >"$T/logfmt.readyz"
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/healthz" >"$T/logfmt.healthz"
stop_bridge TERM
assert_eq "$RUN: clean stop" 0 "$BRIDGE_RC"
mv "$T/bridge.log" "$T/logfmt.log"
mv "$T/bridge.out" "$T/logfmt.stdout" 2>/dev/null || : >"$T/logfmt.stdout"

bad=$(grep -cvE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=(debug|info|warn|error) msg=[a-z_]+( [a-z_.]+=.*)?$' "$T/logfmt.log")
assert_eq "$RUN: every line is ts=... level=... msg=... key=value ($(wc -l <"$T/logfmt.log" | tr -d ' ') lines)" 0 "$bad"
[ "$bad" = 0 ] || grep -vE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=(debug|info|warn|error) msg=[a-z_]+( [a-z_.]+=.*)?$' "$T/logfmt.log" | head -n 5 | sed 's/^/#   /'
assert_eq "$RUN: no debug line at the default level" 0 "$(grep -c ' level=debug ' "$T/logfmt.log")"
first=$(head -n 1 "$T/logfmt.log")
assert_contains "$RUN: the first line is the startup line" "$first" " level=info msg=starting "
assert_contains "$RUN: startup line names the version" "$first" " version=$VERSION "
case "$first" in
*" config=$T/logs.yaml "*|*" config=\"$T/logs.yaml\" "*) ok "$RUN: startup line names the config path" ;;
*) not_ok "$RUN: startup line names the config path" "no config=$T/logs.yaml in: $first" ;;
esac
assert_contains "$RUN: startup line names the delivery mode" "$first" " delivery=exactly_once"
# logfmt quotes a value only when a reader needs it (a blank, '=', a quote).
case "$first" in
*" routes=$CH->$TP,$CH2->$TP2"|*" routes=$CH->$TP,$CH2->$TP2 "*) ok "$RUN: startup line names the routes" ;;
*) not_ok "$RUN: startup line names the routes" "no routes=$CH->$TP,$CH2->$TP2 in: $first" ;;
esac
for c in auth_invalid unknown_client server_disconnect http_5xx malformed_response too_busy transport; do
        n=$(grep -cE " level=warn msg=recovery cause=$c action=[a-z_]+ " "$T/logfmt.log")
        if [ "$n" -ge 1 ]; then
                ok "$RUN: warn line msg=recovery cause=$c action=... ($n)"
        else
                not_ok "$RUN: warn line msg=recovery cause=$c action=..." "none in the log"
        fi
done
recovery_lines_match "$RUN" "$T/logfmt.metrics" "$T/logfmt.log" logfmt
assert_eq "$RUN: nothing on stdout (logs go to stderr)" 0 "$(wc -c <"$T/logfmt.stdout" | tr -d ' ')"

# --- Run 2: --log-format json, at debug --------------------------------------
RUN=json
# A config path with a space: the startup object must still name it whole.
JSON_CFG="$T/json dir/logs json.yaml"
mkdir -p "$T/json dir"
sed 's/^name: it-obs-logs$/name: it-obs-logs-json/' "$T/logs.yaml" >"$JSON_CFG"
start_bridge "$JSON_CFG" --log-format json --log-level debug
if wait_for 30 ready; then ok "$RUN: ready"; else not_ok "$RUN: ready"; finish; fi
inject revoke-tokens auth_invalid
inject forget-clients unknown_client
inject malformed malformed_response
inject http-503 http_5xx
inject disconnect server_disconnect
publish "$CH" 2 >/dev/null
wait_for 30 kcat_has "$TP" 7
curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/json.metrics"
stop_bridge TERM
assert_eq "$RUN: clean stop" 0 "$BRIDGE_RC"
mv "$T/bridge.log" "$T/json.log"
mv "$T/bridge.out" "$T/json.stdout" 2>/dev/null || : >"$T/json.stdout"

python3 - "$T/json.log" "$JSON_CFG" "$VERSION" "$CH->$TP,$CH2->$TP2" >"$T/json.check" 2>&1 <<'PY'
import json, sys
path, cfg, version, routes = sys.argv[1:5]
objs = []
with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            print("not ok json: line %d is not JSON (%s): %s" % (n, e, line[:300].rstrip()))
            sys.exit(0)
        objs.append(o)
print("ok json: every one of the %d lines parses as JSON" % len(objs))
bad = [i + 1 for i, o in enumerate(objs)
       if not isinstance(o, dict) or not all(isinstance(o.get(k), str) for k in ("ts", "level", "msg"))
       or o["level"] not in ("debug", "info", "warn", "error")]
print(("ok" if not bad else "not ok") + " json: every line is an object with ts, level, msg" +
      ("" if not bad else " (lines %s)" % bad[:5]))
start = objs[0] if objs else {}
print(("ok" if start.get("msg") == "starting" else "not ok") + " json: the first object is the startup line")
for k, want in (("version", version), ("config", cfg), ("delivery", "exactly_once"), ("routes", routes)):
    got = start.get(k)
    print(("ok" if str(got) == want else "not ok") + " json: startup names %s (%s)" % (k, got))
dup = [k for k in ("text",) if k in start]
print(("ok" if not dup else "not ok") +
      " json: startup object has no stray 'text' member (a value split at a space)")
rec = [o for o in objs if o.get("msg") == "recovery"]
missing = [o for o in rec if not o.get("cause") or not o.get("action")]
print(("ok" if rec and not missing else "not ok") +
      " json: %d recovery objects, each with cause and action" % len(rec))
for c in ("auth_invalid", "unknown_client", "malformed_response", "http_5xx", "server_disconnect"):
    k = sum(1 for o in rec if o.get("cause") == c)
    print(("ok" if k == 1 else "not ok") + " json: one recovery object with cause %s (%d)" % (c, k))
# --log-level debug says what went over the wire.
dbg = [o for o in objs if o.get("level") == "debug"]
def has(what, pred):
    n = sum(1 for o in dbg if pred(o))
    print(("ok" if n else "not ok") + " json debug: %s (%d)" % (what, n))
sent = lambda ch: (lambda o: o.get("msg") == "bayeux_send" and o.get("channel") == ch)
reply = lambda ch: (lambda o: o.get("msg") == "bayeux_reply" and o.get("channel") == ch)
has("/meta/handshake sent", sent("/meta/handshake"))
for ch in routes.split(","):
    ch = ch.split("->")[0]
    has("/meta/subscribe sent for %s with its replay ID" % ch,
        lambda o, ch=ch: sent("/meta/subscribe")(o) and o.get("subscription") == ch
        and isinstance(o.get("replay_from"), int))
has("/meta/connect sent", sent("/meta/connect"))
has("/meta/disconnect sent at the stop", sent("/meta/disconnect"))
has("/meta/handshake answered successful=true",
    lambda o: reply("/meta/handshake")(o) and o.get("successful") == "true")
has("/meta/subscribe answered with the subscription",
    lambda o: reply("/meta/subscribe")(o) and o.get("subscription") in [r.split("->")[0] for r in routes.split(",")])
has("/meta/connect answered with advice reconnect=retry, interval and timeout",
    lambda o: reply("/meta/connect")(o) and o.get("reconnect") == "retry"
    and isinstance(o.get("interval_ms"), int) and isinstance(o.get("timeout_ms"), int) and o["timeout_ms"] > 0)
has("a reply with the server's error (the revoked token)",
    lambda o: o.get("msg") == "bayeux_reply" and o.get("error", "").startswith("401::"))
has("a reply with advice reconnect=handshake (the forgotten client)",
    lambda o: o.get("msg") == "bayeux_reply" and o.get("reconnect") == "handshake")
has("an answer counting its events",
    lambda o: o.get("msg") == "bayeux_answer" and isinstance(o.get("events"), int) and o["events"] > 0)
has("an HTTP error status (the injected 503)",
    lambda o: o.get("msg") == "bayeux_answer" and o.get("http_status") == 503)
has("the OAuth request (flow, no secret)",
    lambda o: o.get("msg") == "oauth_request" and o.get("flow") == "password")
has("the OAuth answer's HTTP status",
    lambda o: o.get("msg") == "oauth_response" and o.get("http_status") == 200)
PY
# The checker's verdicts go through ok/not_ok so finish() counts them.
while IFS= read -r line; do
        case "$line" in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        *) not_ok "json checker: $line" ;;
        esac
done <"$T/json.check"
[ -s "$T/json.check" ] || not_ok "json checker ran"
recovery_lines_match "$RUN" "$T/json.metrics" "$T/json.log" json
assert_eq "$RUN: nothing on stdout" 0 "$(wc -c <"$T/json.stdout" | tr -d ' ')"

# --- Run 3: --log-level warn hides info --------------------------------------
RUN=warn
sed 's/^name: it-obs-logs$/name: it-obs-logs-warn/' "$T/logs.yaml" >"$T/logs-warn.yaml"
start_bridge "$T/logs-warn.yaml" --log-level warn
if wait_for 30 ready; then ok "$RUN: ready"; else not_ok "$RUN: ready"; finish; fi
inject revoke-tokens auth_invalid
publish "$CH" 1 >/dev/null
wait_for 30 kcat_has "$TP" 8
stop_bridge TERM
assert_eq "$RUN: clean stop" 0 "$BRIDGE_RC"
mv "$T/bridge.log" "$T/warn.log"
assert_eq "$RUN: no info line" 0 "$(grep -c ' level=info ' "$T/warn.log")"
assert_eq "$RUN: no debug line" 0 "$(grep -c ' level=debug ' "$T/warn.log")"
assert_eq "$RUN: the startup line (info) is hidden" 0 "$(grep -c ' msg=starting ' "$T/warn.log")"
assert_eq "$RUN: the recovery (warn) is still logged" 1 \
        "$(grep -c ' level=warn msg=recovery cause=auth_invalid ' "$T/warn.log")"

# --- Secrets: every output of every run ---------------------------------------
no_secret "no secret in the logfmt log" "$T/logfmt.log"
no_secret "no secret in the JSON log" "$T/json.log"
no_secret "no secret in the warn log" "$T/warn.log"
no_secret "no secret on stdout" "$T/logfmt.stdout" "$T/json.stdout"
no_secret "no secret in /metrics" "$T/logfmt.metrics" "$T/json.metrics"
no_secret "no secret in /readyz, /healthz" "$T/logfmt.readyz" "$T/logfmt.healthz"
no_secret "no secret in check's output" "$T/check.out" "$T/check.err"
no_secret "no secret in bad-flag errors" "$T/badfmt.out" "$T/badfmt.err" "$T/badlvl.out" "$T/badlvl.err"
finish
