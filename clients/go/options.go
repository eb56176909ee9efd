package cantata

import (
	"fmt"
	"strings"

	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

// Encoding is the audio format asked for. The zero value is WAV, as in the other clients.
type Encoding int

const (
	EncodingWAV     Encoding = iota // RIFF WAVE, 16-bit; streamed with sizes 0xFFFFFFFF
	EncodingPCM                     // raw signed 16-bit little-endian mono, no header
	EncodingFLAC                    // FLAC, 16-bit; streamed whole in the last chunk
	EncodingOggOpus                 // Opus in Ogg at 8000, 12000, 16000, 24000 or 48000 Hz
	EncodingMP3                     // MPEG Layer III frames
	EncodingMulaw                   // G.711 µ-law, raw; 8000 Hz unless a rate is given
	EncodingAlaw                    // G.711 A-law, raw; 8000 Hz unless a rate is given
)

var encodings = []struct {
	name  string
	proto ttsv1.AudioEncoding
}{
	EncodingWAV:     {"wav", ttsv1.AudioEncoding_AUDIO_ENCODING_WAV},
	EncodingPCM:     {"pcm", ttsv1.AudioEncoding_AUDIO_ENCODING_PCM_S16LE},
	EncodingFLAC:    {"flac", ttsv1.AudioEncoding_AUDIO_ENCODING_FLAC},
	EncodingOggOpus: {"ogg_opus", ttsv1.AudioEncoding_AUDIO_ENCODING_OGG_OPUS},
	EncodingMP3:     {"mp3", ttsv1.AudioEncoding_AUDIO_ENCODING_MP3},
	EncodingMulaw:   {"mulaw", ttsv1.AudioEncoding_AUDIO_ENCODING_MULAW},
	EncodingAlaw:    {"alaw", ttsv1.AudioEncoding_AUDIO_ENCODING_ALAW},
}

func (e Encoding) String() string {
	if e < 0 || int(e) >= len(encodings) {
		return fmt.Sprintf("Encoding(%d)", int(e))
	}
	return encodings[e].name
}

func (e Encoding) proto() ttsv1.AudioEncoding {
	if e < 0 || int(e) >= len(encodings) {
		return ttsv1.AudioEncoding_AUDIO_ENCODING_UNSPECIFIED
	}
	return encodings[e].proto
}

// ParseEncoding reads a name as String writes it: wav, pcm, flac, ogg_opus, mp3, mulaw, alaw.
func ParseEncoding(name string) (Encoding, error) {
	for e, known := range encodings {
		if strings.EqualFold(name, known.name) {
			return Encoding(e), nil
		}
	}
	return 0, fmt.Errorf("cantata: unknown encoding %q", name)
}

func encodingOf(proto ttsv1.AudioEncoding) Encoding {
	if proto == ttsv1.AudioEncoding_AUDIO_ENCODING_UNSPECIFIED {
		return EncodingPCM
	}
	for e, known := range encodings {
		if known.proto == proto {
			return Encoding(e)
		}
	}
	return Encoding(-1)
}

// Sampling holds the parameters of models that sample; nil fields are left to the model. Each
// voice lists the ones it honours in Voice.Capabilities.SamplingParams.
type Sampling struct {
	Temperature     *float32
	TopP            *float32
	TopK            *int32
	CfgScale        *float32
	Seed            *uint64
	MaxAudioSeconds *float32
	Steps           *int32
}

// Ptr is a pointer to v, for the optional fields of Sampling: Sampling{Seed: cantata.Ptr[uint64](7)}.
func Ptr[T any](v T) *T { return &v }

// Timing asks for timing marks, for voices whose Capabilities.Timing is true.
type Timing struct {
	Words, Phonemes, Visemes bool
}

// Options are a synthesis's settings, named as in the proto's SynthesizeRequest. The zero value
// (or a nil *Options) is the server's default model and voice, WAV at the voice's own rate.
type Options struct {
	Model        string
	Voice        string
	Speaker      string
	Encoding     Encoding
	SampleRateHz int32   // 8000-48000; 0 is the voice's native rate
	Speed        float32 // 0.5-2.0; 0 is 1.0
	Sampling     *Sampling
	PromptAudio  []byte // audio of a voice to clone
	PromptText   string // the words spoken in PromptAudio
	Instructions string
	Timing       *Timing
	// RequestID is sent as x-request-id; empty lets the server choose one.
	RequestID string
}

func (o *Options) request(text string) *ttsv1.SynthesizeRequest {
	if o == nil {
		o = &Options{}
	}
	request := &ttsv1.SynthesizeRequest{
		Text:         text,
		Model:        o.Model,
		Voice:        o.Voice,
		Speaker:      o.Speaker,
		Encoding:     o.Encoding.proto(),
		SampleRateHz: o.SampleRateHz,
		Speed:        o.Speed,
		PromptAudio:  o.PromptAudio,
		PromptText:   o.PromptText,
		Instructions: o.Instructions,
	}
	if s := o.Sampling; s != nil {
		request.Sampling = &ttsv1.SamplingParams{
			Temperature:     s.Temperature,
			TopP:            s.TopP,
			TopK:            s.TopK,
			CfgScale:        s.CfgScale,
			Seed:            s.Seed,
			MaxAudioSeconds: s.MaxAudioSeconds,
			Steps:           s.Steps,
		}
	}
	if t := o.Timing; t != nil {
		request.Timing = &ttsv1.TimingOptions{Words: t.Words, Phonemes: t.Phonemes, Visemes: t.Visemes}
	}
	return request
}

func (o *Options) requestID() string {
	if o == nil {
		return ""
	}
	return o.RequestID
}
