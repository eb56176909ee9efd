"""Stand-in for wandb in the F5 reference environment: see tests/standins/README.md."""

from typing import NoReturn


def __getattr__(name: str) -> NoReturn:
    if name.startswith("__"):
        raise AttributeError(name)
    raise ImportError(f"wandb.{name}: wandb is a stand-in here (F5 parity tests never train)")
