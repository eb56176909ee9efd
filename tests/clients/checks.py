"""What every language's client test checks the same way: the built examples, the client's own
suite run against the servers, the WAV its `say` example streams as a listener hears it, and the
timing lines of its `bench` example."""

import json
import os
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.speech_recognition import assemble_model, listener, word_error_rate

ROOT = Path(__file__).resolve().parents[2]


def built(program: str) -> Path:
    """build/clients/<program>, which `make clients` builds."""
    path = ROOT / "build/clients" / program
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make clients` first")
    return path


def run_suite(language: str, servers: dict[str, str]) -> str:
    """Runs clients/<language>/test.sh against the servers; its output, once it has passed."""
    run = subprocess.run(
        ["bash", str(ROOT / f"clients/{language}/test.sh")],
        cwd=ROOT,
        env={**os.environ, **servers},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    return output


def check_say(say: Path, target: str, text: str, heard: str, folder: Path) -> None:
    """`say` streams the text at 16 kHz into a WAV whose header sizes are fixed at the end, and
    Whisper hears the words (WER <= 0.1)."""
    out = folder / "say.wav"
    subprocess.run(
        [str(say), "--server", target, "--rate", "16000", "-o", str(out), text],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = out.read_bytes()
    assert data[:4] == b"RIFF"
    assert data[36:40] == b"data"
    (riff_size,) = struct.unpack_from("<I", data, 4)
    (data_size,) = struct.unpack_from("<I", data, 40)
    assert (riff_size, data_size) == (len(data) - 8, len(data) - 44), "header sizes not fixed"
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert pcm.size == data_size // 2
    # Whisper cannot tell a wrong rate; two short sentences last a few seconds.
    assert 2.5 < pcm.size / 16000 < 10
    whisper = listener(assemble_model(folder / "whisper-base"))
    transcript = whisper.transcribe((pcm.astype(np.float32) / 32768.0).astype(np.float32))
    assert word_error_rate([heard], [transcript]) <= 0.1, transcript


def check_bench(bench: Path, target: str) -> None:
    """`bench` prints one JSON line of client-side timings per streamed request."""
    run = subprocess.run(
        [str(bench), "--server", target, "--requests", "3", "Hello there."],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.stdout
    for line in lines:
        timing = json.loads(line)
        assert set(timing) == {"first_audio_seconds", "total_seconds"}, line
        assert 0 < timing["first_audio_seconds"] <= timing["total_seconds"] < 30, line
