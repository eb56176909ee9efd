"""Loads an F5-TTS checkpoint folder as SWivid publishes it (F5TTS_v1_Base: one
`model_<updates>.safetensors` or `.pt` holding the EMA weights under `ema_model.`, and
`vocab.txt`). The architecture is read off the weights' shapes, so fine-tuned and smaller
checkpoints load too."""

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from runtimes.errors import ModelLoadError
from runtimes.tensorrt.dit import DiT, DiTConfig
from runtimes.tensorrt.text import load_vocabulary

_PREFIXES = ("ema_model.transformer.", "transformer.")


def load_dit(folder: Path, checkpoint: str | None = None) -> tuple[DiT, dict[str, int]]:
    if not folder.is_dir():
        raise ModelLoadError(f"model_dir {folder} is not a folder")
    path = _checkpoint_file(folder, checkpoint)
    weights = _transformer_weights(path)
    config = _config_of(weights, path)
    model = DiT(config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ModelLoadError(
            f"{path} does not fit F5's DiT: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    vocabulary = load_vocabulary(folder / "vocab.txt")
    if len(vocabulary) > config.text_num_embeds:
        raise ModelLoadError(
            f"vocab.txt has {len(vocabulary)} tokens but the model embeds {config.text_num_embeds}"
        )
    return model.eval(), vocabulary


def _checkpoint_file(folder: Path, name: str | None) -> Path:
    if name is not None:
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(f"checkpoint {path} does not exist")
        return path
    found = sorted([*folder.glob("*.safetensors"), *folder.glob("*.pt")])
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise ModelLoadError(
            f"model_dir {folder} must hold one .safetensors or .pt checkpoint (found: {listed}); "
            "name it with the `checkpoint` option"
        )
    return found[0]


def _transformer_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            raw: dict[str, Any] = load_file(path)
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
            raw = loaded.get("ema_model_state_dict") or loaded.get("model_state_dict") or loaded
    except Exception as error:  # safetensors and torch raise several unrelated types
        raise ModelLoadError(f"cannot read the checkpoint {path}: {error}") from error
    weights = {}
    for key, value in raw.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                weights[key[len(prefix) :]] = value
                break
    if not weights:
        raise ModelLoadError(f"{path} holds no F5 transformer weights (keys under 'transformer.')")
    return weights


def _config_of(weights: dict[str, torch.Tensor], path: Path) -> DiTConfig:
    try:
        dim = weights["proj_out.weight"].shape[1]
        dim_head = 2 * weights["rotary_embed.inv_freq"].shape[0]
        text_embedding = weights["text_embed.text_embed.weight"]
        return DiTConfig(
            dim=dim,
            depth=_count(weights, "transformer_blocks."),
            heads=weights["transformer_blocks.0.attn.to_q.weight"].shape[0] // dim_head,
            dim_head=dim_head,
            ff_mult=weights["transformer_blocks.0.ff.ff.0.0.weight"].shape[0] // dim,
            mel_dim=weights["proj_out.weight"].shape[0],
            text_num_embeds=text_embedding.shape[0] - 1,
            text_dim=text_embedding.shape[1],
            conv_layers=_count(weights, "text_embed.text_blocks."),
        )
    except KeyError as error:
        raise ModelLoadError(f"{path} lacks {error}: not an F5 DiT checkpoint") from error


def _count(weights: dict[str, torch.Tensor], prefix: str) -> int:
    return len({key[len(prefix) :].split(".")[0] for key in weights if key.startswith(prefix)})
