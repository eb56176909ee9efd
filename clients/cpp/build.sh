#!/usr/bin/env bash
# Builds the C++ client, its tests and the say and bench examples into build/clients/cpp, and
# links build/clients/say-cpp and build/clients/bench-cpp to them. Installs Debian's gRPC
# toolchain first if it is missing (as root); a second run is offline and only rebuilds what
# changed. Quiet unless it fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build/clients/cpp"
packages=(cmake make g++ pkg-config libgrpc++-dev libprotobuf-dev protobuf-compiler
  protobuf-compiler-grpc)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Other clients' builds may hold apt's locks: wait for them rather than fail.
  apt=(apt-get -qq -o DPkg::Lock::Timeout=600)
  for attempt in 1 2 3; do
    "${apt[@]}" update >/dev/null && break
    ((attempt < 3)) || exit 1
    sleep 10
  done
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$build"
log="$build/build.log"
if ! {
  cmake -S "$root/clients/cpp" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$build" --parallel "$(nproc)"
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "clients/cpp/build.sh: the build failed (log above, and in $log)" >&2
  exit 1
fi
ln -sfn cpp/say "$root/build/clients/say-cpp"
ln -sfn cpp/bench "$root/build/clients/bench-cpp"
