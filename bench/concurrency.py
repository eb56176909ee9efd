"""Concurrent streaming clients against Cantata, and the same load against Piper's own HTTP
server with the same voice, side by side in one run: aggregate audio seconds per wall second,
time to first audio, latency and errors at 1, 2, 4 and 8 clients.

Targets: Cantata's throughput at 4+ clients >= 1.6x its single-client throughput; its
throughput >= Piper's and its p95 latency <= Piper's at every level."""

import argparse
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.servers import cantata, piper_http, piper_http_synthesize
from bench.stats import summary
from cantata_client import Client, Encoding

TEXT = (
    "Thanks for calling the front desk. Your room is ready on the fourth floor, "
    "and breakfast is served until ten. Is there anything else I can help you with?"
)
LEVELS = (1, 2, 4, 8)
REQUESTS_PER_LEVEL = 16
ROUNDS = 2
"""Each level runs this many times per server, in mirrored order (A B C, C B A), so that drift
and warm-up fall on every server alike; results are pooled over the rounds."""
RATE = 22050

# One request: returns (seconds to first audio, seconds to last audio, audio seconds).
Request = Callable[[], tuple[float, float, float]]


def cantata_request(client: Client) -> Request:
    def call() -> tuple[float, float, float]:
        began = time.perf_counter()
        first = None
        size = 0
        for chunk in client.stream(TEXT, encoding=Encoding.PCM):
            first = first or time.perf_counter() - began
            size += len(chunk)
        return first or 0.0, time.perf_counter() - began, size / 2 / RATE

    return call


def piper_request(url: str) -> Request:
    def call() -> tuple[float, float, float]:
        began = time.perf_counter()
        wav = piper_http_synthesize(url, TEXT)
        total = time.perf_counter() - began
        # The whole WAV arrives at once, so its first audio is its last.
        return total, total, (len(wav) - 44) / 2 / RATE

    return call


@dataclass
class Measurements:
    first_audio: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def report(self, clients: int) -> dict[str, Any]:
        return {
            "clients": clients,
            "audio_seconds_per_second": self.audio_seconds / self.wall_seconds,
            "first_audio_seconds": summary(self.first_audio) if self.first_audio else {},
            "latency_seconds": summary(self.latency) if self.latency else {},
            "errors": len(self.errors),
            "error_examples": self.errors[:3],
        }


def load(request: Request, clients: int, into: Measurements) -> None:
    """One round: `clients` loops, each sending its share of REQUESTS_PER_LEVEL in turn."""
    lock = threading.Lock()

    def client_loop() -> None:
        for _ in range(REQUESTS_PER_LEVEL // clients):
            try:
                first, latency, audio = request()
            except Exception as error:
                with lock:
                    into.errors.append(repr(error))
                continue
            with lock:
                into.first_audio.append(first)
                into.latency.append(latency)
                into.audio_seconds += audio

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    into.wall_seconds += time.perf_counter() - began


def run(levels: tuple[int, ...] = LEVELS, rounds: int = ROUNDS) -> dict[str, Any]:
    one_thread = [
        {"name": "piper", "runtime": "piper", "concurrency": 2, "options": {"threads": 1}}
    ]
    with (
        cantata() as target,
        cantata(one_thread) as target_one_thread,
        piper_http() as url,
        Client(target, timeout=120) as client,
        Client(target_one_thread, timeout=120) as client_one_thread,
    ):
        requests = {
            "cantata": cantata_request(client),
            "cantata_threads_1": cantata_request(client_one_thread),
            "piper_http": piper_request(url),
        }
        for request in requests.values():
            request()  # warm-up
        pooled = {name: {c: Measurements() for c in levels} for name in requests}
        for clients in levels:
            order = list(requests)
            for round_index in range(rounds):
                for name in order if round_index % 2 == 0 else reversed(order):
                    load(requests[name], clients, pooled[name][clients])
    servers = {name: {c: pooled[name][c].report(c) for c in levels} for name in pooled}
    return {"levels": servers, "verdicts": verdicts(servers, levels)}


def verdicts(
    servers: dict[str, dict[int, dict[str, Any]]], levels: tuple[int, ...]
) -> dict[str, Any]:
    piper = servers["piper_http"]

    def versus_piper(by_level: dict[int, dict[str, Any]], key: str, stat: str) -> dict[int, float]:
        return {c: by_level[c][key][stat] / piper[c][key][stat] for c in levels}

    out: dict[str, Any] = {}
    for name in ("cantata", "cantata_threads_1"):
        by_level = servers[name]
        throughput = {c: by_level[c]["audio_seconds_per_second"] for c in levels}
        out[name] = {
            "scaling_vs_lowest_level": {c: throughput[c] / throughput[levels[0]] for c in levels},
            "throughput_vs_piper": {
                c: throughput[c] / piper[c]["audio_seconds_per_second"] for c in levels
            },
            "p50_latency_vs_piper": versus_piper(by_level, "latency_seconds", "median"),
            "p95_latency_vs_piper": versus_piper(by_level, "latency_seconds", "p95"),
            "p95_first_audio_vs_piper": versus_piper(by_level, "first_audio_seconds", "p95"),
            "errors": sum(by_level[c]["errors"] for c in levels),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print(json.dumps(run(tuple(args.levels), args.rounds), indent=2))


if __name__ == "__main__":
    main()
