"""F5-TTS with the Vocos vocoder (the `tensorrt` runtime): each part on the best backend the
machine has (TensorRT engines → ONNX Runtime → PyTorch), voices cloned from reference recordings,
sentence by sentence, with concurrent requests' sentences sharing one flow batch."""

import math
import secrets
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile
import soxr
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtimes.base import Pcm, SynthesisJob, Voice, VoiceCapabilities, VoicePrompt
from runtimes.batching import Batcher
from runtimes.errors import InvalidArgument, ModelLoadError
from runtimes.tensorrt import backends
from runtimes.tensorrt.checkpoint import load_dit
from runtimes.tensorrt.dit import DiT
from runtimes.tensorrt.flow import FlowRow, StepFunction, sample
from runtimes.tensorrt.mel import HOP, SAMPLE_RATE, log_mel
from runtimes.tensorrt.onnx_export import VOCODER_INPUT, VOCODER_OUTPUT
from runtimes.tensorrt.text import duration_frames, token_ids
from runtimes.tensorrt.vocoder import decode_in_chunks, load_vocoder
from runtimes.torch_devices import torch_device

_SAMPLING_PARAMS = frozenset({"seed", "cfg_scale", "steps", "max_audio_seconds"})
FRAMES_PER_SECOND = SAMPLE_RATE / HOP


class VoiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    audio: Path
    """A recording of the voice (any format soundfile reads), ideally 3-12 s."""
    text: str
    """The words spoken in it."""
    language: str = "en"


class F5Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_dir: Path
    """An F5-TTS checkpoint folder as published (model_*.safetensors or .pt, vocab.txt)."""
    checkpoint: str | None = None
    vocoder_dir: Path
    """charactr/vocos-mel-24khz as published (config.yaml, pytorch_model.bin)."""
    engine_dir: Path = Path("~/.cache/cantata/tensorrt")
    """Exported ONNX graphs and TensorRT engines, built here on first load."""
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = "auto"
    vocoder_backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] | None = None
    """The vocoder's, when it should differ from `backend`."""
    device: str = "auto"
    precision: Literal["fp16", "fp32"] = "fp16"
    """TensorRT engines' precision (FP16 where the TensorRT version has the flag); PyTorch and
    ONNX Runtime compute in float32."""
    steps: int = Field(default=32, ge=1, le=128)
    cfg_scale: float = Field(default=2.0, ge=0)
    sway: float | None = -1.0
    voices: list[VoiceSettings] = Field(min_length=1)
    max_batch: int = Field(default=8, ge=1)
    max_frames: int = Field(default=4096, ge=64)
    """The longest reference + sentence, in mel frames (93 per second): TensorRT engines are
    built for up to this length."""
    batch_wait_ms: float = Field(default=10.0, ge=0)
    max_concurrent_batches: int = Field(default=2, ge=1)
    vocoder_chunk_frames: int = Field(default=256, ge=1)
    """Long sentences are vocoded (and streamed) in pieces of this many frames, which join
    exactly."""
    max_reference_seconds: float = Field(default=12.0, gt=0)
    target_rms: float = Field(default=0.1, gt=0)


@dataclass(frozen=True)
class Reference:
    audio: torch.Tensor
    """Mono 24 kHz, loudness-normalised as F5 normalises it."""
    mel: torch.Tensor
    """Its log-mel, the flow's condition (computed once for a named voice)."""
    text: str
    quiet_by: float
    """How much quieter than target_rms the recording was (F5 restores that loudness)."""

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0]) // HOP


@dataclass(eq=False)
class _Row:
    flow: FlowRow
    steps: int
    result: "Future[torch.Tensor]" = field(default_factory=Future)


