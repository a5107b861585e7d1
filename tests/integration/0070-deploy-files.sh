#!/bin/sh
# The deployment files: deploy/Dockerfile, docker-compose.yml,
# deploy/kubernetes/*.yaml, deploy/sfbridge.service and the configs of
# deploy/compose/. No container engine here, so nothing is built with docker;
# instead:
#   - docker-compose (Debian's 1.29) validates the compose file, with and
#     without the demo profile (and rejects a broken copy, so it does check);
#   - systemd-analyze verifies the unit without a single warning and rates
#     its sandbox;
#   - docker-compose validates docker-compose.ha.yml over the base file (the
#     replica group: --scale sfbridge=2);
#   - tests/deploy-check.py checks the Dockerfile, the Kubernetes manifests
#     (the kustomization applies no Secret; the memory limit follows
#     kafka.max_in_flight_bytes) and their HA variant deploy/kubernetes/ha
#     (rendered as kustomize would: replicas, rolling update, disruption
#     budget, spread, a coordination: config), deploy/monitoring (dashboard JSON, the
#     alerts, the PodMonitor's pods and port), the resolved compose file, the
#     unit and the README statically; no shipped config but the demo's has a
#     default bridge name or replay topic;
#   - promtool checks the alert rules and runs their unit tests;
#   - every shipped config passes `sfbridge check` with the environment the
#     deployment gives it;
#   - the Dockerfile's build stages are replayed outside docker (their COPY
#     lines into an empty directory, their make targets), and every library
#     the binaries need must be installed by the runtime stages;
#   - the compose demo is run with local processes: sfsim with the compose
#     service's arguments, the bridge with deploy/compose/demo.yaml, the
#     Kubernetes probe paths and the Dockerfile's HEALTHCHECK against it, and
#     the compose kcat reader's arguments reading what it produced; the
#     Grafana dashboard must have a panel for every metric family its
#     /metrics exposes, and for every group-mode family (metrics.c in group
#     mode, rendered by build/tests/unit/test_metrics).
# A missing tool is a failure naming the Debian package, never a skip.
. "$SFB_ROOT/tests/integration/helpers.sh"
cd "$SFB_ROOT" || exit 1

VERSION=$(cat VERSION)
IMAGE="sfbridge:$VERSION"
note "image name: $IMAGE"

