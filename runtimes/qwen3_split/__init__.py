"""Qwen3-TTS 12 Hz with its language model on the GPU and its speech decoder on the CPU."""

from runtimes.qwen3_split.runtime import Qwen3SplitRuntime

__all__ = ["Qwen3SplitRuntime"]
