"""Decoding of audio that clients send (voice-cloning prompts), in any format libsndfile or
FFmpeg reads, to mono float32."""

import io

import av
import numpy as np
import soundfile

from runtimes.base import Pcm
from server.errors import InvalidArgument


def decode_audio(data: bytes, field: str) -> tuple[Pcm, int]:
    """Returns (mono samples, sample rate). Anything undecodable is InvalidArgument naming field."""
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return np.ascontiguousarray(samples.mean(axis=1), np.float32), int(rate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        pass  # not a format libsndfile knows (MP3 in older builds, AAC, ...): try FFmpeg
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.audio[0]
            frames = [
                frame.to_ndarray().reshape(frame.samples, -1, order="F").mean(axis=1)
                if frame.format.is_packed
                else frame.to_ndarray().mean(axis=0)
                for frame in container.decode(stream)
            ]
            rate = int(stream.rate or 0)
    except (av.FFmpegError, IndexError, ValueError) as error:
        raise InvalidArgument(
            f"{field} is not audio in a format this server reads: {error}"
        ) from error
    if not frames or rate <= 0:
        raise InvalidArgument(f"{field} holds no audio")
    return np.concatenate(frames).astype(np.float32), rate
