"""The two translations at the edge: protobuf to domain on the way in, domain to protobuf out."""

from cantata.tts.v1 import tts_pb2 as pb
from runtimes.base import MarkKind, SamplingParams
from server.audio import AudioEncoding
from server.engine.engine import ModelVoice
from server.engine.live import Cancelled, Flushed, LiveAudio, LiveEvent, LiveMarks
from server.engine.request import (
    AudioInfo,
    SynthesisRequest,
    SynthesisStats,
    TimingMark,
    TimingOptions,
)
from server.engine.validation import supported_sampling_params
from server.errors import InvalidArgument

_ENCODINGS = {
    pb.AUDIO_ENCODING_UNSPECIFIED: AudioEncoding.PCM_S16LE,
    pb.AUDIO_ENCODING_PCM_S16LE: AudioEncoding.PCM_S16LE,
    pb.AUDIO_ENCODING_WAV: AudioEncoding.WAV,
    pb.AUDIO_ENCODING_FLAC: AudioEncoding.FLAC,
    pb.AUDIO_ENCODING_OGG_OPUS: AudioEncoding.OGG_OPUS,
    pb.AUDIO_ENCODING_MP3: AudioEncoding.MP3,
    pb.AUDIO_ENCODING_MULAW: AudioEncoding.MULAW,
    pb.AUDIO_ENCODING_ALAW: AudioEncoding.ALAW,
}
_ENCODINGS_OUT = {domain: proto for proto, domain in _ENCODINGS.items() if proto}
_MARK_KINDS = {
    MarkKind.WORD: pb.TIMING_MARK_KIND_WORD,
    MarkKind.PHONEME: pb.TIMING_MARK_KIND_PHONEME,
    MarkKind.VISEME: pb.TIMING_MARK_KIND_VISEME,
}


def _optional(message: pb.SamplingParams, name: str) -> float | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[arg-type]


def request_from_proto(message: pb.SynthesizeRequest, request_id: str) -> SynthesisRequest:
    encoding = _ENCODINGS.get(message.encoding)
    if encoding is None:
        raise InvalidArgument(f"encoding {message.encoding} is not an AudioEncoding value")
    s = message.sampling
    sampling = SamplingParams(
        temperature=_optional(s, "temperature"),
        top_p=_optional(s, "top_p"),
        top_k=s.top_k if s.HasField("top_k") else None,
        cfg_scale=_optional(s, "cfg_scale"),
        seed=s.seed if s.HasField("seed") else None,
        max_audio_seconds=_optional(s, "max_audio_seconds"),
        steps=s.steps if s.HasField("steps") else None,
    )
    return SynthesisRequest(
        text=message.text,
        model=message.model,
        voice=message.voice,
        speaker=message.speaker,
        encoding=encoding,
        sample_rate_hz=message.sample_rate_hz,
        speed=message.speed,
        sampling=sampling,
        prompt_audio=message.prompt_audio,
        prompt_text=message.prompt_text,
        instructions=message.instructions,
        timing=TimingOptions(
            words=message.timing.words,
            phonemes=message.timing.phonemes,
            visemes=message.timing.visemes,
        ),
        request_id=request_id,
    )


def info_to_proto(info: AudioInfo) -> pb.AudioInfo:
    return pb.AudioInfo(
        sample_rate_hz=info.sample_rate_hz,
        channels=info.channels,
        encoding=_ENCODINGS_OUT[info.encoding],
        duration_seconds=info.duration_seconds,
    )


def stats_to_proto(stats: SynthesisStats) -> pb.SynthesisStats:
    return pb.SynthesisStats(
        audio_seconds=stats.audio_seconds,
        compute_seconds=stats.compute_seconds,
        real_time_factor=stats.real_time_factor,
        model=stats.model,
        runtime=stats.runtime,
        device=stats.device,
        voice=stats.voice,
        request_id=stats.request_id,
        time_to_first_audio_seconds=stats.time_to_first_audio_seconds,
    )


def mark_to_proto(mark: TimingMark) -> pb.TimingMark:
    return pb.TimingMark(
        kind=_MARK_KINDS[mark.kind],
        value=mark.value,
        start_seconds=mark.start_seconds,
        end_seconds=mark.end_seconds,
        text_offset=mark.text_offset,
        text_length=mark.text_length,
    )


def live_event_to_proto(event: LiveEvent) -> pb.LiveSynthesizeResponse:
    match event:
        case LiveAudio():
            return pb.LiveSynthesizeResponse(audio=event.audio)
        case LiveMarks():
            marks = pb.LiveMarks(marks=[mark_to_proto(mark) for mark in event.marks])
            return pb.LiveSynthesizeResponse(marks=marks)
        case Flushed():
            flushed = pb.LiveFlushed(
                text_offset=event.text_offset, audio_seconds=event.audio_seconds
            )
            return pb.LiveSynthesizeResponse(flushed=flushed)
        case Cancelled():
            cancelled = pb.LiveCancelled(
                text_offset=event.text_offset,
                audio_seconds=event.audio_seconds,
                utterance_audio_seconds=event.utterance_audio_seconds,
            )
            return pb.LiveSynthesizeResponse(cancelled=cancelled)


def voice_to_proto(entry: ModelVoice) -> pb.Voice:
    voice = entry.voice
    capabilities = voice.capabilities
    return pb.Voice(
        model=entry.model,
        voice_id=voice.id,
        language=voice.language,
        native_sample_rate_hz=voice.sample_rate_hz,
        runtime=entry.runtime,
        speakers=voice.speakers,
        is_default=entry.is_default,
        capabilities=pb.VoiceCapabilities(
            streaming=capabilities.streaming,
            voice_cloning=capabilities.voice_cloning,
            sampling_params=sorted(supported_sampling_params(voice)),
            nonverbal_tags=capabilities.nonverbal_tags,
            dialogue=capabilities.dialogue,
            speed=capabilities.speed,
            instructions=capabilities.instructions,
            timing=capabilities.timing,
        ),
    )
