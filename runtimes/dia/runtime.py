"""Dia-1.6B (transformers' DiaForConditionalGeneration) with the DAC codec, on a ROCm or CUDA GPU
or the CPU: dialogue, nonverbal tags, voice cloning, per-request seeds, true streaming and
batching of concurrent requests."""

import math
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from transformers import DacModel, DiaForConditionalGeneration, DiaTokenizer, GenerationConfig
from transformers.utils import logging as transformers_logging

from runtimes.base import Pcm, SamplingParams, SynthesisJob, Voice, VoiceCapabilities
from runtimes.batching import Batcher
from runtimes.dia.codec import Codec, StreamingDecoder
from runtimes.dia.generation import End, Row, Tokens, generate
from runtimes.dia.sampling import RowSampling
from runtimes.dia.script import (
    DEFAULT_EMOJI,
    DEFAULT_NONVERBALS,
    SPEAKER_TAGS,
    Script,
    UnknownTagPolicy,
    with_speaker,
)
from runtimes.dia.static_decoding import StaticDecoder
from runtimes.errors import InvalidArgument, ModelLoadError, ResourceExhausted
from runtimes.torch_devices import torch_device, torch_dtype

_CODEC_FOLDERS = ("dac", "codec", "audio_tokenizer")
_FALLBACK_SAMPLING = {"guidance_scale": 3.0, "temperature": 1.8, "top_p": 0.9, "top_k": 45}
"""Dia-1.6B-0626's published generation config, for checkpoints saved without one."""
_T = TypeVar("_T")
_SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k", "cfg_scale", "seed"})


class DiaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_dir: Path
    """A Dia checkpoint as transformers saves it (config.json, model.safetensors, ...)."""
    codec_dir: Path | None = None
    """The DAC codec; by default the `dac/`, `codec/` or `audio_tokenizer/` subfolder."""
    lora_dir: Path | None = None
    """A peft LoRA adapter for this checkpoint, merged into the weights at load."""
    device: str = "auto"
    """"auto" (a GPU when torch sees one; ROCm builds name HIP devices "cuda"), "cpu", "cuda:1"."""
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    """"auto": float16 on a GPU, float32 on the CPU. The codec always runs in float32."""
    voice: str = "dia"
    language: str = "en"
    nonverbals: tuple[str, ...] = DEFAULT_NONVERBALS
    """The nonverbal tags the checkpoint knows, advertised in ListVoices."""
    emoji: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_EMOJI))
    unknown_tags: UnknownTagPolicy = "keep"
    """A tag in parentheses that is not in `nonverbals`: kept as text, or INVALID_ARGUMENT."""
    max_chunk_chars: int = Field(default=400, ge=50)
    """Longer texts are generated in chunks of about this many characters, cut at sentences."""
    max_chunk_seconds: float = Field(default=30.0, gt=0)
    """The most audio one chunk may generate (the model's positions are a further limit)."""
    max_batch: int = Field(default=8, ge=1)
    """Rows generated together; guidance doubles it on the device."""
    batch_wait_ms: float = Field(default=10.0, ge=0)
    max_concurrent_batches: int = Field(default=2, ge=1)
    first_chunk_frames: int = Field(default=8, ge=1)
    """Codec frames (11.6 ms each) in the first streamed chunk; later chunks double up to
    max_chunk_frames."""
    max_chunk_frames: int = Field(default=64, ge=1)
    decode_context_frames: int = Field(default=8, ge=0)
    """Frames decoded on either side of a chunk so it joins the next one seamlessly."""
    cuda_graphs: Literal["auto", "on", "off"] = "auto"
    """Decoder steps over preallocated caches, each step (decoder and token choice) replayed as
    a CUDA graph: one launch instead of hundreds. Graphs are captured per batch size, text
    length bucket and position bucket on first use (a lone request's at load), and the caches of
    each batch size stay allocated for the next batch. "auto" is on for NVIDIA CUDA devices, off
    for ROCm and the CPU; "on" asks for it on any CUDA device (ROCm's HIP graphs untested);
    "off" keeps transformers' growing caches. A seed gives the same audio either way, up to the
    device's rounding."""


