"""The C++ client (clients/cpp): its CTest suite against real servers, and the WAV its `say`
example streams, as a listener hears it. `make clients` builds build/clients/say-cpp first."""

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
SAY = ROOT / "build/clients/say-cpp"
BENCH = ROOT / "build/clients/bench-cpp"
SUITE = ROOT / "clients/cpp/tests/client_test.cc"
TEXT = "Doctor Alice Johnson flew to London on Monday. Would you like a cup of tea?"
HEARD = "doctor alice johnson flew to london on monday would you like a cup of tea"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with client_servers() as environment:
        yield environment


@pytest.fixture(scope="module")
def say() -> Path:
    if not SAY.exists():
        pytest.fail(f"{SAY.relative_to(ROOT)} is missing: run `make clients` first")
    return SAY


def test_cpp_suite_passes(servers: dict[str, str], say: Path) -> None:
    run = subprocess.run(
        ["bash", str(ROOT / "clients/cpp/test.sh")],
        cwd=ROOT,
        env={**os.environ, **servers},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # Every case in the source ran (plus the find_package check), none was lost on the way.
    cases = re.findall(r"^CANTATA_TEST\((\w+)\)", SUITE.read_text(), re.MULTILINE)
    assert len(cases) >= 15
    for case in [*cases, "find_package_cantata"]:
        assert re.search(rf"Test +#\d+: {case} \.+ +Passed", output), f"{case}:\n{output}"
    assert f"0 tests failed out of {len(cases) + 1}" in output, output


def test_say_streams_a_wav_a_listener_understands(
    servers: dict[str, str], say: Path, tmp_path: Path
) -> None:
    out = tmp_path / "say.wav"
    subprocess.run(
        [str(say), "--server", servers["CANTATA_TARGET"], "--rate", "16000", "-o", str(out), TEXT],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = out.read_bytes()
    assert data[:4] == b"RIFF"
    assert data[36:40] == b"data"
    riff_size, data_size = (
        struct.unpack_from("<I", data, 4)[0],
        struct.unpack_from("<I", data, 40)[0],
    )
    assert (riff_size, data_size) == (len(data) - 8, len(data) - 44), "header sizes not fixed"
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert pcm.size == data_size // 2
    # Whisper cannot tell a wrong rate; two short sentences last a few seconds.
    assert 2.5 < pcm.size / 16000 < 10
    whisper = listener(assemble_model(tmp_path / "whisper-base"))
    heard = whisper.transcribe((pcm.astype(np.float32) / 32768.0).astype(np.float32))
    assert word_error_rate([HEARD], [heard]) <= 0.1, heard


def test_bench_times_each_streamed_request(servers: dict[str, str], say: Path) -> None:
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
