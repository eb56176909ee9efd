"""TensorRT engines: built on the device from the exported ONNX (never shipped: an engine is
valid for one TensorRT version and one GPU), cached under a key of everything it depends on,
and run with torch CUDA tensors as its buffers on torch's current stream (no pycuda).

This module is imported only where `tensorrt` is importable. These machines have no TensorRT 10
and no Jetson, so this path is exercised on a Jetson by `cantata tensorrt check`, not by the
test suite; the tests cover the cache key and the fallback around it."""

import hashlib
from pathlib import Path
from typing import Any

import torch

from runtimes.tensorrt.backends import EngineSettings, Graph, Runner, export_onnx

_PRECISION = {"fp16": "FP16", "fp32": None}


class EngineError(Exception):
    """No engine can be had for this graph here; the message says why."""


def engine_key(
    graph_fingerprint: str,
    tensorrt_version: str,
    gpu: str,
    compute_capability: tuple[int, int],
    engine: EngineSettings,
) -> str:
    """A file name that changes with anything the engine depends on."""
    shapes = ",".join(f"{name}={lo}:{opt}:{hi}" for name, (lo, opt, hi) in engine.ranges)
    identity = "|".join(
        [
            graph_fingerprint,
            tensorrt_version,
            gpu,
            f"sm{compute_capability[0]}{compute_capability[1]}",
            shapes,
            engine.precision,
        ]
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def open_engine(
    graph: Graph,
    device: torch.device,
    folder: Path,
    engine_settings: EngineSettings,
) -> Runner:
    import tensorrt as trt

    key = engine_key(
        graph.fingerprint,
        trt.__version__,
        torch.cuda.get_device_name(device),
        torch.cuda.get_device_capability(device),
        engine_settings,
    )
    path = folder / f"{graph.name}-{key}.engine"
    if not path.is_file():
        build_engine(graph, export_onnx(graph, folder), path, engine_settings)
    logger = trt.Logger(trt.Logger.WARNING)
    engine = trt.Runtime(logger).deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise EngineError(f"TensorRT could not load {path}")
    context = engine.create_execution_context()
    return _runner(graph, engine, context, device)


def build_engine(graph: Graph, onnx: Path, path: Path, engine_settings: EngineSettings) -> None:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {onnx.name}: {errors}")
    config = builder.create_builder_config()
    flag = _PRECISION.get(engine_settings.precision)
    if flag is not None and hasattr(trt.BuilderFlag, flag):
        config.set_flag(getattr(trt.BuilderFlag, flag))
    optimisation = builder.create_optimization_profile()
    for name in graph.input_names:
        shapes = _input_shapes(graph, name, engine_settings)
        optimisation.set_shape(name, *shapes)
    config.add_optimization_profile(optimisation)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"TensorRT could not build an engine for {graph.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(bytes(serialized))
    partial.replace(path)


def _input_shapes(
    graph: Graph, name: str, engine_settings: EngineSettings
) -> tuple[tuple[int, ...], ...]:
    example = graph.example[graph.input_names.index(name)]
    axes = graph.dynamic_axes.get(name, {})
    shapes = []
    for which in range(3):
        shape = [
            engine_settings.range_of(axes[dim])[which] if dim in axes else size
            for dim, size in enumerate(example.shape)
        ]
        shapes.append(tuple(shape))
    return tuple(shapes)


def _runner(graph: Graph, engine: Any, context: Any, device: torch.device) -> Runner:
    def run(*inputs: torch.Tensor) -> torch.Tensor:
        buffers = [tensor.to(device).contiguous() for tensor in inputs]
        for name, tensor in zip(graph.input_names, buffers, strict=True):
            if tensor.dtype == torch.bool:
                tensor = tensor.to(torch.bool)
            context.set_input_shape(name, tuple(tensor.shape))
            context.set_tensor_address(name, tensor.data_ptr())
        shape = tuple(context.get_tensor_shape(graph.output_name))
        output = torch.empty(shape, dtype=torch.float32, device=device)
        context.set_tensor_address(graph.output_name, output.data_ptr())
        stream = torch.cuda.current_stream(device)
        if not context.execute_async_v3(stream.cuda_stream):
            raise EngineError(f"TensorRT failed running {graph.name}")
        stream.synchronize()
        return output

    return run
