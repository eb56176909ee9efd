"""Bad input gets the right status code and a message naming the problem, on both RPCs, and
the server keeps serving afterwards."""

import io
import math
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from cantata_client import (
    CantataError,
    Client,
    Encoding,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
)
from tests.conftest import RunningServer

BAD_REQUESTS: list[tuple[str, dict[str, Any], type[CantataError], str]] = [
    ("", {}, InvalidArgumentError, "text is empty"),
    ("  \n\t \u200b ", {}, InvalidArgumentError, "text is empty"),
    ("a" * 2001, {}, InvalidArgumentError, "2001 characters long; the limit is 2000"),
    ("Hello.", {"model": "nope"}, NotFoundError, "no model 'nope'"),
    ("Hello.", {"voice": "nobody"}, NotFoundError, "has no voice 'nobody'"),
    ("Hello.", {"speaker": "p1"}, InvalidArgumentError, "speaker 'p1' given"),
    ("Hello.", {"sample_rate_hz": 7}, InvalidArgumentError, "sample_rate_hz must be"),
    ("Hello.", {"sample_rate_hz": 1_000_000}, InvalidArgumentError, "sample_rate_hz must be"),
    ("Hello.", {"sample_rate_hz": -16000}, InvalidArgumentError, "sample_rate_hz must be"),
    ("Hello.", {"speed": 0.01}, InvalidArgumentError, "speed must be"),
    ("Hello.", {"speed": math.nan}, InvalidArgumentError, "speed must be"),
    ("Hello.", {"speed": math.inf}, InvalidArgumentError, "speed must be"),
    ("Hello.", {"prompt_audio": b"RIFF...."}, InvalidArgumentError, "prompt_audio: model"),
    ("Hello.", {"prompt_text": "hi"}, InvalidArgumentError, "prompt_text: model"),
    ("Hello.", {"top_k": 5}, InvalidArgumentError, "sampling.top_k is not supported"),
    ("Hello.", {"seed": 1}, InvalidArgumentError, "sampling.seed is not supported"),
    ("Hello.", {"cfg_scale": 3.0}, InvalidArgumentError, "sampling.cfg_scale is not supported"),
    ("Hello.", {"steps": 16}, InvalidArgumentError, "sampling.steps is not supported"),
    ("Hello.", {"steps": 0}, InvalidArgumentError, "sampling.steps is not supported"),
    ("Hello.", {"temperature": math.nan}, InvalidArgumentError, "sampling.temperature must"),
    ("Hello.", {"temperature": -1.0}, InvalidArgumentError, "sampling.temperature must"),
    ("Hello.", {"max_audio_seconds": 0.0}, InvalidArgumentError, "max_audio_seconds must"),
    (
        "Hello.",
        {"instructions": "Speak slowly, warm and amused."},
        InvalidArgumentError,
        "instructions is not supported by model 'piper' voice 'en_US-joe-medium'",
    ),
    (
        "Hello.",
        {"model": "faulty", "instructions": "a" * 501},
        InvalidArgumentError,
        "instructions is 501 characters long; the limit is 500",
    ),
    ("Hello.", {"model": "broken"}, UnavailableError, "'broken' is failed: voices_dir"),
]


def assert_still_serving(client: Client) -> None:
    result = client.synthesize("Still here.", encoding=Encoding.PCM)
    assert result.stats.audio_seconds > 0.3


@pytest.mark.parametrize("mode", ["unary", "stream"])
@pytest.mark.parametrize(
    ("text", "options", "error", "message"), BAD_REQUESTS, ids=[m for *_, m in BAD_REQUESTS]
)
def test_bad_request_is_refused_with_its_reason(
    client: Client,
    mode: str,
    text: str,
    options: dict[str, Any],
    error: type[CantataError],
    message: str,
) -> None:
    call = client.synthesize if mode == "unary" else lambda *a, **k: list(client.stream(*a, **k))
    with pytest.raises(error, match=message):
        call(text, **options)


def test_server_serves_after_every_bad_request(client: Client) -> None:
    for text, options, error, _ in BAD_REQUESTS:
        with pytest.raises(error):
            client.synthesize(text, **options)
    assert_still_serving(client)


def test_unknown_encoding_value_is_invalid(channel: grpc.Channel) -> None:
    stub = tts_pb2_grpc.TextToSpeechStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Synthesize(pb.SynthesizeRequest(text="Hello.", encoding=99), timeout=10)  # type: ignore[arg-type]
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "encoding 99" in (caught.value.details() or "")


def test_runtime_bug_is_internal_with_request_id_and_server_keeps_serving(
    client: Client,
) -> None:
    with pytest.raises(InternalError, match="internal error; request id req-42") as caught:
        client.synthesize("raise", model="faulty", request_id="req-42")
    assert "Traceback" not in caught.value.details
    assert "ValueError" not in caught.value.details
    assert client.synthesize("fine", model="faulty").stats.audio_seconds > 0
    assert_still_serving(client)


