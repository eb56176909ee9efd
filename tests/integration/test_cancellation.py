"""Cancellation and deadlines stop the runtime at its next chunk and free the worker; proven on
the engine's own counters, not on timing."""

import time
from collections.abc import Callable

import pytest

from cantata_client import Client, DeadlineExceededError, Encoding
from server.engine.model_host import ModelCounters
from tests.conftest import RunningServer

LONG_TEXT = " ".join(f"This is sentence number {n} of a long story." for n in range(1, 31))


def counters(running_server: RunningServer, model: str) -> ModelCounters:
    return running_server.server.engine.models[model].counters


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Polls engine state (not a timing assertion: the deadline only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the engine did not reach the expected state"
        time.sleep(0.01)


def test_cancelled_stream_stops_the_runtime_within_one_sentence(
    running_server: RunningServer, client: Client
) -> None:
    piper = counters(running_server, "piper")
    wait_until(lambda: piper.running == 0)
    before = (piper.chunks, piper.cancelled, piper.chunks_after_cancel)
    stream = client.stream(LONG_TEXT, encoding=Encoding.PCM)
    first = next(iter(stream))
    assert first
    stream.cancel()
    wait_until(lambda: piper.cancelled == before[1] + 1 and piper.running == 0)
    produced = piper.chunks - before[0]
    # One chunk per sentence. Before the cancel reaches the engine, a few chunks may sit in
    # gRPC's send buffers and the two-chunk queue; after it, at most the sentence in progress.
    assert produced <= 8, f"the runtime went on for {produced} of 30 sentences"
    assert piper.chunks_after_cancel - before[2] <= 1
    assert client.synthesize("The worker is free again.").stats.audio_seconds > 0


def test_deadline_stops_the_runtime_and_frees_the_worker(
    running_server: RunningServer, client: Client
) -> None:
    piper = counters(running_server, "piper")
    wait_until(lambda: piper.running == 0)
    cancelled = piper.cancelled
    with pytest.raises(DeadlineExceededError):
        client.synthesize(LONG_TEXT, timeout=0.5)
    wait_until(lambda: piper.cancelled == cancelled + 1 and piper.running == 0)


def test_stalled_runtime_past_its_deadline_is_reclaimed(
    running_server: RunningServer, client: Client
) -> None:
    faulty = counters(running_server, "faulty")
    cancelled = faulty.cancelled
    with pytest.raises(DeadlineExceededError):
        list(client.stream("stall", model="faulty", timeout=0.5))
    wait_until(lambda: faulty.cancelled == cancelled + 1 and faulty.running == 0)
    # The model has one worker; it answers again, so the stalled run let go of it.
    assert client.synthesize("fine", model="faulty", timeout=10).stats.audio_seconds > 0


def test_first_audio_does_not_wait_for_the_whole_text(client: Client) -> None:
    stream = client.stream(LONG_TEXT, encoding=Encoding.PCM)
    chunks = [len(chunk) for chunk in stream]
    assert stream.stats is not None
    assert len(chunks) >= 30, "each sentence should leave as soon as it is ready"
    # The first chunk left after one sentence of compute, not thirty.
    assert stream.stats.time_to_first_audio_seconds < stream.stats.compute_seconds / 5