# --- tools ----------------------------------------------------------------
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
have_py=0
if [ -n "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null; then
        have_py=1
        ok "python3 with PyYAML"
else
        not_ok "python3 with PyYAML" "install the Debian package python3-yaml"
fi
have() { # have TOOL PACKAGE
        if command -v "$1" >/dev/null 2>&1; then
                ok "tool $1 available"
                return 0
        fi
        not_ok "tool $1 available" "$1 not found: install the Debian package $2"
        return 1
}
have_dc=0; have docker-compose docker-compose && have_dc=1
have_sa=0; have systemd-analyze systemd && have_sa=1
for t in "openssl openssl" "curl curl" "kcat kcat" "readelf binutils" "make make"; do
        set -- $t
        have "$1" "$2"
done

# Commands run with a clean environment, so neither the caller's SF_*
# variables nor anything else leaks into what is checked (or printed).
clean_env() {
        env -i PATH="$PATH" HOME="$T" LANG=C.UTF-8 \
                ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
                LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$@"
}
dc() {
        clean_env docker-compose --project-directory "$SFB_ROOT" "$@"
}

# --- docker-compose -------------------------------------------------------
if [ "$have_dc" = 1 ]; then
        note "$(docker-compose version --short 2>/dev/null || docker-compose version | head -n 1)"
        if dc -f docker-compose.yml config -q >"$T/dc.err" 2>&1 && [ ! -s "$T/dc.err" ]; then
                ok "docker-compose config -q accepts docker-compose.yml"
        else
                not_ok "docker-compose config -q accepts docker-compose.yml" "$(head -c 1500 "$T/dc.err")"
        fi
        if dc -f docker-compose.yml --profile demo config -q >"$T/dc.err" 2>&1 && [ ! -s "$T/dc.err" ]; then
                ok "docker-compose --profile demo config -q accepts it"
        else
                not_ok "docker-compose --profile demo config -q accepts it" "$(head -c 1500 "$T/dc.err")"
        fi
        dc -f docker-compose.yml --profile demo config >"$T/compose.yml" 2>"$T/dc.err" ||
                not_ok "docker-compose config prints the resolved file" "$(head -c 1500 "$T/dc.err")"
        out=$(env -i PATH="$PATH" HOME="$T" SFB_CONFIG=demo.yaml \
                docker-compose --project-directory "$SFB_ROOT" -f docker-compose.yml config 2>&1)
        assert_contains "SFB_CONFIG=demo.yaml makes the bridge run the demo config" \
                "$out" "/etc/sfbridge/demo.yaml"
        # The validator must be able to fail: an unknown option is refused.
        sed 's/^  sfbridge:$/  sfbridge:\n    no_such_option: 1/' docker-compose.yml >"$T/bad-compose.yml"
        if ! grep -q no_such_option "$T/bad-compose.yml"; then
                not_ok "docker-compose config rejects an unknown option" "could not make the broken copy"
        elif dc -f "$T/bad-compose.yml" config -q >"$T/dc.err" 2>&1; then
                not_ok "docker-compose config rejects an unknown option" "it accepted it"
        else
                ok "docker-compose config rejects an unknown option"
        fi
        # The HA override (README "Deploying replicas"): valid with the base
        # file, runs the group config, publishes the metrics port from a range.
        if clean_env SFB_METRICS_HOST_PORTS=9464-9466 docker-compose --project-directory "$SFB_ROOT" \
                -f docker-compose.yml -f docker-compose.ha.yml config >"$T/compose-ha.yml" 2>"$T/dc.err" &&
                [ ! -s "$T/dc.err" ]; then
                ok "docker-compose config accepts docker-compose.yml + docker-compose.ha.yml"
                if [ "$have_py" = 1 ]; then
                        "$PY" tests/deploy-check.py compose-ha "$SFB_ROOT" "$T/compose-ha.yml" >"$T/compose-ha.out" 2>&1
                        compose_ha_out="$T/compose-ha.out"
                fi
        else
                not_ok "docker-compose config accepts docker-compose.yml + docker-compose.ha.yml" \
                        "$(head -c 1500 "$T/dc.err")"
        fi
else
        not_ok "docker-compose checks ran" "no docker-compose"
fi

# --- systemd unit ---------------------------------------------------------
# verify needs ExecStart's binary to exist: a copy of the unit pointing at
# the built one. It only warns (exit 0) on unknown keys or bad values, so any
# output at all is a failure.
if [ "$have_sa" = 1 ]; then
        mkdir -p "$T/unit"
        sed "s|/usr/local/bin/sfbridge|$SFB_BUILD/sfbridge|g" deploy/sfbridge.service \
                >"$T/unit/sfbridge.service"
        if systemd-analyze verify "$T/unit/sfbridge.service" >"$T/verify.out" 2>&1 &&
                [ ! -s "$T/verify.out" ]; then
                ok "systemd-analyze verify accepts deploy/sfbridge.service without a warning"
        else
                not_ok "systemd-analyze verify accepts deploy/sfbridge.service without a warning" \
                        "$(head -c 1500 "$T/verify.out")"
        fi
        mkdir -p "$T/badunit"
        sed 's/^RestartPreventExitStatus=.*/RestartPreventExitStatus=banana/' \
                "$T/unit/sfbridge.service" >"$T/badunit/sfbridge.service"
        systemd-analyze verify "$T/badunit/sfbridge.service" >"$T/verify.out" 2>&1
        if [ -s "$T/verify.out" ]; then
                ok "systemd-analyze verify reports a bad value"
        else
                not_ok "systemd-analyze verify reports a bad value" "no output for RestartPreventExitStatus=banana"
        fi
        systemd-analyze security --offline=true "$T/unit/sfbridge.service" >"$T/security.out" 2>&1
        level=$(sed -n 's/.*Overall exposure level for sfbridge.service: \([0-9.]*\).*/\1/p' "$T/security.out")
        if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
                ok "systemd-analyze security: exposure $level <= 2.0"
        else
                not_ok "systemd-analyze security: exposure <= 2.0" "level [$level]: $(tail -n 3 "$T/security.out")"
        fi
else
        not_ok "systemd-analyze checks ran" "no systemd-analyze"
fi

# --- static checks --------------------------------------------------------
# tests/deploy-check.py prints ok / not ok lines; relay them into this
# script's count.
relay() {
        while IFS= read -r line; do
                case "$line" in
                "ok "*) ok "${line#ok }" ;;
                "not ok "*) not_ok "${line#not ok }" ;;
                *) echo "$line" ;;
                esac
        done <"$1"
}
compose_file=-
[ -s "$T/compose.yml" ] && compose_file="$T/compose.yml"
if [ "$have_py" = 1 ]; then
        "$PY" tests/deploy-check.py static "$SFB_ROOT" "$compose_file" >"$T/static.out" 2>&1
        rc=$?
        relay "$T/static.out"
        grep -q '^ok ' "$T/static.out" || not_ok "deploy-check.py static ran" "exit $rc"
        if [ -n "${compose_ha_out:-}" ]; then
                relay "$compose_ha_out"
                grep -q '^ok ' "$compose_ha_out" || not_ok "deploy-check.py compose-ha ran"
        fi
        mkdir -p "$T/x"
        "$PY" tests/deploy-check.py extract "$SFB_ROOT" "$compose_file" "$T/x" >"$T/extract.out" 2>&1 ||
                not_ok "deploy-check.py extract" "$(head -c 1500 "$T/extract.out")"
