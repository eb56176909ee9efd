"""The Dia runtime behind a real server on 127.0.0.1, through the generated client, with a tiny
random Dia + DAC saved in the real layout (its audio is noise-like, so these tests check what
the runtime controls: rate, length, seeds, streaming, cloning, errors)."""

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile
import torch
from grpc_health.v1 import health_pb2

from cantata_client import (
    Client,
    Encoding,
    InvalidArgumentError,
    ResourceExhaustedError,
    UnavailableError,
)
from server.config import Settings
from tests.audio_checks import decode_pcm, decode_soundfile, rms
from tests.conftest import RunningServer, start_server
from tests.dia_models import build_tiny_dia
from tests.integration.test_cancellation import counters, wait_until
from tests.integration.test_service import _health

CHUNK_SECONDS = 1.0
"""Each Dia chunk generates this much audio (the tiny random model rarely ends by itself)."""
DIALOGUE = "[S1] Hello there! (laughs) [S2] Hi 🤣, good to see you."


@pytest.fixture(scope="module")
def dia_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model_dir = build_tiny_dia(tmp_path_factory.mktemp("dia"))
    malformed = build_tiny_dia(tmp_path_factory.mktemp("malformed"))
    (malformed / "config.json").write_text("{not json")
    options = {"model_dir": str(model_dir), "max_chunk_seconds": CHUNK_SECONDS}
    settings = Settings.model_validate(
        {
            "port": 0,
            "metrics": {"port": 0},
            "max_prompt_audio_seconds": 5,
            "models": [
                {
                    "name": "dia",
                    "runtime": "dia",
                    "concurrency": 4,
                    "options": {**options, "max_batch": 4, "batch_wait_ms": 100},
                },
                {
                    "name": "dia-strict",
                    "runtime": "dia",
                    "options": {**options, "unknown_tags": "reject", "max_chunk_chars": 60},
                },
                {"name": "dia-missing", "runtime": "dia", "options": {"model_dir": "/nonexistent"}},
                {
                    "name": "dia-malformed",
                    "runtime": "dia",
                    "options": {"model_dir": str(malformed)},
                },
                {"name": "piper", "runtime": "piper", "options": {"deterministic": True}},
            ],
        }
    )
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def dia_client(dia_server: RunningServer) -> Iterator[Client]:
    with Client(dia_server.target, timeout=120) as client:
        yield client


def pcm(client: Client, text: str = DIALOGUE, **options: Any) -> bytes:
    return client.synthesize(text, model="dia", encoding=Encoding.PCM, **options).audio


def test_lists_its_voice_with_dialogue_cloning_and_nonverbals(dia_client: Client) -> None:
    (voice,) = dia_client.voices("dia")
    assert voice.native_sample_rate_hz == 44100
    assert list(voice.speakers) == ["S1", "S2"]
    capabilities = voice.capabilities
    assert capabilities.streaming
    assert capabilities.voice_cloning
    assert capabilities.dialogue
    assert "(laughs)" in capabilities.nonverbal_tags
    assert len(capabilities.nonverbal_tags) == 21
    assert {"temperature", "top_p", "top_k", "cfg_scale", "seed"} <= set(
        capabilities.sampling_params
    )


def test_unary_dialogue_with_nonverbals_and_emoji_at_44_1_khz(dia_client: Client) -> None:
    result = dia_client.synthesize(DIALOGUE, model="dia", seed=1)
    samples, rate, channels = decode_soundfile(result.audio)
    assert (rate, channels) == (44100, 1)
    assert samples.size / rate == pytest.approx(CHUNK_SECONDS, abs=0.02)
    assert rms(samples) > 0.01
    assert result.stats.runtime == "dia"


def test_stream_resampled_as_asked(dia_client: Client) -> None:
    stream = dia_client.stream(
        DIALOGUE, model="dia", encoding=Encoding.PCM, sample_rate_hz=24000, seed=1
    )
    chunks = list(stream)
    assert len(chunks) >= 3  # audio left while tokens were still being generated
    assert stream.info is not None
    assert stream.info.sample_rate_hz == 24000
    audio = decode_pcm(b"".join(chunks))
    assert audio.size / 24000 == pytest.approx(CHUNK_SECONDS, abs=0.02)


def test_joined_stream_equals_unary(dia_client: Client) -> None:
    streamed = b"".join(dia_client.stream(DIALOGUE, model="dia", encoding=Encoding.PCM, seed=4))
    unary = pcm(dia_client, seed=4)
    assert len(streamed) == len(unary)
    assert np.max(np.abs(decode_pcm(streamed) - decode_pcm(unary))) <= 1 / 32768


def test_same_seed_same_audio_and_different_seeds_differ(dia_client: Client) -> None:
    assert pcm(dia_client, seed=7) == pcm(dia_client, seed=7)
    assert pcm(dia_client, seed=7) != pcm(dia_client, seed=8)


