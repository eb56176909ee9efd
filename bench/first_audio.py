"""Time to first audio: StreamSynthesize of a 10-sentence paragraph against unary Synthesize of
its first sentence alone, interleaved, median of each. Target ratio <= 1.5."""

import time
from typing import Any

from bench.servers import cantata
from bench.stats import summary
from cantata_client import Client, Encoding

SENTENCES = [
    "The morning train left the station a little after seven.",
    "Most of the passengers were still half asleep.",
    "A child by the window counted the cows in the fields.",
    "Her father read the newspaper and sipped his coffee.",
    "Outside, the hills turned from grey to gold.",
    "The conductor walked slowly down the aisle.",
    "He checked each ticket with a small silver punch.",
    "Somewhere behind them a baby began to cry.",
    "The train slowed as it crossed the old stone bridge.",
    "At last the city appeared on the horizon.",
]
PARAGRAPH = " ".join(SENTENCES)


def run(runs: int = 10, warmup: int = 2) -> dict[str, Any]:
    stream_first_audio: list[float] = []
    unary_first_sentence: list[float] = []
    with cantata() as target, Client(target, timeout=60) as client:
        for index in range(warmup + runs):
            began = time.perf_counter()
            stream = client.stream(PARAGRAPH, encoding=Encoding.PCM)
            chunks = iter(stream)
            next(chunks)
            first = time.perf_counter() - began
            for _ in chunks:
                pass
            began = time.perf_counter()
            client.synthesize(SENTENCES[0], encoding=Encoding.PCM)
            unary = time.perf_counter() - began
            if index >= warmup:
                stream_first_audio.append(first)
                unary_first_sentence.append(unary)
    stream_summary, unary_summary = summary(stream_first_audio), summary(unary_first_sentence)
    return {
        "stream_paragraph_first_audio_seconds": stream_summary,
        "unary_first_sentence_seconds": unary_summary,
        "ratio": stream_summary["median"] / unary_summary["median"],
        "target_ratio": 1.5,
    }
