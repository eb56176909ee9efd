from server.engine.text import normalize, split_segments


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
