"""Admission control: a bounded number of running and waiting syntheses per model, the excess
refused at once with a retry hint, and requests that can no longer meet their deadline never
started. Uses the `narrow` model: one worker, one place in its queue."""

import threading
import time

import grpc
import pytest

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from cantata_client import Client, DeadlineExceededError
from server.api.servicer import RETRY_PUSHBACK_KEY
from tests.conftest import RunningServer
from tests.integration.test_cancellation import wait_until
from tests.integration.test_metrics import delta, scrape

SLOW_TEXT = " ".join(["Fine."] * 12)  # twelve chunks of 50 ms each on the fault runtime


def test_overload_refuses_the_excess_at_once_and_serves_the_rest(
    running_server: RunningServer, channel: grpc.Channel
) -> None:
    counters = running_server.server.engine.models["narrow"].counters
    wait_until(lambda: counters.admitted == 0)
    before = scrape(running_server)
    stub = tts_pb2_grpc.TextToSpeechStub(channel)
    request = pb.SynthesizeRequest(text=SLOW_TEXT, model="narrow")
    outcomes: list[tuple[str, float, tuple[tuple[str, str], ...]]] = []
    lock = threading.Lock()
    began = time.monotonic()

    def call() -> None:
        trailers: tuple[tuple[str, str], ...] = ()
        try:
            stub.Synthesize(request, timeout=30)
            outcome = "OK"
        except grpc.RpcError as error:
            outcome = error.code().name
            trailers = tuple(error.trailing_metadata() or ())  # type: ignore[arg-type]
        with lock:
            outcomes.append((outcome, time.monotonic() - began, trailers))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # so that the first two are admitted before the rest arrive
    for thread in threads:
        thread.join()

    accepted = [o for o in outcomes if o[0] == "OK"]
    refused = [o for o in outcomes if o[0] == "RESOURCE_EXHAUSTED"]
    assert (len(accepted), len(refused)) == (2, 4), outcomes
    # Refused at once: every refusal came back before the first accepted call finished.
    assert max(t for _, t, _ in refused) < min(t for _, t, _ in accepted)
    for _, _, trailers in refused:
        hint = dict(trailers)[RETRY_PUSHBACK_KEY]
        assert int(hint) >= 100
    d = delta(before, scrape(running_server))
    assert d("cantata_rejected_total", model="narrow", reason="queue_full") == 4
    assert (
        d("cantata_requests_total", rpc="Synthesize", model="narrow", code="RESOURCE_EXHAUSTED")
        == 4
    )


def test_a_request_that_waits_past_its_deadline_is_never_started(
    running_server: RunningServer, client: Client
) -> None:
    counters = running_server.server.engine.models["narrow"].counters
    wait_until(lambda: counters.admitted == 0)
    before = scrape(running_server)
    started = counters.started
    blocker = threading.Thread(target=lambda: client.synthesize(SLOW_TEXT, model="narrow"))
    blocker.start()
    wait_until(lambda: counters.running == 1)
    with pytest.raises(DeadlineExceededError):
        client.synthesize("Fine.", model="narrow", timeout=0.2)
    blocker.join()
    wait_until(lambda: counters.admitted == 0)
    assert counters.started == started + 1, "only the blocking request may have started"
    assert (
        delta(before, scrape(running_server))(
            "cantata_rejected_total", model="narrow", reason="deadline"
        )
        == 1
    )
