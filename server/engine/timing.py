"""A request's timing marks: the runtime's marks of each chunk moved onto the output audio's
timeline (seconds) and into the text as the client sent it (code points), with visemes made
from the phonemes and `sil` for the pauses between them."""

from collections.abc import Sequence

from runtimes.base import ChunkMark, MarkKind
from server.engine.request import TimingMark, TimingOptions
from server.engine.text import NormalizedText
from server.engine.visemes import SILENCE, table_for, viseme


class MarkTimeline:
    """Fed every chunk in order, as it is sent; visemes cover each chunk to its end, so a pause
    is described before (or with) its audio."""

    def __init__(
        self,
        options: TimingOptions,
        sample_rate: int,
        language: str,
        text: NormalizedText,
        segment_offsets: Sequence[int],
    ) -> None:
        self._options = options
        self._rate = sample_rate
        self._table = table_for(language)
        self._text = text
        self._segment_offsets = segment_offsets
        self._samples = 0
        """Samples of the chunks before the current one."""
        self._covered = 0
        """Visemes cover the audio up to this sample."""
        self._place = text.original_span(0, 0)[0]
        """Where in the text a pause at `_covered` falls: the end of the last word spoken."""

    def chunk(self, marks: Sequence[ChunkMark], samples: int) -> tuple[TimingMark, ...]:
        """The marks of the next chunk of audio, `samples` long as sent (a chunk cut short at the
        audio limit loses the marks after the cut)."""
        begin = self._samples
        end_of_chunk = self._samples = begin + samples
        words: list[TimingMark] = []
        phonemes: list[TimingMark] = []
        visemes: list[TimingMark] = []
        for mark in marks:
            start = begin + mark.start
            if start >= end_of_chunk:
                continue
            end = min(begin + mark.end, end_of_chunk)
            offset, length = self._original_span(mark)
            if mark.kind is MarkKind.WORD and self._options.words:
                # As written: before normalisation ("ﬁne", not "fine").
                written = self._text.original[offset : offset + length]
                words.append(self._mark(MarkKind.WORD, written, start, end, offset, length))
            elif mark.kind is MarkKind.PHONEME:
                if self._options.phonemes:
                    phonemes.append(
                        self._mark(MarkKind.PHONEME, mark.value, start, end, offset, length)
                    )
                if self._options.visemes:
                    visemes.extend(self._viseme(mark.value, start, end, offset, length))
        if self._options.visemes:
            visemes.extend(self._pause_until(end_of_chunk))
        return (*words, *phonemes, *visemes)

    def _original_span(self, mark: ChunkMark) -> tuple[int, int]:
        start = self._segment_offsets[mark.segment] + mark.text_offset
        return self._text.original_span(start, start + mark.text_length)

    def _mark(
        self, kind: MarkKind, value: str, start: int, end: int, offset: int, length: int
    ) -> TimingMark:
        return TimingMark(kind, value, start / self._rate, end / self._rate, offset, length)

    def _viseme(
        self, phoneme: str, start: int, end: int, offset: int, length: int
    ) -> list[TimingMark]:
        marks = self._pause_until(start)
        start = max(start, self._covered)
        if end > start:
            value = viseme(phoneme, self._table)
            marks.append(self._mark(MarkKind.VISEME, value, start, end, offset, length))
            self._covered = end
            self._place = offset + length
        return marks

    def _pause_until(self, sample: int) -> list[TimingMark]:
        if sample <= self._covered:
            return []
        pause = self._mark(MarkKind.VISEME, SILENCE, self._covered, sample, self._place, 0)
        self._covered = sample
        return [pause]
