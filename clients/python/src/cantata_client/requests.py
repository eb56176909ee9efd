"""Building requests from keyword arguments, shared by the sync and asyncio clients."""

import enum
from dataclasses import dataclass, field

from cantata.tts.v1 import tts_pb2 as pb
from cantata_client.marks import Mark, Timing


class Encoding(str, enum.Enum):  # noqa: UP042
    # Not enum.StrEnum: the client also runs on Python 3.10 (JetPack 6's).
    PCM = "pcm"
    WAV = "wav"
    FLAC = "flac"
    OGG_OPUS = "ogg_opus"
    MP3 = "mp3"
    MULAW = "mulaw"
    ALAW = "alaw"

    def __str__(self) -> str:
        return self.value


_ENCODINGS = {
    Encoding.PCM: pb.AUDIO_ENCODING_PCM_S16LE,
    Encoding.WAV: pb.AUDIO_ENCODING_WAV,
    Encoding.FLAC: pb.AUDIO_ENCODING_FLAC,
    Encoding.OGG_OPUS: pb.AUDIO_ENCODING_OGG_OPUS,
    Encoding.MP3: pb.AUDIO_ENCODING_MP3,
    Encoding.MULAW: pb.AUDIO_ENCODING_MULAW,
    Encoding.ALAW: pb.AUDIO_ENCODING_ALAW,
}


@dataclass(frozen=True)
class Synthesis:
    audio: bytes
    info: pb.AudioInfo
    stats: pb.SynthesisStats
    marks: list[Mark] = field(default_factory=list)
    """The timing marks asked for with `timing=`."""


def build_request(
    text: str,
    *,
    model: str = "",
    voice: str = "",
    speaker: str = "",
    encoding: Encoding | str = Encoding.WAV,
    sample_rate_hz: int = 0,
    speed: float = 0.0,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    cfg_scale: float | None = None,
    seed: int | None = None,
    max_audio_seconds: float | None = None,
    steps: int | None = None,
    prompt_audio: bytes = b"",
    prompt_text: str = "",
    instructions: str = "",
    timing: Timing | None = None,
) -> pb.SynthesizeRequest:
    sampling = pb.SamplingParams(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        cfg_scale=cfg_scale,
        seed=seed,
        max_audio_seconds=max_audio_seconds,
        steps=steps,
    )
    return pb.SynthesizeRequest(
        text=text,
        model=model,
        voice=voice,
        speaker=speaker,
        encoding=_ENCODINGS[Encoding(encoding)],
        sample_rate_hz=sample_rate_hz,
        speed=speed,
        sampling=sampling,
        prompt_audio=prompt_audio,
        prompt_text=prompt_text,
        instructions=instructions,
        timing=timing.to_proto() if timing else None,
    )
