#!/usr/bin/env bash
# Builds the TypeScript client from the repository root: Node.js (apt, if missing), the locked
# npm dependencies, code generated from protos/ by buf with the local protoc-gen-es, tsc to dist/,
# and the examples as build/clients/say-typescript and build/clients/bench-typescript. A second
# run is offline and takes about a second.
set -euo pipefail

root=$(pwd)
here="$root/clients/typescript"
[[ -f "$here/package.json" ]] || { echo "run from the repository root" >&2; exit 1; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v npm >/dev/null || (($(node_major) < 20)); then
  # Debian 13 (trixie) ships Node.js 20.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  (($(node_major) >= 20)) || { echo "Node.js 20 or newer is needed; found $(node --version)" >&2; exit 1; }
fi

cd "$here"
stamp=node_modules/.installed-lock
if ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json "$stamp"
fi

buf=$(command -v buf || true)
[[ -n "$buf" ]] || buf="$root/.venv/bin/buf"
[[ -x "$buf" ]] || { echo "buf not found: on PATH or in .venv (make test installs it)" >&2; exit 1; }
"$buf" generate "$root/protos" --template buf.gen.yaml
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json

mkdir -p "$root/build/clients"
for example in say bench; do
  cat >"$root/build/clients/$example-typescript" <<LAUNCHER
#!/bin/sh
exec node "\$(dirname "\$0")/../../clients/typescript/dist/examples/$example.js" "\$@"
LAUNCHER
  chmod +x "$root/build/clients/$example-typescript"
done
