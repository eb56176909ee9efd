"""The engine's plain request and result types; the API edge translates them to protobuf."""

from dataclasses import dataclass, field

from runtimes.base import SamplingParams
from server.audio import AudioEncoding


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
class SynthesisResult:
    audio: bytes
    info: AudioInfo
    stats: SynthesisStats
