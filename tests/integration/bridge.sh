# Bridge-specific helpers for the numbered integration scripts, sourced
# after helpers.sh:
#
#     . "$SFB_ROOT/tests/integration/helpers.sh"
#     . "$SFB_ROOT/tests/integration/bridge.sh"

# write_config FILE NAME [DELIVERY] [FLOW]: a bridge config against the
# running sfsim and kafka-mock; the routes come from stdin (YAML list items).
# Extra salesforce: keys may be given in $SF_EXTRA (YAML lines, 2-space
# indent), extra top-level keys in $TOP_EXTRA.
write_config() {
        _cfg_file=$1
        _cfg_name=$2
        _cfg_delivery=${3:-exactly_once}
        _cfg_flow=${4:-password}
        METRICS_PORT=$(free_port)
        export METRICS_PORT
        {
                echo "name: $_cfg_name"
                echo "salesforce:"
                echo "  login_url: $SFSIM_URL"
                echo "  api_version: \"59.0\""
                echo "  auth:"
                echo "    flow: $_cfg_flow"
                echo "    client_id: \${SF_CLIENT_ID}"
                case "$_cfg_flow" in
                password)
                        echo "    client_secret: \${SF_CLIENT_SECRET}"
                        echo "    username: \${SF_USERNAME}"
                        echo "    password: \${SF_PASSWORD}" ;;
                jwt)
                        echo "    username: \${SF_USERNAME}"
                        echo "    private_key_file: \${SF_JWT_KEY}" ;;
                refresh_token)
                        echo "    client_secret: \${SF_CLIENT_SECRET}"
                        echo "    refresh_token: \${SF_REFRESH_TOKEN}" ;;
                client_credentials)
                        echo "    client_secret: \${SF_CLIENT_SECRET}" ;;
                esac
                case "$SFSIM_URL" in
                https:*) echo "  ca_file: ${SF_CA_FILE:-$SFB_ROOT/tests/certs/ca.pem}" ;;
                esac
                echo "  stall_timeout_s: ${SFB_STALL_S:-150}"
                echo "  limit_backoff_s: 1"
                [ -n "${SF_EXTRA:-}" ] && printf '%s\n' "$SF_EXTRA"
                echo "kafka:"
                echo "  bootstrap_servers: $KAFKA_BOOTSTRAP"
                echo "  delivery: $_cfg_delivery"
                echo "  replay_topic: $_cfg_name.replay"
                [ -n "${KAFKA_EXTRA:-}" ] && printf '%s\n' "$KAFKA_EXTRA"
                echo "metrics:"
                echo "  listen: 127.0.0.1:$METRICS_PORT"
                [ -n "${TOP_EXTRA:-}" ] && printf '%s\n' "$TOP_EXTRA"
                echo "routes:"
                cat
        } >"$_cfg_file"
}

# publish CHANNEL COUNT [SIZE] [EXTRA_QUERY]: publish through the emulator's
# admin API; prints the replay IDs, one per line.
publish() {
        _pub_q="channel=$1&count=$2"
        [ -n "${3:-}" ] && _pub_q="$_pub_q&size=$3"
        [ -n "${4:-}" ] && _pub_q="$_pub_q&$4"
        sfsim_admin POST "/admin/publish?$_pub_q" |
                sed 's/.*\[\(.*\)\].*/\1/' | tr ',' '\n' | tr -d ' ' | grep -v '^$'
}

# metric NAME_WITH_LABELS: the value of one sample from the bridge's /metrics.
metric() {
        curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
                awk -v n="$1" '$1 == n { print $2; found=1 } END { if (!found) print "" }'
}

# ready: true when /readyz answers 200.
ready() {
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$METRICS_PORT/readyz")" = 200 ]
}

# keys_of TOPIC: the keys of every record in TOPIC (read_committed), sorted.
keys_of() {
        kcat_read "$1" 1000000 | cut -f3 | sort -n
}

# count_dups: count repeated lines on stdin.
count_dups() {
        sort | uniq -d -c | awk '{ s += $1 - 1 } END { print s + 0 }'
}
