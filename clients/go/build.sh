#!/usr/bin/env bash
# Builds the Go client and its examples: build/clients/say-go and build/clients/bench-go.
# Installs Debian's Go toolchain and gRPC packages if missing (as root), generates
# clients/go/ttsv1 from protos/, then compiles.
set -euo pipefail
source "$(dirname "$0")/gopath.sh"
cd "$ROOT"

# golang-github-golang-protobuf-1-5-dev is named: left to itself apt takes the 1.3 package,
# and the client then panics at run time ("protobuf tag not enough fields").
PACKAGES=(golang-go golang-google-grpc-dev golang-google-protobuf-dev protoc-gen-go
    protoc-gen-go-grpc golang-github-golang-protobuf-1-5-dev protobuf-compiler)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$package")
done
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

protoc -I protos --go_out=clients/go --go_opt=module=$MODULE \
    --go-grpc_out=clients/go --go-grpc_opt=module=$MODULE protos/cantata/tts/v1/tts.proto
go vet $MODULE $MODULE/cmd/say $MODULE/cmd/bench
go build -o build/clients/say-go $MODULE/cmd/say
go build -o build/clients/bench-go $MODULE/cmd/bench
