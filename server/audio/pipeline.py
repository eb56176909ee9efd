"""Per request: native-rate float32 chunks in, encoded bytes out, resampled on the way."""

import numpy as np
import soxr

from runtimes.base import Pcm
from server.audio.encoders import AudioEncoding, make_encoder


class AudioPipeline:
    def __init__(self, native_rate: int, output_rate: int, encoding: AudioEncoding) -> None:
        self.native_rate = native_rate
        self.output_rate = output_rate
        self.samples_out = 0
        self._resampler = self._new_resampler()
        self._encoder = make_encoder(encoding, output_rate)

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self.native_rate == self.output_rate:
            return None
        return soxr.ResampleStream(
            self.native_rate, self.output_rate, 1, dtype="float32", quality="HQ"
        )

    def cut(self) -> None:
        """Drops the audio the resampler holds back (a cancelled utterance's last milliseconds),
        so that what comes next starts clean."""
        self._resampler = self._new_resampler()

    @property
    def seconds_out(self) -> float:
        return self.samples_out / self.output_rate

    def _resample(self, audio: Pcm, last: bool) -> Pcm:
        if self._resampler is None:
            return audio
        return self._resampler.resample_chunk(audio, last=last)  # type: ignore[no-any-return]

    def push(self, audio: Pcm) -> bytes:
        out = self._resample(np.asarray(audio, np.float32).reshape(-1), last=False)
        self.samples_out += out.size
        return self._encoder.encode(out)

    def finish(self) -> bytes:
        tail = self._resample(np.zeros(0, np.float32), last=True)
        self.samples_out += tail.size
        return self._encoder.encode(tail) + self._encoder.finish()

    def finalize_whole(self, data: bytes) -> bytes:
        return self._encoder.finalize_whole(data)
