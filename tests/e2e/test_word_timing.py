"""Word marks against an independent listener: Whisper's word timestamps on the sentences the
intelligibility check uses agree with where Cantata says each word is."""

import difflib
import re
import statistics

import numpy as np
import pytest

from cantata_client import Client, Encoding, MarkKind, Timing
from tests.e2e.test_intelligibility import SENTENCES
from tests.speech_recognition import Listener, assemble_model, listener

MIN_MATCHED = 0.9
MAX_MEDIAN_START_DIFFERENCE = 0.080


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Listener:
    return listener(assemble_model(tmp_path_factory.mktemp("whisper-base")))


def _key(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower())


def _joined(heard: list[tuple[str, float, float]]) -> list[tuple[str, float]]:
    """Whisper's words with the pieces it splits off ("-five", "'clock") put back."""
    words: list[tuple[str, float]] = []
    for word, start, _ in heard:
        if words and word[:1] in "-'":
            words[-1] = (words[-1][0] + word, words[-1][1])
        else:
            words.append((word, start))
    return [(_key(word), start) for word, start in words]


def _as_heard(written: list[str], reference: str) -> list[str]:
    """Each written word as a listener writes it ("25" as "twentyfive"), from the reference
    transcript of the sentence."""
    keys = [_key(word) for word in written]
    heard = [_key(word) for word in reference.split()]
    spoken = list(keys)
    matcher = difflib.SequenceMatcher(None, keys, heard, autojunk=False)
    for operation, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if operation == "replace" and a_end - a_start == 1:
            spoken[a_start] = "".join(heard[b_start:b_end])
    return spoken


def measure(client: Client, whisper: Listener) -> tuple[int, int, list[float]]:
    """(words matched, words, start differences in seconds) over the sentences."""
    matched = total = 0
    differences: list[float] = []
    for text, reference in SENTENCES:
        result = client.synthesize(
            text, encoding=Encoding.PCM, sample_rate_hz=16000, timing=Timing(words=True)
        )
        audio = (np.frombuffer(result.audio, "<i2").astype(np.float32) / 32768.0).astype(np.float32)
        words = [mark for mark in result.marks if mark.kind is MarkKind.WORD]
        ours = _as_heard([w.value for w in words], reference)
        theirs = _joined(whisper.words(audio))
        matcher = difflib.SequenceMatcher(None, ours, [w for w, _ in theirs], autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                differences.append(words[block.a + k].start_seconds - theirs[block.b + k][1])
        matched += sum(block.size for block in matcher.get_matching_blocks())
        total += len(words)
    return matched, total, differences


def test_word_marks_agree_with_whisper(client: Client, whisper: Listener) -> None:
    matched, total, differences = measure(client, whisper)
    median = statistics.median(abs(d) for d in differences)
    figures = f"{matched}/{total} words matched, median start difference {median * 1000:.0f} ms"
    assert matched >= MIN_MATCHED * total, figures
    assert median <= MAX_MEDIAN_START_DIFFERENCE, figures
