"""Tiny random checkpoints for the tensorrt runtime, saved in the layouts their authors publish,
so tests load them through the same path a user's model folder takes."""

import math
from pathlib import Path

import torch
import yaml

from runtimes.tensorrt.mel import mel_filters

# --- Vocos (charactr/vocos-mel-24khz: config.yaml + pytorch_model.bin) -----------------------
#
# The audio format (24 kHz, 100 mels, n_fft 1024, hop 256) is the published one; only the
# backbone shrinks. Tensor names and shapes are written out here rather than taken from
# runtimes.tensorrt.vocoder, so a naming mistake there cannot hide behind the builder; the
# reference tests load these files into the `vocos` package itself.

VOCOS_SAMPLE_RATE = 24000
VOCOS_MELS = 100
VOCOS_N_FFT = 1024
VOCOS_HOP = 256
VOCOS_KERNEL = 7


def vocos_config(dim: int, intermediate_dim: int, num_layers: int) -> dict[str, object]:
    """config.yaml as published, with the given backbone sizes."""
    return {
        "feature_extractor": {
            "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
            "init_args": {
                "sample_rate": VOCOS_SAMPLE_RATE,
                "n_fft": VOCOS_N_FFT,
                "hop_length": VOCOS_HOP,
                "n_mels": VOCOS_MELS,
                "padding": "center",
            },
        },
        "backbone": {
            "class_path": "vocos.models.VocosBackbone",
            "init_args": {
                "input_channels": VOCOS_MELS,
                "dim": dim,
                "intermediate_dim": intermediate_dim,
                "num_layers": num_layers,
            },
        },
        "head": {
            "class_path": "vocos.heads.ISTFTHead",
            "init_args": {
                "dim": dim,
                "n_fft": VOCOS_N_FFT,
                "hop_length": VOCOS_HOP,
                "padding": "same",
            },
        },
    }


def build_tiny_vocos(
    folder: Path,
    seed: int = 0,
    *,
    dim: int = 32,
    intermediate_dim: int = 64,
    num_layers: int = 2,
) -> Path:
    """Writes config.yaml and pytorch_model.bin (random weights) into folder; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    config = vocos_config(dim, intermediate_dim, num_layers)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    generator = torch.Generator().manual_seed(seed)
    state = vocos_state_dict(generator, dim, intermediate_dim, num_layers)
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def vocos_state_dict(
    generator: torch.Generator, dim: int, intermediate_dim: int, num_layers: int
) -> dict[str, torch.Tensor]:
    def normal(*shape: int, scale: float, mean: float = 0.0) -> torch.Tensor:
        return mean + scale * torch.randn(shape, generator=generator)

    def linear(name: str, inputs: int, outputs: int) -> dict[str, torch.Tensor]:
        return {
            f"{name}.weight": normal(outputs, inputs, scale=1 / math.sqrt(inputs)),
            f"{name}.bias": normal(outputs, scale=0.1),
        }

    def layer_norm(name: str) -> dict[str, torch.Tensor]:
        return {
            f"{name}.weight": normal(dim, scale=0.1, mean=1.0),
            f"{name}.bias": normal(dim, scale=0.1),
        }

    window = torch.hann_window(VOCOS_N_FFT)
    state = {
        "feature_extractor.mel_spec.spectrogram.window": window.clone(),
        "feature_extractor.mel_spec.mel_scale.fb": mel_filters(
            VOCOS_MELS, VOCOS_N_FFT, VOCOS_SAMPLE_RATE
        ),
        "backbone.embed.weight": normal(
            dim, VOCOS_MELS, VOCOS_KERNEL, scale=1 / math.sqrt(VOCOS_MELS * VOCOS_KERNEL)
        ),
        "backbone.embed.bias": normal(dim, scale=0.1),
        **layer_norm("backbone.norm"),
    }
    for index in range(num_layers):
        block = f"backbone.convnext.{index}"
        state[f"{block}.dwconv.weight"] = normal(dim, 1, VOCOS_KERNEL, scale=0.4)
        state[f"{block}.dwconv.bias"] = normal(dim, scale=0.1)
        state.update(layer_norm(f"{block}.norm"))
        state.update(linear(f"{block}.pwconv1", dim, intermediate_dim))
        state.update(linear(f"{block}.pwconv2", intermediate_dim, dim))
        state[f"{block}.gamma"] = normal(dim, scale=0.2, mean=0.5)
    state.update(layer_norm("backbone.final_layer_norm"))
    state.update(linear("head.out", dim, VOCOS_N_FFT + 2))
    # Some log-magnitudes above log(100), so the vocoder's magnitude clip is exercised.
    state["head.out.bias"][: VOCOS_N_FFT // 2 + 1] += normal(VOCOS_N_FFT // 2 + 1, scale=2.0)
    state["head.istft.window"] = window.clone()
    return state
