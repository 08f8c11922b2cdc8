#!/usr/bin/env bash
# Runs the whole suite. pytest's exit code 5 ("no tests collected") is a failure
# here too: an empty run must never pass as green.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest --durations=25 "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "run-tests: no tests were collected" >&2; exit 1; fi
exit $rc