class F5Runtime:
    def __init__(self, options: Mapping[str, Any]) -> None:
        try:
            self.options = F5Options.model_validate(dict(options))
        except ValidationError as error:
            raise ModelLoadError(f"invalid tensorrt options: {error}") from error
        self._device = torch.device("cpu")
        self._batcher: Batcher[_Row] | None = None
        self.backends: dict[str, backends.Choice] = {}

    @property
    def device(self) -> str:
        parts = ", ".join(f"{part} on {c.backend}" for part, c in self.backends.items())
        return f"{self._device} ({parts})" if parts else str(self._device)

    def load(self) -> None:
        options = self.options
        self._device = torch_device(options.device)
        model, self._vocabulary = load_dit(options.model_dir, options.checkpoint)
        self._model: DiT = model.to(self._device)
        vocoder = load_vocoder(options.vocoder_dir, self._device)
        self._vocoder_context = vocoder.config.context_frames
        engines = options.engine_dir.expanduser()
        self._vocoder = vocoder
        engine = backends.EngineSettings.of(
            options.precision, options.max_batch, options.max_frames
        )
        self.backends = {
            "dit": backends.choose(
                dit_graph(self._model), options.backend, self._device, engines, engine
            ),
            "vocoder": backends.choose(
                vocoder_graph(vocoder),
                options.vocoder_backend or options.backend,
                self._device,
                engines,
                engine,
            ),
        }
        self._voices = {voice.name: self._reference_of(voice) for voice in options.voices}
        self._batcher = Batcher[_Row](
            self._run_batch,
            lambda row: row.steps,
            options.max_batch,
            options.batch_wait_ms / 1000,
            options.max_concurrent_batches,
            "f5",
        )

    def _reference_of(self, voice: VoiceSettings) -> Reference:
        try:
            audio, rate = soundfile.read(voice.audio, dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as error:
            raise ModelLoadError(
                f"voice {voice.name!r}: cannot read {voice.audio}: {error}"
            ) from error
        try:
            return self._reference(audio.mean(axis=1), rate, voice.text)
        except InvalidArgument as error:
            raise ModelLoadError(f"voice {voice.name!r}: {error}") from error

    def _reference(self, audio: np.ndarray, rate: int, text: str) -> Reference:
        if not text.strip():
            raise InvalidArgument("the reference needs its transcript (prompt_text)")
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE)
        limit = int(self.options.max_reference_seconds * SAMPLE_RATE)
        if len(audio) < SAMPLE_RATE // 2:
            raise InvalidArgument("the reference audio is shorter than 0.5 s")
        if len(audio) > limit:
            raise InvalidArgument(
                f"the reference audio is longer than {self.options.max_reference_seconds:g} s"
            )
        waveform = torch.from_numpy(np.asarray(audio, dtype=np.float32))
        rms = float(waveform.pow(2).mean().sqrt())
        if rms == 0.0:
            raise InvalidArgument("the reference audio is silent")
        quiet_by = min(rms / self.options.target_rms, 1.0)
        if quiet_by < 1.0:
            waveform = waveform / quiet_by
        if len(text[-1].encode("utf-8")) == 1:
            text = text + " "
        return Reference(waveform, log_mel(waveform), text, quiet_by)

    def voices(self) -> list[Voice]:
        capabilities = VoiceCapabilities(
            streaming=True,
            voice_cloning=True,
            sampling_params=_SAMPLING_PARAMS,
            speed=True,
        )
        return [
            Voice(voice.name, voice.language, SAMPLE_RATE, capabilities)
            for voice in self.options.voices
        ]

    def memory_bytes(self) -> int:
        """The weights both parts hold (engines and ONNX Runtime sessions hold their own)."""
        return sum(
            tensor.numel() * tensor.element_size()
            for module in (self._model, self._vocoder)
            for tensor in (*module.parameters(), *module.buffers())
        )

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        reference = self._job_reference(job)
        sampling = job.sampling
        generator = torch.Generator().manual_seed(
            sampling.seed if sampling.seed is not None else secrets.randbits(63)
        )
        steps = sampling.steps or self.options.steps
        guidance = self.options.cfg_scale if sampling.cfg_scale is None else sampling.cfg_scale
        budget = math.inf
        if sampling.max_audio_seconds is not None:
            budget = math.ceil(sampling.max_audio_seconds * FRAMES_PER_SECOND)
        for sentence in job.segments:
            if budget <= 0:
                return
            duration = duration_frames(reference.frames, reference.text, sentence, job.speed)
            duration = int(min(duration, reference.frames + budget))
            row = _Row(
                self._flow_row(
                    reference.mel, reference.text + sentence, duration, generator, guidance
                ),
                steps,
            )
            assert self._batcher is not None
            self._batcher.submit(row)
            generated = row.result.result()[reference.frames :]
            budget -= generated.shape[0]
            for audio in self._vocode(generated):
                yield audio * np.float32(reference.quiet_by)

    def _job_reference(self, job: SynthesisJob) -> Reference:
        if job.prompt is not None:
            prompt: VoicePrompt = job.prompt
            return self._reference(prompt.audio, prompt.sample_rate_hz, prompt.text)
        return self._voices[job.voice]

    def _flow_row(
        self,
        mel: torch.Tensor,
        text: str,
        duration: int,
        generator: torch.Generator,
        guidance: float,
    ) -> FlowRow:
        ids = torch.tensor([token_ids(text, self._vocabulary)], device=self._device)
        lengths = torch.tensor([duration], device=self._device)
        with torch.inference_mode():
            conditional = self._model.embed_text(ids, lengths, duration, drop_text=False)
            unconditional = self._model.embed_text(ids, lengths, duration, drop_text=True)
        return FlowRow(mel, conditional[0].cpu(), unconditional[0].cpu(), generator, guidance)

    def _run_batch(self, rows: list[_Row]) -> None:
        try:
            mels = sample(
                exported_step(self.backends["dit"].run),
                [row.flow for row in rows],
                rows[0].steps,
                self.options.sway,
                self._device,
            )
        except Exception as error:
            for row in rows:
                row.result.set_exception(error)
            return
        for row, mel in zip(rows, mels, strict=True):
            row.result.set_result(mel)

    def _vocode(self, mel: torch.Tensor) -> Iterator[Pcm]:
        pieces = decode_in_chunks(
            self.backends["vocoder"].run,
            mel.T.unsqueeze(0),
            chunk_frames=self.options.vocoder_chunk_frames,
            context_frames=self._vocoder_context,
            hop_length=HOP,
        )
        for audio in pieces:
            yield audio[0].float().cpu().numpy().clip(-1.0, 1.0).astype(np.float32)

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()


