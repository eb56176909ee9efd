"""Captions from word marks: cues in the text as sent, WebVTT and SubRip."""

from cantata_client import Mark, MarkKind
from cantata_client.captions import Cue, cues, srt, webvtt


def _words(text: str, seconds_per_word: float = 0.5) -> list[Mark]:
    marks = []
    position = 0
    for n, word in enumerate(text.split()):
        offset = text.index(word, position)
        position = offset + len(word)
        value = word.strip(".,!?")
        start = n * seconds_per_word
        marks.append(
            Mark(MarkKind.WORD, value, start, start + seconds_per_word, offset, len(value))
        )
    return marks


def test_a_cue_per_sentence_with_its_punctuation() -> None:
    text = "Hello there, friend. How are you?"
    marks = [*_words(text), Mark(MarkKind.VISEME, "sil", 0, 9, 0, 0)]
    assert cues(marks, text) == [
        Cue(0.0, 1.5, "Hello there, friend."),
        Cue(1.5, 3.0, "How are you?"),
    ]


def test_long_sentences_are_cut_into_lines() -> None:
    text = " ".join(["word"] * 40) + "."
    found = cues(_words(text, 0.1), text)
    assert all(len(cue.text) <= 42 for cue in found)
    assert " ".join(cue.text for cue in found) == text
    slow = cues(_words("one two three four five", 2.0), "one two three four five")
    assert all(cue.end_seconds - cue.start_seconds <= 6.0 for cue in slow)


def test_webvtt_and_srt() -> None:
    found = [Cue(0.046, 1.5, "Fish & <chips>."), Cue(61.25, 3723.5, "Later.")]
    assert webvtt(found) == (
        "WEBVTT\n\n"
        "00:00:00.046 --> 00:00:01.500\nFish &amp; &lt;chips&gt;.\n\n"
        "00:01:01.250 --> 01:02:03.500\nLater.\n"
    )
    assert srt(found) == (
        "1\n00:00:00,046 --> 00:00:01,500\nFish & <chips>.\n\n"
        "2\n00:01:01,250 --> 01:02:03,500\nLater.\n"
    )
