import io

import numpy as np
import pytest
import soundfile

from server.audio.decode import decode_audio
from server.audio.encoders import AudioEncoding
from server.audio.pipeline import AudioPipeline
from server.errors import InvalidArgument

TONE = (0.4 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)).astype(np.float32)


def test_decodes_stereo_wav_to_mono() -> None:
    out = io.BytesIO()
    soundfile.write(out, np.stack([TONE, TONE], axis=1), 16000, format="WAV")
    audio, rate = decode_audio(out.getvalue(), "prompt_audio")
    assert rate == 16000
    assert audio.shape == TONE.shape
    assert np.allclose(audio, TONE, atol=1e-4)


@pytest.mark.parametrize("encoding", [AudioEncoding.MP3, AudioEncoding.OGG_OPUS])
def test_decodes_compressed_formats(encoding: AudioEncoding) -> None:
    pipeline = AudioPipeline(16000, 16000, encoding)
    data = pipeline.push(TONE) + pipeline.finish()
    audio, rate = decode_audio(data, "prompt_audio")
    assert rate == 16000
    assert abs(audio.size - TONE.size) < 2400
    assert float(np.sqrt(np.mean(audio**2))) == pytest.approx(0.4 / np.sqrt(2), rel=0.2)


@pytest.mark.parametrize("data", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVE"])
def test_garbage_is_invalid_argument_naming_the_field(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="prompt_audio"):
        decode_audio(data, "prompt_audio")
