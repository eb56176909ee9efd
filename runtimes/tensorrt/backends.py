"""Where each part (the DiT step, the vocoder) runs: TensorRT engines, ONNX Runtime, or PyTorch.

`choose` tries the backends in that order (or only the one asked for) and keeps the reasons the
better ones were passed over, which the runtime logs and reports. ONNX files are exported from
the loaded weights into the engine folder on first use and reused while the weights are the same;
TensorRT engines are built from them on the device, keyed by everything an engine depends on."""

import functools
import hashlib
import importlib
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import structlog
import torch

from runtimes.errors import ModelLoadError
from runtimes.tensorrt import onnx_export

log = structlog.get_logger(__name__)

BACKENDS = ("tensorrt", "onnxruntime", "torch")
_EXPORTING = threading.Lock()
"""torch.onnx.export keeps its state in globals: models loading side by side take turns."""


@dataclass(frozen=True)
class Graph:
    """One part of the model, as a torch module and the shapes its inputs may take."""

    name: str
    module: torch.nn.Module
    example: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_name: str
    dynamic_axes: dict[str, dict[int, str]]

    @functools.cached_property
    def fingerprint(self) -> str:
        """Of the weights; hashed once per graph (a full-size DiT is 1.3 GB)."""
        digest = hashlib.sha256()
        for key, tensor in sorted(self.module.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]


Runner = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class EngineSettings:
    """What a TensorRT engine is built for: precision and the shape ranges it accepts,
    (min, opt, max) per dynamic dimension name ("batch", "frames")."""

    precision: str = "fp16"
    ranges: tuple[tuple[str, tuple[int, int, int]], ...] = (
        ("batch", (1, 2, 16)),
        ("frames", (1, 512, 4096)),
    )

    @classmethod
    def of(cls, precision: str, max_batch: int, max_frames: int) -> "EngineSettings":
        """Guidance runs two rows per request, so the batch goes to twice max_batch."""
        return cls(
            precision,
            (("batch", (1, 2, 2 * max_batch)), ("frames", (1, min(512, max_frames), max_frames))),
        )

    def range_of(self, dimension: str) -> tuple[int, int, int]:
        return dict(self.ranges)[dimension]


@dataclass
class Choice:
    backend: str
    run: Runner
    passed_over: list[str] = field(default_factory=list)
    """Why each better backend was not used, e.g. "tensorrt: not importable"."""


def export_onnx(graph: Graph, folder: Path) -> Path:
    """The graph as ONNX, reused while the weights are the same."""
    path = folder / f"{graph.name}-{graph.fingerprint}.onnx"
    if path.is_file():
        return path
    partial = path.with_suffix(f".{threading.get_ident()}.partial")
    with _EXPORTING:
        onnx_export.export_onnx(
            graph.module,
            graph.example,
            partial,
            graph.input_names,
            [graph.output_name],
            graph.dynamic_axes,
        )
    partial.replace(path)
    return path


def choose(
    graph: Graph,
    preference: str,
    device: torch.device,
    engine_folder: Path,
    engine: EngineSettings | None = None,
) -> Choice:
    order = BACKENDS if preference == "auto" else (preference,)
    passed_over: list[str] = []
    for backend in order:
        try:
            run = _OPENERS[backend](graph, device, engine_folder, engine or EngineSettings())
        except _Unavailable as why:
            passed_over.append(f"{backend}: {why}")
            continue
        log.info("backend_chosen", part=graph.name, backend=backend, passed_over=passed_over)
        return Choice(backend, run, passed_over)
    raise ModelLoadError(f"no backend can run {graph.name}: {'; '.join(passed_over)}")


class _Unavailable(Exception):
    """This backend cannot run here; the message says why."""


def _open_torch(graph: Graph, device: torch.device, _: Path, __: EngineSettings) -> Runner:
    module = graph.module

    def run(*inputs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            output: torch.Tensor = module(*(tensor.to(device) for tensor in inputs))
        return output

    return run


def _open_onnxruntime(
    graph: Graph, device: torch.device, folder: Path, _: EngineSettings
) -> Runner:
    if importlib.util.find_spec("onnxruntime") is None:
        raise _Unavailable("onnxruntime is not installed")
    import onnxruntime

    available = onnxruntime.get_available_providers()
    wanted = ["CPUExecutionProvider"]
    if device.type == "cuda":
        gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "MIGraphXExecutionProvider"]
        wanted = [p for p in gpu if p in available] + wanted
        if len(wanted) == 1:
            raise _Unavailable(f"no GPU execution provider (has {', '.join(available)})")
    try:
        session = onnxruntime.InferenceSession(str(export_onnx(graph, folder)), providers=wanted)
    except Exception as error:  # export and session errors come in many types
        raise _Unavailable(f"{type(error).__name__}: {error}") from error

    def run(*inputs: torch.Tensor) -> torch.Tensor:
        feeds = {
            name: tensor.detach().cpu().numpy()
            for name, tensor in zip(graph.input_names, inputs, strict=True)
        }
        (output,) = session.run([graph.output_name], feeds)
        return torch.from_numpy(np.asarray(output)).to(device)

    return run


def _open_tensorrt(
    graph: Graph, device: torch.device, folder: Path, engine: EngineSettings
) -> Runner:
    if importlib.util.find_spec("tensorrt") is None:
        raise _Unavailable("tensorrt is not importable")
    if device.type != "cuda":
        raise _Unavailable(f"TensorRT needs a CUDA device, the model is on {device}")
    engines = importlib.import_module("runtimes.tensorrt.engines")
    try:
        return engines.open_engine(graph, device, folder, engine)  # type: ignore[no-any-return]
    except engines.EngineError as error:
        raise _Unavailable(str(error)) from error


_OPENERS: dict[str, Callable[[Graph, torch.device, Path, EngineSettings], Runner]] = {
    "tensorrt": _open_tensorrt,
    "onnxruntime": _open_onnxruntime,
    "torch": _open_torch,
}
