"""The TextToSpeech gRPC service: translates at the edge, maps errors to status codes, and for
every call records its metrics and writes one log line. Nothing else."""

import asyncio
import contextlib
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import grpc
import structlog

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from server.api import convert
from server.api.status import status_code
from server.engine.engine import Engine
from server.engine.live import LiveAudio, LiveSession
from server.engine.request import SynthesisStats
from server.errors import CantataError, DeadlineExceeded, InvalidArgument, ResourceExhausted

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"
Context = grpc.aio.ServicerContext[Any, Any]


def request_id_of(context: Context) -> str:
    """The caller's x-request-id if it is a sane token, else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return uuid.uuid4().hex


class _Call:
    """The life of one RPC. On the way out: the status, the metrics, one log line (never the
    text, only its length), and for errors the abort with the mapped status code."""

    def __init__(self, engine: Engine, context: Context, rpc: str, model: str, characters: int):
        self.request_id = request_id_of(context)
        self.stats: SynthesisStats | None = None
        remaining = context.time_remaining()
        self.deadline = None if remaining is None else time.monotonic() + remaining
        self._engine = engine
        self._context = context
        self._rpc = rpc
        self.model = model or engine.default_model
        self._characters = characters
        self._began = time.perf_counter()

    async def __aenter__(self) -> "_Call":
        await self._context.send_initial_metadata((("x-request-id", self.request_id),))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        code, message = self._outcome(error)
        model = self.model if self.model in self._engine.models else "unknown"
        metrics = self._engine.metrics
        metrics.requests.labels(self._rpc, model, code.name).inc()
        metrics.request_duration.labels(self._rpc, model).observe(time.perf_counter() - self._began)
        self._log(code, message)
        if isinstance(error, ResourceExhausted) and error.retry_after_seconds is not None:
            pushback = str(math.ceil(error.retry_after_seconds * 1000))
            self._context.set_trailing_metadata(((RETRY_PUSHBACK_KEY, pushback),))
        if isinstance(error, Exception):
            await self._context.abort(code, message)

    def _outcome(self, error: BaseException | None) -> tuple[grpc.StatusCode, str]:
        if error is None:
            return grpc.StatusCode.OK, ""
        if isinstance(error, asyncio.CancelledError | GeneratorExit):  # client gone, or deadline
            expired = self.deadline is not None and time.monotonic() >= self.deadline
            return (grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED), ""
        if isinstance(error, CantataError):
            return status_code(error), str(error)
        log.error(
            "internal_error",
            request_id=self.request_id,
            rpc=self._rpc,
            exc_info=(type(error), error, error.__traceback__),
        )
        return grpc.StatusCode.INTERNAL, f"internal error; request id {self.request_id}"

    def _log(self, code: grpc.StatusCode, message: str) -> None:
        fields: dict[str, Any] = {
            "request_id": self.request_id,
            "rpc": self._rpc,
            "model": self.model,
            "status": code.name,
            "duration_seconds": round(time.perf_counter() - self._began, 4),
        }
        if self._characters:
            fields["characters"] = self._characters
        if self.stats is not None:
            fields.update(
                voice=self.stats.voice,
                audio_seconds=round(self.stats.audio_seconds, 3),
                real_time_factor=round(self.stats.real_time_factor, 4),
                time_to_first_audio_seconds=round(self.stats.time_to_first_audio_seconds, 4),
            )
        if message:
            fields["error"] = message
        log.info("request_done", **fields)


async def refuse(engine: Engine, context: Context, rpc: str, error: CantataError) -> None:
    """Answers a call with an error before its handler has run, counted and logged as usual."""
    async with _Call(engine, context, rpc, "unknown", 0):
        raise error


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _call(self, context: Context, rpc: str, request: pb.SynthesizeRequest) -> _Call:
        return _Call(self._engine, context, rpc, request.model, len(request.text))

    async def Synthesize(  # noqa: N802 - the gRPC method name
        self, request: pb.SynthesizeRequest, context: Context
    ) -> pb.SynthesizeResponse:
        async with self._call(context, "Synthesize", request) as call:
            result = await self._engine.synthesize(
                convert.request_from_proto(request, call.request_id), call.deadline
            )
            call.stats = result.stats
            return pb.SynthesizeResponse(
                audio=result.audio,
                info=convert.info_to_proto(result.info),
                stats=convert.stats_to_proto(result.stats),
                marks=[convert.mark_to_proto(mark) for mark in result.marks],
            )

    async def StreamSynthesize(  # noqa: N802 - the gRPC method name
        self, request: pb.SynthesizeRequest, context: Context
    ) -> AsyncIterator[pb.SynthesizeStreamResponse]:
        async with self._call(context, "StreamSynthesize", request) as call:
            stream = self._engine.open_stream(
                convert.request_from_proto(request, call.request_id), call.deadline
            )
            yield pb.SynthesizeStreamResponse(info=convert.info_to_proto(stream.info))
            async for chunk in stream:
                yield pb.SynthesizeStreamResponse(
                    audio=chunk.audio, marks=[convert.mark_to_proto(mark) for mark in chunk.marks]
                )
            assert stream.stats is not None
            call.stats = stream.stats
            yield pb.SynthesizeStreamResponse(stats=convert.stats_to_proto(stream.stats))

    async def LiveSynthesize(  # noqa: N802 - the gRPC method name
        self, request_iterator: AsyncIterator[pb.LiveSynthesizeRequest], context: Context
    ) -> AsyncIterator[pb.LiveSynthesizeResponse]:
        requests = aiter(request_iterator)
        async with _Call(self._engine, context, "LiveSynthesize", "", 0) as call:
            first = await anext(requests, None)
            if first is None or not first.HasField("start"):
                raise InvalidArgument("a live session must begin with start")
            start = first.start
            call.model = start.config.model or self._engine.default_model
            session = self._engine.open_live(
                convert.request_from_proto(start.config, call.request_id),
                start.min_clause_chars,
                start.max_wait_ms,
                call.deadline,
            )
            reader = _LiveReader(requests, session, self._engine.settings.live.idle_timeout_seconds)
            ending = "error"
            try:
                yield pb.LiveSynthesizeResponse(info=convert.info_to_proto(session.info))
                async for event in session.events():
                    if isinstance(event, LiveAudio) and not event.audio:
                        continue  # the encoder held the samples back for its next frame
                    yield convert.live_event_to_proto(event)
                assert session.stats is not None
                call.stats = session.stats
                yield pb.LiveSynthesizeResponse(stats=convert.stats_to_proto(session.stats))
                ending = "completed"
            except (asyncio.CancelledError, GeneratorExit):
                ending = "client_gone"
                raise
            finally:
                await reader.stop()
                await session.abort()
                self._engine.end_live("idle" if reader.idle else ending)

    async def ListVoices(  # noqa: N802 - the gRPC method name
        self, request: pb.ListVoicesRequest, context: Context
    ) -> pb.ListVoicesResponse:
        async with _Call(self._engine, context, "ListVoices", request.model, 0):
            return pb.ListVoicesResponse(
                voices=[convert.voice_to_proto(v) for v in self._engine.voices(request.model)],
                default_model=self._engine.default_model,
            )


class _LiveReader:
    """Reads a live session's requests into it, on a task of its own, and ends a session that
    has had nothing to do for `idle_timeout` seconds."""

    def __init__(
        self,
        requests: AsyncIterator[pb.LiveSynthesizeRequest],
        session: LiveSession,
        idle_timeout: float,
    ) -> None:
        self.idle = False
        self._requests = requests
        self._session = session
        self._idle_timeout = idle_timeout
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        # One pending read, never cancelled by the idle check: cancelling a read would end the
        # call's request stream.
        pending: asyncio.Future[pb.LiveSynthesizeRequest] | None = None
        try:
            while True:
                pending = pending or asyncio.ensure_future(anext(self._requests))
                done, _ = await asyncio.wait({pending}, timeout=self._idle_timeout)
                if not done:
                    if self._session.busy:
                        continue
                    self.idle = True
                    await self._session.fail(
                        DeadlineExceeded(
                            f"the live session had nothing to do for {self._idle_timeout:g} s"
                        )
                    )
                    return
                message, pending = pending.result(), None
                if not await self._apply(message):
                    return
        except StopAsyncIteration:
            self._session.close()
        except Exception as error:  # the request stream broke: end the session with it
            await self._session.fail(error)
        finally:
            if pending is not None:
                pending.cancel()

    async def _apply(self, message: pb.LiveSynthesizeRequest) -> bool:
        """Feeds one request to the session; False when it ends the session."""
        match message.WhichOneof("request"):
            case "text":
                self._session.add_text(message.text)
            case "flush":
                self._session.flush()
            case "cancel":
                await self._session.cancel()
            case "start":
                await self._session.fail(InvalidArgument("start may only be sent once, first"))
                return False
            case _:
                await self._session.fail(
                    InvalidArgument("a live request must set one of text, flush or cancel")
                )
                return False
        return True