class DiaRuntime:
    def __init__(self, options: Mapping[str, Any]) -> None:
        try:
            self.options = DiaOptions.model_validate(dict(options))
        except ValidationError as error:
            raise ModelLoadError(f"invalid dia options: {error}") from error
        self._script = Script(
            self.options.nonverbals, self.options.emoji, self.options.unknown_tags
        )
        self._device = torch.device("cpu")
        self._batcher: Batcher[Row] | None = None
        self._static: StaticDecoder | None = None

    @property
    def device(self) -> str:
        return str(self._device)

    def load(self) -> None:
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        options = self.options
        self._device = torch_device(options.device)
        dtype = torch_dtype(options.dtype, self._device)
        model_dir = _checked_folder(options.model_dir, "model_dir")
        codec_dir = _codec_folder(options)
        try:
            model: torch.nn.Module = DiaForConditionalGeneration.from_pretrained(
                model_dir, dtype=dtype, attn_implementation="sdpa", local_files_only=True
            )
            codec = DacModel.from_pretrained(codec_dir, local_files_only=True)
            self._tokenizer = DiaTokenizer.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ModelLoadError(f"cannot load Dia from {model_dir}: {error}") from error
        if options.lora_dir is not None:
            model = _merge_lora(model, _checked_folder(options.lora_dir, "lora_dir"))
        self._model = cast(DiaForConditionalGeneration, _placed(model, self._device))
        self._codec = Codec(cast(DacModel, _placed(codec, self._device)), self._device)
        config: Any = self._model.config
        self._tokens = Tokens.of(config)
        self._text_positions = int(config.encoder_config.max_position_embeddings)
        self._audio_positions = int(config.decoder_config.max_position_embeddings)
        if self._codec.channels != len(self._tokens.delays):
            raise ModelLoadError(
                f"the codec has {self._codec.channels} codebooks but the model"
                f" predicts {len(self._tokens.delays)} channels"
            )
        self._defaults = _generation_defaults(model_dir)
        self._static = self._static_decoder()
        self._batcher = Batcher[Row](
            lambda rows: generate(self._model, self._tokens, rows, self._static),
            lambda row: row.prefix_frames,
            options.max_batch,
            options.batch_wait_ms / 1000,
            options.max_concurrent_batches,
            "dia",
        )
        warm_up = SynthesisJob(("Hello.",), options.voice, sampling=SamplingParams(temperature=0))
        for _ in self._synthesize(warm_up, max_frames=4):
            pass
        if self._static is not None:
            # A lone request's graphs, so that its first audio waits for no capture.
            self._static.prepare(
                rows=1,
                guided=self._defaults["guidance_scale"] != 0,
                longest_text=options.max_chunk_chars,
                top_k=int(self._defaults["top_k"]),
            )

    def _static_decoder(self) -> StaticDecoder | None:
        setting = self.options.cuda_graphs
        cuda = self._device.type == "cuda"
        if setting == "on" and not cuda:
            raise ModelLoadError(
                f"cuda_graphs: on needs a CUDA device; this model is on {self._device}"
            )
        if setting == "off" or not cuda or (setting == "auto" and torch.version.hip is not None):
            return None
        return StaticDecoder(self._model, self._tokens.eos, graphs=True)

    def voices(self) -> list[Voice]:
        capabilities = VoiceCapabilities(
            streaming=True,
            voice_cloning=True,
            sampling_params=_SAMPLING_PARAMS,
            nonverbal_tags=tuple(f"({tag})" for tag in self.options.nonverbals),
            dialogue=True,
        )
        speakers = tuple(tag.strip("[]") for tag in SPEAKER_TAGS)
        return [
            Voice(
                id=self.options.voice,
                language=self.options.language,
                sample_rate_hz=self._codec.sample_rate,
                capabilities=capabilities,
                speakers=speakers,
            )
        ]

    def memory_bytes(self) -> int:
        modules = (self._model, self._codec.model)
        return sum(
            tensor.numel() * tensor.element_size()
            for module in modules
            for tensor in (*module.parameters(), *module.buffers())
        )

    def synthesize(self, job: SynthesisJob) -> Iterator[Pcm]:
        return self._synthesize(job, max_frames=None)

    def _synthesize(self, job: SynthesisJob, max_frames: int | None) -> Iterator[Pcm]:
        speaker = f"[{job.speaker}]" if job.speaker else SPEAKER_TAGS[0]
        chunks = self._script.chunks(job.segments, self.options.max_chunk_chars, speaker)
        prompt_text, prompt_codes = "", torch.zeros(0, self._codec.channels, dtype=torch.long)
        if job.prompt is not None:
            prompt_text = with_speaker(self._script.prepare(job.prompt.text)) + " "
            prompt_codes = self._on_device(
                self._codec.encode, job.prompt.audio, job.prompt.sample_rate_hz
            )
        sampling = self._row_sampling(job.sampling)
        frames = self._max_frames(job.sampling, prompt_codes.shape[0], max_frames)
        for chunk in chunks:
            row = Row(self._text_ids(prompt_text + chunk), prompt_codes, sampling, frames)
            yield from self._stream(row)

    def _stream(self, row: Row) -> Iterator[Pcm]:
        assert self._batcher is not None, "load() first"
        options = self.options
        decoder = StreamingDecoder(
            self._codec,
            options.first_chunk_frames,
            options.max_chunk_frames,
            options.decode_context_frames,
        )
        self._batcher.submit(row)
        try:
            while not isinstance(item := row.frames.get(), End):
                if isinstance(item, BaseException):
                    raise item
                yield from self._on_device(decoder.push, item)
            yield from self._on_device(decoder.finish)
        finally:
            row.cancelled.set()

    @staticmethod
    def _on_device(work: Callable[..., _T], *args: Any) -> _T:
        """Runs codec work, turning the device running out of memory into RESOURCE_EXHAUSTED."""
        try:
            return work(*args)
        except torch.OutOfMemoryError as error:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise ResourceExhausted(f"the device ran out of memory decoding: {error}") from error

    def _text_ids(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False)
        limit = self._text_positions
        if len(ids) > limit:
            raise InvalidArgument(
                f"text and prompt_text make {len(ids)} bytes for one chunk; Dia reads at most"
                f" {limit}: shorten prompt_text"
            )
        return ids

    def _row_sampling(self, requested: SamplingParams) -> RowSampling:
        defaults = self._defaults
        temperature = _pick(requested.temperature, defaults["temperature"])
        generator = None
        if temperature > 0:
            seed = requested.seed if requested.seed is not None else secrets.randbits(63)
            generator = torch.Generator(self._device).manual_seed(seed)
        return RowSampling(
            temperature=temperature,
            top_p=_pick(requested.top_p, defaults["top_p"]),
            top_k=int(_pick(requested.top_k, defaults["top_k"])),
            cfg_scale=_pick(requested.cfg_scale, defaults["guidance_scale"]),
            generator=generator,
        )

    def _max_frames(self, requested: SamplingParams, prompt_frames: int, cap: int | None) -> int:
        seconds = min(
            self.options.max_chunk_seconds,
            requested.max_audio_seconds or math.inf,
        )
        frames = math.ceil(seconds * self._codec.sample_rate / self._codec.hop)
        positions = self._audio_positions
        room = positions - 1 - prompt_frames - self._tokens.max_delay
        if room < 1:
            raise InvalidArgument(
                f"prompt_audio is {prompt_frames} frames; this model has room for {positions}"
                " in all: use a shorter prompt"
            )
        return max(1, min(frames, room, cap or room))

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()


