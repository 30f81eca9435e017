#!/usr/bin/env bash
# The main job: a demo against Losant when LOSANT_API_TOKEN is set, else on the local server.
source "$(dirname "$0")/_venv.sh"
exec losant-async demo "$@"
