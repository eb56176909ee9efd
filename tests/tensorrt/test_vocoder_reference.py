"""Cantata's Vocos against the `vocos` package (0.1.0) on the same weights: the package builds
its model from the same config.yaml (Vocos.from_hparams) and loads the same pytorch_model.bin.

Runs in the reference environment only, built with:

    python3 -m venv .venv-f5ref
    .venv-f5ref/bin/pip install -q pip==26.3
    .venv-f5ref/bin/pip install -q torch==2.13.0 pytest==9.2.0 pyyaml==6.0.3 numpy==2.4.6 \
        onnxruntime==1.31.1 onnx==1.19.1 einops==0.8.1 huggingface_hub==1.33.0 scipy==1.17.1
    .venv-f5ref/bin/pip install -q --no-deps vocos==0.1.0 encodec==0.1.1 torchaudio==2.11.0
    site=$(.venv-f5ref/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    rm -f "$site"/torchaudio/lib/*.so
    .venv-f5ref/bin/pip install -q --no-deps -e .

vocos imports encodec and real torchaudio names at import time (heads.py imports
torchaudio.functional.functional._hz_to_mel; MelSpectrogramFeatures builds
torchaudio.transforms.MelSpectrogram), which an import-only stand-in cannot provide. No
torchaudio build loads its C++ extension beside torch 2.13.0+cpu, but without those files
torchaudio is plain Python on torch: the parts vocos uses work, anything else fails loudly.
"""

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
import yaml

from runtimes.tensorrt.onnx_export import export_vocoder
from runtimes.tensorrt.vocoder import RealISTFT, Vocoder, load_vocoder
from tests.tensorrt_models import VOCOS_HOP, VOCOS_MELS, VOCOS_N_FFT, build_tiny_vocos, vocos_config

vocos = pytest.importorskip("vocos", reason="the vocos package lives in .venv-f5ref only")


def reference_of(folder: Path) -> Any:
    model = vocos.Vocos.from_hparams(str(folder / "config.yaml"))
    model.load_state_dict(torch.load(folder / "pytorch_model.bin", weights_only=True))
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
    """Same tensor names and shapes (strict loading checks those), and the analysis buffers the
    package computes itself (window, torchaudio's mel filters)."""
    written = torch.load(folder / "pytorch_model.bin", weights_only=True)
    own = vocos.Vocos.from_hparams(str(folder / "config.yaml")).state_dict()
    assert {key: value.shape for key, value in written.items()} == {
        key: value.shape for key, value in own.items()
    }
    for key in written:
        if key.startswith("feature_extractor.") or key == "head.istft.window":
            torch.testing.assert_close(written[key], own[key], atol=1e-6, rtol=0)


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
        package_model = vocos.Vocos.from_hparams(str(tmp_path / "config.yaml")).eval()
    torch.save(package_model.state_dict(), tmp_path / "pytorch_model.bin")
    ours = load_vocoder(tmp_path)
    assert ours.config.context_frames == 29
    mel = random_mel(2, 50, seed=9)
    compare(ours.decode(mel), package_model.decode(mel), "published sizes, package's weights")
