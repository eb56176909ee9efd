"""Encoders that turn float32 mono audio into bytes as it arrives. Joining everything an encoder
returns from encode() and finish() gives one valid file or stream in its format."""

import enum
import io
import struct
from typing import Literal, Protocol

import av
import lameenc
import numpy as np
import numpy.typing as npt
import soundfile

from runtimes.base import Pcm
from server.errors import InvalidArgument

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
_STREAMING_SIZE = 0xFFFFFFFF


class AudioEncoding(enum.Enum):
    PCM_S16LE = "pcm_s16le"
    WAV = "wav"
    FLAC = "flac"
    OGG_OPUS = "ogg_opus"
    MP3 = "mp3"
    MULAW = "mulaw"
    ALAW = "alaw"


TELEPHONY_RATE = 8000
G711Codec = Literal["pcm_mulaw", "pcm_alaw"]
_G711: dict[AudioEncoding, G711Codec] = {
    AudioEncoding.MULAW: "pcm_mulaw",
    AudioEncoding.ALAW: "pcm_alaw",
}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_ALLOWED_RATES = {AudioEncoding.OGG_OPUS: _OPUS_RATES, AudioEncoding.MP3: _MP3_RATES}


def default_sample_rate(encoding: AudioEncoding, native_rate: int) -> int:
    """The output rate when a request asks for none: the voice's own, unless the format
    cannot carry it (Opus then uses 48 kHz, MP3 the nearest higher rate it defines). G.711 is
    telephone audio, and telephone audio is 8 kHz whatever the voice."""
    if encoding in _G711:
        return TELEPHONY_RATE
    allowed = _ALLOWED_RATES.get(encoding)
    if allowed is None or native_rate in allowed:
        return native_rate
    if encoding is AudioEncoding.OGG_OPUS:
        return 48000
    return min((rate for rate in allowed if rate >= native_rate), default=allowed[-1])


