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

import structlog

from runtimes.base import Pcm, Runtime, RuntimeFactory, SynthesisJob, Voice
from server.config import ModelSettings
from server.errors import CantataError, ModelLoadError, ResourceExhausted, Unavailable

log = structlog.get_logger(__name__)

_QUEUE_CHUNKS: Final = 2
_CANCEL_POLL_SECONDS: Final = 0.05


class ModelState(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass
class ModelCounters:
    """Updated from worker threads under a lock; read for tests, health and metrics."""

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


@dataclass
class Produced:
    """What one run made: set by the worker, read by the loop after the last item."""

    compute_seconds: float = 0.0


class JobRun:
    """One synthesis on a worker thread, consumed on the event loop as an async iterator of
    whatever `render` makes of each chunk."""

    def __init__(
        self,
        host: "ModelHost",
        chunks: Callable[[], Iterator[Pcm]],
        render: Callable[[Pcm], bytes | None],
        finish: Callable[[], bytes],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | BaseException | _End] = asyncio.Queue(_QUEUE_CHUNKS)
        self._cancel = threading.Event()
        self._host = host
        self._chunks = chunks
        self._render = render
        self._finish = finish
        self._done = False
        self.produced = Produced()
        host.counters.add(queued=1)
        self._loop.run_in_executor(host.executor, self._produce)

    def _deliver(self, item: bytes | BaseException | _End) -> bool:
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
        if self._cancel.is_set():
            counters.add(cancelled=1)
            return
        counters.add(started=1, running=1)
        outcome = "cancelled"
        chunks: Iterator[Pcm] | None = None
        try:
            chunks = self._chunks()
            while not self._cancel.is_set():
                began = time.perf_counter()
                chunk = next(chunks, None)
                self.produced.compute_seconds += time.perf_counter() - began
                if chunk is None:
                    break
                counters.add(chunks=1, chunks_after_cancel=int(self._cancel.is_set()))
                data = self._render(chunk)
                if data is None:  # the audio limit was reached
                    break
                if data and not self._deliver(data):
                    break
            if not self._cancel.is_set() and self._deliver(self._finish()):
                outcome = "completed"
        except Exception as error:  # handed to the consumer, which classifies it
            outcome = "failed"
            self._deliver(error)
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()
            counters.add(running=-1, **{outcome: 1})
            self._deliver(_END)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
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
    def __init__(self, settings: ModelSettings, factory: RuntimeFactory | None) -> None:
        self.settings = settings
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

    def require_ready(self) -> Runtime:
        if self._runtime is None or self.state is not ModelState.READY:
            detail = f": {self.failure}" if self.failure else ""
            raise Unavailable(f"model {self.name!r} is {self.state.value}{detail}")
        return self._runtime

    @property
    def device(self) -> str:
        return self._runtime.device if self._runtime is not None else ""

    async def load(self) -> None:
        """Creates and loads the runtime on a worker thread. A failure marks the model failed
        with its reason; it never raises, so other models keep loading."""
        began = time.perf_counter()
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
        self.state = ModelState.READY
        log.info(
            "model_ready",
            model=self.name,
            runtime=self.runtime_name,
            device=self.device,
            voices=len(self._voices),
            load_seconds=round(self.load_seconds, 3),
        )

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
        render: Callable[[Pcm], bytes | None],
        finish: Callable[[], bytes],
    ) -> JobRun:
        runtime = self.require_ready()
        if self.counters.queued >= self.settings.max_queue:
            raise ResourceExhausted(
                f"model {self.name!r} is busy: {self.counters.queued} requests are waiting"
            )
        return JobRun(self, lambda: runtime.synthesize(job), render, finish)

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        self.state = ModelState.CLOSED
        if runtime is not None:
            await asyncio.get_running_loop().run_in_executor(self.executor, runtime.close)
        self.executor.shutdown(wait=False, cancel_futures=True)
