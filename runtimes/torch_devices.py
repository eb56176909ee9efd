"""Device and dtype options shared by the torch runtimes."""

import torch

from runtimes.errors import ModelLoadError

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def torch_device(name: str) -> torch.device:
    """ "auto" is a GPU when torch sees one (ROCm builds name HIP devices "cuda"), else the CPU."""
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ModelLoadError(f"device {name!r}: {error}") from error
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ModelLoadError(
            f"device {name!r} asked for, but torch sees {torch.cuda.device_count()} GPUs"
        )
    return device


def torch_dtype(name: str, device: torch.device) -> torch.dtype:
    """ "auto" is float16 on a GPU and float32 on the CPU."""
    if name == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    return DTYPES[name]
