"""Stand-in for torchaudio.compliance.kaldi: see torchaudio/__init__.py."""

from typing import NoReturn

from torchaudio import MESSAGE


def __getattr__(name: str) -> NoReturn:
    raise ImportError(f"torchaudio.compliance.kaldi.{name}: {MESSAGE}")
