"""The qwen3-split runtime behind a real server on 127.0.0.1, called through the generated
client: in this process (to read the engine's counters) and as a `cantata serve` process
started from the qwen3 environment, as a deployment runs it."""

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile
import yaml
from grpc_health.v1 import health_pb2

from cantata_client import (
    Client,
    Encoding,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from server.config import Settings
from tests.audio_checks import decode_pcm, rms
from tests.conftest import RunningServer, start_server
from tests.integration.test_cancellation import counters, wait_until
from tests.integration.test_service import _health

GREEDY: dict[str, Any] = {"temperature": 0.0, "max_audio_seconds": 1.6}


@pytest.fixture(scope="module")
def qwen3_server(custom_voice_dir: Path, base_dir: Path) -> Iterator[RunningServer]:
    def model(name: str, folder: Path | str, **options: Any) -> dict[str, Any]:
        return {
            "name": name,
            "runtime": "qwen3-split",
            "concurrency": 4,
            "options": {"model_dir": str(folder), "lm_device": "cpu", **options},
        }

    settings = Settings.model_validate(
        {
            "port": 0,
            "metrics": {"port": 0},
            "models": [
                model("qwen3", custom_voice_dir, max_batch=4),
                model("qwen3-base", base_dir),
                model("qwen3-missing", "/nonexistent"),
            ],
        }
    )
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def qwen3_client(qwen3_server: RunningServer) -> Iterator[Client]:
    with Client(qwen3_server.target, timeout=120) as client:
        yield client


def pcm(client: Client, text: str = "Hello there.", **options: Any) -> bytes:
    return client.synthesize(text, model="qwen3", encoding=Encoding.PCM, **options).audio


def test_lists_languages_speakers_and_what_each_variant_can_do(qwen3_client: Client) -> None:
    voices = qwen3_client.voices("qwen3")
    languages = {voice.voice_id: voice.language for voice in voices}
    assert languages == {"auto": "mul", "english": "en", "chinese": "zh"}
    assert voices[0].voice_id == "auto"
    assert sorted(voices[0].speakers) == ["dylan", "ryan", "vivian"]
    assert voices[0].is_default
    assert voices[0].capabilities.instructions
    assert not voices[0].capabilities.voice_cloning
    assert voices[0].native_sample_rate_hz == 24000
    base = qwen3_client.voices("qwen3-base")[0]
    assert base.capabilities.voice_cloning
    assert not base.capabilities.instructions
    assert not base.speakers


def test_stream_equals_unary_and_seeds_hold(qwen3_client: Client) -> None:
    options: dict[str, Any] = {"seed": 11, "max_audio_seconds": 2.0, "speaker": "vivian"}
    unary = pcm(qwen3_client, **options)
    stream = qwen3_client.stream("Hello there.", model="qwen3", encoding=Encoding.PCM, **options)
    assert b"".join(stream) == unary
    assert pcm(qwen3_client, **{**options, "seed": 12}) != unary
    assert rms(decode_pcm(unary)) > 0.01


def test_instructions_and_languages_are_followed_where_the_model_can(qwen3_client: Client) -> None:
    plain = pcm(qwen3_client, voice="english", **GREEDY)
    instructed = pcm(qwen3_client, voice="english", instructions="Speak slowly.", **GREEDY)
    assert instructed != plain
    assert pcm(qwen3_client, voice="chinese", **GREEDY) != plain


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        ("qwen3-base", {"instructions": "Whisper."}, "instructions"),
        ("qwen3-base", {}, "prompt_audio"),
        ("qwen3-base", {"prompt_audio": b"not audio at all"}, "prompt_audio"),
        ("qwen3", {"prompt_audio": b"RIFF"}, "prompt_audio"),
    ],
)
def test_bad_requests_are_invalid_and_the_server_keeps_serving(
    qwen3_client: Client, model: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        qwen3_client.synthesize("Hello.", model=model, **options)
    assert pcm(qwen3_client, **GREEDY)


def test_an_unknown_speaker_is_not_found(qwen3_client: Client) -> None:
    with pytest.raises(NotFoundError, match="speaker 'nobody'"):
        qwen3_client.synthesize("Hello.", model="qwen3", speaker="nobody")
    assert pcm(qwen3_client, **GREEDY)


def test_clones_a_voice_from_a_prompt(qwen3_client: Client) -> None:
    noise = np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1
    prompt = io.BytesIO()
    soundfile.write(prompt, noise, 16000, format="WAV")
    options = {"prompt_audio": prompt.getvalue(), **GREEDY}
    in_context = qwen3_client.synthesize(
        "Hello.", model="qwen3-base", prompt_text="Some words.", **options
    )
    timbre_only = qwen3_client.synthesize("Hello.", model="qwen3-base", **options)
    assert in_context.stats.audio_seconds == pytest.approx(GREEDY["max_audio_seconds"], abs=0.1)
    assert in_context.audio != timbre_only.audio


def test_cancellation_stops_within_one_chunk(
    qwen3_client: Client, qwen3_server: RunningServer
) -> None:
    qwen3 = counters(qwen3_server, "qwen3")
    wait_until(lambda: qwen3.running == 0)
    before = (qwen3.cancelled, qwen3.chunks_after_cancel)
    stream = qwen3_client.stream(
        "A long text. " * 40, model="qwen3", encoding=Encoding.PCM, temperature=0.0
    )
    assert next(iter(stream))
    stream.cancel()
    wait_until(lambda: qwen3.cancelled == before[0] + 1 and qwen3.running == 0)
    assert qwen3.chunks_after_cancel - before[1] <= 1
    talker = qwen3_server.server.engine.models["qwen3"]._runtime._talker  # type: ignore[union-attr]
    wait_until(lambda: talker.batch_size == 0)
    assert pcm(qwen3_client, **GREEDY)


def test_a_missing_checkpoint_is_not_ready_and_the_rest_serve(qwen3_client: Client) -> None:
    with pytest.raises(UnavailableError, match="not a folder"):
        qwen3_client.synthesize("Hello.", model="qwen3-missing")
    assert pcm(qwen3_client, **GREEDY)


def _serving(channel: grpc.Channel) -> bool:
    try:
        return bool(_health(channel, "") == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def test_serve_process_from_the_qwen3_environment(custom_voice_dir: Path, tmp_path: Path) -> None:
    config = {
        "port": 50961,
        "metrics": {"enabled": False},
        "models": [
            {
                "name": "qwen3",
                "runtime": "qwen3-split",
                "options": {"model_dir": str(custom_voice_dir), "lm_device": "cpu"},
            }
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cantata = Path(sys.executable).parent / "cantata"
    process = subprocess.Popen(
        [str(cantata), "serve", "--config", str(tmp_path / "config.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with grpc.insecure_channel("127.0.0.1:50961") as channel:
            wait_until(lambda: _serving(channel), timeout=120)
        with Client("127.0.0.1:50961", timeout=120) as client:
            wav = client.synthesize("Hello there.", encoding=Encoding.WAV, **GREEDY).audio
        samples, rate = soundfile.read(io.BytesIO(wav))
        assert rate == 24000
        assert len(samples) == 20 * 1920
    finally:
        process.terminate()
        process.wait(timeout=60)
