"""The protocol-free core: resolves models and voices, validates, runs syntheses on the models'
workers and turns their chunks into encoded audio. Knows nothing of gRPC."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from runtimes.base import TimedAudio, Voice
from runtimes.registry import find_runtime
from server.audio import AudioPipeline
from server.config import Settings
from server.engine.live import LiveSession, Pacing
from server.engine.model_host import Chunk, JobRun, ModelHost, ModelState
from server.engine.request import (
    AudioInfo,
    StreamChunk,
    SynthesisRequest,
    SynthesisResult,
    SynthesisStats,
)
from server.engine.text import segment_offsets
from server.engine.timing import MarkTimeline
from server.engine.validation import PreparedRequest, prepare, prepare_config
from server.errors import (
    CantataError,
    DeadlineExceeded,
    DeviceError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from server.observability.metrics import Metrics


@dataclass(frozen=True)
class ModelVoice:
    model: str
    runtime: str
    voice: Voice
    is_default: bool


class SynthesisStream:
    """One synthesis in progress: `info` is known before any audio; iterate for encoded bytes
    and the timing marks of that audio (or of audio still to come); `stats` is set once
    iteration has ended. Leaving the iteration early (a cancelled client, a passed deadline)
    stops the runtime at its next chunk.

    A live session passes its own `pipeline`, which goes on after this synthesis: its encoder is
    then not finished here."""

    def __init__(
        self,
        host: ModelHost,
        prepared: PreparedRequest,
        request_id: str,
        received: float,
        deadline: float | None,
        streaming: bool,
        pipeline: AudioPipeline | None = None,
    ) -> None:
        self.request_id = request_id
        self.streaming = streaming
        self.prepared = prepared
        self.info = AudioInfo(sample_rate_hz=prepared.output_rate, encoding=prepared.encoding)
        self.stats: SynthesisStats | None = None
        self._host = host
        self._received = received
        self._owns_pipeline = pipeline is None
        self._pipeline = pipeline or AudioPipeline(
            prepared.voice.sample_rate_hz, prepared.output_rate, prepared.encoding
        )
        self._started_at = self._pipeline.samples_out
        self._timeline = _timeline(prepared)
        self._run: JobRun = host.run(
            prepared.job, self._limited(), self._finish, deadline, timed=self._timeline is not None
        )

    def _limited(self) -> Callable[[Chunk], StreamChunk | None]:
        """Renders chunks until the request's max_audio_seconds, then says stop (None)."""
        limit = self.prepared.job.sampling.max_audio_seconds
        budget = None if limit is None else round(limit * self.prepared.voice.sample_rate_hz)
        pipeline, timeline = self._pipeline, self._timeline

        def render(chunk: Chunk) -> StreamChunk | None:
            nonlocal budget
            audio, marks = (
                (chunk.audio, chunk.marks) if isinstance(chunk, TimedAudio) else (chunk, ())
            )
            if budget is not None:
                if budget <= 0:
                    return None
                audio, budget = audio[:budget], budget - len(audio)
            before = pipeline.samples_out
            data = pipeline.push(audio)
            seconds = (pipeline.samples_out - before) / pipeline.output_rate
            timed = timeline.chunk(marks, len(audio)) if timeline else ()
            return StreamChunk(data, timed, seconds)

        return render

    def _finish(self) -> StreamChunk:
        if not self._owns_pipeline:
            return StreamChunk(b"")
        before = self._pipeline.samples_out
        data = self._pipeline.finish()
        return StreamChunk(
            data, (), (self._pipeline.samples_out - before) / self.info.sample_rate_hz
        )

    @property
    def duration_seconds(self) -> float:
        return (self._pipeline.samples_out - self._started_at) / self._pipeline.output_rate

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        first_audio: float | None = None
        try:
            async for chunk in self._run:
                if first_audio is None and chunk.audio:
                    first_audio = time.perf_counter()
                yield chunk
        except MemoryError as error:
            raise ResourceExhausted(f"out of memory while synthesizing: {error}") from error
        except DeviceError as error:
            self._host.mark_failed(error)
            raise
        finally:
            self._run.cancel()
        self.info = AudioInfo(
            sample_rate_hz=self.info.sample_rate_hz,
            encoding=self.info.encoding,
            duration_seconds=self.duration_seconds,
        )
        self.stats = SynthesisStats(
            audio_seconds=self.duration_seconds,
            compute_seconds=self._run.compute_seconds,
            model=self._host.name,
            runtime=self._host.runtime_name,
            device=self._host.device,
            voice=self.prepared.voice.id,
            request_id=self.request_id,
            time_to_first_audio_seconds=(first_audio or time.perf_counter()) - self._received,
        )
        self._record(self.stats)

    def _record(self, stats: SynthesisStats) -> None:
        metrics, model = self._host.metrics, stats.model
        metrics.real_time_factor.labels(model, stats.runtime, stats.device).observe(
            stats.real_time_factor
        )
        metrics.audio_seconds.labels(model).inc(stats.audio_seconds)
        metrics.characters.labels(model).inc(self.prepared.characters)
        if self.streaming:
            metrics.time_to_first_audio.labels(model).observe(stats.time_to_first_audio_seconds)

    def finalize_whole(self, audio: bytes) -> bytes:
        return self._pipeline.finalize_whole(audio)


def _timeline(prepared: PreparedRequest) -> MarkTimeline | None:
    if not prepared.timing or prepared.text is None:
        return None
    return MarkTimeline(
        prepared.timing,
        prepared.voice.sample_rate_hz,
        prepared.voice.language,
        prepared.text,
        segment_offsets(prepared.text.text, prepared.job.segments),
    )


