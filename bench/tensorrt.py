"""The tensorrt runtime's parts on this machine: the full-size F5TTS_v1_Base DiT and Vocos
(charactr/vocos-mel-24khz sizes) with random weights, PyTorch against ONNX Runtime (time per
call and parity), the time share of the DiT and the vocoder at 8 and 32 flow steps, and the
throughput of one flow batch of 4 sentences against 4 one at a time.

    .venv/bin/python -m bench.tensorrt [--frames 256] [--repeats 3]

On a CUDA GPU (`--gpu`): each part in PyTorch FP32, PyTorch FP16 (autocast) and ONNX Runtime
where its CUDA provider is installed: time per call and parity with FP32; then the whole runtime
(PyTorch) at 8 flow steps: real-time factor, time to first audio and aggregate throughput at 1,
4 and 8 concurrent requests.

    python -m bench.tensorrt --gpu [--frames 512] [--streams 1 4 8]

Prints one JSON object. TensorRT itself is for a Jetson: `cantata tensorrt check` there."""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

from bench.streams import measure_streams
from runtimes.base import SamplingParams, SynthesisJob
from runtimes.errors import ModelLoadError
from runtimes.tensorrt import backends
from runtimes.tensorrt.checkpoint import load_dit
from runtimes.tensorrt.flow import FlowRow, sample
from runtimes.tensorrt.runtime import F5Runtime, dit_graph, exported_step, vocoder_graph
from runtimes.tensorrt.vocoder import load_vocoder
from tests.f5_models import F5_V1_BASE, build_tiny_f5
from tests.tensorrt_models import build_tiny_vocos

CPU = torch.device("cpu")
CUDA = torch.device("cuda")
SENTENCE = "Cantata speaks this sentence on the GPU, eight flow steps and a vocoder later."


