"""Timing marks: words, phonemes and visemes with their times in the audio and their place in
the text."""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cantata.tts.v1 import tts_pb2 as pb


@dataclass(frozen=True)
class Timing:
    """Which marks to ask for: Timing(words=True), Timing.all()."""

    words: bool = False
    phonemes: bool = False
    visemes: bool = False

    @classmethod
    def all(cls) -> "Timing":
        return cls(words=True, phonemes=True, visemes=True)

    def to_proto(self) -> pb.TimingOptions:
        return pb.TimingOptions(words=self.words, phonemes=self.phonemes, visemes=self.visemes)


class MarkKind(str, enum.Enum):  # noqa: UP042
    # Not enum.StrEnum: the client also runs on Python 3.10 (JetPack 6's).
    WORD = "word"
    PHONEME = "phoneme"
    VISEME = "viseme"

    def __str__(self) -> str:
        return self.value


_KINDS = {
    pb.TIMING_MARK_KIND_WORD: MarkKind.WORD,
    pb.TIMING_MARK_KIND_PHONEME: MarkKind.PHONEME,
    pb.TIMING_MARK_KIND_VISEME: MarkKind.VISEME,
}


@dataclass(frozen=True)
class Mark:
    """A word (as written), phoneme (IPA) or viseme (sil PP FF TH DD kk CH SS nn RR aa E ih oh
    ou): seconds into the audio, and code points into the text that was sent, so that
    text[mark.text_offset : mark.text_end] is the word."""

    kind: MarkKind
    value: str
    start_seconds: float
    end_seconds: float
    text_offset: int
    text_length: int

    @property
    def text_end(self) -> int:
        return self.text_offset + self.text_length

    @classmethod
    def from_proto(cls, mark: pb.TimingMark, kind: MarkKind) -> "Mark":
        return cls(
            kind,
            mark.value,
            mark.start_seconds,
            mark.end_seconds,
            mark.text_offset,
            mark.text_length,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "value": self.value,
            "start_seconds": round(self.start_seconds, 4),
            "end_seconds": round(self.end_seconds, 4),
            "text_offset": self.text_offset,
            "text_length": self.text_length,
        }


def marks_from_proto(marks: Iterable[pb.TimingMark]) -> list[Mark]:
    """The marks of kinds this client knows (a newer server may send more)."""
    return [Mark.from_proto(mark, _KINDS[mark.kind]) for mark in marks if mark.kind in _KINDS]
