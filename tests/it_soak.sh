#!/bin/sh
# weight: 66 (seconds it takes; tests/run.sh starts the longest first)
# it_soak: one minute of tests/soak.sh (random workload, injected faults,
# identical trees after every quiet period). Longer runs: sh tests/soak.sh 30
exec sh "$(dirname "$0")/soak.sh" "${XS_SOAK_MINUTES:-1}"
