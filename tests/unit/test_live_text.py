"""Where a live session cuts the text it receives into pieces to speak."""

from server.engine.live_text import LiveText, Piece


def fed(*deltas: str, min_clause_chars: int = 60, max_chars: int = 300) -> LiveText:
    text = LiveText(min_clause_chars, max_chars)
    for delta in deltas:
        text.add(delta)
    return text


def test_a_sentence_is_spoken_once_whitespace_follows_its_end() -> None:
    text = fed("Hello the", "re.")
    assert text.ready(waited=False) is None  # "there.com"? not yet known
    text.add(" And")
    assert text.ready(waited=False) == Piece("Hello there.", 0)
    assert text.received == len("Hello there. And")


def test_every_complete_sentence_goes_in_one_piece_and_the_rest_waits() -> None:
    text = fed("One. Two! Three? Fo")
    assert text.ready(waited=False) == Piece("One. Two! Three?", 0)
    assert text.take_all() == Piece(" Fo", 16)


def test_an_abbreviation_or_an_initial_does_not_end_a_sentence() -> None:
    assert fed("Ask Dr. Smith and J. Doe ").ready(waited=False) is None


def test_a_line_break_ends_a_piece() -> None:
    assert fed("A heading\nand more").ready(waited=False) == Piece("A heading\n", 0)


def test_a_clause_break_is_used_once_enough_text_waits() -> None:
    short = fed("Well, maybe ")
    assert short.ready(waited=False) is None
    long = fed("Well, this is a longer clause that keeps going; and then some more words")
    assert long.ready(waited=False) == Piece("Well, this is a longer clause that keeps going; ", 0)


def test_after_a_wait_a_clause_or_else_whole_words_are_spoken() -> None:
    assert fed("Well, maybe not").ready(waited=True) == Piece("Well, ", 0)
    assert fed("Just some wor").ready(waited=True) == Piece("Just some ", 0)
    assert fed("Finished.").ready(waited=True) == Piece("Finished.", 0)
    assert fed("Unfinishe").ready(waited=True) is None


def test_text_as_long_as_a_segment_is_cut_at_a_word_without_waiting() -> None:
    text = fed("word " * 10, "tail", max_chars=40)
    piece = text.ready(waited=False)
    assert piece == Piece("word " * 10, 0)
    unbroken = fed("x" * 45, max_chars=40)
    assert unbroken.ready(waited=False) == Piece("x" * 45, 0)


def test_offsets_count_every_code_point_received_even_dropped_text() -> None:
    text = fed("Héllo 👋 there. Dropped text")
    first = text.ready(waited=False)
    assert first == Piece("Héllo 👋 there.", 0)
    text.drop()
    assert not text.pending
    text.add("Next. ")
    assert text.ready(waited=False) == Piece("Next.", len("Héllo 👋 there. Dropped text"))


def test_whitespace_alone_is_never_a_piece() -> None:
    text = fed("   ")
    assert text.take_all() is None
    assert text.received == 3
    text.add("Hi. ")
    assert text.ready(waited=False) == Piece("Hi.", 3)
