"""Audio out: resampling (soxr) and incremental encoders, joined in AudioPipeline."""

from server.audio.encoders import AudioEncoding, Encoder, check_sample_rate, default_sample_rate
from server.audio.pipeline import AudioPipeline

__all__ = ["AudioEncoding", "AudioPipeline", "Encoder", "check_sample_rate", "default_sample_rate"]
