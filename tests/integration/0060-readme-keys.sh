#!/bin/sh
# README's configuration reference is what `sfbridge --help` prints from the
# loader's own key table: the two cannot drift apart.
. "$SFB_ROOT/tests/integration/helpers.sh"
"$SFB_BUILD/sfbridge" --help | sed -n '/^Configuration keys/,$p' >"$T/help.txt"
sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$SFB_ROOT/README.md" | sed '1,2d;$d' | sed '$d' >"$T/readme.txt"
if cmp -s "$T/help.txt" "$T/readme.txt"; then
        ok "README key reference matches sfbridge --help"
else
        not_ok "README key reference matches sfbridge --help" "$(diff "$T/help.txt" "$T/readme.txt" | head -20)"
fi
grep -q '^salesforce.auth.flow$' "$T/help.txt" && ok "reference lists salesforce.auth.flow" || not_ok "reference lists salesforce.auth.flow"
finish
