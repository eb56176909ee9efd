"""Dia-1.6B on transformers + the DAC codec: ROCm and CUDA GPUs, or the CPU."""

from runtimes.dia.runtime import DiaRuntime

__all__ = ["DiaRuntime"]
