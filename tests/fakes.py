"""A fault-injection runtime, configured like any other (runtime: "tests.fakes:FaultRuntime").
It speaks a tone per segment; a segment naming a fault makes it misbehave. It never stands in
for a real model: features are proven against Piper, failures against this."""

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

import numpy as np

from runtimes.base import Pcm, StageTotals, SynthesisJob, Voice, VoiceCapabilities
from runtimes.errors import DeviceError, ModelLoadError

SAMPLE_RATE = 16000


class FaultRuntime:
    """Options: load_seconds (a slow load), fail_load (a load that fails), chunk_seconds
    (compute time per chunk). Segment texts: "raise" (a bug), "oom" (out of memory), "device"
    (a device fault), "stall" (endless slow chunks). A voice prompt is spoken first (its first
    tenth of a second), then the instructions, one silent sample per character."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.load_seconds = float(options.get("load_seconds", 0))
        self.fail_load = bool(options.get("fail_load", False))
        self.chunk_seconds = float(options.get("chunk_seconds", 0.0))
        self.loaded = threading.Event()

    @property
    def device(self) -> str:
        return "fake"

    def load(self) -> None:
        time.sleep(self.load_seconds)
        if self.fail_load:
            raise ModelLoadError("fail_load is set")
        self.loaded.set()

    def voices(self) -> list[Voice]:
        return [
            Voice(
                "tone",
                "en-US",
                SAMPLE_RATE,
                VoiceCapabilities(voice_cloning=True, instructions=True),
            ),
        ]

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        if job.prompt is not None:
            yield job.prompt.audio[: SAMPLE_RATE // 10].astype(np.float32)
        if job.instructions is not None:
            yield np.zeros(len(job.instructions), np.float32)
        for segment in job.segments:
            word = segment.strip(" .!?").lower()
            if word == "raise":
                raise ValueError("a bug in the runtime")
            if word == "oom":
                raise MemoryError("simulated out of memory")
            if word == "device":
                raise DeviceError("simulated device fault")
            for _ in range(10**6 if word == "stall" else 1):
                time.sleep(self.chunk_seconds)
                tone = np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE // 10) / SAMPLE_RATE)
                yield (0.5 * tone).astype(np.float32)

    def close(self) -> None:
        self.loaded.clear()


class StagedFaultRuntime(FaultRuntime):
    """The fault runtime as a pipeline of two stages, for the stage metrics: every chunk it
    speaks counts as CHUNK_STAGE_SECONDS of each stage's busy time and CHUNK_OVERLAP_SECONDS of
    overlap."""

    CHUNK_STAGE_SECONDS: Final = {"lm": 0.25, "decoder": 0.125}
    CHUNK_OVERLAP_SECONDS: Final = 0.0625

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self._chunks = 0
        self._lock = threading.Lock()

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        for chunk in super().synthesize(job):
            with self._lock:
                self._chunks += 1
            yield chunk

    def stage_totals(self) -> StageTotals:
        with self._lock:
            chunks = self._chunks
        return StageTotals(
            busy_seconds={
                stage: chunks * seconds for stage, seconds in self.CHUNK_STAGE_SECONDS.items()
            },
            overlap_seconds=chunks * self.CHUNK_OVERLAP_SECONDS,
        )
