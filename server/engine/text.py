"""Text preparation: Unicode normalisation and splitting into segments small enough that the
first audio of a stream leaves after the first sentence, whatever the length of the text."""

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")

# A sentence ends at . ! ? or … (possibly repeated), optionally followed by closing quotes or
# brackets, then whitespace, unless the word before a full stop is a known abbreviation or a
# single letter (an initial).
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "no"}
    | {"inc", "ltd", "co", "corp", "dept", "est", "approx", "fig"}
)
_CLAUSE_BREAK = re.compile(r"[,;:—–]\s")


def normalize(text: str) -> str:
    """NFKC, control characters dropped, runs of spaces collapsed, blank lines kept as one."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


def split_segments(text: str, max_chars: int) -> list[str]:
    """Sentences in order; a sentence longer than max_chars is cut at clause breaks, then at
    spaces, so no segment exceeds max_chars."""
    segments: list[str] = []
    for line in text.split("\n"):
        for sentence in _sentences(line):
            segments.extend(_bounded(sentence, max_chars))
    return segments


def _sentences(line: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        if match.group().startswith(".") and _before_is_abbreviation(line[start : match.start()]):
            continue
        sentences.append(line[start : match.end()].strip())
        start = match.end()
    sentences.append(line[start:].strip())
    return [s for s in sentences if s]


def _before_is_abbreviation(text: str) -> bool:
    words = text.rsplit(maxsplit=1)
    if not words:
        return False
    word = words[-1].lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _bounded(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > max_chars:
        window = sentence[: max_chars + 1]
        clauses = [m.end() for m in _CLAUSE_BREAK.finditer(window)]
        cut = clauses[-1] if clauses else window.rfind(" ") + 1
        if cut <= 0:
            cut = max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        pieces.append(sentence)
    return pieces