else
        not_ok "static checks ran" "needs python3-yaml"
fi

# --- every shipped config passes `sfbridge check` ---------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sf-jwt.pem" 2>/dev/null ||
        not_ok "a throwaway JWT key" "openssl genpkey failed"

# The shipped configs set kafka.max_in_flight_bytes (issue 11), which a
# binary built before that key cannot read: for such a binary only, `check`
# gets a copy without that line (said in a note), so the rest still counts.
# sfb_check NAME CONFIG VAR=value...: `sfbridge check` in a clean environment.
sfb_check() {
        _name=$1 _cfg=$2
        shift 2
        clean_env "$@" "$SFB_BUILD/sfbridge" check -c "$_cfg" >"$T/check.out" 2>"$T/check.err"
        _rc=$?
        if [ "$_rc" = 0 ] && grep -q "test is successful" "$T/check.out"; then
                ok "$_name"
        else
                not_ok "$_name" "exit $_rc: $(head -c 1000 "$T/check.err")"
        fi
}
sfb_check "check accepts deploy/compose/sfbridge.yaml (JWT, credentials from the environment)" \
        deploy/compose/sfbridge.yaml SF_CLIENT_ID=ci-client-id SF_USERNAME=ci@example.com \
        SF_PRIVATE_KEY_FILE="$T/sf-jwt.pem" SFB_NAME=team-a.accounts
assert_file_contains "the bridge's name comes from SFB_NAME" "$T/check.out" "name: team-a.accounts"
assert_file_contains "its replay topic is derived from it" "$T/check.out" \
        "replay topic sfbridge.team-a.accounts.replay"
compose_cfg=deploy/compose/sfbridge.yaml
for var in SF_CLIENT_ID SFB_NAME; do
        set -- SF_CLIENT_ID=ci-client-id SF_USERNAME=ci@example.com SFB_NAME=team-a.accounts
        set -- $(printf '%s\n' "$@" | grep -v "^$var=")
        clean_env "$@" SF_PRIVATE_KEY_FILE="$T/sf-jwt.pem" \
                "$SFB_BUILD/sfbridge" check -c "$compose_cfg" >"$T/check.out" 2>"$T/check.err"
        rc=$?
        if [ "$rc" = 1 ] && grep -q "environment variable $var is not set" "$T/check.err"; then
                ok "deploy/compose/sfbridge.yaml without $var: exit 1 naming it"
        else
                not_ok "deploy/compose/sfbridge.yaml without $var: exit 1 naming it" \
                        "exit $rc: $(head -c 500 "$T/check.err")"
        fi
