"""Cantata's Vocos against the `vocos` package (0.1.0) on the same weights: the package's own
backbone and head, built from the same config.yaml, load the same pytorch_model.bin.

Runs in the reference environment (.venv-f5ref; see the Makefile). vocos imports torchaudio at
import time, which no PyPI build loads beside torch 2.13.0+cpu here: that environment has
Cantata's torchaudio stand-in, so the package's mel features (torchaudio's MelSpectrogram, used
for training, not decoding) are left out of the model built here, and anything that reaches
torchaudio fails loudly.
"""

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
import vocos
import yaml

from runtimes.tensorrt.onnx_export import export_vocoder
from runtimes.tensorrt.vocoder import RealISTFT, Vocoder, load_vocoder
from tests.tensorrt_models import VOCOS_HOP, VOCOS_MELS, VOCOS_N_FFT, build_tiny_vocos, vocos_config


def package_model(config_path: Path) -> Any:
    """vocos.Vocos as from_hparams builds it, minus the mel features (torchaudio)."""
    config = yaml.safe_load(config_path.read_text())
    backbone = vocos.models.VocosBackbone(**config["backbone"]["init_args"])
    head = vocos.heads.ISTFTHead(**config["head"]["init_args"])
    return vocos.Vocos(torch.nn.Identity(), backbone, head)


def decoding_weights(path: Path) -> dict[str, torch.Tensor]:
    weights = torch.load(path, weights_only=True)
    return {k: v for k, v in weights.items() if not k.startswith("feature_extractor.")}


def reference_of(folder: Path) -> Any:
    model = package_model(folder / "config.yaml")
    model.load_state_dict(decoding_weights(folder / "pytorch_model.bin"))
    return model.eval()


def random_mel(batch: int, frames: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, VOCOS_MELS, frames, generator=torch.Generator().manual_seed(seed))


def compare(ours: torch.Tensor | np.ndarray, theirs: torch.Tensor, label: str) -> None:
    difference = np.asarray(ours, dtype=np.float64) - theirs.double().numpy()
    largest, error = float(np.abs(difference).max()), float(np.mean(difference**2))
    print(f"{label}: largest difference {largest:.2e}, MSE {error:.2e}")
    assert tuple(np.shape(ours)) == tuple(theirs.shape)
    assert largest <= 1e-5
    assert error <= 1e-10


@pytest.fixture(scope="module", params=[2, 8], ids=["2 layers", "8 layers"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    layers: int = request.param
    return build_tiny_vocos(tmp_path_factory.mktemp("vocos"), seed=layers, num_layers=layers)


@pytest.fixture(scope="module")
def ours(folder: Path) -> Vocoder:
    return load_vocoder(folder)


@pytest.fixture(scope="module")
def theirs(folder: Path) -> Any:
    return reference_of(folder)


def test_builder_writes_what_the_package_holds(folder: Path) -> None:
    """Same tensor names and shapes for decoding (strict loading checks those), and the
    synthesis window the package computes itself."""
    written = decoding_weights(folder / "pytorch_model.bin")
    own = package_model(folder / "config.yaml").state_dict()
    assert {key: value.shape for key, value in written.items()} == {
        key: value.shape for key, value in own.items()
    }
    torch.testing.assert_close(
        written["head.istft.window"], own["head.istft.window"], atol=1e-6, rtol=0
    )


@pytest.mark.parametrize(("batch", "frames"), [(1, 1), (1, 32), (2, 100), (3, 257)])
def test_decode_equals_the_package(ours: Vocoder, theirs: Any, batch: int, frames: int) -> None:
    mel = random_mel(batch, frames, seed=batch * 1000 + frames)
    compare(ours.decode(mel), theirs.decode(mel), f"decode {batch}x{frames}")


def test_onnx_runtime_equals_the_package(ours: Vocoder, theirs: Any, tmp_path: Path) -> None:
    session = onnxruntime.InferenceSession(
        str(export_vocoder(ours, tmp_path / "vocoder.onnx")), providers=["CPUExecutionProvider"]
    )
    for batch, frames in [(1, 32), (3, 257)]:
        mel = random_mel(batch, frames, seed=frames)
        (audio,) = session.run(None, {"mel": mel.numpy()})
        compare(audio, theirs.decode(mel), f"ONNX Runtime {batch}x{frames}")


@pytest.mark.parametrize("frames", [1, 3, 120])
def test_real_istft_equals_the_package_istft(frames: int) -> None:
    generator = torch.Generator().manual_seed(frames)
    bins = VOCOS_N_FFT // 2 + 1
    magnitude = torch.exp(2 * torch.randn(2, bins, frames, generator=generator)).clamp(max=1e2)
    phase = 10 * torch.randn(2, bins, frames, generator=generator)
    istft = vocos.spectral_ops.ISTFT(VOCOS_N_FFT, VOCOS_HOP, VOCOS_N_FFT, padding="same")
    expected = istft(magnitude * torch.exp(1j * phase))
    ours = RealISTFT(VOCOS_N_FFT, VOCOS_HOP)(magnitude * phase.cos(), magnitude * phase.sin())
    compare(ours, expected, f"ISTFT x{frames}")


def test_loads_a_state_dict_the_package_saved(tmp_path: Path) -> None:
    """The published sizes, initialised and saved by the package itself."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vocos_config(512, 1536, 8)))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        published = package_model(tmp_path / "config.yaml").eval()
    torch.save(published.state_dict(), tmp_path / "pytorch_model.bin")
    ours = load_vocoder(tmp_path)
    assert ours.config.context_frames == 29
    mel = random_mel(2, 50, seed=9)
    compare(ours.decode(mel), published.decode(mel), "published sizes, package's weights")
