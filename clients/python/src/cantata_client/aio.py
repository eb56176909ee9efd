"""The asyncio client: the same API as Client, awaited."""

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from cantata_client.base import ClientOptions, StreamState, security
from cantata_client.errors import from_rpc_error
from cantata_client.live import AsyncLiveSession, start_request
from cantata_client.marks import marks_from_proto
from cantata_client.requests import Synthesis, build_request


class AsyncAudioStream(StreamState):
    """`async for chunk in stream`; `info`, `stats` and `cancel()` as in AudioStream."""

    def __init__(self, call: Any) -> None:
        super().__init__()
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for message in self._call:
                if audio := self.absorb(message):
                    yield audio
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def cancel(self) -> None:
        self._call.cancel()


class AsyncClient(ClientOptions):
    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        timeout: float | None = None,
        tls_ca: str | Path | None = None,
        api_key: str | None = None,
    ) -> None:
        credentials, metadata = security(tls_ca, api_key, credentials, metadata)
        super().__init__(metadata, timeout)
        self._channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        self._stub = tts_pb2_grpc.TextToSpeechStub(self._channel)

    async def synthesize(
        self, text: str, *, timeout: float | None = None, request_id: str = "", **options: Any
    ) -> Synthesis:
        try:
            response: pb.SynthesizeResponse = await self._stub.Synthesize(
                build_request(text, **options), **self._call_options(timeout, request_id)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return Synthesis(
            response.audio, response.info, response.stats, marks_from_proto(response.marks)
        )

    def stream(
        self, text: str, *, timeout: float | None = None, request_id: str = "", **options: Any
    ) -> AsyncAudioStream:
        return AsyncAudioStream(
            self._stub.StreamSynthesize(
                build_request(text, **options), **self._call_options(timeout, request_id)
            )
        )

    async def live(
        self,
        *,
        min_clause_chars: int = 0,
        max_wait_ms: int = 0,
        timeout: float | None = None,
        request_id: str = "",
        **options: Any,
    ) -> AsyncLiveSession:
        """As Client.live, awaited."""
        call = self._stub.LiveSynthesize(**self._call_options(timeout, request_id))
        session = AsyncLiveSession(call)
        await session._write(start_request(min_clause_chars, max_wait_ms, **options))
        return session

    async def voices(self, model: str = "", *, timeout: float | None = None) -> list[pb.Voice]:
        try:
            response: pb.ListVoicesResponse = await self._stub.ListVoices(
                pb.ListVoicesRequest(model=model), **self._call_options(timeout)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return list(response.voices)

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
