"""The Vocos vocoder as published in charactr/vocos-mel-24khz: log-mel frames in, audio out.

A ConvNeXt backbone and an ISTFT head, loaded from the published folder (config.yaml and
pytorch_model.bin). The inverse STFT is written in real arithmetic (a transposed convolution
whose kernel is the windowed inverse real DFT), so the whole vocoder exports to one ONNX opset 17
graph with dynamic batch and length, for ONNX Runtime and TensorRT's ONNX parser.
"""

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn import functional

from runtimes.errors import ModelLoadError

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "pytorch_model.bin"

FEATURES_CLASS = "vocos.feature_extractors.MelSpectrogramFeatures"
BACKBONE_CLASS = "vocos.models.VocosBackbone"
HEAD_CLASS = "vocos.heads.ISTFTHead"

# Vocos fixes these in code, not in config.yaml: every convolution has kernel 7 and padding 3.
CONV_KERNEL = 7
CONV_RADIUS = 3
LAYER_NORM_EPS = 1e-6
MAX_MAGNITUDE = 1e2

# The init_args each class takes, with the package's defaults (None: no default).
FEATURES_ARGS = {
    "sample_rate": 24000,
    "n_fft": 1024,
    "hop_length": 256,
    "n_mels": 100,
    "padding": "center",
}
BACKBONE_ARGS = {
    "input_channels": None,
    "dim": None,
    "intermediate_dim": None,
    "num_layers": None,
    "layer_scale_init_value": None,
    "adanorm_num_embeddings": None,
}
HEAD_ARGS = {"dim": None, "n_fft": None, "hop_length": None, "padding": "same"}

WINDOW_KEY = "head.istft.window"
ANALYSIS_PREFIX = "feature_extractor."


