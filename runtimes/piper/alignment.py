"""Words and phonemes with their times, from Piper's phoneme alignments.

espeak-ng phonemizes a sentence as a whole, and in context it joins words ("of the" becomes
ʌvðə), speaks numbers and symbols as several words ("42", "😀"), and reduces vowels. So every
written word is also phonemized on its own, and the sentence's sounds are matched against those,
sound by sound, to say which written word each sound belongs to."""

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

BOS, EOS, PAD = "^", "$", "_"
STRESS = frozenset("ˈˌ")
_TONES = frozenset("0123456789↓↑")
CLUSTERS: dict[str, frozenset[str]] = {
    "en": frozenset({"aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "tʃ", "dʒ"}),
}
"""Sequences of sounds that are one phoneme, by language: diphthongs and affricates."""
DEFAULT_CLUSTERS = frozenset({"tʃ", "dʒ"})

_LEADING_PUNCTUATION = frozenset("\"'¡¿")
_TRAILING_PUNCTUATION = frozenset(".,;:!?…\"'")
_RUN = re.compile(r"[^\s—–]+")
"""A run of characters between spaces or dashes ("well—maybe" is two words)."""

Kind = Literal["sound", "modifier", "stress", "pause"]


@dataclass(frozen=True)
class WrittenWord:
    offset: int
    """Code points from the start of the segment."""
    text: str


@dataclass(frozen=True)
class Phone:
    ipa: str
    start: int
    """Samples from the start of the chunk."""
    end: int
    word: int | None
    """Index of the written word it belongs to."""


def clusters_for(language: str) -> frozenset[str]:
    return CLUSTERS.get(language.split("-")[0].lower(), DEFAULT_CLUSTERS)


def written_words(segment: str) -> list[WrittenWord]:
    """Words as written: runs of non-space characters without the quotes, brackets and
    punctuation around them; a pictograph (an emoji) is a word of its own."""
    words = []
    for run in _RUN.finditer(segment):
        for offset, text in _split_pictographs(run.start(), run.group()):
            start, end = 0, len(text)
            while start < end and _is_leading_punctuation(text[start]):
                start += 1
            while end > start and _is_trailing_punctuation(text[end - 1]):
                end -= 1
            if start < end:
                words.append(WrittenWord(offset + start, text[start:end]))
    return words


def _split_pictographs(offset: int, text: str) -> list[tuple[int, str]]:
    pieces: list[tuple[int, str]] = []
    start = 0
    for index, character in enumerate(text):
        if pieces and start == index and _continues_pictograph(character, pieces[-1][1]):
            last_offset, last = pieces[-1]
            pieces[-1] = (last_offset, last + character)
            start = index + 1
        elif unicodedata.category(character) == "So":
            if start < index:
                pieces.append((offset + start, text[start:index]))
            pieces.append((offset + index, character))
            start = index + 1
    if start < len(text):
        pieces.append((offset + start, text[start:]))
    return pieces


def _continues_pictograph(character: str, pictograph: str) -> bool:
    """A skin tone or a variation selector after a pictograph, or the second letter of a flag."""
    if unicodedata.category(character) in ("Mn", "Me", "Sk"):
        return True
    return _is_regional_indicator(character) and [
        _is_regional_indicator(c) for c in pictograph
    ] == [True]


def _is_regional_indicator(character: str) -> bool:
    return "\U0001f1e6" <= character <= "\U0001f1ff"


def _is_leading_punctuation(character: str) -> bool:
    return character in _LEADING_PUNCTUATION or unicodedata.category(character) in (
        "Ps",
        "Pi",
        "Pf",
        "Pd",
    )


def _is_trailing_punctuation(character: str) -> bool:
    return character in _TRAILING_PUNCTUATION or unicodedata.category(character) in (
        "Pe",
        "Pi",
        "Pf",
        "Pd",
    )


def kind(phoneme: str) -> Kind:
    """What a phonemizer's symbol is: a sound, a modifier of the sound before it (length,
    diacritics, tone), a stress mark (before the syllable it stresses) or a pause (sentence
    start and end, spaces between words, punctuation)."""
    first = phoneme[:1]
    if not first or phoneme in (BOS, EOS, PAD) or first.isspace():
        return "pause"
    if first in STRESS:
        return "stress"
    if first in _TONES or unicodedata.category(first) in ("Lm", "Mn", "Mc", "Me", "Sk"):
        return "modifier"
    if unicodedata.category(first)[0] in "PSZC":
        return "pause"
    return "sound"


def label_phonemes(
    phonemes: Sequence[str], words_phonemes: Sequence[Sequence[str]]
) -> list[int | None]:
    """For each of a segment's phonemes (as synthesized), the index of the written word it
    belongs to; None for pauses. `words_phonemes[i]` is written word i phonemized alone."""
    spoken = [
        (index, character)
        for index, phoneme in enumerate(phonemes)
        if kind(phoneme) in ("sound", "modifier")
        for character in phoneme
    ]
    written = [
        (word, character)
        for word, sounds in enumerate(words_phonemes)
        for phoneme in sounds
        if kind(phoneme) in ("sound", "modifier")
        for character in phoneme
    ]
    labels: list[int | None] = [None] * len(phonemes)
    matcher = difflib.SequenceMatcher(
        None, [c for _, c in written], [c for _, c in spoken], autojunk=False
    )
    for operation, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if operation in ("equal", "replace"):
            # A replaced run (ɾə for tʌ, ɐ for eɪ) is shared out in proportion.
            for k in range(b_start, b_end):
                source = a_start + (k - b_start) * (a_end - a_start) // (b_end - b_start)
                labels[spoken[k][0]] = written[source][0]
    _fill(phonemes, labels, len(words_phonemes))
    return labels


def _spoken_words(phonemes: Sequence[str]) -> list[list[int]]:
    """Indices of the non-pause phonemes, grouped by the pauses between them."""
    groups: list[list[int]] = [[]]
    for index, phoneme in enumerate(phonemes):
        if kind(phoneme) == "pause":
            if groups[-1]:
                groups.append([])
        else:
            groups[-1].append(index)
    return [group for group in groups if group]


def _fill(phonemes: Sequence[str], labels: list[int | None], word_count: int) -> None:
    """Labels what matching left out, keeping labels in order: a sound takes its spoken word's
    label (the one before it, else after it); a spoken word with no label at all takes the next
    written word not yet spoken, else the one before."""
    if not word_count:
        return
    groups = _spoken_words(phonemes)
    previous: int | None = None
    for number, group in enumerate(groups):
        known = [labels[i] for i in group if labels[i] is not None]
        if not known:
            following = next(
                (
                    label
                    for later in groups[number + 1 :]
                    for label in (labels[i] for i in later)
                    if label is not None
                ),
                None,
            )
            candidate = 0 if previous is None else previous + 1
            if following is not None and candidate >= following:
                candidate = following if previous is None else previous
            label = min(candidate, word_count - 1)
            for index in group:
                labels[index] = label
        else:
            last = None
            for index in group:
                if labels[index] is None:
                    labels[index] = last
                last = labels[index]
            last = None
            for index in reversed(group):
                if labels[index] is None:
                    labels[index] = last
                last = labels[index]
        previous = labels[group[-1]]


def phones(
    alignments: Sequence[tuple[str, int]], labels: Sequence[int | None], clusters: frozenset[str]
) -> list[Phone]:
    """Sounds with their times. `alignments` are (phoneme, samples) as Piper gives them, with
    the sentence start and end; `labels` those of label_phonemes for the phonemes between.
    A stress mark's time goes to the sound after it, a modifier's to the sound before it, and
    clusters (diphthongs, affricates) of one word become one phoneme. The space between two
    words of a clause goes to the word after it: Piper spends it moving into that word (the
    closure of a stop, the lips' onset), which is where listeners and recognisers put the word's
    start; a space after punctuation stays a pause."""
    result: list[Phone] = []
    position = 0
    lead_in: int | None = None
    previous: Kind = "pause"
    for (phoneme, samples), label in zip(alignments, [None, *labels, None], strict=True):
        start, end = position, position + int(samples)
        position = end
        sort = kind(phoneme)
        joins_next = sort == "stress" or (phoneme == " " and previous in ("sound", "modifier"))
        previous = sort
        if joins_next:
            lead_in = start if lead_in is None else lead_in
            continue
        last = result[-1] if result else None
        if sort == "pause":
            lead_in = None
        elif (
            last is not None
            and lead_in is None
            and last.end == start
            and last.word == label
            and (sort == "modifier" or last.ipa + phoneme in clusters)
        ):
            result[-1] = replace(last, ipa=last.ipa + phoneme, end=end)
        else:
            result.append(Phone(phoneme, start if lead_in is None else lead_in, end, label))
            lead_in = None
    return result
