"""What the sync and asyncio clients share: call options and reading stream messages."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from cantata.tts.v1 import tts_pb2 as pb
from cantata_client.marks import Mark, marks_from_proto

Metadata = tuple[tuple[str, str], ...]


class StreamState:
    """Holds `info` (set before the first chunk), `stats` (set once the stream has ended) and
    `marks`, the timing marks received so far: each mark is there before the first chunk of the
    audio it describes is yielded."""

    def __init__(self) -> None:
        self.info: pb.AudioInfo | None = None
        self.stats: pb.SynthesisStats | None = None
        self.marks: list[Mark] = []

    def absorb(self, message: pb.SynthesizeStreamResponse) -> bytes:
        """Records info, stats and marks; returns the message's audio (possibly empty)."""
        if message.HasField("info"):
            self.info = message.info
        if message.HasField("stats"):
            self.stats = message.stats
        self.marks.extend(marks_from_proto(message.marks))
        return message.audio


class ClientOptions:
    def __init__(self, metadata: Sequence[tuple[str, str]], timeout: float | None) -> None:
        self._metadata: Metadata = tuple(metadata)
        self._timeout = timeout

    def _call_options(self, timeout: float | None, request_id: str = "") -> dict[str, Any]:
        metadata = self._metadata + ((("x-request-id", request_id),) if request_id else ())
        return {"timeout": timeout or self._timeout, "metadata": metadata}


def security(
    tls_ca: str | Path | None,
    api_key: str | None,
    credentials: grpc.ChannelCredentials | None,
    metadata: Sequence[tuple[str, str]],
) -> tuple[grpc.ChannelCredentials | None, Metadata]:
    """TLS trusting the CA file `tls_ca` (unless `credentials` are given), and the API key sent
    as `authorization: Bearer KEY` on every call."""
    if tls_ca is not None and credentials is None:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(tls_ca).read_bytes())
    if api_key:
        metadata = (*metadata, ("authorization", f"Bearer {api_key}"))
    return credentials, tuple(metadata)
