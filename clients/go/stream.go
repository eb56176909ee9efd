package cantata

import (
	"context"
	"errors"
	"io"

	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

// Stream is audio arriving while it is synthesized. Info is known when Stream returns, before
// the first chunk; Stats once Recv has returned io.EOF. Close (or cancelling the context) stops
// the synthesis on the server. A Stream is read from one goroutine; Close may come from any.
type Stream struct {
	call      ttsv1.TextToSpeech_StreamSynthesizeClient
	cancel    context.CancelFunc
	info      AudioInfo
	stats     *Stats
	marks     []Mark
	pending   []byte // audio that came with the first message, if any
	requestID string
	err       error
}

// Stream starts a streamed synthesis and waits for its first message (the audio's format), so
// that bad options fail here. Always Close the stream.
func (c *Client) Stream(ctx context.Context, text string, options *Options) (*Stream, error) {
	ctx, cancel := c.callContext(ctx, options.requestID())
	call, err := c.stub.StreamSynthesize(ctx, options.request(text))
	if err != nil {
		cancel()
		return nil, wrapError(err, options.requestID())
	}
	s := &Stream{call: call, cancel: cancel, requestID: options.requestID()}
	first, err := call.Recv()
	s.readHeader()
	if err != nil {
		cancel()
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, wrapError(err, s.requestID)
	}
	s.info = infoOf(first.GetInfo())
	s.pending = s.absorb(first)
	return s, nil
}

func (s *Stream) readHeader() {
	if header, err := s.call.Header(); err == nil {
		s.requestID = requestIDOf(header, s.requestID)
	}
}

func (s *Stream) absorb(message *ttsv1.SynthesizeStreamResponse) []byte {
	if message.GetStats() != nil {
		stats := statsOf(message.GetStats())
		s.stats = &stats
	}
	s.marks = append(s.marks, marksOf(message.GetMarks())...)
	return message.GetAudio()
}

// Recv returns the next chunk of audio; io.EOF once the stream has ended (Stats is then
// known); an *Error if the call failed.
func (s *Stream) Recv() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if audio := s.pending; len(audio) > 0 {
		s.pending = nil
		return audio, nil
	}
	for {
		message, err := s.call.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				err = wrapError(err, s.requestID)
			}
			s.err = err
			s.cancel()
			return nil, err
		}
		if audio := s.absorb(message); len(audio) > 0 {
			return audio, nil
		}
	}
}

// WriteTo copies the rest of the audio to w as it arrives (io.Copy uses it).
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, err
		}
		n, err := w.Write(chunk)
		written += int64(n)
		if err != nil {
			s.Close()
			return written, err
		}
	}
}

// Info is the audio's format (its DurationSeconds is 0 in a stream).
func (s *Stream) Info() AudioInfo { return s.info }

// Stats is known once Recv has returned io.EOF.
func (s *Stream) Stats() (Stats, bool) {
	if s.stats == nil {
		return Stats{}, false
	}
	return *s.stats, true
}

// Marks are the timing marks received so far: each before the first chunk of the audio it
// describes is returned.
func (s *Stream) Marks() []Mark { return s.marks }

// RequestID is the id the server runs the call under (its x-request-id).
func (s *Stream) RequestID() string { return s.requestID }

// Close stops the synthesis on the server if it is still running.
func (s *Stream) Close() error {
	s.cancel()
	return nil
}
