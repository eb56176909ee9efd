"""Live sessions (LiveSynthesize): send text while it is spoken, flush, cancel (barge-in), and
read the audio, marks and answers as events. Shared by the sync and asyncio clients."""

import queue
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from cantata.tts.v1 import tts_pb2 as pb
from cantata_client.errors import from_rpc_error
from cantata_client.marks import Mark, marks_from_proto
from cantata_client.requests import build_request


@dataclass(frozen=True)
class LiveAudio:
    audio: bytes


@dataclass(frozen=True)
class LiveMarks:
    """Marks of audio sent with or after them. Offsets count code points of every text sent on
    the session joined; times are seconds of every audio chunk joined."""

    marks: list[Mark] = field(default_factory=list)


@dataclass(frozen=True)
class LiveFlushed:
    """The text up to text_offset has been spoken; audio_seconds were sent in all."""

    text_offset: int
    audio_seconds: float


@dataclass(frozen=True)
class LiveCancelled:
    """Speech stopped: the text before text_offset was heard in the audio sent (whole words where
    the voice gives timing marks); the rest was not spoken."""

    text_offset: int
    audio_seconds: float
    utterance_audio_seconds: float


LiveEvent = LiveAudio | LiveMarks | LiveFlushed | LiveCancelled


def start_request(
    min_clause_chars: int = 0, max_wait_ms: int = 0, **options: Any
) -> pb.LiveSynthesizeRequest:
    """The first message: the synthesis options of build_request (no text) and the pacing."""
    config = build_request("", **options)
    start = pb.LiveStart(config=config, min_clause_chars=min_clause_chars, max_wait_ms=max_wait_ms)
    return pb.LiveSynthesizeRequest(start=start)


class _LiveState:
    def __init__(self) -> None:
        self.info: pb.AudioInfo | None = None
        self.stats: pb.SynthesisStats | None = None

    def event_of(self, message: pb.LiveSynthesizeResponse) -> LiveEvent | None:
        """The event a response carries; info and stats are kept instead."""
        kind = message.WhichOneof("response")
        if kind == "info":
            self.info = message.info
        elif kind == "stats":
            self.stats = message.stats
        elif kind == "audio":
            return LiveAudio(message.audio)
        elif kind == "marks":
            return LiveMarks(marks_from_proto(message.marks.marks))
        elif kind == "flushed":
            return LiveFlushed(message.flushed.text_offset, message.flushed.audio_seconds)
        elif kind == "cancelled":
            cancelled = message.cancelled
            return LiveCancelled(
                cancelled.text_offset, cancelled.audio_seconds, cancelled.utterance_audio_seconds
            )
        return None


_TEXT_DONE = object()


class LiveSession(_LiveState):
    """with client.live(voice=...) as live: live.send("Hel"); live.send("lo. "); live.close();
    then `for event in live`. `info` is set once the first event arrives, `stats` after the last.
    send/flush/cancel may be called from any thread while another iterates."""

    def __init__(self, stub: Any, start: pb.LiveSynthesizeRequest, call_options: Any) -> None:
        super().__init__()
        self._outgoing: queue.Queue[Any] = queue.Queue()
        self._outgoing.put(start)
        self._call = stub.LiveSynthesize(self._requests(), **call_options)

    def _requests(self) -> Iterator[pb.LiveSynthesizeRequest]:
        while (request := self._outgoing.get()) is not _TEXT_DONE:
            yield request

    def send(self, text: str) -> None:
        self._outgoing.put(pb.LiveSynthesizeRequest(text=text))

    def flush(self) -> None:
        self._outgoing.put(pb.LiveSynthesizeRequest(flush=pb.LiveFlush()))

    def cancel(self) -> None:
        """Barge-in: stop speaking now; answered by a LiveCancelled event."""
        self._outgoing.put(pb.LiveSynthesizeRequest(cancel=pb.LiveCancel()))

    def close(self) -> None:
        """No more text: what is buffered is spoken, then the events end with `stats`."""
        self._outgoing.put(_TEXT_DONE)

    def abort(self) -> None:
        """Ends the session at once, on both sides."""
        self._call.cancel()
        self._outgoing.put(_TEXT_DONE)

    def __iter__(self) -> Iterator[LiveEvent]:
        try:
            for message in self._call:
                if (event := self.event_of(message)) is not None:
                    yield event
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *_: object) -> None:
        self.abort()


class AsyncLiveSession(_LiveState):
    """The asyncio LiveSession: `await live.send(...)`, `async for event in live`."""

    def __init__(self, call: Any) -> None:
        super().__init__()
        self._call = call

    async def send(self, text: str) -> None:
        await self._write(pb.LiveSynthesizeRequest(text=text))

    async def flush(self) -> None:
        await self._write(pb.LiveSynthesizeRequest(flush=pb.LiveFlush()))

    async def cancel(self) -> None:
        await self._write(pb.LiveSynthesizeRequest(cancel=pb.LiveCancel()))

    async def close(self) -> None:
        await self._call.done_writing()

    def abort(self) -> None:
        self._call.cancel()

    async def _write(self, request: pb.LiveSynthesizeRequest) -> None:
        try:
            await self._call.write(request)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def __aiter__(self) -> AsyncIterator[LiveEvent]:
        try:
            async for message in self._call:
                if (event := self.event_of(message)) is not None:
                    yield event
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def __aenter__(self) -> "AsyncLiveSession":
        return self

    async def __aexit__(self, *_: object) -> None:
        self.abort()
