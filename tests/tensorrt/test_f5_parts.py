"""The F5 runtime's parts on the CPU: checkpoint loading, text, the flow under batching, the DiT
step's ONNX export against PyTorch, backend choice and engine cache keys."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import soundfile
import torch

from runtimes.errors import ModelLoadError
from runtimes.tensorrt import backends
from runtimes.tensorrt.backends import EngineSettings
from runtimes.tensorrt.checkpoint import load_dit
from runtimes.tensorrt.dit import DiT
from runtimes.tensorrt.engines import engine_key
from runtimes.tensorrt.flow import FlowRow, sample, time_grid
from runtimes.tensorrt.runtime import F5Runtime, dit_graph
from runtimes.tensorrt.text import duration_frames, load_vocabulary, token_ids, tokens
from tests.f5_models import TINY, build_tiny_f5
from tests.tensorrt_models import build_tiny_vocos

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def f5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_f5(tmp_path_factory.mktemp("f5"))


@pytest.fixture(scope="module")
def model(f5_dir: Path) -> DiT:
    return load_dit(f5_dir)[0]


def test_the_architecture_is_read_off_the_weights(model: DiT) -> None:
    assert model.config == TINY


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda folder: (folder / "vocab.txt").unlink(), "cannot read the vocabulary"),
        (lambda folder: (folder / "vocab.txt").write_text("a\n b\n"), "first token"),
        (lambda folder: (folder / "model_1250000.safetensors").write_bytes(b"junk"), "cannot read"),
        (lambda folder: (folder / "model_1250000.safetensors").unlink(), "found: none"),
        (lambda folder: (folder / "model_2.pt").write_bytes(b""), "one .safetensors or .pt"),
    ],
)
def test_broken_checkpoints_are_load_errors(tmp_path: Path, breakage, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = build_tiny_f5(tmp_path / "f5")
    breakage(folder)
    with pytest.raises(ModelLoadError, match=message):
        load_dit(folder)


def test_text_is_tokenised_as_f5_does(f5_dir: Path) -> None:
    assert tokens("Hello world") == list("Hello world")
    assert tokens("你好") == [" ", "ni2", " ", "hao3"]
    vocabulary = load_vocabulary(f5_dir / "vocab.txt")
    assert token_ids("Hi ☃", vocabulary) == [vocabulary["H"], vocabulary["i"], 0, 0]
    assert duration_frames(100, "ten bytes.", "twenty bytes of text", 1.0) == 300
    assert duration_frames(100, "ten bytes.", "twenty bytes of text", 2.0) == 200


def test_time_grid_is_f5_s() -> None:
    assert torch.allclose(time_grid(6, None), torch.tensor([0, 2, 4, 6, 8, 16, 32]) / 32)
    swayed = time_grid(8, -1.0)
    assert swayed[0] == 0
    assert swayed[-1] == pytest.approx(1.0)
    assert bool((swayed[1:] > swayed[:-1]).all())


def row(model: DiT, frames: int, reference: int, seed: int) -> FlowRow:
    generator = torch.Generator().manual_seed(seed)
    text = torch.randint(0, TINY.text_num_embeds, (1, frames // 3), generator=generator)
    lengths = torch.tensor([frames])
    return FlowRow(
        reference=torch.randn(reference, 100, generator=generator),
        text_embedding=model.embed_text(text, lengths, frames, False)[0],
        null_text_embedding=model.embed_text(text, lengths, frames, True)[0],
        generator=torch.Generator().manual_seed(seed),
        guidance=2.0,
    )


def test_a_row_gives_the_same_mel_alone_and_padded_in_a_batch(model: DiT) -> None:
    specs = [(90, 30, 1), (40, 10, 2), (65, 20, 3)]
    together = sample(model.step, [row(model, *spec) for spec in specs], 4, -1.0, CPU)
    for spec, batched in zip(specs, together, strict=True):
        (alone,) = sample(model.step, [row(model, *spec)], 4, -1.0, CPU)
        assert alone.shape == (spec[0], 100)
        assert float((alone - batched).abs().max()) <= 1e-5
    assert not torch.equal(together[0][:40], together[1])


@pytest.mark.parametrize(("batch", "frames"), [(1, 17), (2, 64), (3, 211)])
def test_the_exported_step_matches_pytorch_at_any_batch_and_length(
    model: DiT, tmp_path_factory: pytest.TempPathFactory, batch: int, frames: int
) -> None:
    graph = dit_graph(model)
    path = backends.export_onnx(graph, tmp_path_factory.getbasetemp() / "onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(frames)
    inputs = (
        torch.randn(batch, frames, 100, generator=generator),
        torch.randn(batch, frames, 100, generator=generator),
        torch.randn(batch, frames, TINY.text_dim, generator=generator),
        torch.rand(batch, generator=generator),
        torch.arange(frames).unsqueeze(0)
        < torch.tensor([frames - 3 * i for i in range(batch)])[:, None],
    )
    (got,) = session.run(
        None, dict(zip(graph.input_names, (t.numpy() for t in inputs), strict=True))
    )
    with torch.inference_mode():
        expected = model.step(*inputs).numpy()
    assert float(np.mean((got - expected) ** 2)) <= 1e-10
    assert float(np.abs(expected).max()) > 0.1


def test_onnx_files_are_reused_while_the_weights_are_the_same(model: DiT, tmp_path: Path) -> None:
    graph = dit_graph(model)
    first = backends.export_onnx(graph, tmp_path)
    modified = first.stat().st_mtime_ns
    assert backends.export_onnx(graph, tmp_path) == first
    assert first.stat().st_mtime_ns == modified
    other = dit_graph(load_dit(build_tiny_f5(tmp_path / "other", seed=1))[0])
    assert backends.export_onnx(other, tmp_path) != first


def test_without_tensorrt_auto_falls_back_and_says_why(model: DiT, tmp_path: Path) -> None:
    choice = backends.choose(dit_graph(model), "auto", torch.device("cpu"), tmp_path)
    assert choice.backend == "onnxruntime"
    assert choice.passed_over == ["tensorrt: tensorrt is not importable"]
    with pytest.raises(ModelLoadError, match="tensorrt is not importable"):
        backends.choose(dit_graph(model), "tensorrt", torch.device("cpu"), tmp_path)


def test_engine_keys_change_with_everything_an_engine_depends_on() -> None:
    settings = EngineSettings.of("fp16", max_batch=8, max_frames=4096)
    base = ("abc", "10.3.0", "Orin", (8, 7), settings)
    key = engine_key(*base)
    variants = [
        ("abd", *base[1:]),
        (base[0], "10.4.0", *base[2:]),
        (*base[:2], "H100", *base[3:]),
        (*base[:3], (9, 0), base[4]),
        (*base[:4], EngineSettings.of("fp16", max_batch=8, max_frames=8192)),
        (*base[:4], EngineSettings.of("fp16", max_batch=4, max_frames=4096)),
        (*base[:4], EngineSettings.of("fp32", max_batch=8, max_frames=4096)),
    ]
    keys = {engine_key(*variant) for variant in variants}
    assert key not in keys
    assert len(keys) == len(variants)
    assert engine_key(*base) == key
    assert settings.range_of("batch") == (1, 2, 16)


def voice(audio: Path | str, text: str = "Some words.") -> list[dict[str, str]]:
    return [{"name": "v", "audio": str(audio), "text": text}]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (lambda _: {"voices": []}, "invalid tensorrt options"),
        (lambda _: {"backend": "cuda"}, "invalid tensorrt options"),
        (lambda _: {"steps": 0}, "invalid tensorrt options"),
        (lambda _: {"voices": voice("/nonexistent.wav")}, "cannot read"),
        (lambda reference: {"voices": voice(reference, text=" ")}, "transcript"),
        (lambda _: {"vocoder_dir": "/nonexistent"}, "does not exist"),
        (lambda _: {"device": "cuda:3"}, "torch sees 0 GPUs"),
    ],
    ids=["no-voices", "backend", "steps", "voice-file", "transcript", "vocoder", "device"],
)
def test_bad_options_fail_the_load_with_a_reason(
    f5_dir: Path, tmp_path: Path, changes: Callable[[Path], dict[str, Any]], message: str
) -> None:
    reference = tmp_path / "reference.wav"
    soundfile.write(reference, np.full(24000, 0.05, dtype=np.float32), 24000)
    options = {
        "model_dir": str(f5_dir),
        "vocoder_dir": str(build_tiny_vocos(tmp_path / "vocos")),
        "engine_dir": str(tmp_path / "engines"),
        "voices": voice(reference),
        **changes(reference),
    }
    with pytest.raises(ModelLoadError, match=message):
        F5Runtime(options).load()
