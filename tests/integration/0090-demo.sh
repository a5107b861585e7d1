#!/bin/sh
# `make demo` end to end (the script behind it, against this build): exits 0
# within two minutes, shows events of all four channel kinds arriving, the
# recovery after the token revocation, and the clean stop.
. "$SFB_ROOT/tests/integration/helpers.sh"
start=$(date +%s)
SFB_BUILD=$SFB_BUILD timeout 120 sh "$SFB_ROOT/tests/demo.sh" >"$T/demo.out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
assert_eq "demo exits 0" 0 "$rc"
[ "$took" -le 120 ] && ok "demo within two minutes ($took s)" || not_ok "demo within two minutes" "$took s"
for t in demo.account-updates demo.orders demo.cdc.Account demo.cdc.Contact demo.notifications; do
        assert_file_contains "demo shows $t" "$T/demo.out" "  $t "
done
assert_file_contains "demo shows the recovery" "$T/demo.out" "msg=recovery cause=auth_invalid action=reauth"
assert_file_contains "demo shows nothing lost" "$T/demo.out" "demo.orders now holds 5 events"
assert_file_contains "demo ends with the clean stop" "$T/demo.out" "demo finished"
assert_file_not_contains "demo prints no secret" "$T/demo.out" "demo-password"
finish