done
sfb_check "check accepts deploy/compose/demo.yaml (its defaults alone)" deploy/compose/demo.yaml
sfb_check "check accepts deploy/compose/sfbridge-ha.yaml (a replica group's config)" \
        deploy/compose/sfbridge-ha.yaml SF_CLIENT_ID=ci-client-id SF_USERNAME=ci@example.com \
        SF_PRIVATE_KEY_FILE="$T/sf-jwt.pem" SFB_NAME=team-a.accounts
assert_file_contains "its check prints the unit map (two units)" "$T/check.out" "unit cdc:"
if [ -s "$T/x/k8s.env" ]; then
        # The Deployment's env (the Secret's placeholders for secretKeyRef),
        # with the mounted key file replaced by the throwaway one.
        set --
        while IFS= read -r line; do
                case "$line" in SF_PRIVATE_KEY_FILE=*) continue ;; esac
                set -- "$@" "$line"
        done <"$T/x/k8s.env"
        sfb_check "check accepts the Kubernetes ConfigMap's sfbridge.yaml with the Deployment's env" \
                "$T/x/k8s-sfbridge.yaml" "$@" SF_PRIVATE_KEY_FILE="$T/sf-jwt.pem"
        sfb_check "check accepts the Kubernetes HA variant's sfbridge.yaml with the Deployment's env" \
                "$T/x/k8s-ha-sfbridge.yaml" "$@" SF_PRIVATE_KEY_FILE="$T/sf-jwt.pem"
        grep -q '^SF_PRIVATE_KEY_FILE=/run/secrets/sf-jwt.pem$' "$T/x/k8s.env" &&
                grep -q 'mountPath: /run/secrets$' deploy/kubernetes/deployment.yaml
        check "the Deployment points SF_PRIVATE_KEY_FILE at the mounted Secret" [ $? = 0 ]
else
        not_ok "check the Kubernetes ConfigMap's config" "nothing extracted"
fi

# --- deploy/monitoring: alert rules ----------------------------------------
# promtool (Debian: prometheus) checks the rules and runs their unit tests;
# a copy whose NotReady alert waits 1 minute instead of 5 must fail them, so
# the tests do test.
if have promtool prometheus; then
        if promtool check rules deploy/monitoring/sfbridge-alerts.yaml >"$T/promtool.out" 2>&1; then
                ok "promtool check rules deploy/monitoring/sfbridge-alerts.yaml"
        else
                not_ok "promtool check rules deploy/monitoring/sfbridge-alerts.yaml" "$(head -c 1500 "$T/promtool.out")"
        fi
        if promtool test rules deploy/monitoring/sfbridge-alerts.test.yaml >"$T/promtool.out" 2>&1; then
                ok "promtool test rules deploy/monitoring/sfbridge-alerts.test.yaml"
        else
                not_ok "promtool test rules deploy/monitoring/sfbridge-alerts.test.yaml" \
                        "$(head -c 1500 "$T/promtool.out")"
        fi
        mkdir -p "$T/badrules"
        cp deploy/monitoring/sfbridge-alerts.test.yaml "$T/badrules/"
        awk '/alert: SfbridgeNotReady/ { nr = 1 } nr && /for: 5m/ { sub(/5m/, "1m"); nr = 0 } { print }' \
                deploy/monitoring/sfbridge-alerts.yaml >"$T/badrules/sfbridge-alerts.yaml"
        if cmp -s deploy/monitoring/sfbridge-alerts.yaml "$T/badrules/sfbridge-alerts.yaml"; then
                not_ok "the rule tests fail for a wrong rule" "could not make the broken copy"
        elif promtool test rules "$T/badrules/sfbridge-alerts.test.yaml" >"$T/promtool.out" 2>&1; then
                not_ok "the rule tests fail for a wrong rule" "SfbridgeNotReady with for: 1m passed"
        else
                ok "the rule tests fail for a wrong rule (SfbridgeNotReady after 1 minute)"
        fi
fi