def test_out_of_memory_is_resource_exhausted_and_model_keeps_serving(client: Client) -> None:
    with pytest.raises(ResourceExhaustedError, match="out of memory"):
        list(client.stream("oom", model="faulty"))
    assert client.synthesize("fine", model="faulty").stats.audio_seconds > 0


def test_device_fault_marks_only_that_model_not_ready(client: Client) -> None:
    with pytest.raises(InternalError):
        client.synthesize("device", model="fragile")
    with pytest.raises(UnavailableError, match="'fragile' is failed: simulated device fault"):
        client.synthesize("fine", model="fragile")
    assert client.synthesize("fine", model="faulty").stats.audio_seconds > 0
    assert_still_serving(client)


def _wav(seconds: float, rate: int = 24000) -> bytes:
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)
    out = io.BytesIO()
    soundfile.write(out, tone, rate, format="WAV")
    return out.getvalue()


def test_prompt_audio_reaches_a_cloning_runtime_decoded(client: Client) -> None:
    with_prompt = client.synthesize(
        "fine", model="faulty", prompt_audio=_wav(1.0), prompt_text="a tone", encoding=Encoding.PCM
    )
    without = client.synthesize("fine", model="faulty", encoding=Encoding.PCM)
    # The fault runtime speaks the first tenth of a second of the decoded prompt first.
    assert with_prompt.stats.audio_seconds == pytest.approx(without.stats.audio_seconds + 0.1)


def test_blank_instructions_are_no_instructions(client: Client) -> None:
    assert client.synthesize("Hello.", instructions=" \n\t\u200b ").stats.audio_seconds > 0.3


def test_instructions_reach_a_runtime_that_follows_them_normalised(client: Client) -> None:
    with_instructions = client.synthesize(
        "fine", model="faulty", instructions="  speak \t slowly ", encoding=Encoding.PCM
    )
    without = client.synthesize("fine", model="faulty", encoding=Encoding.PCM)
    # The fault runtime speaks one 16-bit sample per character of the instructions first.
    assert len(with_instructions.audio) - len(without.audio) == 2 * len("speak slowly")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt_audio": b"\x00\x01 not audio"}, "prompt_audio is not audio"),
        ({"prompt_text": "words only"}, "prompt_text was given without prompt_audio"),
    ],
)
def test_bad_prompts_are_invalid(client: Client, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        client.synthesize("fine", model="faulty", **options)


UNDECODABLE = [
    b"\xff\xff\xff\xff\xff",  # not a protobuf message
    b"\x0a\x03\xff\xfe\xfd",  # field 1 (text, model in ListVoicesRequest) not UTF-8
    b"\x0a\x09Hello",  # field 1 claims 9 bytes and has 5
]
METHODS = [
    ("Synthesize", "unary_unary"),
    ("StreamSynthesize", "unary_stream"),
    ("ListVoices", "unary_unary"),
]


@pytest.mark.parametrize("data", UNDECODABLE)
@pytest.mark.parametrize(("method", "kind"), METHODS)
def test_bytes_that_do_not_parse_are_invalid_argument(
    running_server: RunningServer,
    channel: grpc.Channel,
    client: Client,
    data: bytes,
    method: str,
    kind: str,
) -> None:
    requests = running_server.server.engine.metrics.requests
    refused = requests.labels(method, "unknown", "INVALID_ARGUMENT")._value.get()
    call = getattr(channel, kind)(f"/cantata.tts.v1.TextToSpeech/{method}")

    def answer() -> None:
        result = call(data, timeout=30)
        if kind == "unary_stream":
            list(result)

    with pytest.raises(grpc.RpcError) as raised:
        answer()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid cantata.tts.v1." in (raised.value.details() or "")
    assert "DecodeError" not in (raised.value.details() or "")
    assert requests.labels(method, "unknown", "INVALID_ARGUMENT")._value.get() == refused + 1
    assert client.synthesize("Still serving.").stats.audio_seconds > 0


def test_a_live_message_that_does_not_parse_is_invalid_argument(
    channel: grpc.Channel, client: Client
) -> None:
    call = channel.stream_stream(
        "/cantata.tts.v1.TextToSpeech/LiveSynthesize",
        request_serializer=None,
        response_deserializer=None,
    )
    start = pb.LiveSynthesizeRequest(start=pb.LiveStart()).SerializeToString()
    with pytest.raises(grpc.RpcError) as raised:
        list(call(iter([start, b"\x12\x02\xff\xfe"]), timeout=30))  # text that is not UTF-8
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a valid cantata.tts.v1.LiveSynthesizeRequest" in (raised.value.details() or "")
    assert client.synthesize("Still serving.").stats.audio_seconds > 0
