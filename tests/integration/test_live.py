"""LiveSynthesize through the real server and the Python client: text deltas in, audio out while
text still arrives; flush, cancel (barge-in) and half-close; the session cap and idle timeout;
what a session holds when it is idle or its client has gone."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from cantata_client import (
    AsyncClient,
    Client,
    DeadlineExceededError,
    Encoding,
    InvalidArgumentError,
    LiveAudio,
    LiveCancelled,
    LiveEvent,
    LiveFlushed,
    LiveMarks,
    MarkKind,
    NotFoundError,
    ResourceExhaustedError,
    Timing,
)
from server.config import Settings
from tests.conftest import PIPER_DETERMINISTIC, RunningServer, start_server
from tests.integration.test_cancellation import counters, wait_until

RATE = 22050
SENTENCES = [
    "The first sentence arrives in small pieces.",
    "A second one follows it, split inside words.",
    "And the third ends the answer.",
]
TEXT = " ".join(SENTENCES)
STORY = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 25))
# Sentences only: pieces are exactly the sentences a unary request would be split into.
BY_SENTENCE: dict[str, Any] = {"min_clause_chars": 300, "max_wait_ms": 10_000}


def deltas(text: str, size: int = 3) -> Iterator[str]:
    return (text[i : i + size] for i in range(0, len(text), size))


def pcm(events: list[LiveEvent]) -> np.ndarray:
    audio = b"".join(event.audio for event in events if isinstance(event, LiveAudio))
    return np.frombuffer(audio, dtype=np.int16)


def test_deltas_split_inside_words_sound_as_one_unary_request(client: Client) -> None:
    with client.live(encoding=Encoding.PCM, **BY_SENTENCE) as live:
        for delta in deltas(TEXT):
            live.send(delta)
        live.close()
        events = list(live)
        stats = live.stats
    unary = np.frombuffer(client.synthesize(TEXT, encoding=Encoding.PCM).audio, dtype=np.int16)
    joined = pcm(events)
    assert len(joined) == len(unary)
    assert np.abs(joined.astype(np.int32) - unary).max() <= 1
    assert stats is not None
    assert stats.audio_seconds == pytest.approx(len(unary) / RATE)
    assert stats.model == "piper"


def test_first_audio_leaves_before_the_rest_of_the_text_arrives(client: Client) -> None:
    first_audio = threading.Event()
    with client.live(encoding=Encoding.PCM, **BY_SENTENCE) as live:
        for delta in deltas(SENTENCES[0] + " "):
            live.send(delta)

        def rest() -> None:
            assert first_audio.wait(timeout=30), "no audio before the rest of the text"
            for delta in deltas(" ".join(SENTENCES[1:])):
                live.send(delta)
            live.close()

        writer = threading.Thread(target=rest)
        writer.start()
        events = []
        for event in live:
            first_audio.set()
            events.append(event)
        writer.join()
    assert len(pcm(events)) / RATE > 4


def test_flush_speaks_a_half_sentence_then_the_session_goes_on(client: Client) -> None:
    half = "This half sentence has no end"
    with client.live(encoding=Encoding.PCM, **BY_SENTENCE) as live:
        live.send(half)
        live.flush()
        events: list[LiveEvent] = []
        for event in live:
            events.append(event)
            if isinstance(event, LiveFlushed):
                break
        flushed = events[-1]
        assert isinstance(flushed, LiveFlushed)
        assert flushed.text_offset == len(half)
        spoken = len(pcm(events)) / RATE
        assert spoken > 1
        assert flushed.audio_seconds == pytest.approx(spoken)
        live.send(", and here is the rest of it.")
        live.close()
        after = list(live)
    assert len(pcm(after)) / RATE > 1
    assert live.stats is not None
    assert live.stats.audio_seconds == pytest.approx(spoken + len(pcm(after)) / RATE)


def test_cancel_stops_the_audio_reports_what_was_said_and_the_next_text_is_spoken(
    running_server: RunningServer, client: Client
) -> None:
    piper = counters(running_server, "piper")
    wait_until(lambda: piper.running == 0)
    before = piper.chunks_after_cancel
    with client.live(encoding=Encoding.PCM, timing=Timing(words=True)) as live:
        live.send(STORY)
        received: list[LiveEvent] = []
        events = iter(live)
        for event in events:
            received.append(event)
            if len(pcm(received)) > RATE:
                break
        live.cancel()
        for event in events:
            received.append(event)
            if isinstance(event, LiveCancelled):
                break
        cancelled = received[-1]
        assert isinstance(cancelled, LiveCancelled)
        sent = len(pcm(received)) / RATE
        assert cancelled.audio_seconds == pytest.approx(sent)
        assert cancelled.utterance_audio_seconds == pytest.approx(sent)
        assert 1 <= sent < 20, "the cancel did not stop the story"
        words = [m for e in received if isinstance(e, LiveMarks) for m in e.marks]
        heard = [m for m in words if m.end_seconds <= cancelled.audio_seconds]
        assert heard, "no word was heard in full"
        assert cancelled.text_offset == heard[-1].text_end
        assert STORY[: cancelled.text_offset].endswith(heard[-1].value)
        wait_until(lambda: piper.running == 0)
        assert piper.chunks_after_cancel - before <= 1

        live.send("A new utterance after the barge-in.")
        live.close()
        after = list(live)
    assert len(pcm(after)) / RATE > 1
    words_after = [m for e in after if isinstance(e, LiveMarks) for m in e.marks]
    assert words_after[0].value == "A"
    assert words_after[0].text_offset == len(STORY)
    assert words_after[0].start_seconds >= cancelled.audio_seconds


def test_marks_cover_the_session_text_and_come_before_their_audio(client: Client) -> None:
    with client.live(encoding=Encoding.PCM, timing=Timing(words=True, visemes=True)) as live:
        for delta in deltas(TEXT, 5):
            live.send(delta)
        live.close()
        sent = 0.0
        words, visemes = [], []
        for event in live:
            if isinstance(event, LiveAudio):
                sent += len(event.audio) / 2 / RATE
            elif isinstance(event, LiveMarks):
                for mark in event.marks:
                    assert mark.start_seconds >= sent - 1e-6, "a mark came after its audio"
                words += [m for m in event.marks if m.kind is MarkKind.WORD]
                visemes += [m for m in event.marks if m.kind is MarkKind.VISEME]
    assert [m.value for m in words] == TEXT.replace(".", "").replace(",", "").split()
    assert all(TEXT[m.text_offset : m.text_end] == m.value for m in words)
    starts = [m.start_seconds for m in words]
    assert starts == sorted(starts)
    assert visemes[-1].end_seconds == pytest.approx(sent, abs=0.05)


def test_telephony_encoding_in_a_live_session(client: Client) -> None:
    with client.live(encoding=Encoding.MULAW) as live:
        live.send("Your call is important to us.")
        live.close()
        audio = b"".join(e.audio for e in live if isinstance(e, LiveAudio))
        assert live.info is not None
        assert live.info.sample_rate_hz == 8000
        assert live.stats is not None
    assert len(audio) == pytest.approx(live.stats.audio_seconds * 8000, abs=1)


def test_a_client_that_disappears_frees_everything(
    running_server: RunningServer, client: Client
) -> None:
    piper = counters(running_server, "piper")
    engine = running_server.server.engine
    wait_until(lambda: piper.running == 0 and engine.live_sessions == 0)
    live = client.live(encoding=Encoding.PCM)
    live.send(STORY)
    for event in live:
        if isinstance(event, LiveAudio):
            break
    live.abort()
    wait_until(lambda: engine.live_sessions == 0 and piper.running == 0 and piper.admitted == 0)


def test_an_idle_session_holds_no_worker(running_server: RunningServer, client: Client) -> None:
    piper = counters(running_server, "piper")
    engine = running_server.server.engine
    with client.live(encoding=Encoding.PCM) as live:
        live.send("Short and done.")
        live.flush()
        for event in live:
            if isinstance(event, LiveFlushed):
                break
        wait_until(lambda: piper.admitted == 0)
        assert engine.live_sessions >= 1


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (["text-first"], InvalidArgumentError),
        (["start", "start"], InvalidArgumentError),
        (["empty"], InvalidArgumentError),
    ],
)
def test_bad_sequences_are_refused_and_the_server_keeps_serving(
    running_server: RunningServer, client: Client, messages: list[str], error: type[Exception]
) -> None:
    import grpc

    from cantata.tts.v1 import tts_pb2 as pb
    from cantata.tts.v1 import tts_pb2_grpc

    requests = {
        "text-first": pb.LiveSynthesizeRequest(text="Hello."),
        "start": pb.LiveSynthesizeRequest(start=pb.LiveStart()),
        "empty": pb.LiveSynthesizeRequest(),
    }
    with grpc.insecure_channel(running_server.target) as channel:
        stub = tts_pb2_grpc.TextToSpeechStub(channel)
        start = [requests["start"]] if messages == ["empty"] else []
        call = stub.LiveSynthesize(iter(start + [requests[m] for m in messages]), timeout=30)
        with pytest.raises(grpc.RpcError) as raised:
            list(call)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert client.synthesize("Still serving.").stats.audio_seconds > 0


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"voice": "nobody"}, NotFoundError, "nobody"),
        ({"model": "faulty", "timing": Timing(words=True)}, InvalidArgumentError, "timing"),
        ({"sample_rate_hz": 3}, InvalidArgumentError, "sample"),
        ({"max_wait_ms": 60_000}, InvalidArgumentError, "max_wait_ms"),
    ],
)
def test_a_bad_configuration_is_refused_at_start(
    client: Client, options: dict[str, object], error: type[Exception], words: str
) -> None:
    with client.live(**options) as live, pytest.raises(error, match=words):  # type: ignore[arg-type]
        list(live)


def test_a_runtime_without_timing_still_runs_live(client: Client) -> None:
    with client.live(model="faulty", encoding=Encoding.PCM) as live:
        live.send("Any runtime speaks live. ")
        live.close()
        assert len(pcm(list(live))) > 0


def test_the_asyncio_client_runs_a_session(running_server: RunningServer) -> None:
    async def session() -> tuple[int, float]:
        async with AsyncClient(running_server.target, timeout=60) as client:
            live = await client.live(encoding=Encoding.PCM)
            async with live:
                for delta in deltas(TEXT):
                    await live.send(delta)
                await live.close()
                audio = [e.audio async for e in live if isinstance(e, LiveAudio)]
                assert live.stats is not None
                return len(b"".join(audio)), live.stats.audio_seconds

    size, seconds = asyncio.run(session())
    assert size / 2 / RATE == pytest.approx(seconds)


@pytest.fixture(scope="module")
def strict_server() -> Iterator[RunningServer]:
    settings = Settings.model_validate(
        {
            "port": 0,
            "metrics": {"port": 0},
            "models": [PIPER_DETERMINISTIC],
            "live": {"max_sessions": 1, "idle_timeout_seconds": 0.5},
        }
    )
    running = start_server(settings)
    yield running
    running.stop()


def test_the_session_cap_and_the_idle_timeout(strict_server: RunningServer) -> None:
    metrics = strict_server.server.engine.metrics
    with Client(strict_server.target, timeout=30) as client:
        with client.live() as first:
            first.send("Hello.")
            first.flush()
            events = iter(first)
            assert any(isinstance(e, LiveFlushed) for e in events)
            with client.live() as second, pytest.raises(ResourceExhaustedError):
                list(second)
            with pytest.raises(DeadlineExceededError, match="nothing to do"):
                list(events)
        wait_until(lambda: strict_server.server.engine.live_sessions == 0)
        idle = metrics.live_sessions_ended.labels("idle")._value.get()
        assert idle == 1
        rejected = metrics.rejected.labels("piper", "live_sessions")._value.get()
        assert rejected == 1
        with client.live() as third:  # the slot is free again
            third.send("Free again.")
            third.close()
            assert len(list(third)) > 0


def test_without_timing_marks_a_cancel_reports_the_whole_pieces_heard(
    running_server: RunningServer, client: Client
) -> None:
    first = "The first piece is spoken whole."
    faulty = counters(running_server, "faulty")
    with client.live(model="faulty", encoding=Encoding.PCM) as live:
        live.send(first)
        live.flush()
        events = iter(live)
        assert any(isinstance(event, LiveFlushed) for event in events)
        live.send(" Stall. ")  # the fake runtime's endless sentence
        next(event for event in events if isinstance(event, LiveAudio))
        live.cancel()
        cancelled = next(event for event in events if isinstance(event, LiveCancelled))
        assert cancelled.text_offset == len(first)
        assert cancelled.utterance_audio_seconds > 0
        wait_until(lambda: faulty.running == 0)
