"""Speech that a recogniser understands: sentences with numbers, names and a question go through
the server, and Whisper writes down what it hears. The same check fails on corrupted audio, so
it can tell speech from noise."""

import numpy as np
import numpy.typing as npt
import pytest

from cantata_client import Client, Encoding
from tests.speech_recognition import Listener, assemble_model, listener, word_error_rate

# (text sent to the server, what a listener hears)
SENTENCES = [
    ("The quick brown fox jumps over the lazy dog.", "the quick brown fox jumps over the lazy dog"),
    (
        "The train leaves at 7 o'clock from platform 12.",
        "the train leaves at seven o'clock from platform twelve",
    ),
    (
        "Doctor Alice Johnson flew to London with Robert on Monday.",
        "doctor alice johnson flew to london with robert on monday",
    ),
    (
        "Would you like a cup of tea before the meeting starts?",
        "would you like a cup of tea before the meeting starts",
    ),
    (
        "We counted 25 birds sitting near the river this morning.",
        "we counted twenty five birds sitting near the river this morning",
    ),
    (
        "Please remember to bring your umbrella because it might rain later.",
        "please remember to bring your umbrella because it might rain later",
    ),
]
REFERENCES = [heard for _, heard in SENTENCES]
MAX_WER = 0.1


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Listener:
    return listener(assemble_model(tmp_path_factory.mktemp("whisper-base")))


@pytest.fixture(scope="module")
def spoken(client: Client) -> list[npt.NDArray[np.int16]]:
    """Each sentence as 16 kHz PCM, streamed through the server."""
    return [
        np.frombuffer(
            b"".join(client.stream(text, encoding=Encoding.PCM, sample_rate_hz=16000)), "<i2"
        )
        for text, _ in SENTENCES
    ]


def _float(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def test_speech_is_understood(whisper: Listener, spoken: list[npt.NDArray[np.int16]]) -> None:
    heard = [whisper.transcribe(_float(pcm)) for pcm in spoken]
    wer = word_error_rate(REFERENCES, heard)
    assert wer <= MAX_WER, f"WER {wer:.3f}; heard: {heard}"


def _noise(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    level = float(np.std(pcm.astype(np.float64)))
    return np.random.default_rng(0).normal(0, level, pcm.size).astype(np.int16)


@pytest.mark.parametrize(
    "corrupt",
    [_noise, lambda pcm: pcm[::-1].copy(), lambda pcm: pcm.byteswap()],
    ids=["noise", "reversed", "byte-swapped"],
)
def test_corrupted_audio_fails_the_same_check(
    whisper: Listener, spoken: list[npt.NDArray[np.int16]], corrupt: object
) -> None:
    heard = [whisper.transcribe(_float(corrupt(pcm))) for pcm in spoken]  # type: ignore[operator]
    assert word_error_rate(REFERENCES, heard) >= 0.5, heard