# --- the Dockerfile's build stages, replayed --------------------------------
if [ -s "$T/x/build.steps" ]; then
        ctx="$T/ctx"
        mkdir -p "$ctx"
        steps_ok=1
        targets=""
        while read -r kind a b; do
                case "$kind" in
                file) mkdir -p "$(dirname "$ctx/$b")" && cp "$a" "$ctx/$b" || steps_ok=0 ;;
                dir) mkdir -p "$ctx/$b" && cp -R "$a/." "$ctx/$b/" || steps_ok=0 ;;
                make)
                        if ! env -u MAKEFLAGS -u MFLAGS -u CFLAGS -u CPPFLAGS -u LDFLAGS \
                                make -C "$ctx" -j2 "$a" >>"$T/build.log" 2>&1; then
                                steps_ok=0
                                note "make $a failed in the replayed build context"
                        fi
                        targets="$targets $a" ;;
                esac
        done <"$T/x/build.steps"
        if [ "$steps_ok" = 1 ]; then
                ok "the Dockerfile's COPY set builds:$targets"
        else
                not_ok "the Dockerfile's COPY set builds:$targets" "$(tail -n 15 "$T/build.log")"
        fi
        v=$("$ctx/build/sfbridge" --version 2>&1)
        assert_contains "the image's bridge reports version $VERSION" "$v" "$VERSION"
        for pair in "sfbridge build/sfbridge" "sfsim build/sfsim"; do
                set -- $pair
                if [ -x "$ctx/$2" ]; then
                        "$PY" tests/deploy-check.py libs "$SFB_ROOT" "$1" "$ctx/$2" >"$T/libs.out" 2>&1
                        relay "$T/libs.out"
                else
                        not_ok "the $1 image's libraries" "$2 was not built"
                fi
        done
else
        not_ok "the Dockerfile's build stages replayed" "no build steps extracted"
fi

# --- the compose demo, as local processes -----------------------------------
demo_ready=0
if [ -s "$T/x/sfsim.args" ] && [ -x "$SFB_BUILD/sfsim" ] && start_kafka 1; then
        # sfsim with the compose service's arguments, on loopback.
        set --
        skip=0
        while IFS= read -r arg; do
                if [ "$skip" = 1 ]; then skip=0; continue; fi
                case "$arg" in
                --public-url) skip=1; continue ;;
                0.0.0.0:*) arg=127.0.0.1:0 ;;
                esac
                set -- "$@" "$arg"
        done <"$T/x/sfsim.args"
        "$SFB_BUILD/sfsim" "$@" >"$T/sfsim.out" 2>"$T/sfsim.err" </dev/null &
        SFSIM_PID=$!
        track_pid "$SFSIM_PID"
        if wait_for 15 grep -q '^sfsim listening on http://127.0.0.1:' "$T/sfsim.out"; then
                SFSIM_URL=$(sed -n 's/^sfsim listening on \(http:[^ ]*\).*/\1/p' "$T/sfsim.out" | head -n 1)
                port=$(free_port)
                SFB_METRICS_LISTEN=127.0.0.1:$port
                KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
                export SFSIM_URL SFB_METRICS_LISTEN KAFKA_BOOTSTRAP_SERVERS
                unset SFSIM_CLIENT_ID SFSIM_CLIENT_SECRET SFSIM_USERNAME SFSIM_PASSWORD
                start_bridge deploy/compose/demo.yaml
                demo_ready=1
        else
                not_ok "sfsim starts with the compose demo's arguments" "$(head -c 500 "$T/sfsim.err")"
        fi
else
        not_ok "the compose demo ran" \
                "no sfsim arguments (needs docker-compose), no $SFB_BUILD/sfsim or kafka-mock did not start"
fi
if [ "$demo_ready" = 1 ]; then
        read -r _ live_path _ <<EOF
$(grep '^liveness ' "$T/x/probes")
EOF
        read -r _ ready_path _ <<EOF
