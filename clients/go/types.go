package cantata

import "github.com/cantata-tts/cantata/clients/go/ttsv1"

// AudioInfo is the format of the audio. In a stream DurationSeconds is 0 (not yet known).
type AudioInfo struct {
	SampleRateHz    int
	Channels        int
	Encoding        Encoding
	DurationSeconds float64
}

// Stats describes a finished synthesis (or, for a live session, all of it).
type Stats struct {
	AudioSeconds   float64
	ComputeSeconds float64
	RealTimeFactor float64 // ComputeSeconds / AudioSeconds: below 1 is faster than real time
	Model          string
	Voice          string
	Runtime        string
	Device         string
	RequestID      string
	// Streams only: seconds from the request's arrival to its first audio.
	TimeToFirstAudioSeconds float64
}

// MarkKind is what a timing mark times.
type MarkKind int

const (
	MarkWord    MarkKind = iota + 1 // a word as written
	MarkPhoneme                     // a phoneme in IPA
	MarkViseme                      // a mouth shape: sil PP FF TH DD kk CH SS nn RR aa E ih oh ou
)

func (k MarkKind) String() string {
	switch k {
	case MarkWord:
		return "word"
	case MarkPhoneme:
		return "phoneme"
	case MarkViseme:
		return "viseme"
	}
	return "unknown"
}

// Mark is a word, phoneme or viseme: seconds into the audio, and code points (runes) into the
// text sent, so that []rune(text)[m.TextOffset:m.TextEnd()] is its word.
type Mark struct {
	Kind         MarkKind
	Value        string
	StartSeconds float64
	EndSeconds   float64
	TextOffset   int
	TextLength   int
}

// TextEnd is the code point after the mark's text.
func (m Mark) TextEnd() int { return m.TextOffset + m.TextLength }

// Synthesis is the answer to Synthesize: one encoded audio file.
type Synthesis struct {
	Audio []byte
	Info  AudioInfo
	Stats Stats
	Marks []Mark // the marks Options.Timing asked for
	// RequestID is the id the server ran the call under (its x-request-id).
	RequestID string
}

// VoiceCapabilities says which options a voice honours.
type VoiceCapabilities struct {
	Streaming      bool
	VoiceCloning   bool
	SamplingParams []string // names of the Sampling fields honoured, as in the proto
	NonverbalTags  []string
	Dialogue       bool
	Speed          bool
	Instructions   bool
	Timing         bool
}

// Voice is one voice of a loaded model.
type Voice struct {
	Model              string
	VoiceID            string
	Language           string // BCP 47, such as en-US
	NativeSampleRateHz int
	Runtime            string
	Speakers           []string
	Capabilities       VoiceCapabilities
	IsDefault          bool
}

func infoOf(p *ttsv1.AudioInfo) AudioInfo {
	return AudioInfo{
		SampleRateHz:    int(p.GetSampleRateHz()),
		Channels:        int(p.GetChannels()),
		Encoding:        encodingOf(p.GetEncoding()),
		DurationSeconds: p.GetDurationSeconds(),
	}
}

func statsOf(p *ttsv1.SynthesisStats) Stats {
	return Stats{
		AudioSeconds:            p.GetAudioSeconds(),
		ComputeSeconds:          p.GetComputeSeconds(),
		RealTimeFactor:          p.GetRealTimeFactor(),
		Model:                   p.GetModel(),
		Voice:                   p.GetVoice(),
		Runtime:                 p.GetRuntime(),
		Device:                  p.GetDevice(),
		RequestID:               p.GetRequestId(),
		TimeToFirstAudioSeconds: p.GetTimeToFirstAudioSeconds(),
	}
}

// marksOf keeps the kinds this client knows (a newer server may send more).
func marksOf(marks []*ttsv1.TimingMark) []Mark {
	var known []Mark
	for _, m := range marks {
		kind := MarkKind(m.GetKind())
		if kind < MarkWord || kind > MarkViseme {
			continue
		}
		known = append(known, Mark{
			Kind:         kind,
			Value:        m.GetValue(),
			StartSeconds: m.GetStartSeconds(),
			EndSeconds:   m.GetEndSeconds(),
			TextOffset:   int(m.GetTextOffset()),
			TextLength:   int(m.GetTextLength()),
		})
	}
	return known
}

func voiceOf(p *ttsv1.Voice) Voice {
	c := p.GetCapabilities()
	return Voice{
		Model:              p.GetModel(),
		VoiceID:            p.GetVoiceId(),
		Language:           p.GetLanguage(),
		NativeSampleRateHz: int(p.GetNativeSampleRateHz()),
		Runtime:            p.GetRuntime(),
		Speakers:           p.GetSpeakers(),
		Capabilities: VoiceCapabilities{
			Streaming:      c.GetStreaming(),
			VoiceCloning:   c.GetVoiceCloning(),
			SamplingParams: c.GetSamplingParams(),
			NonverbalTags:  c.GetNonverbalTags(),
			Dialogue:       c.GetDialogue(),
			Speed:          c.GetSpeed(),
			Instructions:   c.GetInstructions(),
			Timing:         c.GetTiming(),
		},
		IsDefault: p.GetIsDefault(),
	}
}
