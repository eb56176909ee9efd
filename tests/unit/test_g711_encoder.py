"""The G.711 encoders on their own: byte for byte the same however the audio is chunked, nothing
for nothing, the standard code points, and 8 kHz unless a rate is asked for."""

import numpy as np
import pytest

from server.audio.encoders import (
    AudioEncoding,
    check_sample_rate,
    default_sample_rate,
    make_encoder,
    to_int16,
)
from server.audio.pipeline import AudioPipeline
from tests.audio_checks import G711Law, decode_g711_ffmpeg

LAWS: dict[AudioEncoding, G711Law] = {AudioEncoding.MULAW: "mulaw", AudioEncoding.ALAW: "alaw"}
SILENCE_BYTE = {AudioEncoding.MULAW: 0xFF, AudioEncoding.ALAW: 0xD5}
"""What G.711 sends for a zero sample (ITU-T G.711 tables, A-law with even bits inverted)."""

RATE = 8000
RNG = np.random.default_rng(11)
SPEECHLIKE = (
    0.5 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE) * np.linspace(0, 1, RATE)
    + 0.01 * RNG.standard_normal(RATE)
).astype(np.float32)


@pytest.mark.parametrize("encoding", list(LAWS))
def test_chunked_encode_equals_one_shot(encoding: AudioEncoding) -> None:
    whole = make_encoder(encoding, RATE)
    one_shot = whole.encode(SPEECHLIKE) + whole.finish()
    cuts = np.sort(RNG.integers(0, SPEECHLIKE.size, 12))
    chunked = make_encoder(encoding, RATE)
    pieces = [chunked.encode(part) for part in np.split(SPEECHLIKE, cuts)]
    assert b"".join(pieces) + chunked.finish() == one_shot
    assert len(one_shot) == SPEECHLIKE.size, "one byte a sample, no header"


@pytest.mark.parametrize("encoding", list(LAWS))
def test_empty_input_gives_no_bytes(encoding: AudioEncoding) -> None:
    encoder = make_encoder(encoding, RATE)
    assert encoder.encode(np.zeros(0, np.float32)) == b""
    assert encoder.finish() == b""
    pipeline = AudioPipeline(22050, RATE, encoding)
    assert pipeline.finish() == b""
    assert pipeline.samples_out == 0


@pytest.mark.parametrize("encoding", list(LAWS))
def test_zero_is_the_standard_code_point(encoding: AudioEncoding) -> None:
    encoder = make_encoder(encoding, RATE)
    assert encoder.encode(np.zeros(4, np.float32)) == bytes([SILENCE_BYTE[encoding]] * 4)


@pytest.mark.parametrize("encoding", list(LAWS))
def test_decodes_within_the_quantisation_step(encoding: AudioEncoding) -> None:
    encoder = make_encoder(encoding, RATE)
    decoded = decode_g711_ffmpeg(encoder.encode(SPEECHLIKE), LAWS[encoding], RATE)
    reference = to_int16(SPEECHLIKE) / 32768.0
    assert np.all(np.abs(decoded - reference) <= np.abs(reference) / 16 + 16 / 32768)


@pytest.mark.parametrize("encoding", list(LAWS))
def test_telephone_rate_by_default_and_any_rate_in_range(encoding: AudioEncoding) -> None:
    assert default_sample_rate(encoding, 22050) == 8000
    assert default_sample_rate(encoding, 24000) == 8000
    for rate in (8000, 11025, 22050, 44100, 48000):
        check_sample_rate(encoding, rate)
    pipeline = AudioPipeline(22050, 16000, encoding)
    data = pipeline.push(np.zeros(22050, np.float32)) + pipeline.finish()
    assert len(data) == pipeline.samples_out == 16000
