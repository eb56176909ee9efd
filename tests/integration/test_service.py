"""ListVoices, health and reflection as a client and an operator's tools see them."""

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cantata_client import AsyncClient, Client, Encoding, NotFoundError
from tests.conftest import RunningServer


def test_voices_lists_every_ready_model(client: Client) -> None:
    voices = {(v.model, v.voice_id): v for v in client.voices()}
    joe = voices["piper", "en_US-joe-medium"]
    assert joe.is_default
    assert joe.language == "en-US"
    assert joe.native_sample_rate_hz == 22050
    assert joe.runtime == "piper"
    assert not joe.speakers
    assert joe.capabilities.streaming
    assert joe.capabilities.speed
    assert not joe.capabilities.voice_cloning
    assert not joe.capabilities.instructions
    assert list(joe.capabilities.sampling_params) == ["max_audio_seconds", "temperature"]
    assert voices["faulty", "tone"].capabilities.instructions
    assert not any(model == "broken" for model, _ in voices)


def test_voices_of_one_model(client: Client) -> None:
    assert {v.model for v in client.voices("faulty")} == {"faulty"}
    with pytest.raises(NotFoundError, match="no model 'nope'"):
        client.voices("nope")


def _health(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status  # type: ignore[no-any-return]


def test_health_per_server_service_and_model(channel: grpc.Channel) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    assert _health(channel, "") == serving
    assert _health(channel, "cantata.tts.v1.TextToSpeech") == serving
    assert _health(channel, "models/piper") == serving
    assert _health(channel, "models/broken") == not_serving


def test_reflection_lists_the_service_and_describes_it(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="cantata.tts.v1.TextToSpeech"
        ),
    ]
    listed, described = list(stub.ServerReflectionInfo(iter(requests), timeout=5))
    names = {service.name for service in listed.list_services_response.service}
    assert {"cantata.tts.v1.TextToSpeech", "grpc.health.v1.Health"} <= names
    assert described.file_descriptor_response.file_descriptor_proto


def test_request_id_is_echoed_in_metadata_and_stats(channel: grpc.Channel) -> None:
    from cantata.tts.v1 import tts_pb2, tts_pb2_grpc

    stub = tts_pb2_grpc.TextToSpeechStub(channel)
    response, call = stub.Synthesize.with_call(
        tts_pb2.SynthesizeRequest(text="Hi."), metadata=(("x-request-id", "abc-123"),), timeout=30
    )
    assert ("x-request-id", "abc-123") in tuple(call.initial_metadata())
    assert response.stats.request_id == "abc-123"


def test_async_client_streams_concurrently(running_server: RunningServer) -> None:
    async def run() -> list[float]:
        async with AsyncClient(running_server.target, timeout=60) as client:

            async def one(n: int) -> float:
                stream = client.stream(f"Concurrent request number {n}.", encoding=Encoding.WAV)
                audio = b"".join([chunk async for chunk in stream])
                assert audio.startswith(b"RIFF")
                assert stream.stats is not None
                return stream.stats.audio_seconds

            return await asyncio.gather(*(one(n) for n in range(4)))

    assert all(seconds > 1.0 for seconds in asyncio.run(run()))
