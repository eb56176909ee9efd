"""Checks a request against the model and voice it names, and turns it into a runtime job.
Every rejection names the field at fault."""

import math
from dataclasses import dataclass, field, replace

from runtimes.base import SamplingParams, SynthesisJob, Voice, VoicePrompt
from server.audio import AudioEncoding, check_sample_rate, default_sample_rate
from server.audio.decode import decode_audio
from server.config import Settings
from server.engine.request import SynthesisRequest, TimingOptions
from server.engine.text import NormalizedText, normalize, normalize_mapped, split_segments
from server.errors import InvalidArgument, NotFound

MIN_SPEED = 0.5
MAX_SPEED = 2.0
ENGINE_SAMPLING_PARAMS = frozenset({"max_audio_seconds"})
"""Honoured by the engine for every model: it stops the runtime once that much audio is out."""


@dataclass(frozen=True)
class PreparedRequest:
    job: SynthesisJob
    voice: Voice
    encoding: AudioEncoding
    output_rate: int
    characters: int
    timing: TimingOptions = field(default_factory=TimingOptions)
    text: NormalizedText | None = None
    """The normalised text and where it came from, for timing marks."""


def supported_sampling_params(voice: Voice) -> frozenset[str]:
    return voice.capabilities.sampling_params | ENGINE_SAMPLING_PARAMS


def prepare(
    request: SynthesisRequest, model: str, voice: Voice, limits: Settings
) -> PreparedRequest:
    return with_text(prepare_config(request, model, voice, limits), request.text, limits)


def prepare_config(
    request: SynthesisRequest, model: str, voice: Voice, limits: Settings
) -> PreparedRequest:
    """Everything a request says but its text (a job without segments): what a live session
    checks once, at its start."""
    timing = _timing(request.timing, model, voice)
    output_rate = request.sample_rate_hz or default_sample_rate(
        request.encoding, voice.sample_rate_hz
    )
    check_sample_rate(request.encoding, output_rate)
    prompt = _prompt(request, model, voice, limits)
    _check_sampling(request.sampling, model, voice)
    job = SynthesisJob(
        segments=(),
        voice=voice.id,
        speaker=_speaker(request.speaker, model, voice),
        speed=_speed(request.speed, model, voice),
        sampling=request.sampling,
        prompt=prompt,
        instructions=_instructions(request.instructions, model, voice, limits),
    )
    return PreparedRequest(job, voice, request.encoding, output_rate, 0, timing)


def with_text(config: PreparedRequest, text: str, limits: Settings) -> PreparedRequest:
    """The request `config` for this text, normalised and split into segments."""
    if len(text) > limits.max_text_chars:
        raise InvalidArgument(
            f"text is {len(text)} characters long; the limit is {limits.max_text_chars}"
        )
    # Only timing marks need to know where each character came from.
    mapped = normalize_mapped(text) if config.timing else None
    normalized = mapped.text if mapped is not None else normalize(text)
    if not normalized:
        raise InvalidArgument("text is empty")
    segments = tuple(split_segments(normalized, limits.max_segment_chars))
    return replace(
        config,
        job=replace(config.job, segments=segments),
        characters=len(normalized),
        text=mapped,
    )


def _timing(timing: TimingOptions, model: str, voice: Voice) -> TimingOptions:
    if timing and not voice.capabilities.timing:
        asked = [name for name in ("words", "phonemes", "visemes") if getattr(timing, name)]
        raise InvalidArgument(
            f"timing.{', timing.'.join(asked)}: model {model!r} voice {voice.id!r} gives no "
            "timing marks (its capabilities say timing: false)"
        )
    return timing


def _speed(speed: float, model: str, voice: Voice) -> float:
    if speed == 0:
        return 1.0
    if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidArgument(
            f"speed must be 0 (normal) or between {MIN_SPEED} and {MAX_SPEED}; got {speed}"
        )
    if speed != 1.0 and not voice.capabilities.speed:
        raise InvalidArgument(f"speed is not supported by model {model!r} voice {voice.id!r}")
    return speed


def _instructions(instructions: str, model: str, voice: Voice, limits: Settings) -> str | None:
    if len(instructions) > limits.max_instructions_chars:
        raise InvalidArgument(
            f"instructions is {len(instructions)} characters long; "
            f"the limit is {limits.max_instructions_chars}"
        )
    instructions = normalize(instructions)
    if not instructions:
        return None
    if not voice.capabilities.instructions:
        raise InvalidArgument(
            f"instructions is not supported by model {model!r} voice {voice.id!r}"
        )
    return instructions


def _speaker(speaker: str, model: str, voice: Voice) -> str | None:
    if not speaker:
        return None
    if not voice.speakers:
        raise InvalidArgument(
            f"speaker {speaker!r} given, but voice {voice.id!r} of model {model!r} has one speaker"
        )
    if speaker not in voice.speakers:
        raise NotFound(f"voice {voice.id!r} of model {model!r} has no speaker {speaker!r}")
    return speaker


def _prompt(
    request: SynthesisRequest, model: str, voice: Voice, limits: Settings
) -> VoicePrompt | None:
    given = [name for name in ("prompt_audio", "prompt_text") if getattr(request, name)]
    if not given:
        return None
    if not voice.capabilities.voice_cloning:
        raise InvalidArgument(
            f"{' and '.join(given)}: model {model!r} voice {voice.id!r} cannot clone voices"
        )
    if not request.prompt_audio:
        raise InvalidArgument("prompt_text was given without prompt_audio")
    if len(request.prompt_audio) > limits.max_prompt_audio_bytes:
        raise InvalidArgument(
            f"prompt_audio is {len(request.prompt_audio)} bytes; "
            f"the limit is {limits.max_prompt_audio_bytes}"
        )
    audio, rate = decode_audio(request.prompt_audio, "prompt_audio")
    if audio.size / rate > limits.max_prompt_audio_seconds:
        raise InvalidArgument(
            f"prompt_audio is {audio.size / rate:.1f} seconds long; "
            f"the limit is {limits.max_prompt_audio_seconds:g}"
        )
    return VoicePrompt(audio=audio, sample_rate_hz=rate, text=normalize(request.prompt_text))


_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (lowest, highest, lowest allowed)
    "temperature": (0.0, 10.0, True),
    "top_p": (0.0, 1.0, False),
    "top_k": (1, 1_000_000, True),
    "cfg_scale": (0.0, 100.0, True),
    "max_audio_seconds": (0.0, 3600.0, False),
    "steps": (1, 128, True),
}


def _check_sampling(sampling: SamplingParams, model: str, voice: Voice) -> None:
    supported = supported_sampling_params(voice)
    for name in sampling.names_set():
        if name not in supported:
            raise InvalidArgument(
                f"sampling.{name} is not supported by model {model!r} voice {voice.id!r};"
                f" it supports: {', '.join(sorted(supported))}"
            )
        if name not in _RANGES:
            continue
        value = float(getattr(sampling, name))
        low, high, low_allowed = _RANGES[name]
        if (
            not math.isfinite(value)
            or value > high
            or value < low
            or (value == low and not low_allowed)
        ):
            bound = "[" if low_allowed else "("
            raise InvalidArgument(f"sampling.{name} must be in {bound}{low}, {high}]; got {value}")
