"""Phonemes (IPA) to the 15 visemes of the Oculus/Meta lip-sync set, which game engines and
avatar kits consume. Each language may have its own table; every other language, and every
phoneme a language's table leaves out, goes by the IPA class of its sound (where and how it is
made, and whether the lips round)."""

import unicodedata
from typing import Final

SILENCE: Final = "sil"
VISEMES: Final = (
    "sil",
    "PP",
    "FF",
    "TH",
    "DD",
    "kk",
    "CH",
    "SS",
    "nn",
    "RR",
    "aa",
    "E",
    "ih",
    "oh",
    "ou",
)
UNKNOWN_SOUND: Final = "E"
"""For a symbol no table knows: a half-open, unrounded mouth."""


def _table(groups: dict[str, str]) -> dict[str, str]:
    return {phoneme: viseme for viseme, phonemes in groups.items() for phoneme in phonemes.split()}


IPA_CLASSES: Final = _table(
    {
        # Lips closed: bilabial stops, nasals and trills, the bilabial click.
        "PP": "p b m ɓ ʙ ʘ",
        # Lower lip to upper teeth, and bilabial fricatives (lips nearly closed).
        "FF": "f v ɱ ʋ ⱱ ɸ β",
        "TH": "θ ð",
        # Tongue tip behind the teeth: alveolar, dental and retroflex stops, clicks.
        "DD": "t d ʈ ɖ ɗ ǀ ǁ ǂ ǃ",
        # Back of the tongue, glottis and pharynx: the lips stay as they are.
        "kk": "k g ɡ q ɢ ɠ ʛ c ɟ ʄ x ɣ χ ħ ʕ h ɦ ʜ ʢ ʔ ʡ ɰ ŋ ɴ X",
        "CH": "ʃ ʒ ɕ ʑ ʂ ʐ ç ʝ ɧ tʃ dʒ tɕ dʑ",
        "SS": "s z ɬ ɮ ʦ ts dz",
        "nn": "n ɲ ɳ l ɭ ʎ ʟ ɫ ɺ",
        # Most languages' r: trills, taps and approximants, alveolar or uvular.
        "RR": "r ɹ ɻ ʀ ʁ ɾ ɽ ɚ ɝ",
        "aa": "a æ ɑ ɐ ʌ aɪ aʊ",
        "E": "e ɛ ə ɘ ɜ ɤ ε eɪ",
        "ih": "i ɪ ɨ ɯ ᵻ j",
        "oh": "o ɔ ɒ ɵ ø œ ɶ ɞ oʊ ɔɪ",
        "ou": "u ʊ y ʏ ʉ w ʍ ɥ",
    }
)

ENGLISH: Final = {
    **IPA_CLASSES,
    # In English ɾ is the flapped t or d of "water" and "ladder", and ɐ the reduced "a".
    "ɾ": "DD",
    "ɐ": "E",
}

BY_LANGUAGE: Final = {"en": ENGLISH}


def table_for(language: str) -> dict[str, str]:
    """The table for a BCP 47 tag such as "en-US": its primary language's, else IPA classes."""
    return BY_LANGUAGE.get(language.split("-")[0].lower(), IPA_CLASSES)


def viseme(phoneme: str, table: dict[str, str]) -> str:
    """The viseme of one phoneme, ignoring length, stress and tone; a letter with a diacritic
    the tables do not list goes by its letter (ã as a), and a cluster they do not list (a
    diphthong, an affricate) by its first sound."""
    decomposed = unicodedata.normalize("NFD", phoneme)
    with_diacritics = unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if _is_sound(c) or unicodedata.combining(c))
    )
    letters = "".join(c for c in decomposed if _is_sound(c))
    for candidate in (with_diacritics, letters, letters[:1]):
        for lookup in (table, IPA_CLASSES):
            if candidate in lookup:
                return lookup[candidate]
    return UNKNOWN_SOUND


def _is_sound(character: str) -> bool:
    return character not in "ˈˌ" and unicodedata.category(character) in ("Ll", "Lu", "Lo")
