"""Tiny random F5-TTS checkpoints saved in the layout SWivid publishes (F5TTS_v1_Base:
`model_<updates>.safetensors` with the EMA weights under `ema_model.`, and `vocab.txt`), so the
runtime loads them through the same path a user's checkpoint takes."""

import string
from pathlib import Path

import torch
from safetensors.torch import save_file

from runtimes.tensorrt.dit import AdaLayerNorm, DiT, DiTConfig

VOCABULARY = [
    " ",
    *string.ascii_letters,
    *string.digits,
    *".,!?'-:\"",
    "ni2",
    "hao3",
    "\uff0c",
    "\u3002",
]

TINY = DiTConfig(
    dim=32,
    depth=2,
    heads=2,
    dim_head=16,
    ff_mult=2,
    mel_dim=100,
    text_num_embeds=len(VOCABULARY),
    text_dim=16,
    conv_layers=1,
)

F5_V1_BASE = DiTConfig(text_num_embeds=2545)
"""The published F5TTS_v1_Base architecture (337 M parameters; its vocab.txt has 2545 tokens)."""


def build_tiny_f5(folder: Path, seed: int = 0, config: DiTConfig = TINY) -> Path:
    torch.manual_seed(seed)
    model = DiT(config)
    _audible(model)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {f"ema_model.transformer.{k}": v.contiguous() for k, v in model.state_dict().items()}
    weights["ema_model.initted"] = torch.tensor([True])
    weights["ema_model.step"] = torch.tensor([1250000])
    save_file(weights, folder / "model_1250000.safetensors")
    vocabulary = VOCABULARY + [f"x{i}" for i in range(config.text_num_embeds - len(VOCABULARY))]
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return folder


@torch.no_grad()
def _audible(model: DiT) -> None:
    """F5 zero-initialises its output projection and AdaLN (a fresh DiT predicts zeros); random
    values here give flows, and so mels, that vary."""
    for module in model.modules():
        if isinstance(module, AdaLayerNorm):
            torch.nn.init.normal_(module.linear.weight, std=0.02)
    torch.nn.init.normal_(model.proj_out.weight, std=0.5)
