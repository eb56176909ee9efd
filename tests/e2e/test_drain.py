"""SIGTERM on a real `cantata serve`: health turns NOT_SERVING, new requests are refused with
UNAVAILABLE, the stream in flight finishes, and the process exits 0."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cantata_client import Client, Encoding, UnavailableError
from tests.integration.test_cancellation import LONG_TEXT

BIN = Path(sys.executable).parent


def test_sigterm_drains(tmp_path: Path) -> None:
    config = tmp_path / "cantata.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "port": 0,
                "metrics": {"port": 0},
                "drain_grace_seconds": 60,
                "models": [{"name": "piper", "runtime": "piper", "options": {"threads": 1}}],
            }
        )
    )
    process = subprocess.Popen(
        [BIN / "cantata", "serve", "--config", str(config), "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    try:
        assert process.stderr is not None
        target = json.loads(process.stderr.readline())["address"]
        threading.Thread(target=process.stderr.read, daemon=True).start()
        with grpc.insecure_channel(target) as channel, Client(target, timeout=60) as client:
            health = health_pb2_grpc.HealthStub(channel)

            def status() -> int:
                request = health_pb2.HealthCheckRequest(service="")
                return health.Check(request, timeout=5).status  # type: ignore[no-any-return]

            deadline = time.monotonic() + 60
            while status() != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline
                time.sleep(0.1)

            stream = client.stream(LONG_TEXT, encoding=Encoding.PCM)
            chunks = iter(stream)
            received = [next(chunks)]
            process.send_signal(signal.SIGTERM)

            deadline = time.monotonic() + 10
            while status() != health_pb2.HealthCheckResponse.NOT_SERVING:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            with pytest.raises(UnavailableError, match="shutting down"):
                client.synthesize("Too late.")

            received += list(chunks)
            assert stream.stats is not None, "the in-flight stream did not finish"
            assert len(received) >= 30
            assert sum(map(len, received)) / 2 / 22050 == pytest.approx(
                stream.stats.audio_seconds, abs=0.01
            )
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
