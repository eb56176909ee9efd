"""A stand-in for torchaudio: importable, but every use fails with a clear error."""

from typing import NoReturn

MESSAGE = (
    "torchaudio is not installed in this environment (Cantata's stand-in is): only code paths "
    "Cantata does not run use it here (qwen-tts's 25 Hz tokenizer, vocos's training and mel "
    "features). Install the torchaudio build that matches your torch to use them."
)


def refusal(module: str, name: str) -> Exception:
    """What a stand-in raises for `name`: dunder look-ups by the import system stay
    AttributeErrors, everything else is a clear ImportError."""
    if name.startswith("__"):
        return AttributeError(name)
    return ImportError(f"{module}.{name}: {MESSAGE}")


def __getattr__(name: str) -> NoReturn:
    raise refusal(__name__, name)
