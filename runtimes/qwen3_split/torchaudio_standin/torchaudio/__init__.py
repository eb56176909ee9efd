"""A stand-in for torchaudio: importable, but every use fails with a clear error."""

from typing import NoReturn

MESSAGE = (
    "torchaudio is not installed in this environment (Cantata's stand-in is): only qwen-tts's "
    "25 Hz tokenizer uses it, and Cantata serves the 12 Hz models. Install the torchaudio build "
    "that matches your torch to use that code path."
)


def __getattr__(name: str) -> NoReturn:
    raise ImportError(f"torchaudio.{name}: {MESSAGE}")
