"""Every encoding, whole and streamed, decoded by standard decoders: sample rate, channels,
duration and loudness as a listener would notice them."""

from typing import Any

import numpy as np
import pytest

from cantata_client import Client, Encoding, InvalidArgumentError
from tests.audio_checks import decode_ffmpeg, decode_pcm, decode_soundfile, rms

TEXT = "Cantata speaks in every format. The quick brown fox jumps over the lazy dog."
NATIVE_RATE = 22050
MP3_SLACK_SAMPLES = 2304
"""An MP3 encoder adds delay and padding of up to two 1152-sample frames; the other formats
are sample exact."""
ENCODINGS_BUT_G711 = [e for e in Encoding if e not in (Encoding.MULAW, Encoding.ALAW)]
"""Raw G.711 needs its law and rate told to a decoder: test_telephony.py checks it."""


def slack_seconds(encoding: Encoding, rate: int, exact: float = 0.002) -> float:
    return MP3_SLACK_SAMPLES / rate if encoding is Encoding.MP3 else exact


@pytest.fixture(scope="module")
def reference_seconds(client: Client) -> float:
    result = client.synthesize(TEXT, encoding=Encoding.PCM)
    return decode_pcm(result.audio).size / NATIVE_RATE


def _fetch(client: Client, mode: str, **options: Any) -> tuple[bytes, object]:
    if mode == "unary":
        result = client.synthesize(TEXT, **options)
        return result.audio, result.info
    stream = client.stream(TEXT, **options)
    audio = b"".join(stream)
    assert stream.info is not None
    assert stream.stats is not None
    return audio, stream.info


def test_speech_length_fits_the_text(reference_seconds: float) -> None:
    characters_per_second = len(TEXT) / reference_seconds
    assert 8 < characters_per_second < 25


@pytest.mark.parametrize("mode", ["unary", "stream"])
@pytest.mark.parametrize("encoding", ENCODINGS_BUT_G711)
def test_every_encoding_decodes_at_the_expected_rate_and_length(
    client: Client, reference_seconds: float, encoding: Encoding, mode: str
) -> None:
    audio, info = _fetch(client, mode, encoding=encoding)
    expected_rate = 48000 if encoding is Encoding.OGG_OPUS else NATIVE_RATE
    assert info.sample_rate_hz == expected_rate  # type: ignore[attr-defined]
    assert info.channels == 1  # type: ignore[attr-defined]
    slack = slack_seconds(encoding, expected_rate)
    if encoding is Encoding.PCM:
        samples, rate, channels = decode_pcm(audio), NATIVE_RATE, 1
    else:
        samples, rate, channels = decode_soundfile(audio)
        ff_samples, ff_rate, ff_channels = decode_ffmpeg(audio)
        assert (ff_rate, ff_channels) == (expected_rate, 1)
        assert abs(ff_samples.size / ff_rate - reference_seconds) <= slack
    assert (rate, channels) == (expected_rate, 1)
    assert abs(samples.size / rate - reference_seconds) <= slack
    assert rms(samples) > 0.05, "the audio is silent"
    if mode == "unary":
        assert abs(info.duration_seconds - reference_seconds) <= 0.002  # type: ignore[attr-defined]


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
@pytest.mark.parametrize("encoding", [Encoding.WAV, Encoding.MP3, Encoding.FLAC])
def test_resampled_output_has_the_requested_rate(
    client: Client, reference_seconds: float, encoding: Encoding, rate: int
) -> None:
    stream = client.stream(TEXT, encoding=encoding, sample_rate_hz=rate)
    samples, decoded_rate, _ = decode_soundfile(b"".join(stream))
    assert decoded_rate == rate
    assert abs(samples.size / rate - reference_seconds) <= slack_seconds(encoding, rate, 0.01)
    # Speech energy survives resampling: the level stays close to the native rendering.
    assert rms(samples) > 0.05


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_opus_carries_each_rate_it_defines(client: Client, rate: int) -> None:
    result = client.synthesize(TEXT, encoding=Encoding.OGG_OPUS, sample_rate_hz=rate)
    _, decoded_rate, _ = decode_soundfile(result.audio)
    assert result.info.sample_rate_hz == decoded_rate == rate


def test_opus_refuses_a_rate_it_cannot_carry(client: Client) -> None:
    with pytest.raises(InvalidArgumentError, match="sample_rate_hz 44100 cannot be encoded"):
        client.synthesize(TEXT, encoding=Encoding.OGG_OPUS, sample_rate_hz=44100)


def test_streamed_wav_header_states_streaming_sizes(client: Client) -> None:
    streamed = b"".join(client.stream(TEXT, encoding=Encoding.WAV))
    whole = client.synthesize(TEXT, encoding=Encoding.WAV).audio
    assert streamed[4:8] == b"\xff\xff\xff\xff"
    assert streamed[40:44] == b"\xff\xff\xff\xff"
    assert int.from_bytes(whole[40:44], "little") == len(whole) - 44
    assert streamed[44:] == whole[44:]


def test_joined_stream_equals_unary_in_deterministic_mode(client: Client) -> None:
    whole = decode_pcm(client.synthesize(TEXT, encoding=Encoding.PCM).audio)
    chunks = list(client.stream(TEXT, encoding=Encoding.PCM))
    streamed = decode_pcm(b"".join(chunks))
    assert len(chunks) >= 2, "two sentences should arrive as at least two chunks"
    assert streamed.shape == whole.shape
    assert np.max(np.abs(streamed - whole)) <= 1 / 32768


def test_speed_changes_duration(client: Client, reference_seconds: float) -> None:
    fast = decode_pcm(client.synthesize(TEXT, encoding=Encoding.PCM, speed=1.5).audio)
    slow = decode_pcm(client.synthesize(TEXT, encoding=Encoding.PCM, speed=0.75).audio)
    assert fast.size / NATIVE_RATE < reference_seconds * 0.8
    assert slow.size / NATIVE_RATE > reference_seconds * 1.2


def test_max_audio_seconds_cuts_the_audio(client: Client) -> None:
    result = client.synthesize(TEXT, encoding=Encoding.PCM, max_audio_seconds=1.0)
    assert decode_pcm(result.audio).size == NATIVE_RATE
    assert result.stats.audio_seconds == pytest.approx(1.0)


def test_temperature_zero_repeats_and_default_noise_varies(client: Client) -> None:
    first = client.synthesize(TEXT, encoding=Encoding.PCM, temperature=0.0).audio
    again = client.synthesize(TEXT, encoding=Encoding.PCM, temperature=0.0).audio
    noisy = client.synthesize(TEXT, encoding=Encoding.PCM, temperature=1.0).audio
    assert first == again
    assert noisy != first
