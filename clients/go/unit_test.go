package cantata

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

func TestRequestCarriesEveryOptionAsTheProtoNamesIt(t *testing.T) {
	options := &Options{
		Model: "dia", Voice: "v", Speaker: "S2", Encoding: EncodingOggOpus, SampleRateHz: 24000,
		Speed: 1.25, PromptAudio: []byte("RIFF"), PromptText: "hi", Instructions: "warmly",
		Sampling: &Sampling{Temperature: Ptr[float32](0.7), Seed: Ptr[uint64](7), Steps: Ptr[int32](16)},
		Timing:   &Timing{Words: true, Visemes: true},
	}
	want := &ttsv1.SynthesizeRequest{
		Text: "Hello", Model: "dia", Voice: "v", Speaker: "S2",
		Encoding: ttsv1.AudioEncoding_AUDIO_ENCODING_OGG_OPUS, SampleRateHz: 24000, Speed: 1.25,
		PromptAudio: []byte("RIFF"), PromptText: "hi", Instructions: "warmly",
		Sampling: &ttsv1.SamplingParams{Temperature: proto.Float32(0.7), Seed: proto.Uint64(7), Steps: proto.Int32(16)},
		Timing:   &ttsv1.TimingOptions{Words: true, Visemes: true},
	}
	if got := options.request("Hello"); !proto.Equal(got, want) {
		t.Fatalf("request:\n got %v\nwant %v", got, want)
	}
}

func TestNoOptionsAskForWAVAndLeaveTheRestToTheServer(t *testing.T) {
	want := &ttsv1.SynthesizeRequest{Text: "Hi", Encoding: ttsv1.AudioEncoding_AUDIO_ENCODING_WAV}
	var none *Options
	if got := none.request("Hi"); !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestEncodingNamesRoundTrip(t *testing.T) {
	for _, e := range []Encoding{EncodingWAV, EncodingPCM, EncodingFLAC, EncodingOggOpus, EncodingMP3, EncodingMulaw, EncodingAlaw} {
		parsed, err := ParseEncoding(e.String())
		if err != nil || parsed != e {
			t.Errorf("ParseEncoding(%q) = %v, %v", e.String(), parsed, err)
		}
		if encodingOf(e.proto()) != e {
			t.Errorf("%v does not come back from its proto value", e)
		}
	}
	if _, err := ParseEncoding("aiff"); err == nil {
		t.Error("an unknown encoding parsed")
	}
}

func TestStatusErrorsMatchTheirSentinelOnly(t *testing.T) {
	cases := map[codes.Code]error{
		codes.InvalidArgument:   ErrInvalidArgument,
		codes.NotFound:          ErrNotFound,
		codes.ResourceExhausted: ErrResourceExhausted,
		codes.Unavailable:       ErrUnavailable,
		codes.DeadlineExceeded:  ErrDeadlineExceeded,
		codes.Unauthenticated:   ErrUnauthenticated,
		codes.Internal:          ErrInternal,
	}
	for code, sentinel := range cases {
		err := wrapError(status.Error(code, "why"), "req-1")
		wrapped := fmt.Errorf("calling: %w", err)
		if !errors.Is(wrapped, sentinel) {
			t.Errorf("%v: not %v", code, sentinel)
		}
		for other, otherSentinel := range cases {
			if other != code && errors.Is(err, otherSentinel) {
				t.Errorf("%v also matches %v", code, otherSentinel)
			}
		}
		var e *Error
		if !errors.As(wrapped, &e) || e.Code != code || e.Message != "why" || e.RequestID != "req-1" {
			t.Errorf("%v: got %#v", code, e)
		}
		if status.Code(err) != code {
			t.Errorf("status.Code sees %v, want %v", status.Code(err), code)
		}
	}
}

func TestContextErrorsBecomeTheirCodes(t *testing.T) {
	if err := wrapError(context.DeadlineExceeded, ""); !errors.Is(err, ErrDeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if err := wrapError(context.Canceled, ""); !errors.Is(err, ErrCanceled) {
		t.Errorf("canceled: %v", err)
	}
	if wrapError(nil, "x") != nil {
		t.Error("nil became an error")
	}
}

func TestMarksOfUnknownKindsAreDropped(t *testing.T) {
	marks := marksOf([]*ttsv1.TimingMark{
		{Kind: ttsv1.TimingMarkKind_TIMING_MARK_KIND_WORD, Value: "Hello", EndSeconds: 0.4, TextLength: 5},
		{Kind: ttsv1.TimingMarkKind(9), Value: "?"},
	})
	want := []Mark{{Kind: MarkWord, Value: "Hello", EndSeconds: 0.4, TextLength: 5}}
	if len(marks) != 1 || marks[0] != want[0] || marks[0].TextEnd() != 5 {
		t.Fatalf("got %+v", marks)
	}
}