$(grep '^readiness ' "$T/x/probes")
EOF
        # The probes' port is the container's 9464; here the same listener
        # runs on $port.
        if wait_for 60 curl -fsS --max-time 2 "http://127.0.0.1:$port$ready_path"; then
                ok "the bridge logs in to sfsim with the compose credentials: readiness $ready_path 200"
        else
                not_ok "the bridge becomes ready ($ready_path)" \
                        "$(curl -sS --max-time 2 "http://127.0.0.1:$port$ready_path" 2>&1)"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port$live_path")
        assert_eq "liveness $live_path answers 200" 200 "$code"
        hc=$(cat "$T/x/healthcheck.cmd")
        clean_env SFB_METRICS_PORT="$port" sh -c "$hc" >/dev/null 2>&1
        assert_eq "the Dockerfile's HEALTHCHECK passes against a running bridge" 0 "$?"

        sfsim_admin POST '/admin/publish?channel=/topic/AccountUpdates&count=3' >/dev/null &&
                sfsim_admin POST '/admin/publish?channel=/event/Order_Placed__e&count=2' >/dev/null
        check "published 3 + 2 events on sfsim" [ $? = 0 ]
        if wait_for 30 kcat_has demo.account-updates 3 && wait_for 30 kcat_has demo.orders 2; then
                ok "the demo's events reach Kafka"
        else
                not_ok "the demo's events reach Kafka" "account-updates: $(kcat_count demo.account-updates)"
        fi
        # The compose kcat service's arguments, against the local Kafka.
        set --
        while IFS= read -r arg; do
                [ "$arg" = kafka:9092 ] && arg=$KAFKA_BOOTSTRAP
                set -- "$@" "$arg"
        done <"$T/x/kcat.args"
        timeout -k 5 60 kcat "$@" >"$T/kcat.out" 2>"$T/kcat.err" </dev/null &
        kpid=$!
        track_pid "$kpid"
        got_all() {
                [ "$(grep -c '^demo\.account-updates ' "$T/kcat.out")" -ge 3 ] &&
                        [ "$(grep -c '^demo\.orders ' "$T/kcat.out")" -ge 2 ]
        }
        wait_for 45 got_all
        sleep 1
        wait_exit "$kpid" 5 TERM >/dev/null
        n1=$(grep -c '^demo\.account-updates ' "$T/kcat.out")
        n2=$(grep -c '^demo\.orders ' "$T/kcat.out")
        assert_eq "the compose kcat reader sees each AccountUpdates event once" 3 "$n1"
        assert_eq "the compose kcat reader sees each Order_Placed__e event once" 2 "$n2"
        assert_file_contains "its format shows the bridge's headers" "$T/kcat.out" "sf.channel=/topic/AccountUpdates"

        # Every metric family the running bridge exposes has a dashboard
        # panel, and the dashboard and rules query only real metrics. A
        # single instance shows no group family: those come from metrics.c
        # itself, rendered in group mode by its unit test binary.
        group_metrics="$T/group-metrics.txt"
        if ! SFB_METRICS_GROUP_SAMPLE="$group_metrics" "$SFB_BUILD/tests/unit/test_metrics" \
                >"$T/test_metrics.out" 2>&1 || ! grep -q '^# TYPE sfbridge_unit_owned ' "$group_metrics"; then
                not_ok "metrics.c renders the group families (test_metrics SFB_METRICS_GROUP_SAMPLE)" \
                        "$(tail -n 5 "$T/test_metrics.out")"
                group_metrics=
        fi
        if curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" >"$T/metrics.txt" 2>"$T/curl.err"; then
                "$PY" tests/deploy-check.py families "$SFB_ROOT" "$T/metrics.txt" $group_metrics \
                        >"$T/families.out" 2>&1
                relay "$T/families.out"
        else
                not_ok "scrape the running bridge's /metrics" "$(cat "$T/curl.err")"
        fi

        grace=$(cat "$T/x/stop-grace")
        SFB_STOP_TIMEOUT=$grace
        stop_bridge TERM
        assert_eq "SIGTERM stops the bridge cleanly within the shortest stop grace (${grace} s)" 0 "$BRIDGE_RC"
        clean_env SFB_METRICS_PORT="$port" sh -c "$hc" >/dev/null 2>&1
        rc=$?
        check "the HEALTHCHECK fails once the bridge is gone" [ "$rc" != 0 ]
        assert_file_not_contains "no demo password in the bridge log" "$T/bridge.log" "demo-password"
fi

finish
