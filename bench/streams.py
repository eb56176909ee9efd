"""Concurrent streams against one loaded runtime, as requests reach it from the server's workers:
each stream's time to first audio and real-time factor, the aggregate multiple of real time and
the peak device memory."""

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from runtimes.base import Runtime, SynthesisJob


def measure_streams(
    runtime: Runtime, job: Callable[[int], SynthesisJob], streams: int, sample_rate: int
) -> dict[str, Any]:
    """Starts `streams` syntheses together (`job(i)` is stream i's request) and waits for all."""
    first_audio: list[float] = []
    audio_seconds: list[float] = []
    barrier = threading.Barrier(streams)

    def one(index: int) -> None:
        barrier.wait()
        began = time.perf_counter()
        samples = 0
        for chunk in runtime.synthesize(job(index)):
            if not samples:
                first_audio.append(time.perf_counter() - began)
            samples += np.asarray(chunk).size
        audio_seconds.append(samples / sample_rate)

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    per_stream = statistics.mean(audio_seconds)
    return {
        "streams": streams,
        "audio_seconds_per_stream": round(per_stream, 2),
        "rtf_per_stream": round(wall / per_stream, 3),
        "aggregate_x_real_time": round(sum(audio_seconds) / wall, 2),
        "ttfa_p50_s": round(statistics.median(first_audio), 3),
        "ttfa_max_s": round(max(first_audio), 3),
        "peak_device_memory_gib": (
            round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if torch.cuda.is_available()
            else None
        ),
    }
