"""Synthesize through gRPC (a real server process) against the Piper runtime called in this
process: same text, voice and settings, runs interleaved, median of each. Target ratio <= 1.05."""

import time
from typing import Any

import numpy as np

from bench.servers import cantata
from bench.stats import summary
from cantata_client import Client, Encoding
from runtimes.base import SamplingParams, SynthesisJob
from runtimes.piper import PiperRuntime
from server.engine.text import normalize, split_segments

TEXT = "The quick brown fox jumps over the lazy dog. Then it naps in the warm afternoon sun."


def run(runs: int = 20, warmup: int = 3) -> dict[str, Any]:
    runtime = PiperRuntime({})
    runtime.load()
    job = SynthesisJob(
        segments=tuple(split_segments(normalize(TEXT), 300)),
        voice=runtime.voices()[0].id,
        sampling=SamplingParams(temperature=0.0),
    )
    grpc_seconds: list[float] = []
    local_seconds: list[float] = []
    with cantata() as target, Client(target, timeout=60) as client:
        for index in range(warmup + runs):
            began = time.perf_counter()
            remote = client.synthesize(TEXT, encoding=Encoding.PCM, temperature=0.0).audio
            remote_time = time.perf_counter() - began
            began = time.perf_counter()
            local = np.concatenate(list(runtime.synthesize(job)))
            local_time = time.perf_counter() - began
            assert len(remote) == 2 * local.size, "both sides must make the same audio"
            if index >= warmup:
                grpc_seconds.append(remote_time)
                local_seconds.append(local_time)
    runtime.close()
    grpc_summary, local_summary = summary(grpc_seconds), summary(local_seconds)
    return {
        "grpc_synthesize_seconds": grpc_summary,
        "in_process_seconds": local_summary,
        "ratio": grpc_summary["median"] / local_summary["median"],
        "target_ratio": 1.05,
    }
