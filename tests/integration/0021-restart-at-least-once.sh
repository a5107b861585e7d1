#!/bin/sh
# Evidence 2, at_least_once: nothing lost across a SIGTERM and a SIGKILL
# restart; duplicates are counted and stay within what was unacknowledged
# when the bridge died (at most max-batch events per restart here).
DELIVERY=at_least_once
. "$SFB_ROOT/tests/integration/restart.inc.sh"
if [ "$dups" -le 1000 ]; then ok "at_least_once: duplicates bounded ($dups <= 2 batches of 500)"; else not_ok "at_least_once: duplicates bounded" "$dups"; fi
finish
