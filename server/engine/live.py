"""A live session: text arrives in deltas while earlier text is being spoken. Pieces are cut by
LiveText and spoken one after another, each as an ordinary synthesis (admitted on its own, so an
idle session holds no worker) through one audio pipeline, so the session's audio is one stream.
Knows nothing of gRPC: the API edge feeds it requests and sends its events."""

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtimes.base import MarkKind
from server.audio import AudioPipeline
from server.engine.live_text import LiveText, Piece
from server.engine.request import AudioInfo, SynthesisStats, TimingMark, TimingOptions
from server.engine.validation import PreparedRequest, with_text

if TYPE_CHECKING:
    from server.config import Settings
    from server.engine.engine import SynthesisStream

StartPiece = Callable[[PreparedRequest, float, AudioPipeline], "SynthesisStream"]
"""Starts the synthesis of a prepared piece (arrived at a perf_counter() time) on the session's
pipeline."""


@dataclass(frozen=True)
class Pacing:
    """When to speak text that has no sentence end yet (see LiveText)."""

    min_clause_chars: int
    max_wait_seconds: float


@dataclass(frozen=True)
class LiveAudio:
    audio: bytes
    seconds: float


@dataclass(frozen=True)
class LiveMarks:
    marks: tuple[TimingMark, ...]


@dataclass(frozen=True)
class Flushed:
    text_offset: int
    audio_seconds: float


@dataclass(frozen=True)
class Cancelled:
    text_offset: int
    audio_seconds: float
    utterance_audio_seconds: float


LiveEvent = LiveAudio | LiveMarks | Flushed | Cancelled


@dataclass(frozen=True)
class _PieceSpoken:
    """All of a piece's audio is ahead of this in the queue."""

    end: int


@dataclass(frozen=True)
class _Flush:
    offset: int


class _Close:
    pass


_Work = Piece | _Flush | _Close
_Queued = LiveEvent | _PieceSpoken | Exception | _Close

_EVENTS_AHEAD = 4
"""Events made ahead of the client's reading: a slow reader holds back the model's worker."""


