"""`cantata serve` as a user runs it: a real process, its health while models load, the
`cantata` command line against it, its JSON logs, and a clean exit on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cantata_client import Encoding
from cantata_client.cli import build_parser
from tests.audio_checks import decode_g711_ffmpeg, decode_soundfile, rms

BIN = Path(sys.executable).parent
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    target: str
    log_lines: list[dict[str, object]]

    def read_logs(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log_lines.append(json.loads(line))


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = tmp_path_factory.mktemp("serve") / "cantata.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "port": 0,
                "metrics": {"port": 0},
                "models": [
                    {"name": "piper", "runtime": "piper"},
                    {
                        "name": "slow",
                        "runtime": "tests.fakes:FaultRuntime",
                        "options": {"load_seconds": 3},
                    },
                ],
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    process = subprocess.Popen(
        [BIN / "cantata", "serve", "--config", str(config), "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    first = json.loads(process.stderr.readline())
    assert first["event"] == "listening", first
    target = str(first["address"])
    yield ServerProcess(process, target, [first])
    if process.poll() is None:
        process.kill()
        process.wait()


def _check(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status  # type: ignore[no-any-return]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN / "cantata", *args], capture_output=True, text=True, timeout=60)


def test_health_is_not_serving_until_models_are_loaded(server_process: ServerProcess) -> None:
    with grpc.insecure_channel(server_process.target) as channel:
        assert _check(channel, "models/slow") == NOT_SERVING
        assert _check(channel, "") == NOT_SERVING
        deadline = time.monotonic() + 60
        while _check(channel, "") != SERVING:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        assert _check(channel, "models/slow") == SERVING
        assert _check(channel, "models/piper") == SERVING


def test_cli_says_into_a_wav_file(server_process: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    done = _cli(
        "say",
        "Hello there, from the command line.",
        "-o",
        str(out),
        "--server",
        server_process.target,
    )
    assert done.returncode == 0, done.stderr
    assert "s of audio from piper/en_US-joe-medium" in done.stderr
    data = out.read_bytes()
    assert int.from_bytes(data[40:44], "little") == len(data) - 44, "sizes were not written"
    samples, rate, channels = decode_soundfile(data)
    assert (rate, channels) == (22050, 1)
    assert samples.size > rate
    assert rms(samples) > 0.05


def test_cli_picks_the_encoding_from_the_suffix(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "hello.mp3"
    done = _cli(
        "say", "Compressed.", "-o", str(out), "--rate", "16000", "--server", server_process.target
    )
    assert done.returncode == 0, done.stderr
    assert decode_soundfile(out.read_bytes())[1] == 16000


def test_cli_writes_telephone_audio_for_a_ul_file(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "hello.ul"
    done = _cli("say", "On the telephone.", "-o", str(out), "--server", server_process.target)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    # Raw µ-law at 8000 Hz: one byte a sample, as long as the server says it spoke.
    assert f"{len(data) / 8000:.2f} s of audio" in done.stderr
    assert rms(decode_g711_ffmpeg(data, "mulaw", 8000)) > 0.05
    parse = build_parser().parse_args
    assert parse(["say", "Hi", "--encoding", "alaw"]).encoding is Encoding.ALAW


def test_cli_writes_captions_and_prints_marks(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    text = "Hello there, friend. How are you today?"
    vtt, srt = tmp_path / "out.vtt", tmp_path / "out.srt"
    done = _cli(
        *("say", text, "-o", str(tmp_path / "out.wav"), "--captions", str(vtt), "--marks"),
        *("--server", server_process.target),
    )
    assert done.returncode == 0, done.stderr
    assert "s of audio from piper/en_US-joe-medium" in done.stderr
    marks = [json.loads(line) for line in done.stdout.splitlines()]
    assert {mark["kind"] for mark in marks} == {"word", "phoneme", "viseme"}
    words = [mark for mark in marks if mark["kind"] == "word"]
    assert [w["value"] for w in words] == ["Hello", "there", "friend", "How", "are", "you", "today"]
    assert all(text[w["text_offset"] :][: w["text_length"]] == w["value"] for w in words)
    header, first, second = vtt.read_text(encoding="utf-8").strip().split("\n\n")
    assert header == "WEBVTT"
    assert first.split("\n")[1] == "Hello there, friend."
    assert second.split("\n")[1] == "How are you today?"
    start, _, end = first.split("\n")[0].partition(" --> ")
    assert _seconds(start) == pytest.approx(words[0]["start_seconds"], abs=0.001)
    assert _seconds(end) == pytest.approx(words[2]["end_seconds"], abs=0.001)

    done = _cli(
        "say",
        text,
        "-o",
        str(tmp_path / "out.wav"),
        "--captions",
        str(srt),
        "--server",
        server_process.target,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "no marks unless asked"
    cues = srt.read_text(encoding="utf-8").strip().split("\n\n")
    assert [cue.split("\n")[0] for cue in cues] == ["1", "2"]
    assert re.fullmatch(r"00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}", cues[1].split("\n")[1])

    wrong = _cli(
        "say", text, "--captions", str(tmp_path / "out.txt"), "--server", server_process.target
    )
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2,
        f"cantata: --captions {tmp_path / 'out.txt'}: use a .vtt or .srt file",
    )


def test_cli_prints_marks_to_standard_error_when_audio_goes_to_standard_output(
    server_process: ServerProcess,
) -> None:
    done = subprocess.run(
        [
            *(BIN / "cantata", "say", "Hi there.", "-o", "-", "--encoding", "pcm", "--marks"),
            *("--server", server_process.target),
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # Every line is a mark: the summary line stays out of the way.
    marks = [json.loads(line) for line in done.stderr.decode().splitlines()]
    assert [m["value"] for m in marks if m["kind"] == "word"] == ["Hi", "there"]
    seconds = len(done.stdout) / 2 / 22050
    assert max(m["end_seconds"] for m in marks) == pytest.approx(seconds, abs=1e-4)


def test_cli_live_speaks_standard_input_as_it_arrives(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "live.wav"
    process = subprocess.Popen(
        [BIN / "cantata", "live", "-o", str(out), "--marks", "--server", server_process.target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(b"Hello there, ")
    process.stdin.write(b"from a pipe. Good")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not out.exists() or out.stat().st_size < 44 + 22050:  # a second of audio
        assert time.monotonic() < deadline, "no audio while standard input stayed open"
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    stdout, stderr = process.communicate(b"bye now.", timeout=60)
    assert process.returncode == 0, stderr
    data = out.read_bytes()
    assert int.from_bytes(data[40:44], "little") == len(data) - 44, "sizes were not written"
    samples, rate, _ = decode_soundfile(data)
    assert samples.size / rate > 2
    marks = [json.loads(line) for line in stdout.decode().splitlines()]
    words = [m["value"] for m in marks if m["kind"] == "word"]
    assert words == ["Hello", "there", "from", "a", "pipe", "Goodbye", "now"]


def _seconds(timestamp: str) -> float:
    hours, minutes, seconds = timestamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_cli_health_check(server_process: ServerProcess) -> None:
    healthy = _cli("health", "--server", server_process.target)
    assert (healthy.returncode, healthy.stdout.strip()) == (0, "SERVING")
    unknown = _cli("health", "--server", server_process.target, "--service", "models/nope")
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr


def test_cli_lists_voices_and_reports_errors(server_process: ServerProcess) -> None:
    voices = _cli("voices", "--server", server_process.target)
    assert voices.returncode == 0
    assert "piper/en_US-joe-medium (default)  en-US  22050 Hz" in voices.stdout
    assert "features=streaming,voice_cloning,instructions  " in voices.stdout
    bad = _cli("say", "Hi", "--voice", "nobody", "--server", server_process.target)
    assert bad.returncode == 1
    assert "NOT_FOUND" in bad.stderr
    assert "nobody" in bad.stderr
    refused = _cli("say", "Hi", "--instructions", "whisper", "--server", server_process.target)
    assert refused.returncode == 1
    assert "instructions is not supported by model 'piper'" in refused.stderr


def test_sigterm_exits_cleanly_with_one_log_line_per_request(
    server_process: ServerProcess,
) -> None:
    server_process.process.send_signal(signal.SIGTERM)
    assert server_process.process.wait(timeout=30) == 0
    server_process.read_logs()
    done = [line for line in server_process.log_lines if line["event"] == "request_done"]
    # Three CLI `say` calls, three with timing marks (captions to a .txt file never
    # leaves the client), one `voices`, one `say` with an unknown voice, one with instructions.
    assert sorted((line["rpc"], line["status"]) for line in done) == [
        ("ListVoices", "OK"),
        ("LiveSynthesize", "OK"),
        ("StreamSynthesize", "INVALID_ARGUMENT"),
        ("StreamSynthesize", "NOT_FOUND"),
        *[("StreamSynthesize", "OK")] * 6,
    ]
    for line in done:
        if line["rpc"] == "StreamSynthesize" and line["status"] == "OK":
            assert {
                "request_id",
                "model",
                "voice",
                "characters",
                "audio_seconds",
                "real_time_factor",
                "time_to_first_audio_seconds",
            } <= line.keys()
    refused = next(line for line in done if line["status"] == "NOT_FOUND")
    assert "nobody" in str(refused["error"])
    assert refused["characters"] == 2
    assert not any("Hello there" in json.dumps(line) for line in server_process.log_lines)
