"""`cantata tensorrt export | build | check`: the tooling a Jetson owner runs on the device.

- export: ONNX of the DiT step and the vocoder (opset 17, dynamic batch and length, the vocoder's
  inverse STFT in real-valued operations).
- build: TensorRT engines from them (the TensorRT Python builder; FP16 where the version has the
  flag), cached under the same keys the runtime looks for.
- check: every backend present against PyTorch on the same inputs, at the real audio scale:
  MSE, largest error and time per call, as JSON."""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from runtimes.tensorrt.backends import EngineSettings, Graph, Runner

# torch and the models are imported by the actions themselves: every `cantata` command loads
# this module to register the sub-command, and most never use it.


def add_tensorrt_command(commands: Any) -> None:
    """Registered as the `tensorrt` sub-command of the `cantata` command line."""
    parser = commands.add_parser("tensorrt", help="export, build and check F5/Vocos engines")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, handler, help_text in (
        ("export", export, "write the ONNX graphs"),
        ("build", build, "build TensorRT engines from them (on the device)"),
        ("check", check, "compare every backend with PyTorch; JSON on stdout"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--model-dir", type=Path, required=True)
        action.add_argument("--vocoder-dir", type=Path, required=True)
        action.add_argument("--engine-dir", type=Path, required=True)
        action.add_argument("--device", default="auto")
        action.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
        action.add_argument("--max-batch", type=int, default=8, help="as the runtime's option")
        action.add_argument("--max-frames", type=int, default=4096, help="as the runtime's option")
        action.add_argument("--frames", type=int, default=256, help="length checked")
        action.add_argument("--repeats", type=int, default=5)
        action.set_defaults(handler=handler)


def _graphs(args: argparse.Namespace) -> "tuple[torch.device, list[Graph]]":
    from runtimes.tensorrt.checkpoint import load_dit
    from runtimes.tensorrt.runtime import dit_graph, vocoder_graph
    from runtimes.tensorrt.vocoder import load_vocoder
    from runtimes.torch_devices import torch_device

    device = torch_device(args.device)
    model, _ = load_dit(args.model_dir)
    vocoder = load_vocoder(args.vocoder_dir, device)
    return device, [dit_graph(model.to(device)), vocoder_graph(vocoder)]


def export(args: argparse.Namespace) -> int:
    from runtimes.tensorrt import backends

    _, graphs = _graphs(args)
    for graph in graphs:
        print(backends.export_onnx(graph, args.engine_dir))
    return 0


def build(args: argparse.Namespace) -> int:
    device, graphs = _graphs(args)
    from runtimes.tensorrt import engines

    for graph in graphs:
        engines.open_engine(graph, device, args.engine_dir, _engine_settings(args))
    print(f"engines for {len(graphs)} graphs are in {args.engine_dir}")
    return 0


def check(args: argparse.Namespace) -> int:
    device, graphs = _graphs(args)
    report = {graph.name: _check_graph(graph, device, args) for graph in graphs}
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


def _check_graph(
    graph: "Graph", device: "torch.device", args: argparse.Namespace
) -> dict[str, Any]:
    import numpy as np

    from runtimes.tensorrt import backends

    inputs = _inputs_of(graph, args.frames, device)
    engine = _engine_settings(args)
    reference = backends.choose(graph, "torch", device, args.engine_dir, engine).run
    expected, torch_seconds = _timed(reference, inputs, args.repeats)
    results: dict[str, Any] = {"torch": {"seconds": torch_seconds}}
    for backend in ("onnxruntime", "tensorrt"):
        try:
            run = backends.choose(graph, backend, device, args.engine_dir, engine).run
        except Exception as error:  # every reason a backend cannot run here is reported
            results[backend] = {"unavailable": str(error)}
            continue
        got, seconds = _timed(run, inputs, args.repeats)
        difference = (got.float().cpu() - expected.float().cpu()).numpy()
        results[backend] = {
            "seconds": seconds,
            "speedup_vs_torch": torch_seconds / seconds,
            "mse": float(np.mean(difference**2)),
            "largest_error": float(np.abs(difference).max()),
        }
    return results


def _engine_settings(args: argparse.Namespace) -> "EngineSettings":
    """The same settings, and so the same engine files, as the runtime with these options."""
    from runtimes.tensorrt.backends import EngineSettings

    return EngineSettings.of(args.precision, args.max_batch, args.max_frames)


def _inputs_of(graph: "Graph", frames: int, device: "torch.device") -> "tuple[torch.Tensor, ...]":
    """Example inputs at the real scale: log-mels around -3, unit noise, times in [0, 1]."""
    import torch

    generator = torch.Generator().manual_seed(0)
    inputs = []
    for name, example in zip(graph.input_names, graph.example, strict=True):
        axes = graph.dynamic_axes.get(name, {})
        shape = [
            frames if axes.get(axis) == "frames" else size
            for axis, size in enumerate(example.shape)
        ]
        if example.dtype == torch.bool:
            tensor = torch.ones(shape, dtype=torch.bool)
        elif name == "time":
            tensor = torch.rand(shape, generator=generator)
        elif name == "mel":
            tensor = torch.randn(shape, generator=generator) * 2 - 3
        else:
            tensor = torch.randn(shape, generator=generator)
        inputs.append(tensor.to(device))
    return tuple(inputs)


def _timed(
    run: "Runner", inputs: "tuple[torch.Tensor, ...]", repeats: int
) -> "tuple[torch.Tensor, float]":
    import torch

    output = run(*inputs)
    started = time.perf_counter()
    for _ in range(repeats):
        output = run(*inputs)
    if output.is_cuda:
        torch.cuda.synchronize()
    return output, (time.perf_counter() - started) / repeats
