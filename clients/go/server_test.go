package cantata_test

// These tests run against real servers named by the environment (see tests/clients/servers.py):
// CANTATA_TARGET, CANTATA_METRICS_URL, CANTATA_TLS_TARGET, CANTATA_TLS_CA, CANTATA_API_KEY and
// CANTATA_AUDIO_CHECK. test.sh refuses to run without them.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cantata "github.com/cantata-tts/cantata/clients/go"
	"github.com/cantata-tts/cantata/clients/go/ttsv1"
)

const (
	twoSentences = "The quick brown fox jumps over the lazy dog. Would you like a cup of tea?"
	pipersRate   = 22050
)

// longText takes the voice several seconds of work.
var longText = strings.Repeat("This sentence is here to keep the voice busy for a while longer. ", 40)

func environment(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Skipf("%s is not set: run through clients/go/test.sh", name)
	}
	return value
}

func dial(t *testing.T, options ...cantata.Option) *cantata.Client {
	t.Helper()
	client, err := cantata.Dial(context.Background(), environment(t, "CANTATA_TARGET"), options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func background(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type decoded struct {
	SampleRate int     `json:"sample_rate"`
	Channels   int     `json:"channels"`
	Seconds    float64 `json:"seconds"`
}

// decode writes the audio to a file and has CANTATA_AUDIO_CHECK (FFmpeg) decode it.
func decode(t *testing.T, audio []byte, name string) decoded {
	t.Helper()
	check := environment(t, "CANTATA_AUDIO_CHECK")
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, audio, 0o644); err != nil {
		t.Fatal(err)
	}
	output, err := exec.Command("sh", "-c", check+` "$1"`, "audio-check", path).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", check, path, err)
	}
	var d decoded
	if err := json.Unmarshal(output, &d); err != nil {
		t.Fatalf("audio check said %q: %v", output, err)
	}
	return d
}

func near(a, b, tolerance float64) bool { return math.Abs(a-b) <= tolerance }

func TestSynthesizeWAV(t *testing.T) {
	speech, err := dial(t).Synthesize(background(t), twoSentences, &cantata.Options{Model: "piper"})
	if err != nil {
		t.Fatal(err)
	}
	if string(speech.Audio[:4]) != "RIFF" || string(speech.Audio[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file: % x", speech.Audio[:12])
	}
	info := speech.Info
	if info.Encoding != cantata.EncodingWAV || info.SampleRateHz != pipersRate || info.Channels != 1 {
		t.Fatalf("info %+v", info)
	}
	got := decode(t, speech.Audio, "speech.wav")
	if got.SampleRate != pipersRate || got.Channels != 1 || got.Seconds < 2 {
		t.Fatalf("decoded %+v", got)
	}
	if !near(got.Seconds, info.DurationSeconds, 0.01) || !near(got.Seconds, speech.Stats.AudioSeconds, 0.01) {
		t.Fatalf("decoded %.3f s; info says %.3f s, stats %.3f s", got.Seconds, info.DurationSeconds, speech.Stats.AudioSeconds)
	}
	if speech.Stats.Model != "piper" || speech.Stats.Voice == "" || speech.Stats.ComputeSeconds <= 0 {
		t.Fatalf("stats %+v", speech.Stats)
	}
}

func TestStreamedOggOpusJoinsIntoOneFileThatDecodes(t *testing.T) {
	stream, err := dial(t).Stream(background(t), twoSentences, &cantata.Options{Encoding: cantata.EncodingOggOpus})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if info := stream.Info(); info.Encoding != cantata.EncodingOggOpus || info.SampleRateHz != 48000 {
		t.Fatalf("info before the first chunk: %+v", info)
	}
	var joined []byte
	chunks := 0
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, known := stream.Stats(); known {
			t.Fatal("stats known before the stream ended")
		}
		joined = append(joined, chunk...)
		chunks++
	}
	stats, known := stream.Stats()
	if !known {
		t.Fatal("no stats after the last chunk")
	}
	if chunks < 2 || string(joined[:4]) != "OggS" {
		t.Fatalf("%d chunks starting % x", chunks, joined[:4])
	}
	got := decode(t, joined, "speech.ogg")
	if got.SampleRate != 48000 || got.Channels != 1 || !near(got.Seconds, stats.AudioSeconds, 0.1) {
		t.Fatalf("decoded %+v; stats say %.3f s", got, stats.AudioSeconds)
	}
}

func TestStreamMessagesCarryInfoFirstAndStatsLast(t *testing.T) {
	// Through the generated stub: what the layer above relies on.
	call, err := dial(t).Stub().StreamSynthesize(background(t), &ttsv1.SynthesizeRequest{
		Text: twoSentences, Encoding: ttsv1.AudioEncoding_AUDIO_ENCODING_PCM_S16LE,
	})
	if err != nil {
		t.Fatal(err)
	}
	var messages []*ttsv1.SynthesizeStreamResponse
	for {
		message, err := call.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		messages = append(messages, message)
	}
	if len(messages) < 3 {
		t.Fatalf("%d messages", len(messages))
	}
	first, last := messages[0], messages[len(messages)-1]
	if first.GetInfo() == nil || len(first.GetAudio()) > 0 {
		t.Fatalf("first message %v", first)
	}
	if last.GetStats() == nil {
		t.Fatal("no stats in the last message")
	}
	for i, message := range messages {
		if i > 0 && message.GetInfo() != nil || i < len(messages)-1 && message.GetStats() != nil {
			t.Fatalf("message %d of %d carries info or stats", i, len(messages))
		}
	}
}

func TestResamplesToTheRateAskedFor(t *testing.T) {
	client := dial(t)
	native, err := client.Synthesize(background(t), twoSentences, &cantata.Options{Encoding: cantata.EncodingPCM})
	if err != nil {
		t.Fatal(err)
	}
	resampled, err := client.Synthesize(background(t), twoSentences, &cantata.Options{Encoding: cantata.EncodingPCM, SampleRateHz: 16000})
	if err != nil {
		t.Fatal(err)
	}
	if native.Info.SampleRateHz != pipersRate || resampled.Info.SampleRateHz != 16000 {
		t.Fatalf("rates %d and %d", native.Info.SampleRateHz, resampled.Info.SampleRateHz)
	}
	nativeSeconds := float64(len(native.Audio)) / 2 / pipersRate
	resampledSeconds := float64(len(resampled.Audio)) / 2 / 16000
	if !near(nativeSeconds, resampledSeconds, 0.01) || !near(resampledSeconds, resampled.Stats.AudioSeconds, 0.01) {
		t.Fatalf("%.3f s at %d Hz but %.3f s at 16000 Hz (stats %.3f s)", nativeSeconds, pipersRate, resampledSeconds, resampled.Stats.AudioSeconds)
	}
	wav, err := client.Synthesize(background(t), twoSentences, &cantata.Options{SampleRateHz: 16000})
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, wav.Audio, "16k.wav"); got.SampleRate != 16000 || !near(got.Seconds, resampledSeconds, 0.01) {
		t.Fatalf("decoded %+v", got)
	}
}