class LiveSession:
    def __init__(
        self,
        config: PreparedRequest,
        pacing: Pacing,
        settings: "Settings",
        start_piece: StartPiece,
        stats: Callable[[float, float, float], SynthesisStats],
    ) -> None:
        """`stats(audio_seconds, compute_seconds, time_to_first_audio)` makes the totals."""
        self.info = AudioInfo(sample_rate_hz=config.output_rate, encoding=config.encoding)
        self.stats: SynthesisStats | None = None
        self._settings = settings
        self._start_piece = start_piece
        self._make_stats = stats
        self._asked = config.timing
        # Word marks tell how much text the audio sent has covered when a cancel comes.
        words = config.voice.capabilities.timing
        self._config = dataclasses.replace(
            config,
            timing=dataclasses.replace(config.timing, words=True) if words else config.timing,
        )
        self._pacing = pacing
        self._text = LiveText(pacing.min_clause_chars, settings.max_segment_chars)
        self._pipeline = AudioPipeline(
            config.voice.sample_rate_hz, config.output_rate, config.encoding
        )
        self._work: asyncio.Queue[_Work] = asyncio.Queue()
        self._events: asyncio.Queue[_Queued] = asyncio.Queue(_EVENTS_AHEAD)
        self._timer: asyncio.TimerHandle | None = None
        self._speaking = False
        self._closed = False
        # Seconds on the session's audio timeline: queued for the client, and handed to it.
        self._queued_seconds = 0.0
        self._sent_seconds = 0.0
        self._utterance_began = 0.0
        self._spoken_to = 0
        """The session's text up to here was heard in full in the audio sent."""
        self._word_ends: list[tuple[float, int]] = []
        self._compute_seconds = 0.0
        self._first_audio: float | None = None
        self._speaker = asyncio.create_task(self._speak())

    @property
    def busy(self) -> bool:
        """Whether it has text to speak or is speaking (an idle timeout waits while it does)."""
        return self._speaking or self._text.pending or not self._work.empty()

    def add_text(self, delta: str) -> None:
        self._text.add(delta)
        self._cut(waited=False)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(
            self._pacing.max_wait_seconds, self._cut, True
        )

    def flush(self) -> None:
        self._say(self._text.take_all())
        self._work.put_nowait(_Flush(self._text.received))

    def close(self) -> None:
        """No more requests: speak what is buffered, then end."""
        self._say(self._text.take_all())
        self._work.put_nowait(_Close())

    async def cancel(self) -> None:
        """Stops speaking at once; text not yet spoken is dropped, audio not yet sent too."""
        self._text.drop()
        while not self._work.empty():
            self._work.get_nowait()
        await self._stop_speaker()
        self._drop_unsent()
        self._pipeline.cut()
        self._queued_seconds = self._sent_seconds
        covered = max(
            [self._spoken_to]
            + [end for seconds, end in self._word_ends if seconds <= self._sent_seconds]
        )
        utterance = self._sent_seconds - self._utterance_began
        self._utterance_began = self._sent_seconds
        self._word_ends.clear()
        self._speaker = asyncio.create_task(self._speak())
        await self._events.put(Cancelled(covered, self._sent_seconds, utterance))

    async def fail(self, error: Exception) -> None:
        """Ends the session with this error, ahead of any audio not yet sent."""
        await self._stop_speaker()
        self._drop_unsent()
        await self._events.put(error)

    async def abort(self) -> None:
        """The client has gone: stop everything now."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        await self._stop_speaker()

    async def events(self) -> AsyncIterator[LiveEvent]:
        """What to send, in order, until the session ends (raising its error, if it fails)."""
        while True:
            item = await self._events.get()
            if isinstance(item, _Close):
                self.stats = self._totals()
                return
            if isinstance(item, Exception):
                raise item
            if isinstance(item, _PieceSpoken):
                self._spoken_to = max(self._spoken_to, item.end)
                continue
            if isinstance(item, LiveAudio):
                self._sent_seconds += item.seconds
            elif isinstance(item, LiveMarks):
                self._word_ends.extend(
                    (m.end_seconds, m.text_offset + m.text_length)
                    for m in item.marks
                    if m.kind is MarkKind.WORD
                )
                item = LiveMarks(tuple(m for m in item.marks if self._asked_for(m)))
                if not item.marks:
                    continue
            elif isinstance(item, Flushed):
                item = Flushed(item.text_offset, self._sent_seconds)
                self._utterance_began = self._sent_seconds
            yield item

    def _asked_for(self, mark: TimingMark) -> bool:
        asked: TimingOptions = self._asked
        return {
            MarkKind.WORD: asked.words,
            MarkKind.PHONEME: asked.phonemes,
            MarkKind.VISEME: asked.visemes,
        }[mark.kind]

    def _cut(self, waited: bool) -> None:
        if self._closed:
            return
        while piece := self._text.ready(waited):
            self._say(piece)
            waited = False

    def _say(self, piece: Piece | None) -> None:
        if piece is not None:
            self._work.put_nowait(piece)

    async def _speak(self) -> None:
        try:
            while True:
                item = await self._work.get()
                if isinstance(item, Piece):
                    self._speaking = True
                    try:
                        await self._say_piece(item)
                    finally:
                        self._speaking = False
                elif isinstance(item, _Flush):
                    await self._events.put(Flushed(item.offset, 0.0))
                else:
                    before = self._pipeline.samples_out
                    tail = self._pipeline.finish()
                    seconds = (self._pipeline.samples_out - before) / self._pipeline.output_rate
                    if tail or seconds:
                        await self._events.put(LiveAudio(tail, seconds))
                    await self._events.put(_Close())
                    return
        except Exception as error:  # handed to the API edge, which classifies it
            self._drop_unsent()
            await self._events.put(error)

    async def _say_piece(self, piece: Piece) -> None:
        began = time.perf_counter()
        prepared = with_text(self._config, piece.text, self._settings)
        stream = self._start_piece(prepared, began, self._pipeline)
        base = self._queued_seconds
        async for chunk in stream:
            if chunk.marks:
                await self._events.put(
                    LiveMarks(tuple(_moved(m, base, piece) for m in chunk.marks))
                )
            if chunk.audio or chunk.seconds:
                if self._first_audio is None:
                    self._first_audio = time.perf_counter() - began
                self._queued_seconds += chunk.seconds
                await self._events.put(LiveAudio(chunk.audio, chunk.seconds))
        if stream.stats is not None:
            self._compute_seconds += stream.stats.compute_seconds
        await self._events.put(_PieceSpoken(piece.end))

    async def _stop_speaker(self) -> None:
        self._speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._speaker

    def _drop_unsent(self) -> None:
        """Empties the queue, keeping the news of pieces whose audio has all been sent."""
        audio_unsent = False
        while not self._events.empty():
            item = self._events.get_nowait()
            audio_unsent = audio_unsent or isinstance(item, LiveAudio)
            if isinstance(item, _PieceSpoken) and not audio_unsent:
                self._spoken_to = max(self._spoken_to, item.end)

    def _totals(self) -> SynthesisStats:
        return self._make_stats(self._sent_seconds, self._compute_seconds, self._first_audio or 0.0)


def _moved(mark: TimingMark, seconds: float, piece: Piece) -> TimingMark:
    """A piece's mark on the session's audio timeline and text."""
    return dataclasses.replace(
        mark,
        start_seconds=mark.start_seconds + seconds,
        end_seconds=mark.end_seconds + seconds,
        text_offset=mark.text_offset + piece.offset,
    )
