#!/bin/sh
# Values pass through unchanged (DESIGN.md, "What lands in Kafka"): every
# record's value is the JSON text sfsim sent for data, data.payload (or
# data.sobject) or the whole message, byte for byte apart from insignificant
# whitespace: numbers past 2^53, long decimals, 1e400, -0.0, \u escapes,
# \/ and key order unchanged. Replay IDs start past 2^53, so keys and the
# sf.replay_id header must be exact too.
#
# The expected text is what sfsim itself sent, read by an independent Bayeux
# client (values.py fetch) and stripped of whitespace outside strings by a
# small scanner, never by a JSON library (it would round the numbers under
# test). Before the bridge is judged, the same checker is run on records made
# by hand with kcat: the exact ones must pass and rounded ones must fail.
. "$SFB_ROOT/tests/integration/helpers.sh"
. "$SFB_ROOT/tests/integration/bridge.sh"

VALUES="$SFB_ROOT/tests/integration/values.py"
FIRST_ID=9007199254740993 # 2^53 + 1: the first integer no double holds
# Records as kcat_read prints them: the length bounds the value, whatever it holds.
# shellcheck disable=SC2034 # read by kcat_read (helpers.sh)
KCAT_FORMAT='%k\t%h\t%S\t%s\n'

# Keys in no sorted order; every kind of number and escape a parser may change.
F1='{"Zeta__c":9007199254740993,"Big__c":123456789012345678,"Pi__c":3.14159265358979323846,"Huge__c":1e400,"Neg__c":-0.0,"Exp__c":1E+2,"Trail__c":0.10,"Text__c":"caf\u00e9 \ud83d\ude00 a\/b \"q\" \\","Alpha__c":null,"Nested__c":{"b":[true,false,{}],"a":-1}}'
# Whitespace of its own, and structural characters inside a string; published
# with pretty=1, so the whole message carries CR LF, tabs and spaces too.
F2='{ "b" : [ 9007199254740993 , -0.0 , 1e400 ] ,
  "a" : { "z" : 123456789012345678 , "y" : "\u00e9\ud83d\ude00" } , "Pi__c" : 3.14159265358979323846 , "s" : "\/\"{ , : }" }'

# kind, value mode, channel: every mode on every channel kind.
cat >"$T/routes.txt" <<'EOF'
topic data /topic/ValuesData
topic payload /topic/ValuesPayload
topic message /topic/ValuesMessage
event data /event/ValuesData__e
event payload /event/ValuesPayload__e
event message /event/ValuesMessage__e
cdc data /data/AccountChangeEvent
cdc payload /data/ContactChangeEvent
cdc message /data/LeadChangeEvent
generic data /u/ValuesData
generic payload /u/ValuesPayload
generic message /u/ValuesMessage
EOF

# publish_fields CHANNEL FIELDS [QUERY]: one event carrying FIELDS; prints
# the admin API's answer as it came.
publish_fields() {
        sfsim_admin POST "/admin/publish?channel=$1&count=1${3:+&$3}" -G --data-urlencode "fields=$2"
}

# judge LABEL EXPECTED CHANNEL MODE DUMP: one ok / not ok per aspect that
# values.py compare checks (record count, keys, headers, values).
judge() {
        _j_label=$1
        shift
        python3 "$VALUES" compare "$@" >"$T/judge.txt" 2>&1
        _j_verdicts=0
        while IFS= read -r _j_line; do
                case "$_j_line" in
                "PASS "*) ok "$_j_label: ${_j_line#PASS }"; _j_verdicts=$((_j_verdicts + 1)) ;;
                "FAIL "*) not_ok "$_j_label: ${_j_line#FAIL }"; _j_verdicts=$((_j_verdicts + 1)) ;;
                *) echo "#   $_j_line" ;;
                esac
        done <"$T/judge.txt"
        [ "$_j_verdicts" = 4 ] || not_ok "$_j_label: values.py compare gave $_j_verdicts verdicts, not 4"
}

# dump TOPIC [kcat args...]: kcat_read of up to 100 records; a short fetch
# wait makes kcat see the end of each partition in a tenth of a second.
dump() {
        _d_topic=$1
        shift
        kcat_read "$_d_topic" 100 -X fetch.wait.max.ms=10 "$@"
}

# expected CHANNEL ID COLUMN: one field of values.py fetch's line for that event.
expected() {
        awk -F '\t' -v ch="$1" -v id="$2" -v col="$3" '$1 == ch && $2 == id { print $col }' \
                "$T/expected.tsv"
}

start_kafka 3 || { not_ok start_kafka; finish; }
start_sfsim --first-replay-id "$FIRST_ID" || { not_ok start_sfsim; finish; }

# ---------------------------------------------------------------------------
# What sfsim sends: F1 compact, F2 with whitespace everywhere.

: >"$T/ids"
firsts_exact=1
while read -r kind mode channel <&3; do
        a1=$(publish_fields "$channel" "$F1") || not_ok "publish to $channel" "$a1"
        a2=$(publish_fields "$channel" "$F2" pretty=1) || not_ok "publish to $channel" "$a2"
        [ "$a1" = "{\"replay_ids\":[$FIRST_ID]}" ] || {
                firsts_exact=0
                note "$channel: first publish answered $a1"
        }
        printf '%s %s 1\n' "$channel" "$(printf '%s' "$a1" | sed 's/.*\[\(.*\)\].*/\1/')" >>"$T/ids"
        printf '%s %s 2\n' "$channel" "$(printf '%s' "$a2" | sed 's/.*\[\(.*\)\].*/\1/')" >>"$T/ids"
