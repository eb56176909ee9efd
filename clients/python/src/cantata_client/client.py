"""The synchronous client."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from cantata_client.base import ClientOptions, StreamState, security
from cantata_client.errors import from_rpc_error
from cantata_client.live import LiveSession, start_request
from cantata_client.marks import marks_from_proto
from cantata_client.requests import Synthesis, build_request


class AudioStream(StreamState):
    """Iterate for audio bytes as they arrive. `info` is set before the first chunk and `stats`
    once the stream has ended; `cancel()` stops the synthesis on the server."""

    def __init__(self, call: Any) -> None:
        super().__init__()
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            for message in self._call:
                if audio := self.absorb(message):
                    yield audio
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def cancel(self) -> None:
        self._call.cancel()


class Client(ClientOptions):
    """client = Client("127.0.0.1:50051"); client.synthesize("Hello", encoding="wav").audio

    Keyword options of synthesize() and stream() are those of cantata_client.build_request."""

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
            grpc.secure_channel(target, credentials)
            if credentials
            else grpc.insecure_channel(target)
        )
        self._stub = tts_pb2_grpc.TextToSpeechStub(self._channel)

    def synthesize(
        self, text: str, *, timeout: float | None = None, request_id: str = "", **options: Any
    ) -> Synthesis:
        try:
            response: pb.SynthesizeResponse = self._stub.Synthesize(
                build_request(text, **options), **self._call_options(timeout, request_id)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return Synthesis(
            response.audio, response.info, response.stats, marks_from_proto(response.marks)
        )

    def stream(
        self, text: str, *, timeout: float | None = None, request_id: str = "", **options: Any
    ) -> AudioStream:
        return AudioStream(
            self._stub.StreamSynthesize(
                build_request(text, **options), **self._call_options(timeout, request_id)
            )
        )

    def live(
        self,
        *,
        min_clause_chars: int = 0,
        max_wait_ms: int = 0,
        timeout: float | None = None,
        request_id: str = "",
        **options: Any,
    ) -> LiveSession:
        """A live session: send text as it is written, flush, cancel, iterate for events.
        Options as for stream(), without text; min_clause_chars and max_wait_ms pace it (0:
        the server's defaults)."""
        start = start_request(min_clause_chars, max_wait_ms, **options)
        return LiveSession(self._stub, start, self._call_options(timeout, request_id))

    def voices(self, model: str = "", *, timeout: float | None = None) -> list[pb.Voice]:
        try:
            response: pb.ListVoicesResponse = self._stub.ListVoices(
                pb.ListVoicesRequest(model=model), **self._call_options(timeout)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return list(response.voices)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
