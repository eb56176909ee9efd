"""qwen3-split speed with the full-size architectures (talker, code predictor, 12 Hz speech
decoder) and random weights, greedy so that every run generates the same number of frames. Runs
in the qwen3 environment.

On the CPU, pipelined against sequential, same process, same config (0.6B sizes):

    .venv-qwen3/bin/python -m bench.qwen3_split [--seconds 6] [--rounds 2] [--threads 1]

`--threads` is torch's intra-op thread count for both modes: with 1, the sequential baseline
uses one core and the pipelined run one core per stage, as the talker on a GPU and the decoder
on CPU cores do on a Strix Halo.

On a GPU, the talker on the GPU and the decoder on the CPU (pipelined) against both on the GPU,
at 1 and 8 concurrent streams: real-time factor per stream, time to first audio, aggregate
multiple of real time and peak device memory:

    python -m bench.qwen3_split --gpu [--sizes 1.7b] [--streams 1 8] [--dtype bfloat16]

Prints one JSON object."""

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runtimes.base import SamplingParams, SynthesisJob

with contextlib.redirect_stdout(sys.stderr):  # qwen-tts prints a banner on import
    from qwen_tts.core.models import Qwen3TTSForConditionalGeneration

    from bench.streams import measure_streams
    from runtimes.qwen3_split import Qwen3SplitRuntime
    from tests.qwen3_models import Sizes, build_tiny_qwen3

FULL_TALKER_0_6B = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "text_hidden_size": 2048,
    "rope_scaling": {"mrope_section": [24, 20, 20], "interleaved": True, "type": "default"},
}
FULL_PREDICTOR = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 5,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
}
TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away."


FULL_0_6B = Sizes(
    codebook=2048,
    code_groups=16,
    text_vocab=151936,
    talker=FULL_TALKER_0_6B,
    predictor=FULL_PREDICTOR,
    decoder={"codebook_dim": 512},  # the rest: qwen-tts's defaults, the published decoder's
    encoder={},  # Mimi's defaults: the published encoder's sizes
)
FULL_1_7B = Sizes(
    codebook=2048,
    code_groups=16,
    text_vocab=151936,
    talker={**FULL_TALKER_0_6B, "hidden_size": 2048, "intermediate_size": 8192},
    predictor=FULL_PREDICTOR,  # stays at 1024; qwen-tts adds the projection between them
    decoder={"codebook_dim": 512},
    encoder={},
)
SIZES = {"0.6b": FULL_0_6B, "1.7b": FULL_1_7B}


def greedy_job(seconds: float) -> SynthesisJob:
    return SynthesisJob(
        (TEXT,), "english", None, sampling=SamplingParams(temperature=0, max_audio_seconds=seconds)
    )


def run_gpu(
    model_dir: Path, placements: list[str], streams: list[int], dtype: str, seconds: float
) -> list[dict[str, Any]]:
    results = []
    for placement in placements:
        lm_device, decoder_device = placement.split("/")
        runtime = Qwen3SplitRuntime(
            {
                "model_dir": str(model_dir),
                "lm_device": lm_device,
                "decoder_device": decoder_device,
                "dtype": dtype,
                "max_batch": max(streams),
            }
        )
        runtime.load()
        measure_streams(runtime, lambda _: greedy_job(seconds), 1, 24000)  # warm-up
        for count in streams:
            before = runtime.stage_totals()
            measured = measure_streams(runtime, lambda _: greedy_job(seconds), count, 24000)
            after = runtime.stage_totals()
            busy = {k: after.busy_seconds[k] - before.busy_seconds[k] for k in after.busy_seconds}
            result = {
                "lm_device": lm_device,
                "decoder_device": decoder_device,
                "dtype": dtype,
                **measured,
                "stage_busy_seconds": busy,
                "overlap_seconds": after.overlap_seconds - before.overlap_seconds,
            }
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
        runtime.close()
    return results


def run_mode(model_dir: Path, pipeline: str, seconds: float, threads: int) -> dict[str, Any]:
    runtime = Qwen3SplitRuntime(
        {
            "model_dir": str(model_dir),
            "lm_device": "cpu",
            "pipeline": pipeline,
            "decoder_threads": threads,
        }
    )
    runtime.load()
    job = greedy_job(seconds)
    before = runtime.stage_totals()
    started = time.perf_counter()
    first: float | None = None
    samples = 0
    for chunk in runtime.synthesize(job):
        first = first if first is not None else time.perf_counter() - started
        samples += len(chunk)
    wall = time.perf_counter() - started
    after = runtime.stage_totals()
    runtime.close()
    audio = samples / 24000
    busy = {k: after.busy_seconds[k] - before.busy_seconds[k] for k in after.busy_seconds}
    return {
        "pipeline": pipeline,
        "wall_seconds": wall,
        "audio_seconds": audio,
        "frames_per_second": audio * 12.5 / wall,
        "real_time_factor": wall / audio,
        "first_audio_seconds": first,
        "stage_busy_seconds": busy,
        "overlap_seconds": after.overlap_seconds - before.overlap_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", choices=sorted(SIZES), default="0.6b")
    parser.add_argument("--gpu", action="store_true", help="GPU placements instead of CPU modes")
    parser.add_argument("--placements", nargs="+", default=["cuda:0/cpu", "cuda:0/cuda:0"])
    parser.add_argument("--streams", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--dtype", default="bfloat16", help="the talker's dtype (--gpu)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model_dir = build_tiny_qwen3(Path(folder) / "qwen3", sizes=SIZES[args.sizes])
        parameters = sum(
            p.numel()
            for p in Qwen3TTSForConditionalGeneration.from_pretrained(model_dir).parameters()
        )
        if args.gpu:
            results = run_gpu(model_dir, args.placements, args.streams, args.dtype, args.seconds)
            print(
                json.dumps(
                    {
                        "model": f"Qwen3-TTS 12Hz {args.sizes} architecture, random weights",
                        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                        "parameters": parameters,
                        "torch": torch.__version__,
                        "results": results,
                    },
                    indent=2,
                )
            )
            return
        runs: list[dict[str, Any]] = []
        for _ in range(args.rounds):  # mirrored: off, on, on, off, ...
            for pipeline in ("off", "on") if len(runs) % 4 == 0 else ("on", "off"):
                runs.append(run_mode(model_dir, pipeline, args.seconds, args.threads))
    summary = {
        mode: {
            key: float(np.median([r[key] for r in runs if r["pipeline"] == mode]))
            for key in ("wall_seconds", "frames_per_second", "real_time_factor")
        }
        for mode in ("off", "on")
    }
    speedup = summary["off"]["wall_seconds"] / summary["on"]["wall_seconds"]
    print(
        json.dumps(
            {
                "model": "Qwen3-TTS 12Hz 0.6B architecture, random weights, CPU",
                "parameters": parameters,
                "torch_threads": args.threads,
                "torch": torch.__version__,
                "runs": runs,
                "median": summary,
                "pipelined_speedup": speedup,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