done 3<"$T/routes.txt"
assert_eq "sfsim: each channel's first replay ID is exactly 2^53 + 1" 1 "$firsts_exact"

channels=$(awk '{ print $3 }' "$T/routes.txt")
# shellcheck disable=SC2086 # one argument per channel
python3 "$VALUES" fetch "$SFSIM_URL" 24 $channels >"$T/expected.tsv" 2>"$T/fetch.err"
assert_eq "an independent client reads all 24 events from sfsim" 24 "$(wc -l <"$T/expected.tsv" | tr -d ' ')"
assert_eq "sfsim sent each published replay ID, digit for digit" \
        "$(awk '{ print $1, $2 }' "$T/ids" | sort)" \
        "$(awk -F '\t' '{ print $1, $2 }' "$T/expected.tsv" | sort)"

# The fields arrived as published: the payload column (built from sfsim's
# text) equals the fields text the script sent, minus whitespace.
s1=$(python3 "$VALUES" strip "$F1")
s2=$(python3 "$VALUES" strip "$F2")
assert_contains "stripping keeps the strings whole" "$s2" '"s":"\/\"{ , : }"}'
verbatim=1
pretty=1
while read -r channel id n; do
        [ "$n" = 1 ] && s=$s1 || s=$s2
        payload=$(expected "$channel" "$id" 4)
        case "$channel" in
        /data/*) case "$payload" in *",${s#\{}") ;; *) payload="" ;; esac ;;
        *) [ "$payload" = "$s" ] || payload="" ;;
        esac
        if [ -z "$payload" ]; then
                verbatim=0
                note "$channel $id (event $n): payload $(expected "$channel" "$id" 4)"
        fi
        removed=$(expected "$channel" "$id" 6)
        if { [ "$n" = 1 ] && [ "$removed" != 0 ]; } || { [ "$n" = 2 ] && [ "${removed:-0}" -lt 50 ]; }; then
                pretty=0
                note "$channel $id (event $n): $removed whitespace bytes in the message"
        fi
done <"$T/ids"
assert_eq "sfsim wrote the fields verbatim into every channel kind" 1 "$verbatim"
assert_eq "pretty=1 messages carry whitespace, the others none" 1 "$pretty"

# ---------------------------------------------------------------------------
# Hand-check of the checker: records made with kcat from the expected text
# pass; the same records as a double-based parser would make them fail.

while read -r kind mode channel <&3; do
        col=$(case $mode in data) echo 3 ;; payload) echo 4 ;; message) echo 5 ;; esac)
        for id in $(awk -v ch="$channel" '$1 == ch { print $2 }' "$T/ids"); do
                expected "$channel" "$id" "$col" |
                        kcat_produce "ctl.$kind.$mode" -k "$id" -H "sf.channel=$channel" \
                                -H "sf.replay_id=$id" -H "sf.bridge=by-hand"
        done
        dump "ctl.$kind.$mode" >"$T/ctl.$kind.$mode.dump"
        judge "hand-check ctl.$kind.$mode" "$T/expected.tsv" "$channel" "$mode" \
                "$T/ctl.$kind.$mode.dump"
done 3<"$T/routes.txt"

channel=/event/ValuesPayload__e
for id in $(awk -v ch="$channel" '$1 == ch { print $2 }' "$T/ids"); do
        rounded=$(python3 -c 'import sys; print(int(float(sys.argv[1])))' "$id")
        expected "$channel" "$id" 4 | sed 's/9007199254740993/9007199254740992/g' |
                kcat_produce ctl.rounded -k "$rounded" -H "sf.channel=$channel" \
                        -H "sf.replay_id=$rounded"
done
dump ctl.rounded >"$T/ctl.rounded.dump"
python3 "$VALUES" compare "$T/expected.tsv" "$channel" payload "$T/ctl.rounded.dump" \
        >"$T/rounded.txt" 2>&1
assert_file_contains "hand-check: a rounded key is caught" "$T/rounded.txt" "FAIL keys"
assert_file_contains "hand-check: a rounded sf.replay_id is caught" "$T/rounded.txt" "FAIL headers"
assert_file_contains "hand-check: a rounded number in the value is caught" "$T/rounded.txt" "FAIL values"

# ---------------------------------------------------------------------------
# The bridge.

while read -r kind mode channel; do
        printf '  - channel: %s\n    topic: it.values.%s.%s\n    key: replay_id\n' \
                "$channel" "$kind" "$mode"
        printf '    value: %s\n    start: all\n' "$mode"
done <"$T/routes.txt" >"$T/routes.yaml"
write_config "$T/values.yaml" it-values <"$T/routes.yaml"

# all_landed: true once the bridge's topics hold a record per event.
all_landed() {
        _n=0
        for _t in $(awk '{ print "it.values." $1 "." $2 }' "$T/routes.txt"); do
                _n=$((_n + $(dump "$_t" -f '%o\n' | wc -l)))
        done
        [ "$_n" -ge 24 ]
}

start_bridge "$T/values.yaml"
if wait_for 60 all_landed; then
        ok "bridge delivered all 24 events"
else
        not_ok "bridge delivered all 24 events"
        grep -E 'level=(warn|error)' "$T/bridge.log" | head -n 5 | sed 's/^/#   /'
fi
stop_bridge TERM

while read -r kind mode channel <&3; do
        dump "it.values.$kind.$mode" >"$T/$kind.$mode.dump"
        judge "it.values.$kind.$mode" "$T/expected.tsv" "$channel" "$mode" "$T/$kind.$mode.dump"
done 3<"$T/routes.txt"
finish
