#!/bin/sh
# Evidence 2, exactly_once: a read_committed reader sees every event of a
# 10,000-event stream exactly once across a SIGTERM and a SIGKILL restart.
DELIVERY=exactly_once
. "$SFB_ROOT/tests/integration/restart.inc.sh"
assert_eq "exactly_once: no duplicate for a read_committed reader" 0 "$dups"
finish
