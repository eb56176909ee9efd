package cantata

import (
	"context"
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

// Client calls one Cantata server. It is safe for concurrent use; Close it when done.
type Client struct {
	conn     *grpc.ClientConn
	stub     ttsv1.TextToSpeechClient
	metadata []string // key, value pairs sent with every call
	timeout  time.Duration
}

type settings struct {
	tls         credentials.TransportCredentials
	tlsErr      error
	metadata    []string
	timeout     time.Duration
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*settings)

// WithTLS connects over TLS, trusting the CA certificates in caFile (PEM); an empty caFile
// trusts the system's roots.
func WithTLS(caFile string) Option {
	return func(s *settings) {
		if caFile == "" {
			s.tls = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
			return
		}
		s.tls, s.tlsErr = credentials.NewClientTLSFromFile(caFile, "")
	}
}

// WithAPIKey sends `authorization: Bearer KEY` with every call.
func WithAPIKey(key string) Option {
	return WithMetadata("authorization", "Bearer "+key)
}

// WithMetadata sends a gRPC metadata entry with every call.
func WithMetadata(key, value string) Option {
	return func(s *settings) { s.metadata = append(s.metadata, key, value) }
}

// WithTimeout is the deadline of calls whose context has none; 0 (the default) is no deadline.
func WithTimeout(timeout time.Duration) Option {
	return func(s *settings) { s.timeout = timeout }
}

// WithDialOptions passes options on to grpc.DialContext (keepalive, interceptors, ...).
func WithDialOptions(options ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, options...) }
}

// Dial makes a client for target ("host:port"), plaintext unless WithTLS is given. It does not
// wait for the connection: the first call does.
func Dial(ctx context.Context, target string, options ...Option) (*Client, error) {
	var s settings
	for _, option := range options {
		option(&s)
	}
	if s.tlsErr != nil {
		return nil, s.tlsErr
	}
	transport := grpc.WithInsecure()
	if s.tls != nil {
		transport = grpc.WithTransportCredentials(s.tls)
	}
	conn, err := grpc.DialContext(ctx, target, append([]grpc.DialOption{transport}, s.dialOptions...)...)
	if err != nil {
		return nil, err
	}
	return &Client{
		conn:     conn,
		stub:     ttsv1.NewTextToSpeechClient(conn),
		metadata: s.metadata,
		timeout:  s.timeout,
	}, nil
}

// Close ends the connection; calls still running fail.
func (c *Client) Close() error { return c.conn.Close() }

// Stub is the generated client on the same connection, for what this layer does not wrap.
func (c *Client) Stub() ttsv1.TextToSpeechClient { return c.stub }

// callContext carries the client's metadata, the request id and the default deadline. Its
// cancel ends the call on both sides.
func (c *Client) callContext(ctx context.Context, requestID string) (context.Context, context.CancelFunc) {
	pairs := c.metadata
	if requestID != "" {
		pairs = append(append([]string{}, pairs...), "x-request-id", requestID)
	}
	if len(pairs) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	}
	if _, has := ctx.Deadline(); !has && c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// Synthesize speaks the whole text and returns it as one encoded file. A nil options is the
// server's default voice, as WAV.
func (c *Client) Synthesize(ctx context.Context, text string, options *Options) (*Synthesis, error) {
	ctx, cancel := c.callContext(ctx, options.requestID())
	defer cancel()
	var header metadata.MD
	response, err := c.stub.Synthesize(ctx, options.request(text), grpc.Header(&header))
	requestID := requestIDOf(header, options.requestID())
	if err != nil {
		return nil, wrapError(err, requestID)
	}
	return &Synthesis{
		Audio:     response.GetAudio(),
		Info:      infoOf(response.GetInfo()),
		Stats:     statsOf(response.GetStats()),
		Marks:     marksOf(response.GetMarks()),
		RequestID: requestID,
	}, nil
}

// Voices lists the voices of every loaded model, or of model alone when it is not empty.
func (c *Client) Voices(ctx context.Context, model string) ([]Voice, error) {
	ctx, cancel := c.callContext(ctx, "")
	defer cancel()
	var header metadata.MD
	response, err := c.stub.ListVoices(ctx, &ttsv1.ListVoicesRequest{Model: model}, grpc.Header(&header))
	if err != nil {
		return nil, wrapError(err, requestIDOf(header, ""))
	}
	voices := make([]Voice, 0, len(response.GetVoices()))
	for _, v := range response.GetVoices() {
		voices = append(voices, voiceOf(v))
	}
	return voices, nil
}

// requestIDOf is the server's x-request-id, else the one sent.
func requestIDOf(header metadata.MD, sent string) string {
	if ids := header.Get("x-request-id"); len(ids) > 0 {
		return ids[0]
	}
	return sent
}
