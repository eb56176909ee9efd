"""The TextToSpeech gRPC service: translates at the edge and maps errors; nothing else."""

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc
import structlog

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from server.api import convert
from server.api.status import status_code
from server.engine.engine import Engine, SynthesisStream
from server.engine.request import SynthesisStats
from server.errors import CantataError

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
T = TypeVar("T")


def request_id_of(context: grpc.aio.ServicerContext[object, object]) -> str:
    """The caller's x-request-id if it is a sane token, else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return uuid.uuid4().hex


async def _abort(
    context: grpc.aio.ServicerContext[object, object], error: Exception, request_id: str
) -> NoReturn:
    if isinstance(error, CantataError):
        log.info(
            "request_refused", request_id=request_id, error=type(error).__name__, reason=str(error)
        )
        await context.abort(status_code(error), str(error))
    log.exception("internal_error", request_id=request_id)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error; request id {request_id}")


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def _guard(
        self,
        context: grpc.aio.ServicerContext[object, object],
        request_id: str,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        try:
            return await call()
        except Exception as error:
            await _abort(context, error, request_id)

    async def Synthesize(  # noqa: N802 - the gRPC method name
        self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.SynthesizeResponse:
        request_id = request_id_of(context)
        await context.send_initial_metadata((("x-request-id", request_id),))

        async def call() -> pb.SynthesizeResponse:
            result = await self._engine.synthesize(convert.request_from_proto(request, request_id))
            _log_completion(result.stats, len(request.text))
            return pb.SynthesizeResponse(
                audio=result.audio,
                info=convert.info_to_proto(result.info),
                stats=convert.stats_to_proto(result.stats),
            )

        return await self._guard(context, request_id, call)

    async def StreamSynthesize(  # noqa: N802 - the gRPC method name
        self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncIterator[pb.SynthesizeStreamResponse]:
        request_id = request_id_of(context)
        await context.send_initial_metadata((("x-request-id", request_id),))
        try:
            stream: SynthesisStream = self._engine.open_stream(
                convert.request_from_proto(request, request_id)
            )
            yield pb.SynthesizeStreamResponse(info=convert.info_to_proto(stream.info))
            async for data in stream:
                yield pb.SynthesizeStreamResponse(audio=data)
        except Exception as error:
            await _abort(context, error, request_id)
        assert stream.stats is not None
        _log_completion(stream.stats, len(request.text))
        yield pb.SynthesizeStreamResponse(stats=convert.stats_to_proto(stream.stats))

    async def ListVoices(  # noqa: N802 - the gRPC method name
        self, request: pb.ListVoicesRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ListVoicesResponse:
        request_id = request_id_of(context)

        async def call() -> pb.ListVoicesResponse:
            voices = self._engine.voices(request.model)
            return pb.ListVoicesResponse(
                voices=[convert.voice_to_proto(v) for v in voices],
                default_model=self._engine.default_model,
            )

        return await self._guard(context, request_id, call)


def _log_completion(stats: SynthesisStats, characters: int) -> None:
    """One line per synthesis; the text itself is never logged, only its length."""
    log.info(
        "synthesis_done",
        request_id=stats.request_id,
        model=stats.model,
        voice=stats.voice,
        characters=characters,
        audio_seconds=round(stats.audio_seconds, 3),
        real_time_factor=round(stats.real_time_factor, 4),
        time_to_first_audio_seconds=round(stats.time_to_first_audio_seconds, 4),
    )
