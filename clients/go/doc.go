// Package cantata is a typed client for Cantata, the gRPC text-to-speech server.
//
//	client, err := cantata.Dial(ctx, "127.0.0.1:50051")
//	speech, err := client.Synthesize(ctx, "Hello there.", &cantata.Options{Voice: "en_US-joe-medium"})
//	os.WriteFile("hello.wav", speech.Audio, 0o644)
//
// Stream gives audio as it is produced, Live a session for text that arrives while it is
// spoken, Voices what the server offers. Errors are *Error values that errors.Is matches against
// ErrInvalidArgument, ErrNotFound and the other sentinels. The generated gRPC code is in the
// ttsv1 package, for calls this layer does not wrap.
package cantata
