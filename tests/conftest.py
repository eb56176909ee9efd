"""A real Cantata server on 127.0.0.1 for the whole session, with the real Piper voice, run on
its own thread and event loop so that tests can call it through the generated client and read
the engine's own counters."""

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from cantata_client import Client
from server.api.server import CantataServer
from server.config import Settings

PIPER_DETERMINISTIC = {
    "name": "piper",
    "runtime": "piper",
    "concurrency": 2,
    "options": {"deterministic": True},
}
FAULTY = {
    "name": "faulty",
    "runtime": "tests.fakes:FaultRuntime",
    "concurrency": 1,
    "options": {"chunk_seconds": 0.02},
}
NARROW = {
    "name": "narrow",
    "runtime": "tests.fakes:FaultRuntime",
    "concurrency": 1,
    "max_queue": 1,
    "options": {"chunk_seconds": 0.05},
}
FRAGILE = {"name": "fragile", "runtime": "tests.fakes:FaultRuntime"}
STAGED = {"name": "staged", "runtime": "tests.fakes:StagedFaultRuntime"}
BROKEN = {"name": "broken", "runtime": "piper", "options": {"voices_dir": "/nonexistent"}}


@dataclass
class RunningServer:
    server: CantataServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def call(self, coroutine: Any) -> Any:
        """Runs a coroutine on the server's loop (for engine state that lives there)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.call(self.server.stop(grace=1))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


def start_server(settings: Settings) -> RunningServer:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-server", daemon=True)
    thread.start()
    server = CantataServer(settings)
    running = RunningServer(server, loop, thread)
    running.call(server.start())
    running.call(server.wait_loaded())
    return running


@pytest.fixture(scope="session")
def running_server() -> Iterator[RunningServer]:
    settings = Settings.model_validate(
        {
            "port": 0,
            "metrics": {"port": 0},
            "models": [PIPER_DETERMINISTIC, FAULTY, NARROW, FRAGILE, STAGED, BROKEN],
            "max_text_chars": 2000,
        }
    )
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(running_server: RunningServer) -> Iterator[Client]:
    with Client(running_server.target, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def channel(running_server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(running_server.target) as channel:
        yield channel
