package cantata

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

// LiveOptions are a live session's settings: those of a synthesis (Options, without text) and
// its pacing, named as in the proto's LiveStart.
type LiveOptions struct {
	Options
	// Speak a piece without a sentence end once this many characters are buffered, cut at the
	// last clause break; 0 is the server's default (60).
	MinClauseChars uint32
	// Or once the newest text has waited this long; 0 is the server's default (400 ms).
	MaxWaitMs uint32
}

// LiveEvent is what Live.Recv returns: *LiveAudio, *LiveMarks, *LiveFlushed or *LiveCancelled.
type LiveEvent interface{ liveEvent() }

// LiveAudio is audio, in order; every chunk joined is one valid stream.
type LiveAudio struct{ Audio []byte }

// LiveMarks are timing marks of audio sent with or after them. Offsets count code points of
// every text sent on the session joined; times are seconds of every audio chunk joined.
type LiveMarks struct{ Marks []Mark }

// LiveFlushed answers Flush: the text up to TextOffset has been spoken, AudioSeconds sent in all.
type LiveFlushed struct {
	TextOffset   int
	AudioSeconds float64
}

// LiveCancelled answers Cancel: the text before TextOffset was heard in the audio sent (whole
// words where the voice gives timing marks); the rest was not spoken.
type LiveCancelled struct {
	TextOffset            int
	AudioSeconds          float64
	UtteranceAudioSeconds float64
}

func (*LiveAudio) liveEvent()     {}
func (*LiveMarks) liveEvent()     {}
func (*LiveFlushed) liveEvent()   {}
func (*LiveCancelled) liveEvent() {}

// Live is a session for text that arrives while it is spoken, such as a language model's reply:
// Send deltas, Flush, Cancel (barge-in), Close when no more text comes; Recv the events until
// io.EOF, after which Stats is known. Send, Flush, Cancel and Close may be called from any
// goroutine while another calls Recv. Abort ends the session on both sides at once.
type Live struct {
	call       ttsv1.TextToSpeech_LiveSynthesizeClient
	cancel     context.CancelFunc
	sending    sync.Mutex
	info       *AudioInfo
	stats      *Stats
	requestID  string // the server's, once Recv has seen its header
	headerRead bool
	// sentRequestID is what the send side reports: Recv may be updating requestID meanwhile.
	sentRequestID string
	err           error
}

// ErrSessionEnded is what Send, Flush and Cancel return once the server has ended the session;
// Recv returns the reason.
var ErrSessionEnded = errors.New("cantata: live session ended")

// Live opens a live session and sends its start message.
func (c *Client) Live(ctx context.Context, options *LiveOptions) (*Live, error) {
	if options == nil {
		options = &LiveOptions{}
	}
	ctx, cancel := c.callContext(ctx, options.RequestID)
	call, err := c.stub.LiveSynthesize(ctx)
	if err != nil {
		cancel()
		return nil, wrapError(err, options.RequestID)
	}
	l := &Live{call: call, cancel: cancel, requestID: options.RequestID, sentRequestID: options.RequestID}
	start := &ttsv1.LiveStart{
		Config:         options.Options.request(""),
		MinClauseChars: options.MinClauseChars,
		MaxWaitMs:      options.MaxWaitMs,
	}
	if err := l.send(&ttsv1.LiveSynthesizeRequest{Request: &ttsv1.LiveSynthesizeRequest_Start{Start: start}}); err != nil {
		cancel()
		return nil, err
	}
	return l, nil
}

// Send adds text to speak: a delta, split anywhere.
func (l *Live) Send(text string) error {
	return l.send(&ttsv1.LiveSynthesizeRequest{Request: &ttsv1.LiveSynthesizeRequest_Text{Text: text}})
}

// Flush speaks everything buffered now, even half a sentence; answered by *LiveFlushed.
func (l *Live) Flush() error {
	return l.send(&ttsv1.LiveSynthesizeRequest{Request: &ttsv1.LiveSynthesizeRequest_Flush{Flush: &ttsv1.LiveFlush{}}})
}

// Cancel stops speaking now and drops the text not yet spoken; answered by *LiveCancelled.
// The session goes on: new text starts the next utterance.
func (l *Live) Cancel() error {
	return l.send(&ttsv1.LiveSynthesizeRequest{Request: &ttsv1.LiveSynthesizeRequest_Cancel{Cancel: &ttsv1.LiveCancel{}}})
}

// Close says no more text comes: what is buffered is spoken, then the events end with Stats.
func (l *Live) Close() error {
	l.sending.Lock()
	defer l.sending.Unlock()
	return wrapError(l.call.CloseSend(), l.sentRequestID)
}

// Abort ends the session at once, on both sides.
func (l *Live) Abort() { l.cancel() }

func (l *Live) send(request *ttsv1.LiveSynthesizeRequest) error {
	l.sending.Lock()
	defer l.sending.Unlock()
	err := l.call.Send(request)
	if errors.Is(err, io.EOF) {
		return ErrSessionEnded
	}
	return wrapError(err, l.sentRequestID)
}

// Recv returns the next event; io.EOF once the session has ended (Stats is then known); an
// *Error if it failed.
func (l *Live) Recv() (LiveEvent, error) {
	if l.err != nil {
		return nil, l.err
	}
	for {
		message, err := l.call.Recv()
		if !l.headerRead {
			l.headerRead = true
			if header, headerErr := l.call.Header(); headerErr == nil {
				l.requestID = requestIDOf(header, l.requestID)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				err = wrapError(err, l.requestID)
			}
			l.err = err
			l.cancel()
			return nil, err
		}
		switch r := message.GetResponse().(type) {
		case *ttsv1.LiveSynthesizeResponse_Info:
			info := infoOf(r.Info)
			l.info = &info
		case *ttsv1.LiveSynthesizeResponse_Stats:
			stats := statsOf(r.Stats)
			l.stats = &stats
		case *ttsv1.LiveSynthesizeResponse_Audio:
			return &LiveAudio{Audio: r.Audio}, nil
		case *ttsv1.LiveSynthesizeResponse_Marks:
			return &LiveMarks{Marks: marksOf(r.Marks.GetMarks())}, nil
		case *ttsv1.LiveSynthesizeResponse_Flushed:
			return &LiveFlushed{
				TextOffset:   int(r.Flushed.GetTextOffset()),
				AudioSeconds: r.Flushed.GetAudioSeconds(),
			}, nil
		case *ttsv1.LiveSynthesizeResponse_Cancelled:
			return &LiveCancelled{
				TextOffset:            int(r.Cancelled.GetTextOffset()),
				AudioSeconds:          r.Cancelled.GetAudioSeconds(),
				UtteranceAudioSeconds: r.Cancelled.GetUtteranceAudioSeconds(),
			}, nil
		}
	}
}

// Info is the audio's format, known once the first event has been received.
func (l *Live) Info() (AudioInfo, bool) {
	if l.info == nil {
		return AudioInfo{}, false
	}
	return *l.info, true
}

// Stats are the session's totals, known once Recv has returned io.EOF.
func (l *Live) Stats() (Stats, bool) {
	if l.stats == nil {
		return Stats{}, false
	}
	return *l.stats, true
}

// RequestID is the id the server runs the session under (its x-request-id).
func (l *Live) RequestID() string { return l.requestID }
