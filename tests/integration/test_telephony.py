"""G.711 µ-law and A-law (raw, no header) as a telephone system reads them: 8 kHz unless a rate
is asked for, decoded by FFmpeg and by libsndfile, and sample for sample the PCM output of the
same request within G.711's quantisation error."""

from typing import Any

import numpy as np
import pytest

from cantata.tts.v1 import tts_pb2 as pb
from cantata_client import Client, Encoding, InvalidArgumentError
from tests.audio_checks import (
    G711Law,
    Samples,
    decode_g711_ffmpeg,
    decode_g711_soundfile,
    decode_pcm,
    rms,
)

TEXT = "Cantata answers the telephone. The quick brown fox jumps over the lazy dog."
LAWS: dict[Encoding, G711Law] = {Encoding.MULAW: "mulaw", Encoding.ALAW: "alaw"}
OTHER_LAW: dict[G711Law, G711Law] = {"mulaw": "alaw", "alaw": "mulaw"}
PROTO_ENCODINGS = {Encoding.MULAW: pb.AUDIO_ENCODING_MULAW, Encoding.ALAW: pb.AUDIO_ENCODING_ALAW}
MIN_SNR_DB = 30.0
"""G.711 keeps about 38 dB of signal over quantisation noise across speech levels (8 bits, 16
steps per octave); decoding with the wrong law falls far below."""


@pytest.fixture(scope="module")
def pcm_at(client: Client) -> dict[int, Samples]:
    rates = (8000, 16000, 44100)
    return {
        rate: decode_pcm(client.synthesize(TEXT, encoding=Encoding.PCM, sample_rate_hz=rate).audio)
        for rate in rates
    }


def snr_db(reference: Samples, decoded: Samples) -> float:
    noise = float(np.sum(np.square(decoded - reference)))
    return 10 * float(np.log10(float(np.sum(np.square(reference))) / noise))


def check_against_pcm(data: bytes, law: G711Law, rate: int, pcm: Samples) -> None:
    by_ffmpeg = decode_g711_ffmpeg(data, law, rate)
    by_libsndfile = decode_g711_soundfile(data, law, rate)
    # One byte a sample: the duration is the PCM output's to the sample.
    assert len(data) == by_ffmpeg.size == by_libsndfile.size == pcm.size
    assert np.array_equal(by_ffmpeg, by_libsndfile), "the two decoders disagree"
    assert rms(by_ffmpeg) > 0.05, "the audio is silent"
    assert snr_db(pcm, by_ffmpeg) >= MIN_SNR_DB
    # Each sample within G.711's step: 16 steps per octave (a step is under |x|/16), and the
    # finest step near zero (16 in A-law's 13-bit scale read as 16-bit).
    assert np.all(np.abs(by_ffmpeg - pcm) <= np.abs(pcm) / 16 + 16 / 32768)
    assert snr_db(pcm, decode_g711_ffmpeg(data, OTHER_LAW[law], rate)) < 10


def _fetch(client: Client, mode: str, **options: Any) -> tuple[bytes, pb.AudioInfo, float]:
    if mode == "unary":
        result = client.synthesize(TEXT, **options)
        return result.audio, result.info, result.stats.audio_seconds
    stream = client.stream(TEXT, **options)
    audio = b"".join(stream)
    assert stream.info is not None
    assert stream.stats is not None
    return audio, stream.info, stream.stats.audio_seconds


@pytest.mark.parametrize("mode", ["unary", "stream"])
@pytest.mark.parametrize("encoding", list(LAWS))
def test_g711_is_8000_hz_by_default_and_matches_pcm(
    client: Client, pcm_at: dict[int, Samples], encoding: Encoding, mode: str
) -> None:
    audio, info, audio_seconds = _fetch(client, mode, encoding=encoding)
    assert (info.sample_rate_hz, info.channels) == (8000, 1)
    assert info.encoding == PROTO_ENCODINGS[encoding]
    assert audio_seconds == pytest.approx(len(audio) / 8000)
    if mode == "unary":
        assert info.duration_seconds == pytest.approx(len(audio) / 8000)
    check_against_pcm(audio, LAWS[encoding], 8000, pcm_at[8000])


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("encoding", list(LAWS))
def test_g711_honours_a_given_rate(
    client: Client, pcm_at: dict[int, Samples], encoding: Encoding, rate: int
) -> None:
    result = client.synthesize(TEXT, encoding=encoding, sample_rate_hz=rate)
    assert result.info.sample_rate_hz == rate
    check_against_pcm(result.audio, LAWS[encoding], rate, pcm_at[rate])


@pytest.mark.parametrize("encoding", list(LAWS))
def test_g711_stream_joins_to_the_unary_bytes(client: Client, encoding: Encoding) -> None:
    whole = client.synthesize(TEXT, encoding=encoding).audio
    chunks = list(client.stream(TEXT, encoding=encoding))
    assert len(chunks) >= 2, "two sentences should arrive as at least two chunks"
    assert b"".join(chunks) == whole


def test_g711_default_is_the_telephone_rate_not_the_voices(client: Client) -> None:
    voice = next(v for v in client.voices("piper") if v.is_default)
    assert voice.native_sample_rate_hz == 22050
    assert client.synthesize("Hello.", encoding=Encoding.MULAW).info.sample_rate_hz == 8000


@pytest.mark.parametrize("rate", [7999, 48001])
def test_g711_refuses_a_rate_outside_8000_to_48000(client: Client, rate: int) -> None:
    with pytest.raises(InvalidArgumentError, match="sample_rate_hz must be"):
        client.synthesize(TEXT, encoding=Encoding.ALAW, sample_rate_hz=rate)
