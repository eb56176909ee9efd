"""Live sessions against a real server with the embedded Piper voice, as a voice agent uses them.

- First sentence: a language-model-like writer sends 3-5 characters every 30 ms. From the moment
  the first sentence's last character is sent to its first audio, against unary Synthesize of
  that sentence alone (interleaved runs, medians). Target ratio <= 1.2.
- Barge-in: cancel sent -> `cancelled` received, p95 (target <= 100 ms), and any audio after it.
- Timing marks: StreamSynthesize of a paragraph with word and viseme marks against without
  (interleaved, medians). Target <= 1.05x the time.
- A timeline plot of one session: text sent, audio received, word marks received.

    .venv/bin/python -m bench.live [--runs 20]

Writes bench/results/live.json and bench/results/live_timeline.png."""

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.first_audio import PARAGRAPH, SENTENCES
from bench.servers import cantata
from bench.stats import summary
from cantata_client import Client, Encoding, LiveAudio, LiveCancelled, LiveMarks, Timing

RESULTS = Path(__file__).parent / "results"
ANSWER = " ".join(SENTENCES[:4])
RATE = 22050


@dataclass
class Timeline:
    """What happened in one session, in seconds from its start."""

    began: float = field(default_factory=time.perf_counter)
    sent: list[tuple[float, int]] = field(default_factory=list)
    """(time, characters sent so far)"""
    audio: list[tuple[float, float]] = field(default_factory=list)
    """(time, seconds of audio received so far)"""
    words: list[tuple[float, float]] = field(default_factory=list)
    """(time received, start of the word in the audio)"""

    def now(self) -> float:
        return time.perf_counter() - self.began


def write_like_a_model(live: Any, text: str, timeline: Timeline, seed: int) -> None:
    """3-5 characters every 30 ms, then half-close."""
    chooser = random.Random(seed)
    position = 0
    while position < len(text):
        size = chooser.randint(3, 5)
        live.send(text[position : position + size])
        position += size
        timeline.sent.append((timeline.now(), min(position, len(text))))
        time.sleep(0.03)
    live.close()


def live_session(client: Client, seed: int) -> tuple[float, Timeline]:
    """Seconds from the first sentence's last character being sent to its first audio."""
    timeline = Timeline()
    first_end = len(SENTENCES[0])
    with client.live(encoding=Encoding.PCM, timing=Timing(words=True)) as live:
        writer = threading.Thread(target=write_like_a_model, args=(live, ANSWER, timeline, seed))
        writer.start()
        received = 0.0
        for event in live:
            if isinstance(event, LiveAudio):
                received += len(event.audio) / 2 / RATE
                timeline.audio.append((timeline.now(), received))
            elif isinstance(event, LiveMarks):
                timeline.words += [(timeline.now(), mark.start_seconds) for mark in event.marks]
        writer.join()
    sentence_sent = next(t for t, count in timeline.sent if count >= first_end)
    return timeline.audio[0][0] - sentence_sent, timeline


def first_sentence(client: Client, runs: int) -> tuple[dict[str, Any], Timeline]:
    live_latency: list[float] = []
    unary_latency: list[float] = []
    timeline = Timeline()
    for run in range(runs + 2):
        latency, timeline = live_session(client, run)
        began = time.perf_counter()
        client.synthesize(SENTENCES[0], encoding=Encoding.PCM)
        unary = time.perf_counter() - began
        if run >= 2:  # warm-up
            live_latency.append(latency)
            unary_latency.append(unary)
    live_median = summary(live_latency)["median"]
    unary_median = summary(unary_latency)["median"]
    return {
        "live_sentence_end_to_first_audio_seconds": summary(live_latency),
        "unary_first_sentence_seconds": summary(unary_latency),
        "ratio": live_median / unary_median,
        "target_ratio": 1.2,
    }, timeline


def barge_in(client: Client, runs: int) -> dict[str, Any]:
    answered: list[float] = []
    audio_after = 0
    for _ in range(runs):
        with client.live(encoding=Encoding.PCM) as live:
            live.send(PARAGRAPH)
            events = iter(live)
            received = 0
            for event in events:
                if isinstance(event, LiveAudio):
                    received += len(event.audio)
                if received > RATE:  # half a second of audio
                    break
            sent = time.perf_counter()
            live.cancel()
            for event in events:
                if isinstance(event, LiveCancelled):
                    answered.append(time.perf_counter() - sent)
                    break
            live.close()
            audio_after += sum(len(e.audio) for e in events if isinstance(e, LiveAudio))
    return {
        "cancel_to_cancelled_seconds": summary(answered),
        "target_p95_seconds": 0.1,
        "audio_bytes_after_cancelled": audio_after,
    }


def marks_overhead(client: Client, runs: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"plain": [], "words_and_visemes": []}
    timing = Timing(words=True, visemes=True)
    for run in range(runs + 2):
        for name, options in (("plain", None), ("words_and_visemes", timing)):
            began = time.perf_counter()
            for _ in client.stream(PARAGRAPH, encoding=Encoding.PCM, timing=options):
                pass
            if run >= 2:
                times[name].append(time.perf_counter() - began)
    plain, marked = (summary(times[name])["median"] for name in times)
    return {
        "stream_seconds": {name: summary(values) for name, values in times.items()},
        "ratio": marked / plain,
        "target_ratio": 1.05,
    }


def plot(timeline: Timeline, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (text_axis, audio_axis) = pyplot.subplots(2, 1, sharex=True, figsize=(9, 5))
    text_axis.step(*zip(*timeline.sent, strict=True), where="post", label="characters sent")
    text_axis.set_ylabel("characters")
    text_axis.set_title("One live session: 3-5 characters every 30 ms, Piper voice")
    text_axis.legend(loc="lower right")
    audio_axis.step(*zip(*timeline.audio, strict=True), where="post", label="audio received")
    if timeline.words:
        audio_axis.scatter(
            *zip(*timeline.words, strict=True), s=8, color="tab:red", label="word marks received"
        )
    audio_axis.set_xlabel("seconds since the session began")
    audio_axis.set_ylabel("seconds of audio")
    audio_axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    models = [
        {"name": "piper", "runtime": "piper", "concurrency": 2, "options": {"deterministic": True}}
    ]
    with cantata(models) as target, Client(target, timeout=120) as client:
        first, timeline = first_sentence(client, args.runs)
        results = {
            "first_sentence": first,
            "barge_in": barge_in(client, args.runs),
            "marks_overhead": marks_overhead(client, args.runs),
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(results, indent=2))
    plot(timeline, RESULTS / "live_timeline.png")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
