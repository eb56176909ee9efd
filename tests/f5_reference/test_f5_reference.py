"""Cantata's own F5 DiT and flow against the `f5-tts` package, on the same random weights.
Runs in the reference environment (.venv-f5ref, where the Makefile installs f5-tts and runs
these); the main environment does not have the package."""

from pathlib import Path
from typing import Any

import f5_tts.model as f5_model
import pytest
import torch

from runtimes.tensorrt.checkpoint import load_dit
from runtimes.tensorrt.dit import DiT
from runtimes.tensorrt.flow import FlowRow, sample
from tests.f5_models import build_tiny_f5


def reference_of(ours: DiT) -> Any:
    config = ours.config
    reference = f5_model.DiT(
        dim=config.dim,
        depth=config.depth,
        heads=config.heads,
        dim_head=config.dim_head,
        ff_mult=config.ff_mult,
        mel_dim=config.mel_dim,
        text_num_embeds=config.text_num_embeds,
        text_dim=config.text_dim,
        conv_layers=config.conv_layers,
        text_mask_padding=True,
        attn_mask_enabled=False,
    )
    reference.load_state_dict(ours.state_dict())
    return reference.eval()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> DiT:
    model, _ = load_dit(build_tiny_f5(tmp_path_factory.mktemp("f5")))
    return model


@pytest.mark.parametrize("frames", [17, 64, 200])
@pytest.mark.parametrize("guided_branch", [False, True], ids=["conditional", "unconditional"])
def test_one_step_equals_the_package(ours: DiT, frames: int, guided_branch: bool) -> None:
    reference = reference_of(ours)
    generator = torch.Generator().manual_seed(frames)
    x = torch.randn(1, frames, 100, generator=generator)
    cond = torch.randn(1, frames, 100, generator=generator)
    text = torch.randint(0, ours.config.text_num_embeds, (1, frames // 3), generator=generator)
    time = torch.tensor([0.37])
    with torch.inference_mode():
        expected = reference(
            x, cond, text, time, drop_audio_cond=guided_branch, drop_text=guided_branch
        )
        embedded = ours.embed_text(text, torch.tensor([frames]), frames, guided_branch)
        step_cond = torch.zeros_like(cond) if guided_branch else cond
        got = ours.step(x, step_cond, embedded, time)
    largest = float((got - expected).abs().max())
    print(f"frames {frames}: largest difference {largest:.2e}")
    assert largest <= 1e-5
    assert float(expected.abs().max()) > 0.1


def test_the_flow_equals_cfm_sample(ours: DiT) -> None:
    reference = f5_model.CFM(
        transformer=reference_of(ours),
        mel_spec_kwargs={"n_mel_channels": 100},
        vocab_char_map=None,
    ).eval()
    reference_frames, duration = 30, 80
    generator = torch.Generator().manual_seed(3)
    cond = torch.randn(1, reference_frames, 100, generator=generator)
    text = torch.randint(0, ours.config.text_num_embeds, (1, 25), generator=generator)
    with torch.inference_mode():
        expected, _ = reference.sample(
            cond, text, duration, steps=8, cfg_strength=2.0, sway_sampling_coef=-1.0, seed=11
        )
        lengths = torch.tensor([duration])
        row = FlowRow(
            reference=cond[0],
            text_embedding=ours.embed_text(text, lengths, duration, False)[0],
            null_text_embedding=ours.embed_text(text, lengths, duration, True)[0],
            generator=torch.Generator().manual_seed(11),
            guidance=2.0,
        )
        (got,) = sample(ours.step, [row], 8, -1.0, torch.device("cpu"))
    largest = float((got - expected[0]).abs().max())
    print(f"whole flow, 8 steps: largest difference {largest:.2e}")
    assert largest <= 1e-4


def test_the_loader_reads_the_package_s_own_checkpoint_layout(ours: DiT, tmp_path: Path) -> None:
    """A .pt checkpoint as F5's trainer saves it (EMA weights under ema_model_state_dict)."""
    reference = f5_model.CFM(transformer=reference_of(ours), vocab_char_map=None)
    state = {f"ema_model.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"ema_model_state_dict": state}, tmp_path / "model_last.pt")
    (tmp_path / "vocab.txt").write_text(" \na\n")
    loaded, _ = load_dit(tmp_path)
    for name, tensor in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