func TestBadRequestsAreTypedErrors(t *testing.T) {
	client := dial(t)
	cases := []struct {
		name     string
		text     string
		options  cantata.Options
		sentinel error
		code     codes.Code
	}{
		{"empty text", "", cantata.Options{}, cantata.ErrInvalidArgument, codes.InvalidArgument},
		{"unknown voice", "Hello.", cantata.Options{Voice: "no-such-voice"}, cantata.ErrNotFound, codes.NotFound},
		{"bad sample rate", "Hello.", cantata.Options{SampleRateHz: 1234}, cantata.ErrInvalidArgument, codes.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			options := c.options
			_, unaryErr := client.Synthesize(background(t), c.text, &options)
			_, streamErr := client.Stream(background(t), c.text, &options)
			for rpc, err := range map[string]error{"Synthesize": unaryErr, "Stream": streamErr} {
				if !errors.Is(err, c.sentinel) {
					t.Fatalf("%s: %v is not %v", rpc, err, c.sentinel)
				}
				var e *cantata.Error
				if !errors.As(err, &e) || e.Code != c.code || e.Message == "" || e.RequestID == "" {
					t.Fatalf("%s: %#v", rpc, e)
				}
				if errors.Is(err, cantata.ErrInternal) || errors.Is(err, cantata.ErrUnavailable) {
					t.Fatalf("%s: %v matches another sentinel", rpc, err)
				}
			}
		})
	}
}