def timed(
    run: backends.Runner, inputs: tuple[torch.Tensor, ...], repeats: int
) -> tuple[Any, float]:
    output = run(*inputs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        output = run(*inputs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return output, (time.perf_counter() - started) / repeats


def compare_backends(
    graph: backends.Graph, inputs: tuple[torch.Tensor, ...], folder: Path, repeats: int
) -> dict[str, Any]:
    expected, torch_seconds = timed(
        backends.choose(graph, "torch", CPU, folder).run, inputs, repeats
    )
    got, onnx_seconds = timed(
        backends.choose(graph, "onnxruntime", CPU, folder).run, inputs, repeats
    )
    difference = (got - expected).numpy()
    return {
        "torch_seconds": torch_seconds,
        "onnxruntime_seconds": onnx_seconds,
        "onnxruntime_speedup": torch_seconds / onnx_seconds,
        "mse": float(np.mean(difference**2)),
        "largest_error": float(np.abs(difference).max()),
        "output_scale": float(expected.abs().max()),
    }


def flow_rows(model: Any, frames: int, count: int) -> list[FlowRow]:
    rows = []
    for seed in range(count):
        generator = torch.Generator().manual_seed(seed)
        text = torch.randint(0, 2000, (1, frames // 4), generator=generator)
        lengths = torch.tensor([frames])
        rows.append(
            FlowRow(
                torch.randn(frames // 3, 100, generator=generator),
                model.embed_text(text, lengths, frames, False)[0],
                model.embed_text(text, lengths, frames, True)[0],
                generator,
                2.0,
            )
        )
    return rows


def gpu_parts(
    graph: backends.Graph, inputs: tuple[torch.Tensor, ...], folder: Path, repeats: int
) -> dict[str, Any]:
    """Seconds per call for each way of running `graph` on CUDA, and each one's error against
    PyTorch FP32."""
    inputs = tuple(tensor.to(CUDA) for tensor in inputs)
    torch_fp32 = backends.choose(graph, "torch", CUDA, folder).run

    def torch_fp16(*tensors: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.float16):
            return torch_fp32(*tensors).float()

    ways: dict[str, backends.Runner] = {"torch_fp32": torch_fp32, "torch_fp16": torch_fp16}
    results: dict[str, Any] = {}
    try:
        ways["onnxruntime"] = backends.choose(graph, "onnxruntime", CUDA, folder).run
    except ModelLoadError as error:
        results["onnxruntime"] = {"unavailable": str(error)}
    expected: torch.Tensor | None = None
    for name, run in ways.items():
        output, seconds = timed(run, inputs, repeats)
        expected = output if expected is None else expected
        difference = (output - expected).float()
        results[name] = {
            "seconds": seconds,
            "mse_vs_fp32": float(difference.pow(2).mean()),
            "largest_error_vs_fp32": float(difference.abs().max()),
        }
    results["output_scale"] = float(expected.abs().max()) if expected is not None else None
    return results


def reference_voice(folder: Path) -> dict[str, str]:
    """A 4 s reference recording (noise: speed does not depend on what it says)."""
    noise = np.random.default_rng(1).standard_normal(4 * 24000).astype(np.float32) * 0.05
    soundfile.write(folder / "reference.wav", noise, 24000)
    text = "These are the words of a four second reference."
    return {"name": "narrator", "audio": str(folder / "reference.wav"), "text": text}


def runtime_streams(
    model_dir: Path, vocoder_dir: Path, folder: Path, streams: list[int]
) -> list[dict[str, Any]]:
    results = []
    for precision in ("fp16", "fp32"):
        runtime = F5Runtime(
            {
                "model_dir": str(model_dir),
                "vocoder_dir": str(vocoder_dir),
                "engine_dir": str(folder / "engines"),
                "backend": "torch",
                "device": "cuda",
                "precision": precision,
                "steps": 8,
                "max_batch": max(streams),
                "voices": [reference_voice(folder)],
            }
        )
        runtime.load()

        def job(index: int) -> SynthesisJob:
            return SynthesisJob((SENTENCE,), "narrator", sampling=SamplingParams(seed=index))

        measure_streams(runtime, job, 1, 24000)  # warm-up
        for count in streams:
            result = {
                "precision": precision,
                "steps": 8,
                **measure_streams(runtime, job, count, 24000),
            }
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
        runtime.close()
    return results


def run_gpu(folder: Path, frames: int, repeats: int, streams: list[int]) -> dict[str, Any]:
    model_dir = build_tiny_f5(folder / "f5", config=F5_V1_BASE)
    vocoder_dir = build_tiny_vocos(folder / "vocos", dim=512, intermediate_dim=1536, num_layers=8)
    model, _ = load_dit(model_dir)
    model = model.to(CUDA)
    vocoder = load_vocoder(vocoder_dir, CUDA)
    generator = torch.Generator().manual_seed(0)
    step_inputs = (
        torch.randn(2, frames, 100, generator=generator),
        torch.randn(2, frames, 100, generator=generator),
        torch.randn(2, frames, 512, generator=generator),
        torch.rand(2, generator=generator),
        torch.ones(2, frames, dtype=torch.bool),
    )
    mel = (torch.randn(1, 100, frames, generator=generator) * 2 - 3,)
    parts = {
        "dit_step (guided pair)": gpu_parts(
            dit_graph(model), step_inputs, folder / "engines", repeats
        ),
        "vocoder": gpu_parts(vocoder_graph(vocoder), mel, folder / "engines", repeats),
    }
    del model, vocoder
    return {
        "machine": f"{torch.cuda.get_device_name()}, random weights, F5TTS_v1_Base and "
        "vocos-mel-24khz sizes",
        "torch": torch.__version__,
        "frames": frames,
        "parts": parts,
        "runtime_8_steps": runtime_streams(model_dir, vocoder_dir, folder, streams),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--streams", nargs="+", type=int, default=[1, 4, 8])
    args = parser.parse_args()
    if args.gpu:
        with tempfile.TemporaryDirectory() as scratch:
            result = run_gpu(Path(scratch), args.frames, args.repeats, args.streams)
        print(json.dumps(result, indent=2))
        return
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model, _ = load_dit(build_tiny_f5(folder / "f5", config=F5_V1_BASE))
        vocoder = load_vocoder(
            build_tiny_vocos(folder / "vocos", dim=512, intermediate_dim=1536, num_layers=8)
        )
        frames = args.frames
        generator = torch.Generator().manual_seed(0)
        step_inputs = (
            torch.randn(2, frames, 100, generator=generator),
            torch.randn(2, frames, 100, generator=generator),
            torch.randn(2, frames, 512, generator=generator),
            torch.rand(2, generator=generator),
            torch.ones(2, frames, dtype=torch.bool),
        )
        mel = (torch.randn(1, 100, frames, generator=generator) * 2 - 3,)
        parts = {
            "dit_step (guided pair)": compare_backends(
                dit_graph(model), step_inputs, folder / "engines", args.repeats
            ),
            "vocoder": compare_backends(
                vocoder_graph(vocoder), mel, folder / "engines", args.repeats
            ),
        }
        share = {}
        for steps in (8, 32):
            dit = parts["dit_step (guided pair)"]["onnxruntime_seconds"] * steps
            vocoding = parts["vocoder"]["onnxruntime_seconds"]
            share[f"{steps}_steps"] = {
                "dit_seconds": dit,
                "vocoder_seconds": vocoding,
                "vocoder_share": vocoding / (dit + vocoding),
            }
        step = exported_step(
            backends.choose(dit_graph(model), "onnxruntime", CPU, folder / "engines").run
        )
        rows = flow_rows(model, frames, 4)
        started = time.perf_counter()
        for row in rows:
            sample(step, [row], 2, -1.0, CPU)
        one_at_a_time = time.perf_counter() - started
        started = time.perf_counter()
        sample(step, flow_rows(model, frames, 4), 2, -1.0, CPU)
        batched = time.perf_counter() - started
    print(
        json.dumps(
            {
                "machine": "CPU, random weights, F5TTS_v1_Base and vocos-mel-24khz sizes",
                "frames": frames,
                "audio_seconds": frames * 256 / 24000,
                "torch_threads": torch.get_num_threads(),
                "parts": parts,
                "time_share": share,
                "batching_2_steps_4_sentences": {
                    "one_at_a_time_seconds": one_at_a_time,
                    "one_batch_seconds": batched,
                    "throughput_ratio": one_at_a_time / batched,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
