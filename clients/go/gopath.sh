# Sourced by build.sh and test.sh: Go in GOPATH mode, offline, on Debian's packaged modules.
# The client's folder is linked in at its module path, so imports resolve as they would for a
# user of the module.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODULE=github.com/cantata-tts/cantata/clients/go
GO_BUILD=$ROOT/build/clients/go
export GO111MODULE=off GOFLAGS= GOPATH=$GO_BUILD/gopath:/usr/share/gocode GOCACHE=$GO_BUILD/cache
mkdir -p "$GO_BUILD/gopath/src/$(dirname "$MODULE")"
ln -sfn "$ROOT/clients/go" "$GO_BUILD/gopath/src/$MODULE"