func inflight(t *testing.T) float64 {
	t.Helper()
	response, err := http.Get(environment(t, "CANTATA_METRICS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	lines := bufio.NewScanner(response.Body)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, `cantata_inflight_requests{`) && strings.Contains(line, `model="piper"`) {
			fields := strings.Fields(line)
			value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return value
		}
	}
	t.Fatal("no cantata_inflight_requests for piper in the metrics")
	return 0
}

// waitForInflight polls the metrics until the gauge shows want, for at most 10 s.
func waitForInflight(t *testing.T, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := inflight(t); got != want; got = inflight(t) {
		if time.Now().After(deadline) {
			t.Fatalf("cantata_inflight_requests is %v after 10 s, not %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClosingAStreamStopsTheServersWork(t *testing.T) {
	waitForInflight(t, 0)
	stream, err := dial(t).Stream(background(t), longText, &cantata.Options{Encoding: cantata.EncodingPCM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// Unread, the server's worker waits on its queue: still in flight until the cancel.
	waitForInflight(t, 1)
	stream.Close()
	waitForInflight(t, 0)
	if _, err := stream.Recv(); !errors.Is(err, cantata.ErrCanceled) {
		t.Fatalf("Recv after Close: %v", err)
	}
}

func TestCancellingTheContextStopsTheServersWork(t *testing.T) {
	waitForInflight(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := dial(t).Stream(ctx, longText, &cantata.Options{Encoding: cantata.EncodingPCM})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	waitForInflight(t, 1)
	cancel()
	waitForInflight(t, 0)
}

func TestDeadlines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := dial(t).Synthesize(ctx, longText, nil)
	if !errors.Is(err, cantata.ErrDeadlineExceeded) {
		t.Fatalf("context deadline: %v", err)
	}
	stream, err := dial(t, cantata.WithTimeout(100*time.Millisecond)).Stream(context.Background(), longText, nil)
	if err == nil {
		defer stream.Close()
		_, err = stream.WriteTo(io.Discard)
	}
	if !errors.Is(err, cantata.ErrDeadlineExceeded) {
		t.Fatalf("client's default timeout: %v", err)
	}
	waitForInflight(t, 0)
}

func dialTLS(t *testing.T, options ...cantata.Option) *cantata.Client {
	t.Helper()
	options = append([]cantata.Option{cantata.WithTLS(environment(t, "CANTATA_TLS_CA"))}, options...)
	client, err := cantata.Dial(context.Background(), environment(t, "CANTATA_TLS_TARGET"), options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestTLSWithTheRightKey(t *testing.T) {
	client := dialTLS(t, cantata.WithAPIKey(environment(t, "CANTATA_API_KEY")))
	speech, err := client.Synthesize(background(t), "Hello over TLS.", nil)
	if err != nil {
		t.Fatal(err)
	}
	if decode(t, speech.Audio, "tls.wav").Seconds < 0.5 {
		t.Fatal("too short")
	}
	voices, err := client.Voices(background(t), "")
	if err != nil || len(voices) == 0 {
		t.Fatalf("voices %v, %v", voices, err)
	}
}

func TestTLSWithAWrongKeyOrNoneIsUnauthenticated(t *testing.T) {
	for name, client := range map[string]*cantata.Client{
		"wrong key": dialTLS(t, cantata.WithAPIKey("not-the-key")),
		"no key":    dialTLS(t),
	} {
		_, err := client.Synthesize(background(t), "Hello.", nil)
		if !errors.Is(err, cantata.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		}
		_, err = client.Stream(background(t), "Hello.", nil)
		if !errors.Is(err, cantata.ErrUnauthenticated) {
			t.Errorf("%s, streamed: %v", name, err)
		}
	}
}

func TestPlaintextToTheTLSServerFails(t *testing.T) {
	client, err := cantata.Dial(context.Background(), environment(t, "CANTATA_TLS_TARGET"),
		cantata.WithAPIKey(environment(t, "CANTATA_API_KEY")))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Synthesize(ctx, "Hello.", nil); err == nil {
		t.Fatal("a plaintext call to a TLS server succeeded")
	}
}

func TestRequestIDRoundTrip(t *testing.T) {
	client := dial(t)
	speech, err := client.Synthesize(background(t), "Hello.", &cantata.Options{RequestID: "go-unary-42"})
	if err != nil {
		t.Fatal(err)
	}
	if speech.RequestID != "go-unary-42" || speech.Stats.RequestID != "go-unary-42" {
		t.Fatalf("request ids %q and %q", speech.RequestID, speech.Stats.RequestID)
	}
	chosen, err := client.Synthesize(background(t), "Hello.", nil)
	if err != nil {
		t.Fatal(err)
	}
	if chosen.RequestID == "" || chosen.RequestID != chosen.Stats.RequestID {
		t.Fatalf("the server's own id: %q, stats %q", chosen.RequestID, chosen.Stats.RequestID)
	}
	stream, err := client.Stream(background(t), "Hello.", &cantata.Options{RequestID: "go-stream-43"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	if stats, _ := stream.Stats(); stream.RequestID() != "go-stream-43" || stats.RequestID != "go-stream-43" {
		t.Fatalf("stream request ids %q and %q", stream.RequestID(), stats.RequestID)
	}
	_, err = client.Synthesize(background(t), "", &cantata.Options{RequestID: "go-error-44"})
	var e *cantata.Error
	if !errors.As(err, &e) || e.RequestID != "go-error-44" {
		t.Fatalf("error %v", err)
	}
}

func TestVoices(t *testing.T) {
	voices, err := dial(t).Voices(background(t), "piper")
	if err != nil {
		t.Fatal(err)
	}
	defaults := 0
	for _, v := range voices {
		if v.Model != "piper" || v.VoiceID == "" || v.NativeSampleRateHz != pipersRate || !v.Capabilities.Streaming {
			t.Errorf("voice %+v", v)
		}
		if v.IsDefault {
			defaults++
		}
	}
	if defaults != 1 {
		t.Fatalf("%d default voices among %d", defaults, len(voices))
	}
	if _, err := dial(t).Voices(background(t), "no-such-model"); !errors.Is(err, cantata.ErrNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestWordMarksPointIntoTheText(t *testing.T) {
	text := "Hello there, quick brown fox."
	speech, err := dial(t).Synthesize(background(t), text, &cantata.Options{Timing: &cantata.Timing{Words: true}})
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	runes := []rune(text)
	for _, m := range speech.Marks {
		if m.Kind != cantata.MarkWord || m.EndSeconds <= m.StartSeconds || m.EndSeconds > speech.Info.DurationSeconds+0.01 {
			t.Fatalf("mark %+v", m)
		}
		if string(runes[m.TextOffset:m.TextEnd()]) != m.Value {
			t.Fatalf("mark %+v points at %q", m, string(runes[m.TextOffset:m.TextEnd()]))
		}
		words = append(words, m.Value)
	}
	if got := strings.Join(words, " "); got != "Hello there quick brown fox" {
		t.Fatalf("words %q", got)
	}
}

func pcmSeconds(audio []byte, rate int) float64 { return float64(len(audio)) / 2 / float64(rate) }

func TestLiveSessionSpeaksDeltasAndEndsWithStats(t *testing.T) {
	live, err := dial(t).Live(background(t), &cantata.LiveOptions{Options: cantata.Options{Encoding: cantata.EncodingPCM}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	// Sent from another goroutine while this one receives, as a language model's reply would be.
	sent := make(chan error, 1)
	go func() {
		for _, step := range []string{"The quick bro", "wn fox jumps over ", "", "the lazy dog. Would you", " like a cup of tea?"} {
			var err error
			if step == "" {
				err = live.Flush()
			} else {
				err = live.Send(step)
			}
			if err != nil {
				sent <- err
				return
			}
		}
		sent <- live.Close()
	}()
	var audio []byte
	var flushes []cantata.LiveFlushed
	flushedAt := 0.0
	for {
		event, err := live.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, known := live.Info(); !known {
			t.Fatal("an event before the audio's format")
		}
		switch e := event.(type) {
		case *cantata.LiveAudio:
			audio = append(audio, e.Audio...)
		case *cantata.LiveFlushed:
			flushes = append(flushes, *e)
			flushedAt = pcmSeconds(audio, pipersRate)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(flushes) != 1 || flushes[0].TextOffset != len("The quick brown fox jumps over ") || !near(flushes[0].AudioSeconds, flushedAt, 0.01) {
		t.Fatalf("flushed %+v after %.3f s of audio", flushes, flushedAt)
	}
	info, _ := live.Info()
	stats, known := live.Stats()
	if !known || info.SampleRateHz != pipersRate || info.Encoding != cantata.EncodingPCM {
		t.Fatalf("info %+v, stats known %v", info, known)
	}
	seconds := pcmSeconds(audio, info.SampleRateHz)
	if seconds < 2 || !near(seconds, stats.AudioSeconds, 0.01) {
		t.Fatalf("%.3f s of audio; stats say %.3f s", seconds, stats.AudioSeconds)
	}
	if decode(t, append(wavHeader(info.SampleRateHz, len(audio)), audio...), "live.wav").Seconds < 2 {
		t.Fatal("the live audio does not decode")
	}
}

func TestLiveCancelIsAnsweredByCancelled(t *testing.T) {
	live, err := dial(t).Live(background(t), &cantata.LiveOptions{Options: cantata.Options{Encoding: cantata.EncodingPCM}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	if err := live.Send(longText); err != nil {
		t.Fatal(err)
	}
	var cancelled *cantata.LiveCancelled
	audioBefore, audioAfter := 0, 0
	for cancelled == nil {
		event, err := live.Recv()
		if err != nil {
			t.Fatal(err)
		}
		switch e := event.(type) {
		case *cantata.LiveAudio:
			if audioBefore == 0 {
				if err := live.Cancel(); err != nil {
					t.Fatal(err)
				}
			}
			audioBefore += len(e.Audio)
		case *cantata.LiveCancelled:
			cancelled = e
		}
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		event, err := live.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := event.(*cantata.LiveAudio); ok {
			audioAfter += len(a.Audio)
		}
	}
	if audioAfter != 0 {
		t.Fatalf("%d bytes of audio after the cancel", audioAfter)
	}
	sent := float64(audioBefore) / 2 / pipersRate
	if cancelled.TextOffset >= len([]rune(longText)) || !near(cancelled.AudioSeconds, sent, 0.01) {
		t.Fatalf("cancelled %+v after %.3f s of audio", cancelled, sent)
	}
	if stats, known := live.Stats(); !known || !near(stats.AudioSeconds, sent, 0.01) {
		t.Fatalf("stats %+v", stats)
	}
	waitForInflight(t, 0)
}

func wavHeader(rate, dataBytes int) []byte {
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataBytes))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataBytes))
	return h
}

func TestLiveErrorsAreTyped(t *testing.T) {
	live, err := dial(t).Live(background(t), &cantata.LiveOptions{Options: cantata.Options{Voice: "no-such-voice", RequestID: "go-live-45"}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	_, err = live.Recv()
	var e *cantata.Error
	if !errors.Is(err, cantata.ErrNotFound) || !errors.As(err, &e) || e.RequestID != "go-live-45" {
		t.Fatalf("unknown voice: %v", err)
	}
	if err := live.Send("Hello."); err != nil && !errors.Is(err, cantata.ErrSessionEnded) && !errors.Is(err, cantata.ErrCanceled) {
		t.Fatalf("Send after the session failed: %v", err)
	}
}
