#!/bin/sh
# it_demo: `make demo` brings up Prosody, a master and a slave, and the
# sample files arrive (run in check mode: no waiting for Ctrl-C).
top=$(cd "$(dirname "$0")/.." && pwd)
XS_DEMO_CHECK=1 timeout 120 sh "$top/tests/demo.sh"