def exported_step(run: backends.Runner) -> StepFunction:
    """The step graph always takes a mask; a batch without padding attends everywhere."""

    def step(
        x: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        time: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(x.shape[0], x.shape[1], dtype=torch.bool, device=x.device)
        return run(x, cond, text, time, mask)

    return step


class _Step(torch.nn.Module):
    def __init__(self, model: DiT) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        time: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        return self.model.step(x, cond, text, time, mask)


def dit_graph(model: DiT) -> backends.Graph:
    config = model.config
    batch, frames = 2, 64
    example = (
        torch.randn(batch, frames, config.mel_dim),
        torch.randn(batch, frames, config.mel_dim),
        torch.randn(batch, frames, config.text_dim),
        torch.rand(batch),
        torch.ones(batch, frames, dtype=torch.bool),
    )
    per_frame = {0: "batch", 1: "frames"}
    return backends.Graph(
        "dit-step",
        _Step(model).eval(),
        tuple(t.to(next(model.parameters()).device) for t in example),
        ("x", "cond", "text", "time", "mask"),
        "flow",
        {
            "x": per_frame,
            "cond": per_frame,
            "text": per_frame,
            "time": {0: "batch"},
            "mask": per_frame,
            "flow": per_frame,
        },
    )


def vocoder_graph(vocoder: torch.nn.Module) -> backends.Graph:
    device = next(vocoder.parameters()).device
    return backends.Graph(
        "vocoder",
        vocoder.eval(),
        (torch.randn(2, 100, 64, device=device),),
        (VOCODER_INPUT,),
        VOCODER_OUTPUT,
        {VOCODER_INPUT: {0: "batch", 2: "frames"}, VOCODER_OUTPUT: {0: "batch", 1: "samples"}},
    )
