"""The text of a live session as it arrives in deltas, and where to cut it into pieces to speak:
at once at a sentence end; at a clause break once enough text is buffered; and after a short
wait at a clause break or else a whole word, so a pause in the writer does not stall speech."""

from dataclasses import dataclass

from server.engine.text import clause_breaks, ends_with_punctuation, sentence_ends


@dataclass(frozen=True)
class Piece:
    """Text to speak, as sent, and where it starts among every code point the session received."""

    text: str
    offset: int

    @property
    def end(self) -> int:
        return self.offset + len(self.text)


class LiveText:
    def __init__(self, min_clause_chars: int, max_chars: int) -> None:
        self._min_clause_chars = min_clause_chars
        self._max_chars = max_chars
        self._pending = ""
        self._offset = 0
        """Where `_pending` starts in the session's text."""

    @property
    def received(self) -> int:
        """Code points received so far."""
        return self._offset + len(self._pending)

    @property
    def pending(self) -> bool:
        """Whether text waits to be spoken (whitespace alone does not count)."""
        return bool(self._pending.strip())

    def add(self, delta: str) -> None:
        self._pending += delta

    def ready(self, waited: bool) -> Piece | None:
        """The piece to speak now, if any; `waited` says the newest text has waited long enough
        that whatever is buffered should be spoken up to a clause or word."""
        text = self._pending
        cut = _last(sentence_ends(text) + _line_ends(text))
        if cut is None and len(text) >= self._min_clause_chars:
            cut = _last(clause_breaks(text))
        if cut is None and (waited or len(text) >= self._max_chars):
            cut = _last(clause_breaks(text))
            if cut is None and ends_with_punctuation(text):
                cut = len(text)
            if cut is None:
                cut = _last([i + 1 for i, c in enumerate(text) if c.isspace()])
            if cut is None and len(text) >= self._max_chars:
                cut = len(text)  # one "word" as long as a segment: no better place to cut
        return self._cut(cut) if cut else None

    def take_all(self) -> Piece | None:
        """Everything buffered, even a half word (a flush, or the end of the session)."""
        return self._cut(len(self._pending))

    def drop(self) -> None:
        """Forgets what is buffered (a cancel): it will never be spoken."""
        self._offset += len(self._pending)
        self._pending = ""

    def _cut(self, at: int) -> Piece | None:
        piece = Piece(self._pending[:at], self._offset)
        self._pending = self._pending[at:]
        self._offset += at
        return piece if piece.text.strip() else None


def _line_ends(text: str) -> list[int]:
    return [i + 1 for i, c in enumerate(text) if c == "\n"]


def _last(positions: list[int]) -> int | None:
    return max(positions) if positions else None
