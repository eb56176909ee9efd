"""Stand-in for datasets in the F5 reference environment: see tests/standins/README.md."""

from typing import Any, NoReturn

MESSAGE = "datasets is a stand-in here (F5 parity tests never load training data)"


def load_from_disk(*_: Any, **__: Any) -> NoReturn:
    raise ImportError(MESSAGE)


class Dataset:
    def __init__(self, *_: Any, **__: Any) -> None:
        raise ImportError(MESSAGE)


def __getattr__(name: str) -> NoReturn:
    if name.startswith("__"):
        raise AttributeError(name)
    raise ImportError(f"datasets.{name}: {MESSAGE}")
