"""Qwen3-TTS 12 Hz split across devices: the talker (language model + code predictor) on the GPU,
the speech decoder on the CPU, pipelined, streaming.

The request's own worker thread is the decoder stage: it takes frames from the talker thread
through a bounded queue (credits) and decodes each chunk while the talker generates the next.
With the stages on one device (or `pipeline: off`) the same code runs them in turn, which is
the baseline the benchmark compares against."""

import json
import math
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soxr
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from qwen_tts import Qwen3TTSModel
from transformers.utils import logging as transformers_logging

from runtimes.base import (
    Pcm,
    SamplingParams,
    StageTotals,
    SynthesisJob,
    Voice,
    VoiceCapabilities,
    VoicePrompt,
)
from runtimes.errors import InvalidArgument, ModelLoadError
from runtimes.qwen3_split.generation import End, Row, Talker
from runtimes.qwen3_split.prompt import PromptRequest, build_prompt
from runtimes.qwen3_split.sampling import Sampling, TalkerRules
from runtimes.qwen3_split.stages import StageClock
from runtimes.qwen3_split.streaming_decoder import StreamingDecoder
from runtimes.torch_devices import torch_device, torch_dtype

FRAMES_PER_SECOND = 12.5
_LOADING = threading.Lock()
"""transformers builds models on the meta device through process-wide state while loading, so
two models loading at once on different threads break each other."""
_SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k", "seed", "max_audio_seconds"})
_LANGUAGE_TAGS = {
    "auto": "mul",
    "english": "en",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "german": "de",
    "french": "fr",
    "russian": "ru",
    "portuguese": "pt",
    "spanish": "es",
    "italian": "it",
}
_HARD_DEFAULTS = {
    "temperature": 0.9,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.05,
    "subtalker_temperature": 0.9,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "max_new_tokens": 8192,
}
"""qwen-tts's own defaults, for checkpoints whose generation_config.json leaves one out."""


class Qwen3SplitOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_dir: Path
    """A Qwen3-TTS 12 Hz checkpoint as Qwen publishes it (speech tokenizer in speech_tokenizer/)."""
    lm_device: str = "auto"
    """The talker's: "auto" (a GPU when torch sees one; ROCm names HIP devices "cuda"), "cpu",
    "cuda:N"."""
    decoder_device: str = "cpu"
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    """The talker's; the decoder always computes in float32."""
    decoder_threads: int | None = Field(default=None, ge=1)
    """torch's CPU threads (for the decoder when it runs on the CPU); default: the CPU quota."""
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    max_batch: int = Field(default=8, ge=1)
    """Requests whose talker steps run as one batch."""
    first_chunk_frames: int = Field(default=2, ge=1)
    """Frames (80 ms each) in the first streamed chunk: the time to first audio."""
    chunk_frames: int = Field(default=8, ge=1)
    pipeline: Literal["auto", "on", "off"] = "auto"
    """"auto": the stages overlap when they run on different devices."""


