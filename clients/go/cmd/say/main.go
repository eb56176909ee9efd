// Command say speaks text through a Cantata server into a WAV file, streaming it as it is
// synthesized:
//
//	say --server 127.0.0.1:50051 [--voice V] [--rate HZ] -o out.wav "text"
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	cantata "github.com/cantata-tts/cantata/clients/go"
)

func main() {
	server := flag.String("server", "127.0.0.1:50051", "the server's host:port")
	model := flag.String("model", "", "model (default: the server's)")
	voice := flag.String("voice", "", "voice (default: the model's)")
	speaker := flag.String("speaker", "", "speaker of a multi-speaker voice")
	rate := flag.Int("rate", 0, "sample rate in Hz (default: the voice's own)")
	speed := flag.Float64("speed", 0, "speaking rate, 0.5-2.0 (default 1.0)")
	output := flag.String("o", "", "the WAV file to write (- for standard output)")
	tlsCA := flag.String("tls-ca", "", "connect over TLS, trusting this CA file")
	apiKey := flag.String("api-key", os.Getenv("CANTATA_API_KEY"), "API key (default: $CANTATA_API_KEY)")
	timeout := flag.Duration("timeout", 0, "deadline for the whole synthesis, such as 30s")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: say [options] -o out.wav \"text\"\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	text := strings.Join(flag.Args(), " ")
	if *output == "" || text == "" {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var options []cantata.Option
	if *tlsCA != "" {
		options = append(options, cantata.WithTLS(*tlsCA))
	}
	if *apiKey != "" {
		options = append(options, cantata.WithAPIKey(*apiKey))
	}
	options = append(options, cantata.WithTimeout(*timeout))
	err := say(ctx, *server, options, text, *output, &cantata.Options{
		Model:        *model,
		Voice:        *voice,
		Speaker:      *speaker,
		Encoding:     cantata.EncodingWAV,
		SampleRateHz: int32(*rate),
		Speed:        float32(*speed),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "say:", err)
		os.Exit(1)
	}
}

func say(ctx context.Context, server string, options []cantata.Option, text, output string, request *cantata.Options) error {
	client, err := cantata.Dial(ctx, server, options...)
	if err != nil {
		return err
	}
	defer client.Close()
	stream, err := client.Stream(ctx, text, request)
	if err != nil {
		return err
	}
	defer stream.Close()

	if output == "-" {
		_, err = stream.WriteTo(os.Stdout)
	} else {
		err = writeWAV(stream, output)
	}
	if err != nil {
		return err
	}
	if stats, ok := stream.Stats(); ok {
		fmt.Fprintf(os.Stderr, "%.2f s of audio from %s/%s in %.2f s (real-time factor %.3f, first audio after %d ms)\n",
			stats.AudioSeconds, stats.Model, stats.Voice, stats.ComputeSeconds, stats.RealTimeFactor,
			time.Duration(stats.TimeToFirstAudioSeconds*float64(time.Second)).Milliseconds())
	}
	return nil
}

// writeWAV streams into the file, then states the real sizes in its header, where a streamed
// WAV carries 0xFFFFFFFF.
func writeWAV(stream *cantata.Stream, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := stream.WriteTo(out); err != nil {
		return err
	}
	if err := fixSizes(out); err != nil {
		return err
	}
	return out.Close()
}

func fixSizes(out *os.File) error {
	size, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	header := make([]byte, 4096)
	n, err := out.ReadAt(header, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	header = header[:n]
	if len(header) < 12 || string(header[:4]) != "RIFF" || string(header[8:12]) != "WAVE" {
		return errors.New("the server's audio is not a WAV file")
	}
	for at := 12; at+8 <= len(header); {
		id, chunk := string(header[at:at+4]), binary.LittleEndian.Uint32(header[at+4:at+8])
		if id == "data" {
			if err := putUint32(out, 4, uint32(size-8)); err != nil {
				return err
			}
			return putUint32(out, int64(at+4), uint32(size-int64(at)-8))
		}
		at += 8 + int(chunk) + int(chunk%2)
	}
	return errors.New("no data chunk in the WAV header")
}

func putUint32(out *os.File, at int64, value uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], value)
	_, err := out.WriteAt(b[:], at)
	return err
}
