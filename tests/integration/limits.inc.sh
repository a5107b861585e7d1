# Shared by the limits tests (014N-*.sh): read sfsim's REST limits resource
# the way the bridge does, with a token of its own, on the instance URL the
# token endpoint names. No python: the machine is shared and slow to start it.

_l_ca() {
        case "$SFSIM_URL" in
        https:*) echo "--cacert $SFB_ROOT/tests/certs/ca.pem" ;;
        esac
}

# sf_limits: print GET <instance>/services/data/v59.0/limits (compact JSON).
sf_limits() {
        if [ ! -s "$T/sf.token" ]; then
                curl -sS -f --max-time 10 $(_l_ca) \
                        --data-urlencode grant_type=password --data-urlencode "client_id=$SF_CLIENT_ID" \
                        --data-urlencode "client_secret=$SF_CLIENT_SECRET" \
                        --data-urlencode "username=$SF_USERNAME" --data-urlencode "password=$SF_PASSWORD" \
                        "$SFSIM_URL/services/oauth2/token" >"$T/sf.token" || return 1
        fi
        _l_inst=$(sed -n 's/.*"instance_url":"\([^"]*\)".*/\1/p' "$T/sf.token")
        _l_at=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$T/sf.token")
        curl -sS -f --max-time 10 $(_l_ca) -H "Authorization: Bearer $_l_at" \
                "$_l_inst/services/data/v59.0/limits"
}

# sf_limit NAME FIELD: one number of the limits resource (FIELD Max or Remaining).
sf_limit() {
        sf_limits | sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9-]*\).*/\1/p"
}

# limit_gauges_match NAME: the bridge's gauges equal sfsim's resource.
limit_gauges_match() {
        _l_doc=$(sf_limits)
        _l_max=$(printf '%s' "$_l_doc" | sed -n "s/.*\"$1\":{\"Max\":\([0-9]*\),\"Remaining\":\([0-9]*\)}.*/\1/p")
        _l_rem=$(printf '%s' "$_l_doc" | sed -n "s/.*\"$1\":{\"Max\":\([0-9]*\),\"Remaining\":\([0-9]*\)}.*/\2/p")
        _l_m=$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics")
        [ -n "$_l_max" ] &&
                printf '%s\n' "$_l_m" | grep -qx "sfbridge_sf_limit_max{name=\"$1\"} $_l_max" &&
                printf '%s\n' "$_l_m" | grep -qx "sfbridge_sf_limit_remaining{name=\"$1\"} $_l_rem"
}
