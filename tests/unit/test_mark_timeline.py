"""A runtime's chunk marks on the output's timeline and in the text as sent."""

import itertools

import pytest

from runtimes.base import ChunkMark, MarkKind
from server.engine.request import TimingMark, TimingOptions
from server.engine.text import normalize_mapped, segment_offsets, split_segments
from server.engine.timing import MarkTimeline

RATE = 100
TEXT = "  Ｈｉ ﬁne!\n\nYes."
ALL = TimingOptions(words=True, phonemes=True, visemes=True)


def _timeline(options: TimingOptions = ALL) -> MarkTimeline:
    text = normalize_mapped(TEXT)  # "Hi fine!\nYes."
    segments = split_segments(text.text, 300)
    assert segments == ["Hi fine!", "Yes."]
    return MarkTimeline(options, RATE, "en-US", text, segment_offsets(text.text, segments))


def _word(value: str, start: int, end: int, segment: int, offset: int) -> ChunkMark:
    return ChunkMark(MarkKind.WORD, value, start, end, segment, offset, len(value))


def _phoneme(value: str, start: int, end: int, segment: int, offset: int, length: int) -> ChunkMark:
    return ChunkMark(MarkKind.PHONEME, value, start, end, segment, offset, length)


FIRST = [
    _word("Hi", 10, 30, 0, 0),
    _word("fine", 30, 60, 0, 3),
    _phoneme("h", 10, 15, 0, 0, 2),
    _phoneme("aɪ", 15, 30, 0, 0, 2),
    _phoneme("f", 30, 40, 0, 3, 4),
    _phoneme("aɪ", 40, 50, 0, 3, 4),
    _phoneme("n", 50, 60, 0, 3, 4),
]
SECOND = [_word("Yes", 5, 25, 1, 0), _phoneme("j", 5, 10, 1, 0, 3), _phoneme("ɛ", 10, 20, 1, 0, 3)]
SECOND.append(_phoneme("s", 20, 25, 1, 0, 3))


def _kind(
    marks: tuple[TimingMark, ...], kind: MarkKind
) -> list[tuple[str, float, float, int, int]]:
    return [
        (m.value, m.start_seconds, m.end_seconds, m.text_offset, m.text_length)
        for m in marks
        if m.kind is kind
    ]


def test_marks_move_onto_the_timeline_and_back_into_the_text_as_sent() -> None:
    timeline = _timeline()
    first = timeline.chunk(FIRST, 80)
    second = timeline.chunk(SECOND, 40)
    words = _kind(first + second, MarkKind.WORD)
    # Words as written, before normalisation; offsets into the text as sent.
    assert words == [
        ("Ｈｉ", 0.1, 0.3, 2, 2),
        ("ﬁne", 0.3, 0.6, 5, 3),
        ("Yes", 0.85, 1.05, 11, 3),
    ]
    for value, _, _, offset, length in words:
        assert TEXT[offset : offset + length] == value
    assert _kind(second, MarkKind.PHONEME)[0] == ("j", 0.85, 0.9, 11, 3)


def test_visemes_cover_the_audio_with_sil_in_the_pauses() -> None:
    timeline = _timeline()
    visemes = _kind(timeline.chunk(FIRST, 80) + timeline.chunk(SECOND, 40), MarkKind.VISEME)
    assert [v[0] for v in visemes] == [
        *("sil", "kk", "aa", "FF", "aa", "nn", "sil"),
        *("sil", "ih", "E", "SS", "sil"),
    ]
    assert visemes[0][1] == 0.0
    assert visemes[-1][2] == 1.2
    for before, after in itertools.pairwise(visemes):
        assert before[2] == after[1], "no gaps, no overlaps"
    # A pause sits where it falls in the text: after the word before it.
    assert visemes[6][3:] == (8, 0)


def test_only_the_kinds_asked_for() -> None:
    marks = _timeline(TimingOptions(visemes=True)).chunk(FIRST, 80)
    assert {m.kind for m in marks} == {MarkKind.VISEME}
    marks = _timeline(TimingOptions(words=True)).chunk(FIRST, 80)
    assert {m.kind for m in marks} == {MarkKind.WORD}


@pytest.mark.parametrize("samples", [45, 30, 0])
def test_a_chunk_cut_at_the_audio_limit_loses_the_marks_after_the_cut(samples: int) -> None:
    marks = _timeline().chunk(FIRST, samples)
    assert all(m.end_seconds <= samples / RATE for m in marks)
    assert all(m.start_seconds < samples / RATE for m in marks)
    spoken = [m.value for m in marks if m.kind is MarkKind.WORD]
    assert spoken == {45: ["Ｈｉ", "ﬁne"], 30: ["Ｈｉ"], 0: []}[samples]
