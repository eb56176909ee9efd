"""Tiny random Qwen3-TTS checkpoints, one per variant, shared by the module's tests. These tests
run in the qwen3 environment (.venv-qwen3: qwen-tts on transformers 4.57.3), which the Makefile
builds and runs them in."""

from pathlib import Path

import pytest
import torch
from qwen_tts import Qwen3TTSModel

from tests.qwen3_models import build_tiny_qwen3


@pytest.fixture(scope="session")
def custom_voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3(tmp_path_factory.mktemp("custom_voice"), "custom_voice")


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3(tmp_path_factory.mktemp("base"), "base")


@pytest.fixture(scope="session")
def reference(custom_voice_dir: Path) -> Qwen3TTSModel:
    """qwen-tts's own model, loaded as its README loads it."""
    return Qwen3TTSModel.from_pretrained(
        str(custom_voice_dir), device_map="cpu", dtype=torch.float32, attn_implementation="sdpa"
    )
