"""The TypeScript client (clients/typescript): its own suite (node --test) against real servers,
its `say` example's WAV as a listener hears it, and its `bench` example's timings. `make clients`
builds build/clients/say-typescript and build/clients/bench-typescript first."""

import json
import os
import re
import struct
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.clients.servers import client_servers
from tests.speech_recognition import assemble_model, listener, word_error_rate

ROOT = Path(__file__).resolve().parents[2]
SAY = ROOT / "build/clients/say-typescript"
BENCH = ROOT / "build/clients/bench-typescript"
TEXT = "Doctor Alice Johnson flew to London on Monday. Please remember to bring your umbrella."
HEARD = "doctor alice johnson flew to london on monday please remember to bring your umbrella"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with client_servers() as environment:
        yield environment


@pytest.fixture(scope="module")
def say() -> Path:
    if not SAY.exists():
        pytest.fail(f"{SAY.relative_to(ROOT)} is missing: run `make clients` first")
    return SAY


def test_typescript_suite_passes(say: Path, servers: dict[str, str]) -> None:
    run = subprocess.run(
        ["bash", str(ROOT / "clients/typescript/test.sh")],
        cwd=ROOT,
        env={**os.environ, **servers},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert re.search(r"^\S pass [1-9]\d*$", output, re.MULTILINE), output
    assert re.search(r"^\S fail 0$", output, re.MULTILINE), output
    assert "✔ answers a cancel with cancelled, and stops speaking" in output, output


def test_say_writes_a_wav_a_listener_understands(
    say: Path, servers: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "say.wav"
    subprocess.run(
        [str(say), "--server", servers["CANTATA_TARGET"], "--rate", "16000", "-o", str(out), TEXT],
        check=True,
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
    whisper = listener(assemble_model(tmp_path / "whisper-base"))
    heard = whisper.transcribe((pcm.astype(np.float32) / 32768.0).astype(np.float32))
    assert word_error_rate([HEARD], [heard]) <= 0.1, heard


def test_bench_prints_one_timing_line_per_request(say: Path, servers: dict[str, str]) -> None:
    assert BENCH.exists(), f"{BENCH.relative_to(ROOT)} is missing: run `make clients` first"
    run = subprocess.run(
        [str(BENCH), "--server", servers["CANTATA_TARGET"], "--requests", "3", "Hello there."],
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
