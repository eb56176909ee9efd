"""Cantata's Vocos vocoder on tiny random checkpoints in the published layout: loading, the
real-valued inverse STFT, chunked vocoding, the ONNX export served by ONNX Runtime, and the
reasons a bad folder is refused. The same weights against the `vocos` package itself are in
test_vocoder_reference.py (reference environment only)."""

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import yaml

from runtimes.errors import ModelLoadError
from runtimes.tensorrt.onnx_export import OPSET, export_vocoder
from runtimes.tensorrt.vocoder import (
    RealISTFT,
    Vocoder,
    VocosConfig,
    decode_in_chunks,
    load_vocoder,
)
from tests.tensorrt_models import VOCOS_HOP, VOCOS_MELS, VOCOS_N_FFT, build_tiny_vocos

BINS = VOCOS_N_FFT // 2 + 1


def random_mel(batch: int, frames: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, VOCOS_MELS, frames, generator=torch.Generator().manual_seed(seed))


def random_spectrum(batch: int, frames: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    magnitude = torch.exp(2 * torch.randn(batch, BINS, frames, generator=generator)).clamp(max=1e2)
    phase = (2 * torch.rand(batch, BINS, frames, generator=generator) - 1) * torch.pi
    return torch.polar(magnitude, phase)


def same_padding_istft(spectrum: torch.Tensor) -> torch.Tensor:
    """Vocos's "same" ISTFT written plainly in float64: irfft, window, overlap-add, divide by
    the overlapped squared window, trim (n_fft - hop) / 2 at each end."""
    batch, _, frames = spectrum.shape
    window = torch.hann_window(VOCOS_N_FFT, dtype=torch.float64)
    pieces = torch.fft.irfft(spectrum.to(torch.complex128), VOCOS_N_FFT, dim=1) * window[:, None]
    length = (frames - 1) * VOCOS_HOP + VOCOS_N_FFT
    signal = torch.zeros(batch, length, dtype=torch.float64)
    envelope = torch.zeros(length, dtype=torch.float64)
    for frame in range(frames):
        start = frame * VOCOS_HOP
        signal[:, start : start + VOCOS_N_FFT] += pieces[:, :, frame]
        envelope[start : start + VOCOS_N_FFT] += window.square()
    trim = (VOCOS_N_FFT - VOCOS_HOP) // 2
    return signal[:, trim:-trim] / envelope[trim:-trim]


def largest_difference(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def mean_squared_error(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vocos(tmp_path_factory.mktemp("vocos"))


@pytest.fixture(scope="module")
def vocoder(folder: Path) -> Vocoder:
    return load_vocoder(folder)


@pytest.fixture(scope="module")
def deep_vocoder(tmp_path_factory: pytest.TempPathFactory) -> Vocoder:
    """The published depth (8 ConvNeXt blocks), which sets the context chunks need."""
    return load_vocoder(build_tiny_vocos(tmp_path_factory.mktemp("deep"), seed=1, num_layers=8))


def test_loads_the_published_layout(folder: Path, vocoder: Vocoder) -> None:
    assert sorted(path.name for path in folder.iterdir()) == ["config.yaml", "pytorch_model.bin"]
    assert vocoder.config == VocosConfig(
        sample_rate=24000,
        n_mels=100,
        dim=32,
        intermediate_dim=64,
        num_layers=2,
        n_fft=1024,
        hop_length=256,
    )
    assert not vocoder.training


def test_published_sizes_come_from_config(tmp_path: Path) -> None:
    published = build_tiny_vocos(tmp_path, dim=512, intermediate_dim=1536, num_layers=8)
    config = load_vocoder(published).config
    assert (config.dim, config.intermediate_dim, config.num_layers) == (512, 1536, 8)
    assert config.context_frames == 29


@pytest.mark.parametrize(("batch", "frames"), [(1, 1), (2, 7), (3, 100)])
def test_decode_gives_one_hop_of_samples_per_frame(
    vocoder: Vocoder, batch: int, frames: int
) -> None:
    audio = vocoder.decode(random_mel(batch, frames, seed=frames))
    assert audio.shape == (batch, frames * VOCOS_HOP)
    assert audio.dtype == torch.float32
    assert bool(torch.isfinite(audio).all())
    assert float(audio.std()) > 0.01


@pytest.mark.parametrize("shape", [(100, 10), (1, 80, 10), (1, 100, 0)])
def test_decode_refuses_other_shapes(vocoder: Vocoder, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="mel must be"):
        vocoder.decode(torch.zeros(shape))


@pytest.mark.parametrize(("batch", "frames"), [(1, 1), (2, 2), (3, 50)])
def test_real_istft_equals_the_complex_one(batch: int, frames: int) -> None:
    spectrum = random_spectrum(batch, frames, seed=frames)
    ours = RealISTFT(VOCOS_N_FFT, VOCOS_HOP)(spectrum.real, spectrum.imag)
    expected = same_padding_istft(spectrum)
    largest = largest_difference(ours, expected)
    print(f"real ISTFT against irfft + overlap-add, {batch}x{frames}: {largest:.2e}")
    assert ours.shape == (batch, frames * VOCOS_HOP)
    assert largest <= 1e-5


def test_real_istft_equals_torch_istft_where_both_reach() -> None:
    """torch.istft(center=True) trims n_fft / 2 instead of (n_fft - hop) / 2: the same signal,
    shifted by hop / 2 and one frame shorter."""
    spectrum = random_spectrum(2, 40, seed=7)
    ours = RealISTFT(VOCOS_N_FFT, VOCOS_HOP)(spectrum.real, spectrum.imag)
    centred = torch.istft(
        spectrum,
        VOCOS_N_FFT,
        VOCOS_HOP,
        window=torch.hann_window(VOCOS_N_FFT),
        center=True,
    )
    shift = VOCOS_N_FFT // 2 - (VOCOS_N_FFT - VOCOS_HOP) // 2
    largest = largest_difference(ours[:, shift : shift + centred.shape[1]], centred)
    print(f"real ISTFT against torch.istft: {largest:.2e}")
    assert largest <= 1e-5


def test_context_covers_the_published_depth(deep_vocoder: Vocoder) -> None:
    # 8 + 1 convolutions of radius 3, plus the 2 neighbouring STFT frames each sample overlaps.
    assert deep_vocoder.config.context_frames == 3 * (8 + 1) + 2


@pytest.mark.parametrize("chunk_frames", [1, 16, 50, 199, 1000])
def test_chunks_join_into_one_decode(deep_vocoder: Vocoder, chunk_frames: int) -> None:
    mel = random_mel(2, 200, seed=3)
    whole = deep_vocoder.decode(mel)
    pieces = list(deep_vocoder.decode_chunks(mel, chunk_frames))
    assert [piece.shape[1] for piece in pieces[:-1]] == [chunk_frames * VOCOS_HOP] * (
        len(pieces) - 1
    )
    joined = torch.cat(pieces, dim=1)
    assert joined.shape == whole.shape
    largest = largest_difference(joined, whole)
    print(f"chunks of {chunk_frames}: largest difference {largest:.2e}")
    assert largest <= 1e-5


def test_context_is_exact_and_no_larger_than_needed(deep_vocoder: Vocoder) -> None:
    """In float64 a frame too few shows through the far taps of the receptive field."""
    precise = copy.deepcopy(deep_vocoder).double()
    mel = random_mel(1, 160, seed=4).double()
    whole = precise.decode(mel)

    def joined(context: int) -> torch.Tensor:
        pieces = decode_in_chunks(
            precise.decode, mel, chunk_frames=40, context_frames=context, hop_length=VOCOS_HOP
        )
        return torch.cat(list(pieces), dim=1)

    context = precise.config.context_frames
    assert largest_difference(joined(context), whole) <= 1e-12
    assert largest_difference(joined(context - 1), whole) > 1e-9


@pytest.fixture(scope="module")
def exported(vocoder: Vocoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_vocoder(vocoder, tmp_path_factory.mktemp("onnx") / "vocoder.onnx")


@pytest.fixture(scope="module")
def session(exported: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])


def test_exported_graph_is_real_valued_with_symbolic_shapes(exported: Path) -> None:
    model = onnx.load(str(exported))
    assert [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")] == [
        OPSET
    ]

    def dims(value: onnx.ValueInfoProto) -> list[str | int]:
        return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]

    assert [dims(value) for value in model.graph.input] == [["batch", VOCOS_MELS, "frames"]]
    assert [dims(value) for value in model.graph.output] == [["batch", "samples"]]
    operators = {node.op_type for node in model.graph.node}
    assert "ConvTranspose" in operators
    assert not operators & {"DFT", "STFT"}


@pytest.mark.parametrize("frames", [32, 100, 257])
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_onnx_runtime_matches_torch(
    vocoder: Vocoder, session: onnxruntime.InferenceSession, batch: int, frames: int
) -> None:
    mel = random_mel(batch, frames, seed=batch * 1000 + frames)
    (audio,) = session.run(None, {"mel": mel.numpy()})
    expected = vocoder.decode(mel)
    error = mean_squared_error(audio, expected)
    print(
        f"ONNX Runtime {batch}x{frames}: MSE {error:.2e}, "
        f"largest {largest_difference(audio, expected):.2e}"
    )
    assert audio.shape == (batch, frames * VOCOS_HOP)
    assert error <= 1e-10


def test_onnx_runtime_chunks_join_into_one_torch_decode(
    vocoder: Vocoder, session: onnxruntime.InferenceSession
) -> None:
    def decode(mel: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"mel": mel.numpy()})[0])

    mel = random_mel(2, 90, seed=5)
    pieces = decode_in_chunks(
        decode,
        mel,
        chunk_frames=24,
        context_frames=vocoder.config.context_frames,
        hop_length=VOCOS_HOP,
    )
    assert largest_difference(torch.cat(list(pieces), dim=1), vocoder.decode(mel)) <= 1e-5


