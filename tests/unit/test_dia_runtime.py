"""The Dia runtime's loading paths: a LoRA adapter merged at load, and the codec found at a
configured path."""

from pathlib import Path

import numpy as np
import pytest
from peft import LoraConfig, get_peft_model
from transformers import DiaForConditionalGeneration

from runtimes.base import SamplingParams, SynthesisJob
from runtimes.dia import DiaRuntime
from runtimes.errors import ModelLoadError
from tests.dia_models import build_tiny_dia

GREEDY = SynthesisJob(("[S1] Hello (laughs).",), "dia", sampling=SamplingParams(temperature=0))


def speak(options: dict[str, object]) -> np.ndarray:
    runtime = DiaRuntime({"max_chunk_seconds": 0.3, **options})
    runtime.load()
    try:
        return np.concatenate(list(runtime.synthesize(GREEDY)))
    finally:
        runtime.close()


def test_a_lora_adapter_is_merged_at_load(tmp_path: Path) -> None:
    model_dir = build_tiny_dia(tmp_path / "dia")
    adapter = get_peft_model(
        DiaForConditionalGeneration.from_pretrained(model_dir),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    adapter.save_pretrained(str(tmp_path / "lora"))
    base = speak({"model_dir": str(model_dir)})
    tuned = speak({"model_dir": str(model_dir), "lora_dir": str(tmp_path / "lora")})
    assert base.size == tuned.size
    assert not np.array_equal(base, tuned)
    assert np.array_equal(base, speak({"model_dir": str(model_dir)}))  # greedy is repeatable


def test_the_codec_can_live_elsewhere(tmp_path: Path) -> None:
    model_dir = build_tiny_dia(tmp_path / "dia", codec_folder=tmp_path / "dac44")
    with pytest.raises(ModelLoadError, match="no DAC codec"):
        speak({"model_dir": str(model_dir)})
    assert speak({"model_dir": str(model_dir), "codec_dir": str(tmp_path / "dac44")}).size


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": "cuda:99"}, "but torch sees"),
        ({"lora_dir": "/nonexistent"}, "lora_dir /nonexistent is not a folder"),
        ({"dtype": "float8"}, "invalid dia options"),
        ({"cuda_graphs": "on", "device": "cpu"}, "cuda_graphs: on needs a CUDA device"),
        ({"cuda_graphs": "sometimes"}, "invalid dia options"),
    ],
)
def test_bad_options_fail_the_load_with_a_reason(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    model_dir = build_tiny_dia(tmp_path / "dia")
    with pytest.raises(ModelLoadError, match=message):
        speak({"model_dir": str(model_dir), **options})