def _pick(value: float | None, default: float) -> float:
    return float(default if value is None else value)


def _checked_folder(folder: Path, option: str) -> Path:
    if not folder.is_dir():
        raise ModelLoadError(f"{option} {folder} is not a folder")
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise ModelLoadError(f"{option} {folder} has no config.json: not a saved checkpoint")
    return folder


def _codec_folder(options: DiaOptions) -> Path:
    if options.codec_dir is not None:
        return _checked_folder(options.codec_dir, "codec_dir")
    for name in _CODEC_FOLDERS:
        if (options.model_dir / name / "config.json").is_file():
            return options.model_dir / name
    raise ModelLoadError(
        f"no DAC codec: {options.model_dir} has none of the subfolders"
        f" {', '.join(_CODEC_FOLDERS)}; set codec_dir"
    )


def _generation_defaults(model_dir: Path) -> dict[str, float]:
    if not (model_dir / "generation_config.json").is_file():
        return dict(_FALLBACK_SAMPLING)
    config = GenerationConfig.from_pretrained(model_dir, local_files_only=True)
    return {
        name: float(getattr(config, name) if getattr(config, name) is not None else fallback)
        for name, fallback in _FALLBACK_SAMPLING.items()
    }


def _placed(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    return torch.nn.Module.to(module, device).eval()


def _merge_lora(model: torch.nn.Module, adapter_dir: Path) -> torch.nn.Module:
    try:
        from peft import PeftModel
    except ImportError as error:
        raise ModelLoadError("lora_dir is set but peft is not installed") from error
    try:
        merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        return cast(torch.nn.Module, merged)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot apply the LoRA adapter in {adapter_dir}: {error}") from error