class Qwen3SplitRuntime:
    def __init__(self, options: Mapping[str, Any]) -> None:
        try:
            self.options = Qwen3SplitOptions.model_validate(dict(options))
        except ValidationError as error:
            raise ModelLoadError(f"invalid qwen3-split options: {error}") from error
        self._lm_device = torch.device("cpu")
        self._talker: Talker | None = None
        self.stages = StageClock(("lm", "decoder"))

    @property
    def device(self) -> str:
        return str(self._lm_device)

    @property
    def pipelined(self) -> bool:
        if self.options.pipeline == "auto":
            return self._lm_device != self._decoder_device
        return self.options.pipeline == "on"

    def load(self) -> None:
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        options = self.options
        self._lm_device = torch_device(options.lm_device)
        self._decoder_device = torch_device(options.decoder_device)
        model_dir = _checked_checkpoint(options.model_dir)
        if self._decoder_device.type == "cpu":
            torch.set_num_threads(options.decoder_threads or _cpu_quota())
        try:
            with _LOADING:
                wrapper = Qwen3TTSModel.from_pretrained(
                    str(model_dir),
                    device_map=str(self._lm_device),
                    dtype=torch_dtype(options.dtype, self._lm_device),
                    attn_implementation=options.attn_implementation,
                    local_files_only=True,
                )
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise ModelLoadError(f"cannot load Qwen3-TTS from {model_dir}: {error}") from error
        model = wrapper.model
        if model.tokenizer_type != "qwen3_tts_tokenizer_12hz":
            raise ModelLoadError(
                f"{model_dir} uses the {model.tokenizer_type} speech tokenizer; "
                "qwen3-split serves the 12 Hz models"
            )
        tokenizer = model.speech_tokenizer
        tokenizer.model.to(self._decoder_device, torch.float32)
        tokenizer.device = self._decoder_device
        self._wrapper = wrapper
        self._model = model
        self._decoder = tokenizer.model.decoder
        self._defaults = {**_HARD_DEFAULTS, **(model.generate_config or {})}
        talker_config = model.config.talker_config
        self._talker = Talker(
            model,
            TalkerRules.of(
                talker_config.vocab_size,
                talker_config.codec_eos_token_id,
                float(self._defaults["repetition_penalty"]),
            ),
            options.max_batch,
            self.stages,
        )
        self._warm_up()

    def _warm_up(self) -> None:
        voice = self.voices()[0]
        speaker = voice.speakers[0] if voice.speakers else None
        job = SynthesisJob(("Hello.",), voice.id, speaker, sampling=SamplingParams(temperature=0))
        prompt = None
        if self._model.tts_model_type == "base":
            prompt = _silence_prompt()
        for _ in self._synthesize(job, prompt, max_frames=2):
            pass

    @property
    def kind(self) -> str:
        """custom_voice, base or voice_design."""
        return str(self._model.tts_model_type)

    def voices(self) -> list[Voice]:
        speakers = tuple(self._model.get_supported_speakers())
        capabilities = VoiceCapabilities(
            streaming=True,
            voice_cloning=self.kind == "base",
            sampling_params=_SAMPLING_PARAMS,
            instructions=self._follows_instructions,
        )
        rate = int(self._model.speech_tokenizer.get_output_sample_rate())
        return [
            Voice(language, _LANGUAGE_TAGS.get(language, "und"), rate, capabilities, speakers)
            for language in self._model.get_supported_languages()
        ]

    @property
    def _follows_instructions(self) -> bool:
        # qwen-tts ignores instructions on the 0.6B CustomVoice checkpoints.
        if self.kind == "custom_voice":
            return str(self._model.tts_model_size) != "0b6"
        return self.kind == "voice_design"

    def memory_bytes(self) -> int:
        return sum(
            tensor.numel() * tensor.element_size()
            for tensor in (*self._model.parameters(), *self._model.buffers())
        )

    def stage_totals(self) -> StageTotals:
        return self.stages.totals()

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        return self._synthesize(job, job.prompt, max_frames=None)

    def _synthesize(
        self, job: SynthesisJob, prompt: VoicePrompt | None, max_frames: int | None
    ) -> Iterator[Pcm]:
        request = self._prompt_request(job, prompt)
        generator = torch.Generator().manual_seed(
            job.sampling.seed if job.sampling.seed is not None else secrets.randbits(63)
        )
        sampling, code_sampling = self._samplings(job.sampling, generator)
        budget = self._frame_budget(job.sampling, max_frames)
        decoder = StreamingDecoder(self._decoder)
        if request.reference_codes is not None:
            with self.stages.busy("decoder"):
                decoder.push(request.reference_codes)
        for segment in job.segments:
            if budget <= 0:
                return
            segment_request = replace(request, text_ids=self._text_ids(segment))
            prompt_embeddings = build_prompt(self._model, segment_request)
            row = Row(prompt_embeddings, sampling, code_sampling, budget)
            for pcm in self._stream_row(row, decoder):
                budget -= len(pcm) // decoder.samples_per_frame
                yield pcm

    def _stream_row(self, row: Row, decoder: StreamingDecoder) -> Iterator[Pcm]:
        talker = self._talker
        assert talker is not None
        options = self.options
        talker.submit(row)
        talker.grant(row, options.first_chunk_frames)
        wanted = options.first_chunk_frames
        try:
            while True:
                frames, ended = _take(row, wanted)
                if self.pipelined and not ended:
                    talker.grant(row, options.chunk_frames)
                if frames:
                    with self.stages.busy("decoder"):
                        pcm = decoder.push(torch.stack(frames)).cpu().numpy()
                    yield pcm.astype(np.float32, copy=False)
                if ended:
                    return
                if not self.pipelined:
                    talker.grant(row, options.chunk_frames)
                wanted = options.chunk_frames
        finally:
            talker.cancel(row)

    def _prompt_request(self, job: SynthesisJob, prompt: VoicePrompt | None) -> PromptRequest:
        language = job.voice if job.voice else self.voices()[0].id
        speakers = self._model.get_supported_speakers()
        speaker = job.speaker
        if speaker is not None and speaker.lower() not in speakers:
            known = ", ".join(sorted(speakers)) or "none"
            raise InvalidArgument(f"speaker {speaker!r} is not one of this model's: {known}")
        if speaker is None and self.kind == "custom_voice":
            speaker = next(iter(speakers))
        instruction_ids = None
        if job.instructions:
            instruction_ids = self._wrapper._tokenize_texts(
                [self._wrapper._build_instruct_text(job.instructions)]
            )[0]
        empty = torch.zeros(1, 0, dtype=torch.long)
        if self.kind != "base":
            return PromptRequest(empty, language, speaker, instruction_ids, whole_text=True)
        if prompt is None:
            raise InvalidArgument(
                "this Base checkpoint speaks in a cloned voice: send prompt_audio "
                "(and prompt_text, the words spoken in it)"
            )
        return self._clone_request(prompt, language, instruction_ids)

    def _clone_request(
        self, prompt: VoicePrompt, language: str, instruction_ids: torch.Tensor | None
    ) -> PromptRequest:
        audio = prompt.audio
        if prompt.sample_rate_hz != 24000:
            audio = soxr.resample(audio, prompt.sample_rate_hz, 24000)
        if len(audio) < 2400:
            raise InvalidArgument("prompt_audio is shorter than 0.1 s")
        in_context = bool(prompt.text.strip())
        items = self._wrapper.create_voice_clone_prompt(
            ref_audio=(np.asarray(audio, dtype=np.float32), 24000),
            ref_text=prompt.text if in_context else None,
            x_vector_only_mode=not in_context,
        )
        item = items[0]
        reference_ids = None
        if in_context:
            reference_ids = self._wrapper._tokenize_texts(
                [self._wrapper._build_ref_text(prompt.text)]
            )[0]
        return PromptRequest(
            torch.zeros(1, 0, dtype=torch.long),
            language,
            None,
            instruction_ids,
            speaker_embedding=item.ref_spk_embedding,
            reference_ids=reference_ids,
            reference_codes=item.ref_code if in_context else None,
            whole_text=False,
        )

    def _text_ids(self, text: str) -> torch.Tensor:
        ids: torch.Tensor = self._wrapper._tokenize_texts(
            [self._wrapper._build_assistant_text(text)]
        )[0]
        return ids

    def _samplings(
        self, params: SamplingParams, generator: torch.Generator
    ) -> tuple[Sampling, Sampling]:
        defaults = self._defaults
        temperature = float(_pick(params.temperature, defaults["temperature"]))
        if temperature == 0:
            greedy = Sampling(0.0, 0, 1.0, None)
            return greedy, greedy
        talker = Sampling(
            temperature,
            int(_pick(params.top_k, defaults["top_k"])),
            float(_pick(params.top_p, defaults["top_p"])),
            generator,
        )
        codes = Sampling(
            float(defaults["subtalker_temperature"]),
            int(defaults["subtalker_top_k"]),
            float(defaults["subtalker_top_p"]),
            generator,
        )
        return talker, codes

    def _frame_budget(self, params: SamplingParams, max_frames: int | None) -> int:
        frames = int(self._defaults["max_new_tokens"])
        if params.max_audio_seconds is not None:
            frames = min(frames, math.ceil(params.max_audio_seconds * FRAMES_PER_SECOND))
        if max_frames is not None:
            frames = min(frames, max_frames)
        return frames

    def close(self) -> None:
        if self._talker is not None:
            self._talker.close()


def _take(row: Row, wanted: int) -> tuple[list[torch.Tensor], bool]:
    """Blocks until `wanted` frames arrived or the row ended; raises what the talker raised."""
    frames: list[torch.Tensor] = []
    while len(frames) < wanted:
        item = row.frames.get()
        if isinstance(item, End):
            return frames, True
        if isinstance(item, BaseException):
            raise item
        frames.append(item)
    return frames, False


def _pick(value: float | None, default: Any) -> Any:
    return default if value is None else value


def _checked_checkpoint(folder: Path) -> Path:
    if not folder.is_dir():
        raise ModelLoadError(f"model_dir {folder} is not a folder")
    for name in ("config.json", "generation_config.json", "speech_tokenizer/config.json"):
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(
                f"model_dir {folder} has no {name}: not a Qwen3-TTS checkpoint as Qwen publishes it"
            )
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{path} is not readable JSON: {error}") from error
    return folder


def _cpu_quota() -> int:
    """The CPUs this process may use: its affinity, bounded by a cgroup v2 quota."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def _silence_prompt() -> VoicePrompt:
    return VoicePrompt(np.zeros(24000, dtype=np.float32), 24000, "")
