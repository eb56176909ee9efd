"""The runtime protocol: what the engine needs from a model, and nothing more."""

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1] at the voice's native sample rate."""


@dataclass(frozen=True)
class SamplingParams:
    """Sampling controls; None means the model's own default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    max_audio_seconds: float | None = None
    steps: int | None = None
    """Flow-matching or diffusion steps, for models that take steps."""

    def names_set(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


@dataclass(frozen=True)
class VoiceCapabilities:
    streaming: bool = True
    voice_cloning: bool = False
    sampling_params: frozenset[str] = frozenset()
    nonverbal_tags: tuple[str, ...] = ()
    dialogue: bool = False
    speed: bool = False
    instructions: bool = False
    """Whether the voice follows a style instruction in words (SynthesisJob.instructions)."""
    timing: bool = False
    """Whether the voice gives word and phoneme timings (TimedRuntime.synthesize_timed)."""


@dataclass(frozen=True)
class Voice:
    id: str
    language: str
    sample_rate_hz: int
    capabilities: VoiceCapabilities
    speakers: tuple[str, ...] = ()


@dataclass(frozen=True)
class VoicePrompt:
    """A voice to clone: its audio (mono float32) and the words spoken in it."""

    audio: Pcm
    sample_rate_hz: int
    text: str


@dataclass(frozen=True)
class SynthesisJob:
    """One validated request, as a runtime sees it. The text is already normalised and split into
    segments (sentences, or shorter pieces of very long sentences), in order."""

    segments: tuple[str, ...]
    voice: str
    speaker: str | None = None
    speed: float = 1.0
    sampling: SamplingParams = field(default_factory=SamplingParams)
    prompt: VoicePrompt | None = None
    instructions: str | None = None
    """How to speak, in words ("speak slowly, warm and amused"); only for voices whose
    capabilities say so."""


class MarkKind(enum.Enum):
    WORD = "word"
    PHONEME = "phoneme"
    VISEME = "viseme"


@dataclass(frozen=True)
class ChunkMark:
    """A word or phoneme heard in one chunk of audio."""

    kind: MarkKind
    value: str
    """The word as written in the segment, or the phoneme in IPA."""
    start: int
    """Samples from the start of the chunk, at the voice's rate; 0 <= start <= end <= chunk."""
    end: int
    segment: int
    """Index of the job's segment whose text it comes from."""
    text_offset: int
    """Code points from the start of that segment: the word, or the word a phoneme is part of."""
    text_length: int


@dataclass(frozen=True)
class TimedAudio:
    """A chunk of audio and the marks heard in it."""

    audio: Pcm
    marks: tuple[ChunkMark, ...] = ()


class Runtime(Protocol):
    """A loaded model. The engine calls every method from the model's own worker threads, never
    from the event loop; `synthesize` may run on several threads at once (up to the model's
    configured concurrency)."""

    @property
    def device(self) -> str:
        """Where it computes, e.g. "cpu", "cuda:0"."""
        ...

    def load(self) -> None:
        """Load weights and warm up. Raises ModelLoadError with a reason a person can act on."""
        ...

    def voices(self) -> Sequence[Voice]:
        """The voices of this model; the first is its default. Valid after load()."""
        ...

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        """Yields audio chunks as they are ready. The engine may stop iterating (and close the
        generator) between any two chunks: a chunk boundary is where cancellation lands."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TimedRuntime(Protocol):
    """What a runtime whose voices have capabilities.timing also offers: the audio that
    `synthesize` gives, chunk for chunk, with the words and phonemes heard in each chunk."""

    def synthesize_timed(self, job: SynthesisJob) -> Iterator[TimedAudio]: ...


@dataclass(frozen=True)
class StageTotals:
    """Cumulative busy time of a pipelined runtime's stages, since it loaded."""

    busy_seconds: Mapping[str, float]
    """Seconds each stage has been busy, by stage name, such as {"lm": 12.3, "decoder": 4.5}."""
    overlap_seconds: float
    """Seconds during which two or more stages were busy at the same time."""


@runtime_checkable
class StagedRuntime(Protocol):
    """What a runtime that runs its work as a pipeline of stages may also offer, for metrics.
    `stage_totals` is called at scrape time from the metrics server's thread, while syntheses
    run: it must be cheap and safe to call from any thread."""

    def stage_totals(self) -> StageTotals: ...


class RuntimeFactory(Protocol):
    def __call__(self, options: Mapping[str, Any], /) -> Runtime: ...