@dataclass(frozen=True)
class VocosConfig:
    """The sizes config.yaml gives (n_mels is the backbone's input_channels)."""

    sample_rate: int
    n_mels: int
    dim: int
    intermediate_dim: int
    num_layers: int
    n_fft: int
    hop_length: int

    @property
    def trim(self) -> int:
        """Samples the "same" padding trims from each end of the overlap-added signal."""
        return (self.n_fft - self.hop_length) // 2

    @property
    def context_frames(self) -> int:
        """Mel frames on each side of a chunk that make chunked vocoding exact.

        Each convolution (the embedding and one depthwise convolution per ConvNeXt block) widens
        the receptive field by CONV_RADIUS frames; everything else acts frame by frame. An output
        sample also overlaps ceil(trim / hop) neighbouring STFT frames on each side. For the
        published model: 3 * (8 + 1) + ceil(384 / 256) = 27 + 2 = 29 frames.
        """
        receptive = CONV_RADIUS * (self.num_layers + 1)
        return receptive + math.ceil(self.trim / self.hop_length)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, CONV_KERNEL, padding=CONV_RADIUS, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, dim, frames] → same shape."""
        y: torch.Tensor = self.norm(self.dwconv(x).transpose(1, 2))
        y = self.pwconv2(functional.gelu(self.pwconv1(y)))
        return x + (self.gamma * y).transpose(1, 2)


class Backbone(nn.Module):
    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        dim = config.dim
        self.embed = nn.Conv1d(config.n_mels, dim, CONV_KERNEL, padding=CONV_RADIUS)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, config.intermediate_dim) for _ in range(config.num_layers)
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """[batch, n_mels, frames] → [batch, frames, dim]."""
        x: torch.Tensor = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        hidden: torch.Tensor = self.final_layer_norm(x.transpose(1, 2))
        return hidden


class RealISTFT(nn.Module):
    """Vocos's inverse STFT with "same" padding and a periodic Hann window, without complex
    numbers: frames [batch, n_fft // 2 + 1, frames] of real and imaginary parts in, audio
    [batch, frames * hop_length] out."""

    kernel: torch.Tensor
    squared_window: torch.Tensor

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.hop_length = hop_length
        self.trim = (n_fft - hop_length) // 2
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        kernel = _inverse_rdft_basis(n_fft) * window
        self.register_buffer("kernel", kernel.unsqueeze(1).float(), persistent=False)
        squared = window.square().view(1, 1, n_fft)
        self.register_buffer("squared_window", squared.float(), persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        spectrum = torch.cat([real, imag], dim=1)
        overlapped = functional.conv_transpose1d(spectrum, self.kernel, stride=self.hop_length)
        # The envelope is built from the input's own length, so one graph serves every length.
        ones = torch.ones_like(real[:1, :1, :])
        envelope = functional.conv_transpose1d(ones, self.squared_window, stride=self.hop_length)
        audio = overlapped / envelope
        return audio[:, 0, self.trim : -self.trim]


def _inverse_rdft_basis(n_fft: int) -> torch.Tensor:
    """[2 * (n_fft // 2 + 1), n_fft]: rows that turn real parts, then imaginary parts, into the
    signal torch.fft.irfft(norm="backward") gives. The imaginary parts of DC and Nyquist drop
    out (their sine rows are zero), as in irfft."""
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.int64).unsqueeze(1)
    n = torch.arange(n_fft, dtype=torch.int64).unsqueeze(0)
    # Reducing k * n modulo n_fft first keeps the angles exact in float64.
    angle = (2 * math.pi / n_fft) * ((k * n) % n_fft).double()
    weight = torch.full((bins, 1), 2.0 / n_fft, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0 / n_fft
    sine = -torch.sin(angle)
    sine[0] = sine[-1] = 0.0
    return torch.cat([weight * torch.cos(angle), weight * sine])


class ISTFTHead(nn.Module):
    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        self.out = nn.Linear(config.dim, config.n_fft + 2)
        self.istft = RealISTFT(config.n_fft, config.hop_length)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """[batch, frames, dim] → [batch, frames * hop_length]."""
        log_magnitude, phase = self.out(hidden).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.clamp(torch.exp(log_magnitude), max=MAX_MAGNITUDE)
        audio: torch.Tensor = self.istft(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return audio


class Vocoder(nn.Module):
    """Vocos: forward(mel [batch, n_mels, frames]) → audio [batch, frames * hop_length]."""

    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config)
        self.head = ISTFTHead(config)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        audio: torch.Tensor = self.head(self.backbone(mel))
        return audio

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """Audio for a batch of log-mel spectrograms, on the vocoder's device."""
        if mel.dim() != 3 or mel.shape[1] != self.config.n_mels or mel.shape[2] < 1:
            raise ValueError(
                f"mel must be [batch, {self.config.n_mels}, frames >= 1], got {list(mel.shape)}"
            )
        parameter = next(self.parameters())
        with torch.inference_mode():
            audio: torch.Tensor = self(mel.to(parameter.device, parameter.dtype))
        return audio

    def decode_chunks(self, mel: torch.Tensor, chunk_frames: int) -> Iterator[torch.Tensor]:
        """decode(mel) in pieces of chunk_frames * hop_length samples, equal to one decode."""
        return decode_in_chunks(
            self.decode,
            mel,
            chunk_frames=chunk_frames,
            context_frames=self.config.context_frames,
            hop_length=self.config.hop_length,
        )


def decode_in_chunks(
    decode: Callable[[torch.Tensor], torch.Tensor],
    mel: torch.Tensor,
    *,
    chunk_frames: int,
    context_frames: int,
    hop_length: int,
) -> Iterator[torch.Tensor]:
    """Runs decode on overlapping windows of mel [batch, n_mels, frames] and yields the audio of
    chunk_frames frames at a time; with VocosConfig.context_frames the pieces join into exactly
    what one decode gives (decode may be any backend of the same vocoder)."""
    if chunk_frames < 1 or context_frames < 0:
        raise ValueError(
            f"chunk_frames must be >= 1 and context_frames >= 0, got "
            f"{chunk_frames} and {context_frames}"
        )
    frames = mel.shape[-1]
    for start in range(0, frames, chunk_frames):
        stop = min(start + chunk_frames, frames)
        left, right = max(0, start - context_frames), min(frames, stop + context_frames)
        audio = decode(mel[..., left:right])
        yield audio[..., (start - left) * hop_length : (stop - left) * hop_length]


def load_vocoder(folder: Path | str, device: torch.device | str = "cpu") -> Vocoder:
    """Vocos from a folder in the published layout, on device, in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"Vocos folder {folder} does not exist")
    config = read_config(folder / CONFIG_FILE)
    vocoder = Vocoder(config)
    weights = _vocoder_weights(_read_state_dict(folder / WEIGHTS_FILE), vocoder)
    vocoder.load_state_dict(weights)
    return vocoder.to(device).eval()


def read_config(path: Path) -> VocosConfig:
    """The sizes in a Vocos config.yaml; anything but the published mel-to-ISTFT design is
    refused with the reason."""
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing")
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(f"{path} is not readable YAML: {error}") from error
    if not isinstance(document, dict):
        raise ModelLoadError(f"{path} must hold a mapping, not {type(document).__name__}")
    try:
        return _config_of(document)
    except ValueError as error:
        raise ModelLoadError(f"{path}: {error}") from error


def _config_of(document: Mapping[str, Any]) -> VocosConfig:
    features = _init_args(document, "feature_extractor", FEATURES_CLASS, FEATURES_ARGS)
    backbone = _init_args(document, "backbone", BACKBONE_CLASS, BACKBONE_ARGS)
    head = _init_args(document, "head", HEAD_CLASS, HEAD_ARGS)
    if backbone["adanorm_num_embeddings"] is not None:
        raise ValueError(
            "backbone.adanorm_num_embeddings is set: conditional (Encodec) Vocos "
            "models are not supported"
        )
    scale = backbone["layer_scale_init_value"]
    if scale is not None and (not isinstance(scale, int | float) or scale < 0):
        raise ValueError(
            f"backbone.layer_scale_init_value must be >= 0 (a layer scale), got {scale!r}"
        )
    if head["padding"] != "same":
        raise ValueError(f"head.padding must be 'same', got {head['padding']!r}")
    if features["padding"] not in ("center", "same"):
        raise ValueError(
            f"feature_extractor.padding must be 'center' or 'same', got {features['padding']!r}"
        )
    config = VocosConfig(
        sample_rate=_positive(features, "feature_extractor.sample_rate"),
        n_mels=_positive(backbone, "backbone.input_channels"),
        dim=_positive(backbone, "backbone.dim"),
        intermediate_dim=_positive(backbone, "backbone.intermediate_dim"),
        num_layers=_positive(backbone, "backbone.num_layers"),
        n_fft=_positive(head, "head.n_fft"),
        hop_length=_positive(head, "head.hop_length"),
    )
    _check_agreement(config, features, head)
    return config


def _check_agreement(
    config: VocosConfig, features: Mapping[str, Any], head: Mapping[str, Any]
) -> None:
    if _positive(features, "feature_extractor.n_mels") != config.n_mels:
        raise ValueError(
            f"feature_extractor.n_mels ({features['n_mels']}) differs from "
            f"backbone.input_channels ({config.n_mels})"
        )
    if _positive(features, "feature_extractor.hop_length") != config.hop_length:
        raise ValueError(
            f"feature_extractor.hop_length ({features['hop_length']}) differs "
            f"from head.hop_length ({config.hop_length})"
        )
    if _positive(head, "head.dim") != config.dim:
        raise ValueError(f"head.dim ({head['dim']}) differs from backbone.dim ({config.dim})")
    n_fft, hop = config.n_fft, config.hop_length
    # Vocos trims (n_fft - hop) / 2 samples at each end, which must be a whole, non-zero number;
    # windows overlapping by at least half keep the Hann envelope above zero everywhere kept.
    if n_fft % 2 or (n_fft - hop) % 2 or not 0 < 2 * hop <= n_fft:
        raise ValueError(
            f"head.n_fft {n_fft} and head.hop_length {hop} must be even and "
            f"overlap by at least half a window"
        )


def _init_args(
    document: Mapping[str, Any], section: str, class_path: str, known: Mapping[str, Any]
) -> dict[str, Any]:
    """init_args of one section, with the package's defaults for what it leaves out."""
    entry = document.get(section)
    if not isinstance(entry, dict):
        raise ValueError(f"{section} is missing")
    if entry.get("class_path") != class_path:
        raise ValueError(
            f"{section}.class_path must be {class_path}, got {entry.get('class_path')!r}"
        )
    given = entry.get("init_args") or {}
    if not isinstance(given, dict):
        raise ValueError(f"{section}.init_args must be a mapping")
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{section}.init_args has unknown keys {unknown}")
    return {**known, **given}


def _positive(args: Mapping[str, Any], name: str) -> int:
    value = args[name.rsplit(".", 1)[1]]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors come in many types
        raise ModelLoadError(f"{path} is not a loadable torch state dict: {error}") from error
    if not isinstance(state, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()
    ):
        raise ModelLoadError(f"{path} must hold a state dict of named tensors")
    return state


def _vocoder_weights(state: dict[str, torch.Tensor], vocoder: Vocoder) -> dict[str, torch.Tensor]:
    """The checkpoint's backbone and head tensors, checked against what config.yaml implies.

    The feature extractor's buffers (the analysis window and mel filters) are accepted and
    left out: decoding never uses them. The head's window is checked, not loaded: the ISTFT
    kernel is built from the Hann window it must be."""
    weights = {
        key: value
        for key, value in state.items()
        if not key.startswith(ANALYSIS_PREFIX) and key != WINDOW_KEY
    }
    expected = vocoder.state_dict()
    missing = sorted((set(expected) | {WINDOW_KEY}) - set(weights) - set(state))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ModelLoadError(
            f"{WEIGHTS_FILE} does not match config.yaml: missing {_few(missing)}, "
            f"unexpected {_few(unexpected)}"
        )
    for key, tensor in weights.items():
        if tensor.shape != expected[key].shape:
            raise ModelLoadError(
                f"{WEIGHTS_FILE}: {key} has shape {list(tensor.shape)}, config.yaml implies "
                f"{list(expected[key].shape)}"
            )
    window = state[WINDOW_KEY]
    hann = torch.hann_window(vocoder.config.n_fft, periodic=True)
    if window.shape != hann.shape or not torch.allclose(window.float(), hann, atol=1e-6):
        raise ModelLoadError(
            f"{WEIGHTS_FILE}: {WINDOW_KEY} is not a periodic Hann window of "
            f"{vocoder.config.n_fft} samples"
        )
    return weights


def _few(keys: list[str], shown: int = 4) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
