#!/bin/sh
# sfb-build: build
# The soak (tests/soak.sh, whose header says what it does) in a short mode
# for `make test-slow`: 150 s of publishing against sfsim --max-clients 20
# with a fault every 5 s, on the optimised build (the sanitizer one is too
# slow for the soak's rate). Its checks are the soak's own: nothing lost,
# nothing duplicated, sfsim never refused a handshake for the org's client
# cap, no "concurrent user limit" in the bridge log, at most 2 live
# clients at every sample. Its figures stay in the test's log, not in
# bench-results/soak.txt (a full `make soak` writes that).
SOAK_SECONDS=${SOAK_SECONDS:-150} SOAK_FAULT_EVERY=${SOAK_FAULT_EVERY:-5} \
        SOAK_CATCHUP_S=${SOAK_CATCHUP_S:-120} SOAK_RESULTS=${SOAK_RESULTS:-} \
        exec sh "$SFB_ROOT/tests/soak.sh"
