"""Where one stream's time goes on a GPU: torch.profiler over a short stream of the full-size
Dia-1.6B or Qwen3-TTS 1.7B architecture (random weights), after a warm-up. Prints the operators
that take the most CPU and GPU time, and how much of the wall time the GPU was busy.

    python -m bench.profile_gpu dia [--seconds 2] [--cuda-graphs auto|on|off] [--model-dir DIR]
    python -m bench.profile_gpu qwen3 [--seconds 2]   # in an environment with qwen-tts
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from runtimes.base import Runtime, SamplingParams, SynthesisJob


def dia_runtime(folder: Path, args: argparse.Namespace) -> tuple[Runtime, SynthesisJob]:
    from bench.dia import TEXT, build_full_size
    from runtimes.dia import DiaRuntime

    model_dir = args.model_dir or build_full_size(folder, torch.float16)
    runtime = DiaRuntime(
        {
            "model_dir": str(model_dir),
            "dtype": "float16",
            "max_chunk_seconds": args.seconds,
            "cuda_graphs": args.cuda_graphs,
        }
    )
    return runtime, SynthesisJob((TEXT,), "dia", sampling=SamplingParams(seed=1))


def qwen3_runtime(folder: Path, args: argparse.Namespace) -> tuple[Runtime, SynthesisJob]:
    from bench.qwen3_split import FULL_1_7B, greedy_job
    from runtimes.qwen3_split import Qwen3SplitRuntime
    from tests.qwen3_models import build_tiny_qwen3

    model_dir = build_tiny_qwen3(folder, sizes=FULL_1_7B)
    runtime = Qwen3SplitRuntime(
        {"model_dir": str(model_dir), "lm_device": "cuda:0", "dtype": "bfloat16"}
    )
    return runtime, greedy_job(args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["dia", "qwen3"])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cuda-graphs", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--model-dir", type=Path, help="dia: a full-size model saved earlier")
    args = parser.parse_args()
    build = dia_runtime if args.model == "dia" else qwen3_runtime
    with tempfile.TemporaryDirectory() as folder:
        runtime, job = build(Path(folder), args)
        runtime.load()
        for _ in runtime.synthesize(job):  # warm-up
            pass
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as trace:
            began = time.perf_counter()
            for _ in runtime.synthesize(job):
                pass
            torch.cuda.synchronize()
            wall = time.perf_counter() - began
        runtime.close()
    events = trace.key_averages()
    gpu_busy = sum(event.self_device_time_total for event in events) / 1e6
    print(f"wall {wall:.3f} s, GPU busy {gpu_busy:.3f} s ({gpu_busy / wall:.0%})")
    print(events.table(sort_by="self_cpu_time_total", row_limit=25))
    print(events.table(sort_by="self_device_time_total", row_limit=15))


if __name__ == "__main__":
    main()
