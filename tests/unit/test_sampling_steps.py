"""`sampling.steps` crosses the edge, is bounded to 1-128, and reaches only voices that list it
in their sampling parameters."""

import pytest

from cantata.tts.v1 import tts_pb2 as pb
from runtimes.base import SamplingParams, Voice, VoiceCapabilities
from runtimes.errors import InvalidArgument
from server.api.convert import request_from_proto, voice_to_proto
from server.config import Settings
from server.engine.engine import ModelVoice
from server.engine.request import SynthesisRequest
from server.engine.validation import prepare

LIMITS = Settings.model_validate({"models": [{"name": "m", "runtime": "piper"}]})
STEPPED = Voice("flow", "en-US", 24000, VoiceCapabilities(sampling_params=frozenset({"steps"})))
PLAIN = Voice("plain", "en-US", 22050, VoiceCapabilities(sampling_params=frozenset({"seed"})))


def _steps(voice: Voice, steps: int) -> int | None:
    request = SynthesisRequest(text="Hello.", sampling=SamplingParams(steps=steps))
    return prepare(request, "m", voice, LIMITS).job.sampling.steps


def test_the_request_field_reaches_the_engine_request() -> None:
    message = pb.SynthesizeRequest(text="Hi", sampling=pb.SamplingParams(steps=32))
    assert request_from_proto(message, "r").sampling.steps == 32


def test_an_unset_field_is_the_model_default() -> None:
    sampling = request_from_proto(pb.SynthesizeRequest(text="Hi"), "r").sampling
    assert sampling.steps is None
    assert "steps" not in sampling.names_set()


def test_an_explicit_zero_reaches_validation_rather_than_vanishing() -> None:
    message = pb.SynthesizeRequest(text="Hi", sampling=pb.SamplingParams(steps=0))
    assert request_from_proto(message, "r").sampling.steps == 0


def test_the_capability_reaches_list_voices() -> None:
    listed = voice_to_proto(ModelVoice("m", "tensorrt", STEPPED, is_default=True))
    assert "steps" in listed.capabilities.sampling_params
    plain = voice_to_proto(ModelVoice("m", "piper", PLAIN, is_default=True))
    assert "steps" not in plain.capabilities.sampling_params


@pytest.mark.parametrize("steps", [1, 16, 128])
def test_a_voice_with_steps_gets_them(steps: int) -> None:
    assert _steps(STEPPED, steps) == steps


@pytest.mark.parametrize("steps", [0, -1, 129, 10_000])
def test_steps_are_bounded(steps: int) -> None:
    with pytest.raises(InvalidArgument, match=r"sampling\.steps must be in \[1, 128\]"):
        _steps(STEPPED, steps)


def test_a_voice_without_steps_refuses_them_by_name() -> None:
    with pytest.raises(
        InvalidArgument, match=r"sampling\.steps is not supported by model 'm' voice 'plain'"
    ):
        _steps(PLAIN, 16)
