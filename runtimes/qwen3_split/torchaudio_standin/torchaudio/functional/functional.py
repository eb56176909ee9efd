"""Stand-in for torchaudio.functional.functional: see torchaudio/__init__.py. vocos imports two
helpers from it at import time; only its MDCT heads, which Cantata does not use, call them."""

from typing import Any, NoReturn

from torchaudio import refusal


def _hz_to_mel(*_: Any, **__: Any) -> NoReturn:
    raise refusal(__name__, "_hz_to_mel")


def _mel_to_hz(*_: Any, **__: Any) -> NoReturn:
    raise refusal(__name__, "_mel_to_hz")


def __getattr__(name: str) -> NoReturn:
    raise refusal(__name__, name)
