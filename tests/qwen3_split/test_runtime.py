"""The runtime as the engine calls it: loading, pipelining, time to first audio, cancellation."""

import json
import shutil
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from runtimes.base import Pcm, SamplingParams, SynthesisJob
from runtimes.errors import ModelLoadError
from runtimes.qwen3_split import Qwen3SplitRuntime
from runtimes.qwen3_split.stages import Interval

SAMPLES_PER_FRAME = 1920


def loaded(model_dir: Path, **options: Any) -> Qwen3SplitRuntime:
    runtime = Qwen3SplitRuntime({"model_dir": str(model_dir), "lm_device": "cpu", **options})
    runtime.load()
    return runtime


def job(text: str = "Hello there.", seconds: float = 2.0, **changes: Any) -> SynthesisJob:
    """Greedy: the tiny model then never ends by itself, so the length is `seconds`."""
    sampling = SamplingParams(temperature=0, max_audio_seconds=seconds)
    return SynthesisJob((text,), "english", "ryan", sampling=sampling, **changes)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda folder: shutil.rmtree(folder / "speech_tokenizer"), "no speech_tokenizer/config"),
        (lambda folder: (folder / "config.json").write_text("{oops"), "not readable JSON"),
        (lambda folder: (folder / "generation_config.json").unlink(), "no generation_config"),
        (lambda folder: (folder / "model.safetensors").unlink(), "cannot load Qwen3-TTS"),
    ],
    ids=["no-speech-tokenizer", "bad-json", "no-generation-config", "no-weights"],
)
def test_broken_checkpoints_fail_the_load_with_a_reason(
    custom_voice_dir: Path, tmp_path: Path, breakage: Any, message: str
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(custom_voice_dir, folder)
    breakage(folder)
    with pytest.raises(ModelLoadError, match=message):
        loaded(folder)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lm_device": "cuda:3"}, "torch sees 0 GPUs"),
        ({"dtype": "int4"}, "invalid qwen3-split options"),
        ({"decoder_threads": 0}, "invalid qwen3-split options"),
        ({"unknown": 1}, "invalid qwen3-split options"),
    ],
)
def test_bad_options_fail_the_load(
    custom_voice_dir: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelLoadError, match=message):
        loaded(custom_voice_dir, **options)


def test_a_missing_folder_fails_the_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a folder"):
        loaded(tmp_path / "nonexistent")


def test_a_25_hz_checkpoint_is_refused(custom_voice_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(custom_voice_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["tokenizer_type"] = "qwen3_tts_tokenizer_25hz"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="12 Hz"):
        loaded(folder)


def overlaps(a: Interval, b: Interval) -> bool:
    return a.start < b.end and b.start < a.end


def test_pipelined_decoding_overlaps_generation_and_sequential_does_not(
    custom_voice_dir: Path,
) -> None:
    for pipeline, expect_overlap in (("on", True), ("off", False)):
        runtime = loaded(custom_voice_dir, pipeline=pipeline, chunk_frames=4)
        runtime.stages.recent.clear()
        audio = np.concatenate(list(runtime.synthesize(job(seconds=3))))
        intervals = list(runtime.stages.recent)
        runtime.close()
        decodes = [i for i in intervals if i.stage == "decoder"]
        steps = [i for i in intervals if i.stage == "lm"]
        assert len(audio) == 38 * SAMPLES_PER_FRAME
        assert len(decodes) >= 8
        overlapping = sum(any(overlaps(d, s) for s in steps) for d in decodes)
        assert (overlapping > len(decodes) // 2) is expect_overlap, (pipeline, overlapping)
        if not expect_overlap:
            assert overlapping == 0


def test_the_first_chunk_is_small_whatever_the_text(custom_voice_dir: Path) -> None:
    runtime = loaded(custom_voice_dir, first_chunk_frames=2, chunk_frames=6)
    for words in (3, 300):
        text = " ".join(["word"] * words)
        first = next(iter(runtime.synthesize(job(text, seconds=60))))
        assert len(first) == 2 * SAMPLES_PER_FRAME
    runtime.close()


def test_closing_the_stream_frees_the_batch(custom_voice_dir: Path) -> None:
    runtime = loaded(custom_voice_dir)
    stream = cast(Generator[Pcm, None, None], runtime.synthesize(job(seconds=60)))
    next(stream)
    stream.close()
    talker = runtime._talker
    assert talker is not None
    for _ in range(200):
        if talker.batch_size == 0:
            break
        time.sleep(0.01)
    assert talker.batch_size == 0
    assert len(np.concatenate(list(runtime.synthesize(job())))) > 0
    runtime.close()


def test_stage_totals_count_both_stages(custom_voice_dir: Path) -> None:
    runtime = loaded(custom_voice_dir, pipeline="on")
    list(runtime.synthesize(job(seconds=2)))
    totals = runtime.stage_totals()
    runtime.close()
    assert totals.busy_seconds["lm"] > 0
    assert totals.busy_seconds["decoder"] > 0
    assert 0 < totals.overlap_seconds <= min(totals.busy_seconds.values())
