"""`instructions` crosses the edge both ways, and the engine passes it on only to voices that
follow instructions, normalised, within its length limit."""

import pytest

from cantata.tts.v1 import tts_pb2 as pb
from runtimes.base import Voice, VoiceCapabilities
from runtimes.errors import InvalidArgument
from server.api.convert import request_from_proto, voice_to_proto
from server.config import Settings
from server.engine.engine import ModelVoice
from server.engine.request import SynthesisRequest
from server.engine.validation import prepare

LIMITS = Settings.model_validate(
    {"models": [{"name": "m", "runtime": "piper"}], "max_instructions_chars": 40}
)
FOLLOWS = Voice("styled", "en-US", 24000, VoiceCapabilities(instructions=True))
PLAIN = Voice("plain", "en-US", 22050, VoiceCapabilities())


def _instructions(voice: Voice, instructions: str) -> str | None:
    request = SynthesisRequest(text="Hello.", instructions=instructions)
    return prepare(request, "m", voice, LIMITS).job.instructions


def test_the_request_field_reaches_the_engine_request() -> None:
    message = pb.SynthesizeRequest(text="Hi", instructions="Speak slowly, warm and amused.")
    assert request_from_proto(message, "r").instructions == "Speak slowly, warm and amused."
    assert request_from_proto(pb.SynthesizeRequest(text="Hi"), "r").instructions == ""


@pytest.mark.parametrize("voice", [FOLLOWS, PLAIN], ids=lambda voice: voice.id)
def test_the_capability_reaches_list_voices(voice: Voice) -> None:
    listed = voice_to_proto(ModelVoice("m", "piper", voice, is_default=True))
    assert listed.capabilities.instructions is voice.capabilities.instructions


def test_a_voice_that_follows_instructions_gets_them_normalised() -> None:
    assert _instructions(FOLLOWS, "  Speak\t slowly,\u200b  warm. ") == "Speak slowly, warm."


@pytest.mark.parametrize("voice", [FOLLOWS, PLAIN], ids=lambda voice: voice.id)
@pytest.mark.parametrize("blank", ["", " ", "\n\t \u200b"])
def test_blank_instructions_are_none(voice: Voice, blank: str) -> None:
    assert _instructions(voice, blank) is None


def test_a_voice_that_cannot_follow_instructions_refuses_them() -> None:
    with pytest.raises(InvalidArgument, match="instructions is not supported by model 'm' voice"):
        _instructions(PLAIN, "Whisper.")


def test_instructions_are_bounded() -> None:
    assert _instructions(FOLLOWS, "a" * 40) == "a" * 40
    with pytest.raises(
        InvalidArgument, match="instructions is 41 characters long; the limit is 40"
    ):
        _instructions(FOLLOWS, "a" * 41)
