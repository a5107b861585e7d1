#!/bin/sh
# The Kafka outage of 0113 with delivery: at_least_once.
DELIVERY=at_least_once
. "$SFB_ROOT/tests/integration/0113-fault-kafka-down.sh"
