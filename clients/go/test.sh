#!/usr/bin/env bash
# Runs the Go client's suite (go test) against the servers the environment names; build.sh
# first. Start them by hand with `python -m tests.clients.servers ENV_FILE` (see its docstring).
set -euo pipefail
source "$(dirname "$0")/gopath.sh"
for name in CANTATA_TARGET CANTATA_METRICS_URL CANTATA_TLS_TARGET CANTATA_TLS_CA \
    CANTATA_API_KEY CANTATA_AUDIO_CHECK; do
    if [ -z "${!name:-}" ]; then
        echo "clients/go/test.sh: $name is not set" >&2
        exit 2
    fi
done
go test -v -count=1 "$@" $MODULE
