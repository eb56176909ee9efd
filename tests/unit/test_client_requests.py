"""The client builds exactly the request its keyword arguments describe."""

from cantata.tts.v1 import tts_pb2 as pb
from cantata_client import Encoding, Timing, build_request


def test_defaults_leave_everything_to_the_server() -> None:
    request = build_request("Hello")
    assert request == pb.SynthesizeRequest(
        text="Hello", encoding=pb.AUDIO_ENCODING_WAV, sampling=pb.SamplingParams()
    )
    assert not request.sampling.HasField("temperature")
    assert not request.sampling.HasField("seed")
    assert not request.sampling.HasField("steps")
    assert not request.HasField("timing")


def test_every_option_lands_in_its_field() -> None:
    request = build_request(
        "Hi",
        model="dia",
        voice="v",
        speaker="S2",
        encoding="ogg_opus",
        sample_rate_hz=24000,
        speed=1.25,
        temperature=0.0,
        top_p=0.9,
        top_k=40,
        cfg_scale=3.0,
        seed=7,
        max_audio_seconds=12.5,
        steps=32,
        prompt_audio=b"RIFF",
        prompt_text="words",
        instructions="Speak slowly, warm and amused.",
        timing=Timing(words=True, visemes=True),
    )
    assert request == pb.SynthesizeRequest(
        text="Hi",
        model="dia",
        voice="v",
        speaker="S2",
        encoding=pb.AUDIO_ENCODING_OGG_OPUS,
        sample_rate_hz=24000,
        speed=1.25,
        sampling=pb.SamplingParams(
            temperature=0.0,
            top_p=0.9,
            top_k=40,
            cfg_scale=3.0,
            seed=7,
            max_audio_seconds=12.5,
            steps=32,
        ),
        prompt_audio=b"RIFF",
        prompt_text="words",
        instructions="Speak slowly, warm and amused.",
        timing=pb.TimingOptions(words=True, visemes=True),
    )
    assert request.sampling.HasField("temperature"), "an explicit 0 must reach the server"


def test_encodings_map_one_to_one() -> None:
    values = {build_request("x", encoding=e).encoding for e in Encoding}
    assert len(values) == len(Encoding)
    assert pb.AUDIO_ENCODING_UNSPECIFIED not in values


def test_telephony_encodings_by_name() -> None:
    assert build_request("x", encoding="mulaw").encoding == pb.AUDIO_ENCODING_MULAW
    assert build_request("x", encoding=Encoding.ALAW).encoding == pb.AUDIO_ENCODING_ALAW


def test_timing_all_asks_for_every_kind() -> None:
    timing = build_request("x", timing=Timing.all()).timing
    assert (timing.words, timing.phonemes, timing.visemes) == (True, True, True)
