"""The engine's plain request and result types; the API edge translates them to protobuf."""

from dataclasses import dataclass, field

from runtimes.base import MarkKind, SamplingParams
from server.audio import AudioEncoding


@dataclass(frozen=True)
class TimingOptions:
    """Which timing marks to send with the audio."""

    words: bool = False
    phonemes: bool = False
    visemes: bool = False

    def __bool__(self) -> bool:
        return self.words or self.phonemes or self.visemes


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    model: str = ""
    voice: str = ""
    speaker: str = ""
    encoding: AudioEncoding = AudioEncoding.PCM_S16LE
    sample_rate_hz: int = 0
    speed: float = 0.0
    sampling: SamplingParams = field(default_factory=SamplingParams)
    prompt_audio: bytes = b""
    prompt_text: str = ""
    instructions: str = ""
    timing: TimingOptions = field(default_factory=TimingOptions)
    request_id: str = ""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate_hz: int
    encoding: AudioEncoding
    duration_seconds: float = 0.0
    channels: int = 1


@dataclass(frozen=True)
class SynthesisStats:
    audio_seconds: float
    compute_seconds: float
    model: str
    runtime: str
    device: str
    voice: str
    request_id: str
    time_to_first_audio_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else 0.0


@dataclass(frozen=True)
class TimingMark:
    """A word, phoneme or viseme: when it is heard in the output audio, and where it comes from
    in the text as the client sent it (code points)."""

    kind: MarkKind
    value: str
    start_seconds: float
    end_seconds: float
    text_offset: int
    text_length: int


@dataclass(frozen=True)
class StreamChunk:
    """Encoded audio, and the marks of that audio or of audio still to come."""

    audio: bytes
    marks: tuple[TimingMark, ...] = ()
    seconds: float = 0.0
    """How much audio `audio` holds (encoders may hold some back: this counts what left the
    resampler)."""


@dataclass(frozen=True)
class SynthesisResult:
    audio: bytes
    info: AudioInfo
    stats: SynthesisStats
    marks: tuple[TimingMark, ...] = ()
