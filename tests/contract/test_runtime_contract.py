"""The suite every runtime passes, called the way the engine calls it. A new runtime adds one
RuntimeCase to CASES (with tiny weights built by the test where the real ones can't be
downloaded) and gets the whole suite."""

import importlib.util
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtimes.base import MarkKind, Pcm, Runtime, SamplingParams, SynthesisJob, TimedRuntime
from runtimes.registry import available_runtimes, find_runtime


@dataclass(frozen=True)
class RuntimeCase:
    name: str
    options: Callable[[Path], dict[str, Any]] = field(default=lambda _: {})
    text: tuple[str, ...] = ("Hello from the contract suite.", "A second sentence follows.")


def _tiny_dia(folder: Path) -> dict[str, Any]:
    from tests.dia_models import build_tiny_dia

    return {"model_dir": str(build_tiny_dia(folder)), "max_chunk_seconds": 1.0}


def _tiny_qwen3(folder: Path) -> dict[str, Any]:
    from tests.qwen3_models import build_tiny_qwen3

    return {"model_dir": str(build_tiny_qwen3(folder)), "lm_device": "cpu"}


def _tiny_f5(folder: Path) -> dict[str, Any]:
    import soundfile

    from tests.f5_models import build_tiny_f5
    from tests.tensorrt_models import build_tiny_vocos

    noise = np.random.default_rng(0).standard_normal(36000).astype(np.float32) * 0.05
    soundfile.write(folder / "reference.wav", noise, 24000)
    return {
        "model_dir": str(build_tiny_f5(folder / "f5")),
        "vocoder_dir": str(build_tiny_vocos(folder / "vocos")),
        "engine_dir": str(folder / "engines"),
        "steps": 4,
        "voices": [
            {"name": "reference", "audio": str(folder / "reference.wav"), "text": "Some words."}
        ],
    }


CASES = [
    RuntimeCase("piper", lambda _: {"deterministic": True}),
    RuntimeCase("tensorrt", _tiny_f5),
    RuntimeCase(
        "dia", _tiny_dia, text=("[S1] Hello from the contract suite.", "(laughs) A second.")
    ),
]
if importlib.util.find_spec("qwen_tts") is not None:
    # Only the qwen3 environment has qwen-tts; the Makefile runs this case there.
    CASES = [RuntimeCase("qwen3-split", _tiny_qwen3)]


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RuntimeCase, Runtime]]:
    case: RuntimeCase = request.param
    runtime = find_runtime(case.name)(case.options(tmp_path_factory.mktemp(case.name)))
    runtime.load()
    yield case, runtime
    runtime.close()


def _audio(chunks: Iterator[Pcm]) -> Pcm:
    parts = list(chunks)
    for chunk in parts:
        assert isinstance(chunk, np.ndarray)
        assert chunk.dtype == np.float32
        assert chunk.ndim == 1
        assert np.all(np.isfinite(chunk))
        assert np.max(np.abs(chunk), initial=0) <= 1.0
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _job(case: RuntimeCase, runtime: Runtime, **changes: Any) -> SynthesisJob:
    return SynthesisJob(segments=case.text, voice=runtime.voices()[0].id, **changes)


def test_is_registered_by_name(loaded: tuple[RuntimeCase, Runtime]) -> None:
    assert loaded[0].name in available_runtimes()


def test_voices_are_described(loaded: tuple[RuntimeCase, Runtime]) -> None:
    _, runtime = loaded
    voices = runtime.voices()
    assert voices
    assert len({v.id for v in voices}) == len(voices)
    for voice in voices:
        assert 8000 <= voice.sample_rate_hz <= 48000
        assert voice.language
        assert voice.id
        assert len(set(voice.speakers)) == len(voice.speakers)
    assert runtime.device


def test_speaks_every_voice(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    for voice in runtime.voices():
        audio = _audio(runtime.synthesize(SynthesisJob(segments=case.text, voice=voice.id)))
        assert audio.size > 0.3 * voice.sample_rate_hz
        assert float(np.sqrt(np.mean(audio**2))) > 0.01, f"{voice.id} is silent"


def test_streams_at_least_one_chunk_per_segment(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    if not runtime.voices()[0].capabilities.streaming:
        pytest.skip("this runtime declares that it does not stream")
    chunks = list(runtime.synthesize(_job(case, runtime)))
    assert len(chunks) >= len(case.text)


def test_stops_when_the_consumer_closes_early(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    chunks = runtime.synthesize(_job(case, runtime))
    assert next(chunks).size > 0
    chunks.close()  # type: ignore[attr-defined]
    assert _audio(runtime.synthesize(_job(case, runtime))).size > 0


def test_honours_speed_when_it_says_so(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    if not runtime.voices()[0].capabilities.speed:
        pytest.skip("this runtime declares that it does not support speed")
    normal = _audio(runtime.synthesize(_job(case, runtime)))
    fast = _audio(runtime.synthesize(_job(case, runtime, speed=2.0)))
    assert fast.size < 0.75 * normal.size


def test_follows_instructions_when_it_says_so(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    if not runtime.voices()[0].capabilities.instructions:
        pytest.skip("this runtime declares that it does not follow instructions")
    job = _job(case, runtime, instructions="Speak slowly, warm and amused.")
    assert _audio(runtime.synthesize(job)).size > 0


def test_gives_timing_marks_when_it_says_so(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    if not runtime.voices()[0].capabilities.timing:
        pytest.skip("this runtime declares that it gives no timing marks")
    assert isinstance(runtime, TimedRuntime)
    job = _job(case, runtime)
    chunks = list(runtime.synthesize_timed(job))
    audio = _audio(iter([chunk.audio for chunk in chunks]))
    assert audio.size == _audio(runtime.synthesize(job)).size, "the same audio, with marks"
    spoken_segments = set()
    for chunk in chunks:
        for mark in chunk.marks:
            assert 0 <= mark.start <= mark.end <= chunk.audio.size, "inside its chunk"
            segment = job.segments[mark.segment]
            assert 0 <= mark.text_offset <= mark.text_offset + mark.text_length <= len(segment)
            if mark.kind is MarkKind.WORD:
                assert segment[mark.text_offset :][: mark.text_length] == mark.value
                spoken_segments.add(mark.segment)
        phonemes = [m for m in chunk.marks if m.kind is MarkKind.PHONEME]
        assert [m.start for m in phonemes] == sorted(m.start for m in phonemes)
    assert spoken_segments == set(range(len(job.segments)))


def test_runs_on_several_threads_at_once(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    sizes: list[int] = []
    errors: list[BaseException] = []

    def speak() -> None:
        try:
            sizes.append(_audio(runtime.synthesize(_job(case, runtime))).size)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=speak) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(sizes) == 3
    assert all(sizes)


def test_sampling_params_it_advertises_are_accepted(loaded: tuple[RuntimeCase, Runtime]) -> None:
    case, runtime = loaded
    values: dict[str, Any] = {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 20,
        "cfg_scale": 2.0,
        "seed": 3,
        "steps": 8,
    }
    advertised = runtime.voices()[0].capabilities.sampling_params
    for name in sorted(advertised & values.keys()):
        job = _job(case, runtime, sampling=SamplingParams(**{name: values[name]}))
        assert _audio(runtime.synthesize(job)).size > 0
