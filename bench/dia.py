"""Dia throughput and latency: the full-size Dia-1.6B architecture (and the real DAC 44 kHz
codec) with random weights, served by the Cantata runtime exactly as a request would be.
Speed does not depend on the weights' values; random weights rarely end an utterance, so every
request generates a fixed `--seconds` of audio.

    python -m bench.dia                       # on a GPU: fp16 and bf16, batch 1, 4, 16
    python -m bench.dia --tiny --batches 1 4  # the tiny test model, to check the bench on a CPU

Per configuration: generated frames (tokens per channel) per second, real-time factor per
stream, aggregate real-time multiple, time to first audio, and peak device memory.
"""

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import DacConfig, DacModel, DiaConfig, DiaForConditionalGeneration

from bench.streams import measure_streams
from runtimes.base import SamplingParams, SynthesisJob
from runtimes.dia import DiaRuntime
from tests.dia_models import TINY_DAC, build_tiny_dia

DAC_44KHZ: dict[str, Any] = {
    **TINY_DAC,
    "encoder_hidden_size": 64,
    "decoder_hidden_size": 1536,
    "codebook_dim": 8,
}
"""descript/dac_44khz, the codec Dia-1.6B decodes with."""
TEXT = "[S1] Cantata streams Dia while it speaks. [S2] Every frame leaves as soon as it is final."


def job(index: int) -> SynthesisJob:
    return SynthesisJob((TEXT,), "dia", sampling=SamplingParams(seed=index))


def build_full_size(folder: Path, dtype: torch.dtype) -> Path:
    device = "cuda" if torch.cuda.is_available() else "cpu"  # random init is faster on a GPU
    with torch.device(device):
        model = DiaForConditionalGeneration(DiaConfig())
    torch.nn.Module.to(model, dtype)
    model.save_pretrained(folder)
    DacModel(DacConfig(**DAC_44KHZ)).save_pretrained(folder / "dac")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny test model (CPU check)")
    parser.add_argument("--dtypes", nargs="+", default=["float16", "bfloat16"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cuda-graphs", nargs="+", default=["auto"], choices=["auto", "on", "off"])
    parser.add_argument("--model-dir", type=Path, help="a full-size model saved earlier")
    parser.add_argument("--save-model", type=Path, help="where to save the full-size model")
    arguments = parser.parse_args()
    results = []
    for dtype in ["float32"] if arguments.tiny else arguments.dtypes:
        with contextlib.ExitStack() as stack:
            if arguments.model_dir is not None:
                model_dir = arguments.model_dir
            else:
                folder = arguments.save_model or Path(
                    stack.enter_context(tempfile.TemporaryDirectory())
                )
                model_dir = (
                    build_tiny_dia(folder)
                    if arguments.tiny
                    else build_full_size(folder, getattr(torch, dtype))
                )
            for graphs in arguments.cuda_graphs:
                results += measure(model_dir, dtype, graphs, arguments.batches, arguments.seconds)
    out = Path(__file__).parent / "results" / "dia.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def measure(
    model_dir: Path, dtype: str, graphs: str, batches: list[int], seconds: float
) -> list[dict[str, Any]]:
    runtime = DiaRuntime(
        {
            "model_dir": str(model_dir),
            "dtype": dtype,
            "max_chunk_seconds": seconds,
            "max_batch": max(batches),
            "batch_wait_ms": 50,
            "cuda_graphs": graphs,
        }
    )
    began = time.perf_counter()
    runtime.load()
    load_seconds = round(time.perf_counter() - began, 2)
    measure_streams(runtime, job, 1, 44100)  # warm-up
    results = []
    for batch in batches:
        measured = measure_streams(runtime, job, batch, 44100)
        result = {
            "dtype": dtype,
            "device": runtime.device,
            "cuda_graphs": graphs,
            "frames_per_second": round(measured["aggregate_x_real_time"] * 44100 / 512, 1),
            **measured,
            "load_seconds": load_seconds,
            "graphs_captured": runtime._static.captured if runtime._static else 0,
        }
        print(json.dumps(result), flush=True)
        results.append(result)
    runtime.close()
    del runtime
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return results


if __name__ == "__main__":
    main()