class Engine:
    def __init__(self, settings: Settings, hosts: list[ModelHost], metrics: Metrics) -> None:
        self.settings = settings
        self.models = {host.name: host for host in hosts}
        self.metrics = metrics
        self.draining = False
        self.live_sessions = 0

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> "Engine":
        hosts = []
        for model in settings.models:
            try:
                factory = find_runtime(model.runtime)
            except CantataError as error:
                host = ModelHost(model, None, metrics)
                host.mark_failed(error)
            else:
                host = ModelHost(model, factory, metrics)
            hosts.append(host)
        return cls(settings, hosts, metrics)

    async def load(self) -> None:
        """Loads every model at once; failures are recorded per model, never raised."""
        await asyncio.gather(
            *(host.load() for host in self.models.values() if host.state is ModelState.LOADING)
        )

    async def close(self) -> None:
        await asyncio.gather(*(host.close() for host in self.models.values()))

    @property
    def busy(self) -> bool:
        return any(host.counters.admitted for host in self.models.values())

    @property
    def default_model(self) -> str:
        return self.settings.default_model

    def model(self, name: str) -> ModelHost:
        host = self.models.get(name or self.default_model)
        if host is None:
            raise NotFound(f"no model {name!r}; models: {', '.join(sorted(self.models))}")
        return host

    def voices(self, model: str = "") -> list[ModelVoice]:
        hosts = [self.model(model)] if model else list(self.models.values())
        return [
            ModelVoice(host.name, host.runtime_name, voice, is_default=index == 0)
            for host in hosts
            for index, voice in enumerate(host.voices())
        ]

    def open_stream(
        self, request: SynthesisRequest, deadline: float | None = None, streaming: bool = True
    ) -> SynthesisStream:
        """Validates and starts a synthesis; every bad request is rejected here, before any
        audio is sent. `deadline` is on time.monotonic()'s clock."""
        received = time.perf_counter()
        host, voice = self.admissible(request, deadline)
        prepared = prepare(request, host.name, voice, self.settings)
        request_id = request.request_id or uuid.uuid4().hex
        return SynthesisStream(host, prepared, request_id, received, deadline, streaming)

    def admissible(
        self, request: SynthesisRequest, deadline: float | None
    ) -> tuple[ModelHost, Voice]:
        """The model and voice a request names, if the server takes requests for them now."""
        host = self.model(request.model)
        if self.draining:
            self.metrics.rejected.labels(host.name, "draining").inc()
            raise Unavailable("the server is shutting down; retry on another instance")
        if deadline is not None and time.monotonic() >= deadline:
            self.metrics.rejected.labels(host.name, "deadline").inc()
            raise DeadlineExceeded("the deadline passed before the request arrived")
        host.require_ready()
        voices = host.voices()
        voice = host.voice(request.voice) if request.voice else voices[0]
        if voice is None:
            raise NotFound(
                f"model {host.name!r} has no voice {request.voice!r};"
                f" voices: {', '.join(v.id for v in voices)}"
            )
        return host, voice

    def open_live(
        self,
        request: SynthesisRequest,
        min_clause_chars: int = 0,
        max_wait_ms: int = 0,
        deadline: float | None = None,
    ) -> LiveSession:
        """Checks a live session's configuration (everything but text, which comes later) and
        opens it. Pair with end_live."""
        if request.text:
            raise InvalidArgument("start.config.text must be empty: send text in text messages")
        host, voice = self.admissible(request, deadline)
        live = self.settings.live
        if self.live_sessions >= live.max_sessions:
            self.metrics.rejected.labels(host.name, "live_sessions").inc()
            raise ResourceExhausted(
                f"{self.live_sessions} live sessions are open, the most this server takes",
                retry_after_seconds=1.0,
            )
        pacing = self._pacing(min_clause_chars, max_wait_ms)
        config = prepare_config(request, host.name, voice, self.settings)
        request_id = request.request_id or uuid.uuid4().hex

        def start_piece(
            prepared: PreparedRequest, received: float, pipeline: AudioPipeline
        ) -> SynthesisStream:
            return SynthesisStream(host, prepared, request_id, received, deadline, True, pipeline)

        def totals(audio: float, compute: float, first_audio: float) -> SynthesisStats:
            return SynthesisStats(
                audio,
                compute,
                host.name,
                host.runtime_name,
                host.device,
                voice.id,
                request_id,
                first_audio,
            )

        session = LiveSession(config, pacing, self.settings, start_piece, totals)
        self.live_sessions += 1
        self.metrics.live_sessions.inc()
        return session

    def end_live(self, reason: str) -> None:
        """A session opened by open_live has ended: completed, idle, client_gone or error."""
        self.live_sessions -= 1
        self.metrics.live_sessions.dec()
        self.metrics.live_sessions_ended.labels(reason).inc()

    def _pacing(self, min_clause_chars: int, max_wait_ms: int) -> Pacing:
        defaults, longest = self.settings.live, self.settings.max_segment_chars
        if min_clause_chars > longest:
            raise InvalidArgument(
                f"start.min_clause_chars is {min_clause_chars}; the most is {longest}"
            )
        if max_wait_ms > 10_000:
            raise InvalidArgument(f"start.max_wait_ms is {max_wait_ms}; the most is 10000")
        return Pacing(
            min_clause_chars or defaults.min_clause_chars,
            (max_wait_ms or defaults.max_wait_ms) / 1000,
        )

    async def synthesize(
        self, request: SynthesisRequest, deadline: float | None = None
    ) -> SynthesisResult:
        stream = self.open_stream(request, deadline, streaming=False)
        chunks = [chunk async for chunk in stream]
        assert stream.stats is not None
        audio = stream.finalize_whole(b"".join(chunk.audio for chunk in chunks))
        marks = tuple(mark for chunk in chunks for mark in chunk.marks)
        return SynthesisResult(audio, stream.info, stream.stats, marks)
