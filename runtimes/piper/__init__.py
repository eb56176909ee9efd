"""Piper VITS voices on ONNX Runtime: the embedded CPU default."""

from runtimes.piper.runtime import PiperRuntime

__all__ = ["PiperRuntime"]
