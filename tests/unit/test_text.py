import random

import pytest

from server.engine.text import normalize, normalize_mapped, segment_offsets, split_segments


def test_normalize_folds_compatibility_forms_and_control_characters() -> None:
    assert normalize("ﬁne\u00a0day\x07  now\u200b") == "fine day now"
    assert normalize("  one\n\n\n two \r\n three ") == "one\ntwo\nthree"


def test_sentences_split_at_terminal_punctuation_but_not_abbreviations() -> None:
    text = 'Mr. Smith paid $3.50 today! Did J. R. R. Tolkien write it? "Yes." Dr. Who... maybe'
    assert split_segments(text, 300) == [
        "Mr. Smith paid $3.50 today!",
        "Did J. R. R. Tolkien write it?",
        '"Yes."',
        "Dr. Who...",
        "maybe",
    ]


def test_lines_are_segments_of_their_own() -> None:
    assert split_segments("A heading\nThe body text.", 300) == ["A heading", "The body text."]


def test_long_sentences_are_cut_at_clauses_then_words() -> None:
    clauses = "first part, second part; third part: " * 10
    segments = split_segments(clauses, 60)
    assert all(len(s) <= 60 for s in segments)
    assert all(s.endswith((",", ";", ":")) for s in segments[:-1])
    words = split_segments("word " * 100, 50)
    assert all(len(s) <= 50 for s in words)
    assert " ".join(words).split() == ["word"] * 100
    assert split_segments("x" * 130, 50) == ["x" * 50, "x" * 50, "x" * 30]


CORPUS_PIECES = [
    *"ab Z.,!?\t\n\r😀ﬁＡｂ①½é’—",
    "e\u0301",
    "\u0301",
    "\x07",
    "\u200b",
    "\u00a0",
    "\u1100\u1161",
    "\u1161",
    "\u3000",
    "  ",
    "\n\n",
    "ǆ",
    "㎏",
    "\ufeff",
    "ﬃ",
]


def test_the_offset_map_normalises_exactly_as_normalize() -> None:
    rng = random.Random(0)
    for _ in range(5000):
        text = "".join(rng.choice(CORPUS_PIECES) for _ in range(rng.randint(0, 25)))
        mapped = normalize_mapped(text)
        assert mapped.text == normalize(text), repr(text)
        assert mapped.original == text
        assert len(mapped.sources) == len(mapped.text)
        assert all(0 <= a < b <= len(text) for a, b in mapped.sources)
        assert [a for a, _ in mapped.sources] == sorted(a for a, _ in mapped.sources)


@pytest.mark.parametrize(
    ("text", "word", "original"),
    [
        ("a ﬁne day", "fine", "ﬁne"),
        ("Ｈｅｌｌｏ world", "Hello", "Ｈｅｌｌｏ"),
        ("  \x07 café\u200b now", "café", "café"),
        ("Cafe\u0301 au lait", "Café", "Cafe\u0301"),
        ("😀 naïve,\n\n\n\tyes", "yes", "yes"),
        ("room ① is ½ full", "1⁄2", "½"),
        ("the ﬃx", "ffix", "ﬃx"),
    ],
)
def test_a_word_of_the_normalised_text_slices_back_to_the_original(
    text: str, word: str, original: str
) -> None:
    mapped = normalize_mapped(text)
    start = mapped.text.index(word)
    offset, length = mapped.original_span(start, start + len(word))
    assert text[offset : offset + length] == original


def test_an_empty_span_stays_empty_where_it_falls() -> None:
    mapped = normalize_mapped("  ﬁne day  ")
    assert mapped.original_span(0, 0) == (2, 0)
    assert mapped.original_span(4, 4) == (5, 0)
    assert mapped.original_span(8, 8) == (9, 0)


def test_segment_offsets_find_each_segment_in_order() -> None:
    text = "One. One. Two!\nThree"
    segments = split_segments(text, 300)
    offsets = segment_offsets(text, segments)
    assert offsets == [0, 5, 10, 15]
    assert [text[o : o + len(s)] for o, s in zip(offsets, segments, strict=True)] == segments
