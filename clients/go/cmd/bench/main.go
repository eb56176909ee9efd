// Command bench times streamed syntheses through a Cantata server, one after another, and prints
// one JSON line per request: the seconds from starting the call to the first audio chunk, and
// to the end of the stream, as the client measures them (Go's monotonic clock):
//
//	bench --server 127.0.0.1:50051 --requests 10 "text"
package main

import (
	"context"
	"encoding/json"
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

// timing is one request's line of output.
type timing struct {
	FirstAudioSeconds float64 `json:"first_audio_seconds"`
	TotalSeconds      float64 `json:"total_seconds"`
}

func main() {
	server := flag.String("server", "127.0.0.1:50051", "the server's host:port")
	requests := flag.Int("requests", 1, "how many syntheses to run, one after another")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: bench --server HOST:PORT --requests N \"text\"\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	text := strings.Join(flag.Args(), " ")
	if text == "" || *requests < 1 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, *server, *requests, text); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench(ctx context.Context, server string, requests int, text string) error {
	client, err := cantata.Dial(ctx, server)
	if err != nil {
		return err
	}
	defer client.Close()
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < requests; i++ {
		t, err := once(ctx, client, text)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		if err := out.Encode(t); err != nil {
			return err
		}
	}
	return nil
}

// once runs one streamed synthesis as PCM in the server's default voice, reading every chunk.
// time.Since uses the monotonic clock reading that time.Now carries.
func once(ctx context.Context, client *cantata.Client, text string) (timing, error) {
	start := time.Now()
	stream, err := client.Stream(ctx, text, &cantata.Options{Encoding: cantata.EncodingPCM})
	if err != nil {
		return timing{}, err
	}
	defer stream.Close()
	var first time.Duration
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return timing{}, err
		}
		if first == 0 && len(chunk) > 0 {
			first = time.Since(start)
		}
	}
	total := time.Since(start)
	if first == 0 {
		return timing{}, errors.New("the stream ended without audio")
	}
	return timing{FirstAudioSeconds: first.Seconds(), TotalSeconds: total.Seconds()}, nil
}
