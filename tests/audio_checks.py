"""Decoding and checking audio the way a listener's software would: with libsndfile
(soundfile) and FFmpeg (PyAV), independently of the server's encoders."""

import io

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


def decode_pcm(data: bytes) -> Samples:
    return np.frombuffer(data, "<i2").astype(np.float64) / 32768.0


def rms(samples: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
