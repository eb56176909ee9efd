"""The tensorrt runtime (F5-TTS + Vocos) behind a real server on 127.0.0.1, through the
generated client, with tiny random F5 and Vocos checkpoints saved in the published layouts, on
the onnxruntime and torch backends (no TensorRT on these machines: the fallback is checked)."""

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from cantata_client import Client, Encoding, InvalidArgumentError, UnavailableError
from runtimes.tensorrt.runtime import F5Runtime
from server.config import Settings
from tests.audio_checks import decode_pcm, rms
from tests.conftest import RunningServer, start_server
from tests.f5_models import build_tiny_f5
from tests.integration.test_cancellation import counters, wait_until
from tests.tensorrt_models import build_tiny_vocos

REFERENCE_TEXT = "Some reference words."
SENTENCE = "Hello there."


def reference_wav(folder: Path, seconds: float = 1.5, rate: int = 16000) -> Path:
    noise = np.random.default_rng(1).standard_normal(int(seconds * rate)).astype(np.float32)
    path = folder / "reference.wav"
    soundfile.write(path, noise * 0.05, rate)
    return path


@pytest.fixture(scope="module")
def f5_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("f5")
    options = {
        "model_dir": str(build_tiny_f5(folder / "f5")),
        "vocoder_dir": str(build_tiny_vocos(folder / "vocos")),
        "engine_dir": str(folder / "engines"),
        "steps": 4,
        "voices": [
            {"name": "narrator", "audio": str(reference_wav(folder)), "text": REFERENCE_TEXT}
        ],
        "batch_wait_ms": 50,
    }

    def model(name: str, **changes: Any) -> dict[str, Any]:
        return {
            "name": name,
            "runtime": "tensorrt",
            "concurrency": 4,
            "options": {**options, **changes},
        }

    settings = Settings.model_validate(
        {
            "port": 0,
            "metrics": {"port": 0},
            "max_prompt_audio_seconds": 15,
            "models": [
                model("f5", backend="onnxruntime", vocoder_chunk_frames=40),
                model("f5-torch", backend="torch"),
                model("f5-auto"),
                model("f5-missing", model_dir=str(folder / "nowhere")),
            ],
        }
    )
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def f5_client(f5_server: RunningServer) -> Iterator[Client]:
    with Client(f5_server.target, timeout=120) as client:
        yield client


def pcm(client: Client, text: str = SENTENCE, model: str = "f5", **options: Any) -> bytes:
    options = {"seed": 3, **options}
    return client.synthesize(text, model=model, encoding=Encoding.PCM, **options).audio


def test_lists_its_voices_with_cloning_steps_and_speed(f5_client: Client) -> None:
    (voice,) = f5_client.voices("f5")
    assert voice.voice_id == "narrator"
    assert voice.native_sample_rate_hz == 24000
    assert voice.capabilities.voice_cloning
    assert voice.capabilities.speed
    assert set(voice.capabilities.sampling_params) >= {"steps", "cfg_scale", "seed"}


def runtime_of(server: RunningServer, model: str) -> F5Runtime:
    runtime = server.server.engine.models[model]._runtime
    assert isinstance(runtime, F5Runtime)
    return runtime


def test_backends_fall_back_and_say_why(f5_server: RunningServer) -> None:
    auto = runtime_of(f5_server, "f5-auto")
    for choice in auto.backends.values():
        assert choice.backend == "onnxruntime"
        assert any(reason.startswith("tensorrt:") for reason in choice.passed_over)
    assert "dit on onnxruntime" in auto.device
    assert {c.backend for c in runtime_of(f5_server, "f5-torch").backends.values()} == {"torch"}


def test_onnxruntime_and_torch_backends_give_the_same_audio(f5_client: Client) -> None:
    onnx = np.frombuffer(pcm(f5_client), dtype=np.int16).astype(np.float32)
    torch_audio = np.frombuffer(pcm(f5_client, model="f5-torch"), dtype=np.int16).astype(np.float32)
    assert onnx.shape == torch_audio.shape
    assert np.abs(onnx - torch_audio).max() <= 2  # int16 steps
    assert rms(decode_pcm(pcm(f5_client))) > 0.005


def test_stream_equals_unary_and_seeds_hold(f5_client: Client) -> None:
    unary = pcm(f5_client, "Hello there. A second sentence, somewhat longer than the first.")
    stream = f5_client.stream(
        "Hello there. A second sentence, somewhat longer than the first.",
        model="f5",
        encoding=Encoding.PCM,
        seed=3,
    )
    assert b"".join(stream) == unary
    assert pcm(f5_client, seed=4) != pcm(f5_client, seed=5)


def test_seeds_hold_across_concurrent_batched_requests(f5_client: Client) -> None:
    texts = ["Hello there.", "A longer sentence for the batch.", "Short.", "Four of them."]
    alone = {text: pcm(f5_client, text) for text in texts}
    together: dict[str, bytes] = {}

    def worker(text: str) -> None:
        together[text] = pcm(f5_client, text)

    threads = [threading.Thread(target=worker, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for text in texts:
        a, b = (np.frombuffer(x[text], dtype=np.int16).astype(np.int32) for x in (alone, together))
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 2


def test_speed_changes_the_duration(f5_client: Client) -> None:
    normal = f5_client.synthesize(SENTENCE, model="f5", seed=1).stats.audio_seconds
    fast = f5_client.synthesize(SENTENCE, model="f5", seed=1, speed=2.0).stats.audio_seconds
    assert fast < normal * 0.7


def test_clones_a_voice_from_the_request(f5_client: Client) -> None:
    noise = np.random.default_rng(7).standard_normal(32000).astype(np.float32) * 0.05
    prompt = io.BytesIO()
    soundfile.write(prompt, noise, 16000, format="WAV")
    cloned = pcm(f5_client, prompt_audio=prompt.getvalue(), prompt_text="Other words here.")
    assert cloned != pcm(f5_client)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt_audio": b"not audio"}, "prompt_audio"),
        ({"steps": 0}, "steps"),
        ({"instructions": "whisper"}, "instructions"),
    ],
)
def test_bad_requests_are_invalid_and_the_server_keeps_serving(
    f5_client: Client, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        f5_client.synthesize(SENTENCE, model="f5", **options)
    assert pcm(f5_client)


def test_a_cloned_voice_needs_its_transcript(f5_client: Client) -> None:
    prompt = io.BytesIO()
    soundfile.write(prompt, np.full(24000, 0.1, dtype=np.float32), 24000, format="WAV")
    with pytest.raises(InvalidArgumentError, match="transcript"):
        f5_client.synthesize(SENTENCE, model="f5", prompt_audio=prompt.getvalue())


def test_cancellation_stops_within_one_sentence(
    f5_client: Client, f5_server: RunningServer
) -> None:
    f5 = counters(f5_server, "f5")
    wait_until(lambda: f5.running == 0)
    before = (f5.cancelled, f5.chunks_after_cancel)
    stream = f5_client.stream("One sentence. " * 30, model="f5", encoding=Encoding.PCM, seed=1)
    assert next(iter(stream))
    stream.cancel()
    wait_until(lambda: f5.cancelled == before[0] + 1 and f5.running == 0)
    assert f5.chunks_after_cancel - before[1] <= 1
    assert pcm(f5_client)


def test_a_missing_checkpoint_is_not_ready_and_the_rest_serve(f5_client: Client) -> None:
    with pytest.raises(UnavailableError, match="not a folder"):
        f5_client.synthesize(SENTENCE, model="f5-missing")
    assert pcm(f5_client)
