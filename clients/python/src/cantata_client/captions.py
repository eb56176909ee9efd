"""Captions from word marks, as WebVTT (.vtt) or SubRip (.srt)."""

from collections.abc import Sequence
from dataclasses import dataclass

from cantata_client.marks import Mark, MarkKind

MAX_CUE_CHARACTERS = 42
"""One caption line, as broadcasters' guidelines keep it."""
MAX_CUE_SECONDS = 6.0
_SENTENCE_ENDS = frozenset(".!?…")


@dataclass(frozen=True)
class Cue:
    start_seconds: float
    end_seconds: float
    text: str


def cues(marks: Sequence[Mark], text: str) -> list[Cue]:
    """Word marks grouped into cues that end with a sentence, or before they grow past one line
    or MAX_CUE_SECONDS. A cue shows the text as it was sent, from its first word to its last,
    with the punctuation that follows."""
    words = [mark for mark in marks if mark.kind is MarkKind.WORD]
    groups: list[list[Mark]] = []
    for word in words:
        group = groups[-1] if groups else None
        if (
            group is None
            or _ends_sentence(group[-1], text)
            or len(_cue_text(group[0], word, text)) > MAX_CUE_CHARACTERS
            or word.end_seconds - group[0].start_seconds > MAX_CUE_SECONDS
        ):
            groups.append([word])
        else:
            group.append(word)
    return [
        Cue(group[0].start_seconds, group[-1].end_seconds, _cue_text(group[0], group[-1], text))
        for group in groups
    ]


def _trailing_punctuation_end(word: Mark, text: str) -> int:
    end = word.text_end
    while end < len(text) and not text[end].isspace() and not text[end].isalnum():
        end += 1
    return end


def _ends_sentence(word: Mark, text: str) -> bool:
    return any(
        c in _SENTENCE_ENDS for c in text[word.text_end : _trailing_punctuation_end(word, text)]
    )


def _cue_text(first: Mark, last: Mark, text: str) -> str:
    return " ".join(text[first.text_offset : _trailing_punctuation_end(last, text)].split())


def _timestamp(seconds: float, separator: str) -> str:
    milliseconds = round(seconds * 1000)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    seconds_part, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds_part:02d}{separator}{milliseconds:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{_timestamp(c.start_seconds, '.')} --> {_timestamp(c.end_seconds, '.')}\n"
        + _vtt_escape(c.text)
        for c in cues
    ]
    return "\n\n".join(["WEBVTT", *blocks]) + "\n"


def srt(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{n}\n{_timestamp(c.start_seconds, ',')} --> {_timestamp(c.end_seconds, ',')}\n{c.text}"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n\n".join(blocks) + "\n"


FORMATS = {".vtt": webvtt, ".srt": srt}