def test_seeds_hold_across_four_concurrent_requests(
    dia_client: Client, dia_server: RunningServer
) -> None:
    alone = {seed: pcm(dia_client, seed=seed) for seed in (7, 8)}
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def speak(seed: int) -> None:
        try:
            results[seed] = pcm(dia_client, seed=seed)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=speak, args=(seed,)) for seed in (7, 8, 9, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results[7] == alone[7]
    assert results[8] == alone[8]
    assert len(set(results.values())) == 4


def _speech(dia_client: Client, seconds: float) -> bytes:
    """Real speech to clone: the Piper voice on the same server, as a 22.05 kHz WAV."""
    words = " ".join(["This is a prompt for cloning a voice."] * max(1, round(seconds / 2.5)))
    return dia_client.synthesize(words, model="piper", max_audio_seconds=seconds).audio


def test_cloning_uses_the_prompt_without_returning_it(dia_client: Client) -> None:
    prompt = _speech(dia_client, 2.0)
    cloned = pcm(
        dia_client, prompt_audio=prompt, prompt_text="This is a prompt for cloning.", seed=3
    )
    assert len(cloned) / 2 / 44100 == pytest.approx(CHUNK_SECONDS, abs=0.02)
    assert cloned != pcm(dia_client, seed=3)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [(b"RIFF\x00\x00 this is not audio", "prompt_audio is not audio"), (None, "seconds long")],
)
def test_bad_prompts_are_invalid(dia_client: Client, prompt: bytes | None, message: str) -> None:
    if prompt is None:  # longer than the server's 5 s limit
        tone = np.zeros(6 * 16000, np.float32)
        buffer = io.BytesIO()
        soundfile.write(buffer, tone, 16000, format="WAV")
        prompt = buffer.getvalue()
    with pytest.raises(InvalidArgumentError, match=message):
        pcm(dia_client, prompt_audio=prompt, prompt_text="words")
    assert pcm(dia_client, seed=1)


@pytest.mark.parametrize(
    ("model", "text", "message"),
    [
        ("dia", "[S3] Who am I?", r"\[S1\] and \[S2\]"),
        ("dia", "[S1 Unclosed.", "unmatched"),
        ("dia-strict", "[S1] Hi (yodels).", r"\(yodels\), which this model does not know"),
        ("dia-strict", "[S1] Hi 🌬️.", r"\(breaths\)"),
    ],
)
def test_malformed_or_unknown_tags_are_invalid(
    dia_client: Client, model: str, text: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        dia_client.synthesize(text, model=model)
    assert dia_client.synthesize("[S1] Fine (laughs).", model=model).stats.audio_seconds > 0


def test_long_text_is_spoken_in_chunks(dia_client: Client) -> None:
    text = "[S1] One two three four five. [S2] Six seven eight nine ten. [S1] Eleven twelve."
    result = dia_client.synthesize(text, model="dia-strict", encoding=Encoding.PCM, seed=2)
    assert result.stats.audio_seconds == pytest.approx(2 * CHUNK_SECONDS, abs=0.05)


def test_cancelled_stream_stops_generation(dia_client: Client, dia_server: RunningServer) -> None:
    dia = counters(dia_server, "dia")
    wait_until(lambda: dia.running == 0)
    before = (dia.cancelled, dia.chunks_after_cancel)
    long_text = " ".join(f"[S1] Sentence number {n} of a long dialogue." for n in range(40))
    stream = dia_client.stream(long_text, model="dia", encoding=Encoding.PCM, seed=1)
    assert next(iter(stream))
    stream.cancel()
    wait_until(lambda: dia.cancelled == before[0] + 1 and dia.running == 0)
    assert dia.chunks_after_cancel - before[1] <= 1
    assert pcm(dia_client, seed=1)


def test_bad_model_directories_are_not_ready_and_the_rest_serve(
    dia_server: RunningServer, dia_client: Client
) -> None:
    with grpc.insecure_channel(dia_server.target) as channel:
        for name in ("dia-missing", "dia-malformed"):
            assert _health(channel, f"models/{name}") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _health(channel, "models/dia") == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(UnavailableError, match="not a folder"):
        dia_client.synthesize("Hello.", model="dia-missing")
    with pytest.raises(UnavailableError, match="cannot load Dia"):
        dia_client.synthesize("Hello.", model="dia-malformed")
    assert dia_client.synthesize("Hello.", model="piper").stats.audio_seconds > 0
    assert pcm(dia_client, "Hello.")


def test_out_of_memory_is_resource_exhausted_and_the_model_keeps_serving(
    dia_server: RunningServer, dia_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = dia_server.server.engine.models["dia"]._runtime._model  # type: ignore[union-attr]
    forward = model.forward
    calls = {"n": 0}

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", failing_once)
    with pytest.raises(ResourceExhaustedError, match="ran out of memory"):
        pcm(dia_client, seed=1)
    assert pcm(dia_client, seed=1)


def test_the_model_directory_layout_is_the_published_one(tmp_path: Path) -> None:
    folder = build_tiny_dia(tmp_path)
    assert {"config.json", "generation_config.json", "model.safetensors"} <= {
        path.name for path in folder.iterdir()
    }
    assert (folder / "dac" / "config.json").is_file()
