"""Decoding and checking audio the way a listener's software would: with libsndfile
(soundfile) and FFmpeg (PyAV), independently of the server's encoders."""

import io
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
import soundfile

Samples = npt.NDArray[np.float64]


def decode_soundfile(data: bytes) -> tuple[Samples, int, int]:
    """(mono samples, sample rate, channels) as libsndfile reads the file."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return samples.mean(axis=1), int(rate), samples.shape[1]


def decode_ffmpeg(data: bytes) -> tuple[Samples, int, int]:
    """(mono samples, decoded sample rate, channels) as FFmpeg decodes the stream."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels
        frames = [
            frame.to_ndarray().astype(np.float64).reshape(-1, channels).mean(axis=1)
            if frame.format.is_packed
            else frame.to_ndarray().mean(axis=0)
            for frame in container.decode(stream)
        ]
        return np.concatenate(frames), int(stream.codec_context.sample_rate), channels


G711Law = Literal["mulaw", "alaw"]
_SOUNDFILE_SUBTYPES = {"mulaw": "ULAW", "alaw": "ALAW"}


def decode_g711_ffmpeg(data: bytes, law: G711Law, rate: int) -> Samples:
    """Raw G.711 has no header: the rate and the law are the caller's to say."""
    options = {"sample_rate": str(rate)}
    with av.open(io.BytesIO(data), mode="r", format=law, options=options) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (rate, 1)
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
    return np.concatenate(frames).astype(np.float64) / 32768.0 if frames else np.zeros(0)


def decode_g711_soundfile(data: bytes, law: G711Law, rate: int) -> Samples:
    samples, _ = soundfile.read(
        io.BytesIO(data),
        samplerate=rate,
        channels=1,
        format="RAW",
        subtype=_SOUNDFILE_SUBTYPES[law],
        dtype="float64",
    )
    return np.asarray(samples, np.float64)


def decode_pcm(data: bytes) -> Samples:
    return np.frombuffer(data, "<i2").astype(np.float64) / 32768.0


def rms(samples: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
