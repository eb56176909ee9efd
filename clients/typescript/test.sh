#!/usr/bin/env bash
# Runs the client's suite with node --test against the servers named by the CANTATA_* variables
# (see tests/clients/servers.py). Build first: bash clients/typescript/build.sh
set -euo pipefail
cd "$(dirname "$0")"
for name in CANTATA_TARGET CANTATA_METRICS_URL CANTATA_TLS_TARGET CANTATA_TLS_CA CANTATA_API_KEY CANTATA_AUDIO_CHECK; do
  [[ -n "${!name:-}" ]] || { echo "$name is not set (see tests/clients/servers.py)" >&2; exit 2; }
done
[[ -d dist/test ]] || { echo "not built: run bash clients/typescript/build.sh" >&2; exit 2; }
exec node --test --test-concurrency=1 --test-reporter=spec dist/test/*.test.js
