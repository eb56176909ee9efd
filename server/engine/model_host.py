"""One configured model: its runtime, its worker threads, its state and its counters.

Synthesis runs on the model's own worker threads; chunks reach the event loop through a small
bounded queue, so a slow client holds back its own synthesis (backpressure) and a cancelled
request stops its runtime at the next chunk boundary."""

import asyncio
import enum
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Final

import psutil
import structlog

from runtimes.base import (
    Pcm,
    Runtime,
    RuntimeFactory,
    StagedRuntime,
    StageTotals,
    SynthesisJob,
    TimedAudio,
    TimedRuntime,
    Voice,
)
from server.config import ModelSettings
from server.engine.request import StreamChunk
from server.errors import (
    CantataError,
    DeadlineExceeded,
    ModelLoadError,
    ResourceExhausted,
    Unavailable,
)
from server.observability.metrics import Metrics

log = structlog.get_logger(__name__)

_QUEUE_CHUNKS: Final = 2
_CANCEL_POLL_SECONDS: Final = 0.05
_JOB_SECONDS_SMOOTHING: Final = 0.2


class ModelState(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass
class ModelCounters:
    """Updated from worker threads under a lock; read for tests, health and metrics."""

    admitted: int = 0
    """Accepted and not yet finished: running plus queued, counted from admission."""
    queued: int = 0
    running: int = 0
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    chunks: int = 0
    chunks_after_cancel: int = 0
    """Chunks a runtime finished after its request was cancelled: work thrown away."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class _End:
    pass


_END: Final = _End()


Chunk = Pcm | TimedAudio
"""What a runtime yields: audio, or audio with the marks heard in it."""


class JobRun:
    """One synthesis on a worker thread, consumed on the event loop as an async iterator of
    whatever `render` makes of each chunk."""

    def __init__(
        self,
        host: "ModelHost",
        chunks: Callable[[], Iterator[Chunk]],
        render: Callable[[Chunk], StreamChunk | None],
        finish: Callable[[], StreamChunk],
        deadline: float | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[StreamChunk | BaseException | _End] = asyncio.Queue(
            _QUEUE_CHUNKS
        )
        self._cancel = threading.Event()
        self._host = host
        self._chunks = chunks
        self._render = render
        self._finish = finish
        self._done = False
        self._deadline = deadline
        self.compute_seconds = 0.0
        """Time spent inside the runtime: written by the worker, read after the last item."""
        host.counters.add(queued=1, admitted=1)
        self._loop.run_in_executor(host.executor, self._produce)

    def _deliver(self, item: StreamChunk | BaseException | _End) -> bool:
        """Blocks the worker while the queue is full; False once the consumer has gone."""
        try:
            future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        except RuntimeError:  # the event loop is closed
            return False
        while True:
            try:
                future.result(timeout=_CANCEL_POLL_SECONDS)
                return True
            except FutureTimeout:
                if self._cancel.is_set():
                    future.cancel()
                    return False

    def _produce(self) -> None:
        counters = self._host.counters
        counters.add(queued=-1)
        try:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                # Its deadline passed while it waited: starting it would only waste the worker.
                counters.add(cancelled=1)
                self._host.metrics.rejected.labels(self._host.name, "deadline").inc()
                self._deliver(DeadlineExceeded("the deadline passed while the request waited"))
            elif self._cancel.is_set():
                counters.add(cancelled=1)
            else:
                self._synthesize()
        finally:
            counters.add(admitted=-1)
            self._deliver(_END)

    def _synthesize(self) -> None:
        counters = self._host.counters
        counters.add(started=1, running=1)
        began = time.monotonic()
        outcome = "cancelled"
        chunks: Iterator[Chunk] | None = None
        try:
            chunks = self._chunks()
            while not self._cancel.is_set():
                started = time.perf_counter()
                chunk = next(chunks, None)
                self.compute_seconds += time.perf_counter() - started
                if chunk is None:
                    break
                counters.add(chunks=1, chunks_after_cancel=int(self._cancel.is_set()))
                data = self._render(chunk)
                if data is None:  # the audio limit was reached
                    break
                if (data.audio or data.marks) and not self._deliver(data):
                    break
            if not self._cancel.is_set() and self._deliver(self._finish()):
                outcome = "completed"
        except Exception as error:  # handed to the consumer, which classifies it
            outcome = "failed"
            self._deliver(error)
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()
            if outcome == "completed":
                self._host.record_job_seconds(time.monotonic() - began)
            counters.add(running=-1, **{outcome: 1})

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self

    async def __anext__(self) -> StreamChunk:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return item

    def cancel(self) -> None:
        """Stops the run at its next chunk boundary (or before it starts) and frees its worker."""
        if self._done:
            return
        self._cancel.set()
        while not self._queue.empty():
            self._queue.get_nowait()


class ModelHost:
    def __init__(
        self, settings: ModelSettings, factory: RuntimeFactory | None, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.name = settings.name
        self.runtime_name = settings.runtime
        self.state = ModelState.LOADING
        self.failure = ""
        self.counters = ModelCounters()
        self.executor = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix=f"model-{settings.name}"
        )
        self._factory = factory
        self._runtime: Runtime | None = None
        self._voices: dict[str, Voice] = {}
        self.load_seconds = 0.0
        self.memory_bytes: int | None = None
        self._mean_job_seconds = 1.0

    @property
    def ready(self) -> bool:
        return self.state is ModelState.READY

    @property
    def running(self) -> int:
        return self.counters.running

    @property
    def queued(self) -> int:
        return self.counters.queued

    def record_job_seconds(self, seconds: float) -> None:
        self._mean_job_seconds += _JOB_SECONDS_SMOOTHING * (seconds - self._mean_job_seconds)

    def retry_after_seconds(self) -> float:
        """A fair guess at when a slot frees up: the queue ahead, at the recent pace."""
        ahead = self.counters.admitted
        return max(0.1, self._mean_job_seconds * ahead / self.settings.concurrency)

    def require_ready(self) -> Runtime:
        if self._runtime is None or self.state is not ModelState.READY:
            self.metrics.rejected.labels(self.name, "not_ready").inc()
            detail = f": {self.failure}" if self.failure else ""
            raise Unavailable(f"model {self.name!r} is {self.state.value}{detail}")
        return self._runtime

    @property
    def device(self) -> str:
        return self._runtime.device if self._runtime is not None else ""

    def stage_totals(self) -> StageTotals | None:
        """The stages' busy time, for a loaded runtime that runs a pipeline of stages."""
        runtime = self._runtime
        return runtime.stage_totals() if isinstance(runtime, StagedRuntime) else None

    async def load(self) -> None:
        """Creates and loads the runtime on a worker thread. A failure marks the model failed
        with its reason; it never raises, so other models keep loading."""
        began = time.perf_counter()
        resident_before = psutil.Process().memory_info().rss
        try:
            self._runtime = await asyncio.get_running_loop().run_in_executor(
                self.executor, self._create_and_load
            )
            self._voices = {voice.id: voice for voice in self._runtime.voices()}
            if not self._voices:
                raise ModelLoadError("the runtime loaded but offers no voices")
        except Exception as error:
            self.mark_failed(
                error if isinstance(error, CantataError) else ModelLoadError(repr(error))
            )
            return
        self.load_seconds = time.perf_counter() - began
        self.memory_bytes = self._memory_bytes(resident_before)
        self.state = ModelState.READY
        log.info(
            "model_ready",
            model=self.name,
            runtime=self.runtime_name,
            device=self.device,
            voices=len(self._voices),
            load_seconds=round(self.load_seconds, 3),
        )

    def _memory_bytes(self, resident_before: int) -> int | None:
        """What the runtime says it holds, or for CPU models what loading it added to this
        process (an estimate when several models load at once)."""
        reported = getattr(self._runtime, "memory_bytes", None)
        if callable(reported):
            return int(reported())
        if self.device == "cpu":
            return max(0, int(psutil.Process().memory_info().rss) - resident_before)
        return None

    def _create_and_load(self) -> Runtime:
        if self._factory is None:
            raise ModelLoadError("no runtime factory")
        runtime = self._factory(self.settings.options)
        runtime.load()
        return runtime

    def mark_failed(self, error: BaseException) -> None:
        self.state = ModelState.FAILED
        self.failure = str(error)
        log.error("model_failed", model=self.name, runtime=self.runtime_name, reason=self.failure)

    def voices(self) -> list[Voice]:
        return list(self._voices.values()) if self.state is ModelState.READY else []

    def voice(self, voice_id: str) -> Voice | None:
        return self._voices.get(voice_id)

    def run(
        self,
        job: SynthesisJob,
        render: Callable[[Chunk], StreamChunk | None],
        finish: Callable[[], StreamChunk],
        deadline: float | None = None,
        timed: bool = False,
    ) -> JobRun:
        """Admits a job and starts it; `timed` asks a TimedRuntime for its marks too."""
        runtime = self.require_ready()
        chunks = self._chunks(runtime, job, timed)
        capacity = self.settings.concurrency + self.settings.max_queue
        if self.counters.admitted >= capacity:
            self.metrics.rejected.labels(self.name, "queue_full").inc()
            raise ResourceExhausted(
                f"model {self.name!r} is busy: {self.settings.concurrency} running and "
                f"{self.settings.max_queue} waiting",
                retry_after_seconds=self.retry_after_seconds(),
            )
        return JobRun(self, chunks, render, finish, deadline)

    def _chunks(
        self, runtime: Runtime, job: SynthesisJob, timed: bool
    ) -> Callable[[], Iterator[Chunk]]:
        if not timed:
            return lambda: runtime.synthesize(job)
        if not isinstance(runtime, TimedRuntime):
            raise TypeError(f"model {self.name!r} says it gives timing marks, but cannot")
        return lambda: runtime.synthesize_timed(job)

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        self.state = ModelState.CLOSED
        if runtime is not None:
            await asyncio.get_running_loop().run_in_executor(self.executor, runtime.close)
        self.executor.shutdown(wait=False, cancel_futures=True)
