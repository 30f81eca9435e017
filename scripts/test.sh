#!/usr/bin/env bash
# The test command: sets up .venv if needed, then runs the whole test suite.
source "$(dirname "$0")/_venv.sh"
exec python -m pytest -q "$@"