def check_sample_rate(encoding: AudioEncoding, rate: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidArgument(
            f"sample_rate_hz must be 0 (the voice's rate) or {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE};"
            f" got {rate}"
        )
    allowed = _ALLOWED_RATES.get(encoding)
    if allowed is not None and rate not in allowed:
        raise InvalidArgument(
            f"sample_rate_hz {rate} cannot be encoded as {encoding.name};"
            f" use one of {', '.join(map(str, allowed))}"
        )


def to_int16(audio: Pcm) -> npt.NDArray[np.int16]:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")


def to_s16le(audio: Pcm) -> bytes:
    return to_int16(audio).tobytes()


class Encoder(Protocol):
    def encode(self, audio: Pcm) -> bytes: ...

    def finish(self) -> bytes: ...

    def finalize_whole(self, data: bytes) -> bytes:
        """Given everything this encoder produced, the same audio as a complete file (WAV then
        carries its real sizes rather than streaming ones)."""
        ...


class PcmEncoder:
    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    def encode(self, audio: Pcm) -> bytes:
        return to_s16le(audio)

    def finish(self) -> bytes:
        return b""

    def finalize_whole(self, data: bytes) -> bytes:
        return data


class WavEncoder(PcmEncoder):
    """16-bit PCM WAV. The header goes out with the first bytes, before the length is known,
    so it carries the streaming sizes 0xFFFFFFFF that libsndfile and FFmpeg read to the end."""

    _HEADER_BYTES = 44

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._header_sent = False

    def _header(self, data_bytes: int, riff_bytes: int) -> bytes:
        fmt = struct.pack("<HHIIHH", 1, 1, self.sample_rate, self.sample_rate * 2, 2, 16)
        return (
            b"RIFF"
            + struct.pack("<I", riff_bytes)
            + b"WAVE"
            + b"fmt "
            + struct.pack("<I", len(fmt))
            + fmt
            + b"data"
            + struct.pack("<I", data_bytes)
        )

    def encode(self, audio: Pcm) -> bytes:
        header = b"" if self._header_sent else self._header(_STREAMING_SIZE, _STREAMING_SIZE)
        self._header_sent = True
        return header + to_s16le(audio)

    def finish(self) -> bytes:
        return b"" if self._header_sent else self.encode(np.zeros(0, np.float32))

    def finalize_whole(self, data: bytes) -> bytes:
        data_bytes = len(data) - self._HEADER_BYTES
        return (
            self._header(data_bytes, data_bytes + self._HEADER_BYTES - 8)
            + data[self._HEADER_BYTES :]
        )


class FlacEncoder:
    """FLAC needs its total length and checksum in the header for decoders such as libsndfile to
    read it as a file, so the audio is gathered and encoded once, at the end."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._parts: list[Pcm] = []

    def encode(self, audio: Pcm) -> bytes:
        self._parts.append(audio)
        return b""

    def finish(self) -> bytes:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        self._parts = []
        out = io.BytesIO()
        soundfile.write(out, audio, self.sample_rate, format="FLAC", subtype="PCM_16")
        return out.getvalue()

    def finalize_whole(self, data: bytes) -> bytes:
        return data


class Mp3Encoder:
    def __init__(self, sample_rate: int) -> None:
        self._lame = lameenc.Encoder()
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_out_sample_rate(sample_rate)
        self._lame.set_channels(1)
        self._lame.set_bit_rate(64 if sample_rate >= 32000 else 32)
        self._lame.set_quality(2)

    def encode(self, audio: Pcm) -> bytes:
        return bytes(self._lame.encode(to_s16le(audio)))

    def finish(self) -> bytes:
        return bytes(self._lame.flush())

    def finalize_whole(self, data: bytes) -> bytes:
        return data


class _ByteSink(io.RawIOBase):
    """A write-only, non-seekable file for FFmpeg's muxer, read back after every write."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class OggOpusEncoder:
    """Opus in Ogg through FFmpeg (PyAV); short pages so each chunk leaves as pages at once."""

    def __init__(self, sample_rate: int) -> None:
        self._sink = _ByteSink()
        self._container = av.open(
            self._sink, mode="w", format="ogg", options={"page_duration": "20000"}
        )
        self._stream = self._container.add_stream("libopus", rate=sample_rate, layout="mono")
        self._stream.bit_rate = 32000
        self.sample_rate = sample_rate

    def _mux(self, frame: av.AudioFrame | None) -> bytes:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def encode(self, audio: Pcm) -> bytes:
        if audio.size == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio, np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        return self._mux(frame)

    def finish(self) -> bytes:
        data = self._mux(None)
        self._container.close()
        return data + self._sink.take()

    def finalize_whole(self, data: bytes) -> bytes:
        return data


class G711Encoder:
    """Raw G.711 (µ-law or A-law, one byte a sample, no header) through FFmpeg (PyAV). The
    codecs work sample by sample, so every chunk's bytes leave at once."""

    def __init__(self, codec: G711Codec, sample_rate: int) -> None:
        self._codec = av.CodecContext.create(codec, "w")
        self._codec.sample_rate = sample_rate
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self.sample_rate = sample_rate

    def encode(self, audio: Pcm) -> bytes:
        if audio.size == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(
            to_int16(audio).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))

    def finish(self) -> bytes:
        return b"".join(bytes(packet) for packet in self._codec.encode(None))

    def finalize_whole(self, data: bytes) -> bytes:
        return data


_ENCODERS: dict[AudioEncoding, type[PcmEncoder | FlacEncoder | Mp3Encoder | OggOpusEncoder]] = {
    AudioEncoding.PCM_S16LE: PcmEncoder,
    AudioEncoding.WAV: WavEncoder,
    AudioEncoding.FLAC: FlacEncoder,
    AudioEncoding.OGG_OPUS: OggOpusEncoder,
    AudioEncoding.MP3: Mp3Encoder,
}


def make_encoder(encoding: AudioEncoding, sample_rate: int) -> Encoder:
    codec = _G711.get(encoding)
    if codec is not None:
        return G711Encoder(codec, sample_rate)
    return _ENCODERS[encoding](sample_rate)
