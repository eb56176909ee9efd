"""Stand-in for torchaudio.compliance.kaldi: see torchaudio/__init__.py."""

from typing import NoReturn

from torchaudio import refusal


def __getattr__(name: str) -> NoReturn:
    raise refusal(__name__, name)
