#!/usr/bin/env bash
# Runs the C++ client's CTest suite against the servers that tests/clients/servers.py names in
# the environment (CANTATA_TARGET, CANTATA_METRICS_URL, CANTATA_TLS_TARGET, CANTATA_TLS_CA,
# CANTATA_API_KEY, CANTATA_AUDIO_CHECK). Brings the build up to date first (quick when it is).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
for name in CANTATA_TARGET CANTATA_METRICS_URL CANTATA_TLS_TARGET CANTATA_TLS_CA \
  CANTATA_API_KEY CANTATA_AUDIO_CHECK; do
  if [[ -z "${!name:-}" ]]; then
    echo "clients/cpp/test.sh: $name is not set (see tests/clients/servers.py)" >&2
    exit 2
  fi
done
bash "$root/clients/cpp/build.sh"
cd "$root/build/clients/cpp"
ctest --output-on-failure