def test_feature_extractor_buffers_are_optional(tmp_path: Path) -> None:
    folder = build_tiny_vocos(tmp_path)
    edit_weights(folder, drop("feature_extractor.mel_spec.spectrogram.window"))
    edit_weights(folder, drop("feature_extractor.mel_spec.mel_scale.fb"))
    assert load_vocoder(folder).config.num_layers == 2


def edit_config(folder: Path, change: Callable[[dict[str, object]], None]) -> None:
    path = folder / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


def edit_weights(folder: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    path = folder / "pytorch_model.bin"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def set_arg(section: str, key: str, value: object) -> Callable[[dict[str, object]], None]:
    def change(config: dict[str, object]) -> None:
        config[section]["init_args"][key] = value  # type: ignore[index]

    return change


def drop_section(section: str) -> Callable[[dict[str, object]], None]:
    def change(config: dict[str, object]) -> None:
        del config[section]

    return change


def set_class(section: str, class_path: str) -> Callable[[dict[str, object]], None]:
    def change(config: dict[str, object]) -> None:
        config[section]["class_path"] = class_path  # type: ignore[index]

    return change


def drop(key: str) -> Callable[[dict[str, torch.Tensor]], None]:
    def change(state: dict[str, torch.Tensor]) -> None:
        del state[key]

    return change


def put(key: str, value: torch.Tensor) -> Callable[[dict[str, torch.Tensor]], None]:
    def change(state: dict[str, torch.Tensor]) -> None:
        state[key] = value

    return change


class NotATensor:
    """Pickled into a checkpoint, where loading with weights_only must refuse it."""


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return change


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def config_change(change: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    return lambda folder: edit_config(folder, change)


def config_changes(*changes: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        for one in changes:
            edit_config(folder, one)

    return change


def weights_change(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    return lambda folder: edit_weights(folder, change)


def save_as_weights(content: object) -> Callable[[Path], None]:
    return lambda folder: torch.save(content, folder / "pytorch_model.bin")


BAD_FOLDERS = {
    "no config": (remove("config.yaml"), "config.yaml is missing"),
    "no weights": (remove("pytorch_model.bin"), "pytorch_model.bin is missing"),
    "broken yaml": (write("config.yaml", "backbone: [unclosed"), "not readable YAML"),
    "yaml list": (write("config.yaml", "- 1\n"), "must hold a mapping, not list"),
    "no head": (config_change(drop_section("head")), "head is missing"),
    "imdct head": (
        config_change(set_class("head", "vocos.heads.IMDCTCosHead")),
        "head.class_path must be vocos.heads.ISTFTHead",
    ),
    "encodec features": (
        config_change(set_class("feature_extractor", "vocos.feature_extractors.EncodecFeatures")),
        "feature_extractor.class_path must be",
    ),
    "centre padding": (
        config_change(set_arg("head", "padding", "center")),
        "head.padding must be 'same', got 'center'",
    ),
    "adanorm": (config_change(set_arg("backbone", "adanorm_num_embeddings", 4)), "adanorm"),
    "no layer scale": (
        config_change(set_arg("backbone", "layer_scale_init_value", -1.0)),
        "layer_scale_init_value must be >= 0",
    ),
    "unknown argument": (
        config_change(set_arg("backbone", "kernel_size", 9)),
        r"backbone.init_args has unknown keys \['kernel_size'\]",
    ),
    "mel count disagrees": (
        config_change(set_arg("feature_extractor", "n_mels", 80)),
        r"feature_extractor.n_mels \(80\) differs from backbone.input_channels \(100\)",
    ),
    "hop disagrees": (
        config_change(set_arg("feature_extractor", "hop_length", 128)),
        "feature_extractor.hop_length",
    ),
    "head dim disagrees": (
        config_change(set_arg("head", "dim", 64)),
        r"head.dim \(64\) differs from backbone.dim \(32\)",
    ),
    "odd n_fft": (config_change(set_arg("head", "n_fft", 1023)), "must be even and overlap"),
    "hop disagrees with head": (
        config_change(set_arg("head", "hop_length", 128)),
        r"feature_extractor.hop_length \(256\) differs from head.hop_length \(128\)",
    ),
    "little overlap": (
        config_changes(
            set_arg("head", "hop_length", 768), set_arg("feature_extractor", "hop_length", 768)
        ),
        "head.n_fft 1024 and head.hop_length 768 must be even and overlap by at least half",
    ),
    "no layers": (
        config_change(set_arg("backbone", "num_layers", 0)),
        "backbone.num_layers must be a positive integer, got 0",
    ),
    "size as text": (
        config_change(set_arg("backbone", "dim", "32")),
        "backbone.dim must be a positive integer, got '32'",
    ),
    "missing tensor": (
        weights_change(drop("backbone.convnext.1.gamma")),
        "missing backbone.convnext.1.gamma, unexpected none",
    ),
    "unexpected tensor": (
        weights_change(put("backbone.convnext.2.gamma", torch.ones(32))),
        "missing none, unexpected backbone.convnext.2.gamma",
    ),
    "more layers than weights": (
        config_change(set_arg("backbone", "num_layers", 3)),
        "missing backbone.convnext.2.dwconv.bias, .* and 5 more",
    ),
    "wrong shape": (
        config_change(set_arg("backbone", "intermediate_dim", 48)),
        r"convnext.0.pwconv1.weight has shape \[64, 32\], config.yaml implies \[48, 32\]",
    ),
    "no istft window": (weights_change(drop("head.istft.window")), "missing head.istft.window"),
    "other window": (
        weights_change(put("head.istft.window", torch.ones(VOCOS_N_FFT))),
        "head.istft.window is not a periodic Hann window of 1024 samples",
    ),
    "not a state dict": (save_as_weights([1, 2]), "state dict of named tensors"),
    "pickled object": (
        weights_change(put("backbone.embed.bias", NotATensor())),  # type: ignore[arg-type]
        "not a loadable torch state dict",
    ),
    "not a torch file": (write("pytorch_model.bin", b"\x00" * 64), "not a loadable torch"),
}


@pytest.mark.parametrize(("spoil", "reason"), list(BAD_FOLDERS.values()), ids=list(BAD_FOLDERS))
def test_bad_folders_are_refused_with_the_reason(
    tmp_path: Path, spoil: Callable[[Path], None], reason: str
) -> None:
    folder = build_tiny_vocos(tmp_path)
    spoil(folder)
    with pytest.raises(ModelLoadError, match=reason):
        load_vocoder(folder)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_vocoder(tmp_path / "absent")
