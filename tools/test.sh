#!/usr/bin/env bash
# Install seqkit into .venv (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
# Two workers, one thread each: most tests are single-threaded Python and subprocess start-up,
# so a second core helps only through a second process (538 s -> 302-315 s on 2 cores).
# A test file stays on one worker, so its module fixtures are built once; `-n 0` runs serially.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} exec .venv/bin/python -m pytest tests -n 2 --dist loadfile "$@"
