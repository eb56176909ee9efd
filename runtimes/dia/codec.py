"""The DAC codec: prompt audio → codes, and codes → audio in chunks as frames arrive.

DAC's decoder is convolutional, so each output sample depends on a few frames either side. A
chunk is decoded with `context` frames of the neighbours on both sides and only its own samples
are kept, which makes the joined stream match a one-shot decode (tests/ measure the gap)."""

import math

import numpy as np
import soxr
import torch
from transformers import DacModel

from runtimes.base import Pcm


class Codec:
    def __init__(self, model: DacModel, device: torch.device) -> None:
        self.model = model
        self.device = device
        config = model.config
        self.sample_rate: int = int(config.sampling_rate)
        self.hop: int = int(config.hop_length)
        self.channels: int = int(config.n_codebooks)

    @torch.inference_mode()
    def encode(self, audio: Pcm, rate: int) -> torch.Tensor:
        """Mono audio at any rate → [frames, channels] codes."""
        if rate != self.sample_rate:
            audio = soxr.resample(audio, rate, self.sample_rate).astype(np.float32)
        padded = np.zeros(math.ceil(audio.size / self.hop) * self.hop, np.float32)
        padded[: audio.size] = audio
        samples = torch.from_numpy(padded).to(self.device).view(1, 1, -1)
        codes: torch.Tensor = self.model.encode(samples).audio_codes  # [1, channels, frames]
        return codes[0].transpose(0, 1).cpu()

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> Pcm:
        """[frames, channels] codes → audio."""
        if codes.shape[0] == 0:
            return np.zeros(0, np.float32)
        audio: torch.Tensor = self.model.decode(
            audio_codes=codes.T[None].to(self.device)
        ).audio_values
        samples: Pcm = audio.reshape(-1).float().cpu().numpy().clip(-1.0, 1.0)
        return samples


class StreamingDecoder:
    """Frames in, audio out: the first chunk is small (first audio soon), later ones grow
    (fewer decoder calls) up to max_frames."""

    def __init__(self, codec: Codec, first_frames: int, max_frames: int, context: int) -> None:
        self._codec = codec
        self._next_size = first_frames
        self._max_frames = max_frames
        self._context = context
        self._frames: list[torch.Tensor] = []
        self._done = 0
        """Frames already turned into audio."""

    def push(self, frames: torch.Tensor) -> list[Pcm]:
        """Adds [n, channels] frames; returns each chunk that now has its right context."""
        self._frames.extend(frames)
        chunks = []
        while len(self._frames) - self._done >= self._next_size + self._context:
            chunks.append(self._chunk(self._done + self._next_size))
            self._next_size = min(2 * self._next_size, self._max_frames)
        return chunks

    def finish(self) -> list[Pcm]:
        return [self._chunk(len(self._frames))] if len(self._frames) > self._done else []

    def _chunk(self, end: int) -> Pcm:
        start = max(0, self._done - self._context)
        stop = min(len(self._frames), end + self._context)
        audio = self._codec.decode(torch.stack(self._frames[start:stop]))
        hop = self._codec.hop
        chunk = audio[(self._done - start) * hop : (end - start) * hop]
        self._done = end
        return chunk
