package cantata

// The ttsv1 package is generated from the contract, never committed: build.sh runs the same
// protoc command, and `go generate` in a checkout of the repository does too.
//go:generate protoc -I ../../protos --go_out=. --go_opt=module=github.com/cantata-tts/cantata/clients/go --go-grpc_out=. --go-grpc_opt=module=github.com/cantata-tts/cantata/clients/go ../../protos/cantata/tts/v1/tts.proto
