"""Text preparation: Unicode normalisation and splitting into segments small enough that the
first audio of a stream leaves after the first sentence, whatever the length of the text."""

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

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
_FINAL_PUNCTUATION = re.compile(r"[.!?…]+[\"'”’)\]]*\s*$")


def normalize(text: str) -> str:
    """NFKC, control characters dropped, runs of spaces collapsed, blank lines kept as one."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text that remembers where each of its code points came from."""

    text: str
    original: str
    sources: tuple[tuple[int, int], ...]
    """For each code point of `text`, the span [start, end) of `original` it comes from."""

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """(offset, length) in the original text of text[start:end]; an empty span stays empty,
        placed where text[start] comes from."""
        if start >= end:
            if start < len(self.sources):
                return self.sources[start][0], 0
            return (self.sources[-1][1] if self.sources else 0), 0
        first, last = self.sources[start][0], self.sources[end - 1][1]
        return first, last - first


def normalize_mapped(text: str) -> NormalizedText:
    """normalize(), keeping for every code point the span of the original it comes from."""
    pieces, sources = _nfkc_pieces(text)
    for pattern, replacement in ((_CONTROL, " "), (_SPACES, " "), (_BLANK_LINES, "\n")):
        pieces, sources = _substitute(pattern, replacement, pieces, sources)
    kept = len(pieces) - len(pieces.lstrip())
    stripped = pieces.strip()
    return NormalizedText(stripped, text, tuple(sources[kept : kept + len(stripped)]))


def _nfkc_pieces(text: str) -> tuple[str, list[tuple[int, int]]]:
    """NFKC piece by piece: a piece is a starter and the combining marks after it, joined with
    the pieces next to it whenever normalising them apart would differ from together."""
    bounds = [i for i, c in enumerate(text) if i == 0 or unicodedata.combining(c) == 0]
    bounds.append(len(text))
    merged: list[tuple[int, int]] = []
    for start, end in itertools.pairwise(bounds):
        if merged:
            first, _ = merged[-1]
            together = unicodedata.normalize("NFKC", text[first:end])
            apart = unicodedata.normalize("NFKC", text[first:start]) + unicodedata.normalize(
                "NFKC", text[start:end]
            )
            if together != apart:
                merged[-1] = (first, end)
                continue
        merged.append((start, end))
    out: list[str] = []
    sources: list[tuple[int, int]] = []
    for start, end in merged:
        piece = unicodedata.normalize("NFKC", text[start:end])
        out.append(piece)
        sources.extend([(start, end)] * len(piece))
    joined = "".join(out)
    if joined != unicodedata.normalize("NFKC", text):  # no piecewise equivalent: one span
        joined = unicodedata.normalize("NFKC", text)
        sources = [(0, len(text))] * len(joined)
    return joined, sources


def _substitute(
    pattern: re.Pattern[str], replacement: str, text: str, sources: Sequence[tuple[int, int]]
) -> tuple[str, list[tuple[int, int]]]:
    out: list[str] = []
    out_sources: list[tuple[int, int]] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(text[position : match.start()])
        out_sources.extend(sources[position : match.start()])
        replaced = match.expand(replacement)
        out.append(replaced)
        span = (sources[match.start()][0], sources[match.end() - 1][1])
        out_sources.extend([span] * len(replaced))
        position = match.end()
    out.append(text[position:])
    out_sources.extend(sources[position:])
    return "".join(out), out_sources


def segment_offsets(text: str, segments: Sequence[str]) -> list[int]:
    """Where each of split_segments' segments starts in the text it was split from."""
    offsets = []
    position = 0
    for segment in segments:
        offset = text.find(segment, position)
        if offset < 0:
            raise ValueError(f"segment {segment!r} is not in the text after {position}")
        offsets.append(offset)
        position = offset + len(segment)
    return offsets


def split_segments(text: str, max_chars: int) -> list[str]:
    """Sentences in order; a sentence longer than max_chars is cut at clause breaks, then at
    spaces, so no segment exceeds max_chars."""
    segments: list[str] = []
    for line in text.split("\n"):
        for sentence in _sentences(line):
            segments.extend(_bounded(sentence, max_chars))
    return segments


def _sentences(line: str) -> list[str]:
    bounds = [0, *sentence_ends(line), len(line)]
    return [s for start, end in itertools.pairwise(bounds) if (s := line[start:end].strip())]


def sentence_ends(line: str) -> list[int]:
    """Where each complete sentence of a line ends: after its punctuation and closing quotes,
    once whitespace follows (so "Hello." at the end of text that is still arriving is not yet
    complete)."""
    ends: list[int] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        if match.group().startswith(".") and _before_is_abbreviation(line[start : match.start()]):
            continue
        ends.append(match.end())
        start = match.end()
    return ends


def ends_with_punctuation(text: str) -> bool:
    """Whether the text ends as a sentence does (the next text may still continue it)."""
    return _FINAL_PUNCTUATION.search(text) is not None


def clause_breaks(text: str) -> list[int]:
    """Where each clause ends: after a comma, semicolon, colon or dash that whitespace follows."""
    return [match.end() for match in _CLAUSE_BREAK.finditer(text)]


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
