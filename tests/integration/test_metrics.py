"""/metrics agrees with what responses report: known requests in, counts and sums checked."""

import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cantata_client import Client, Encoding, InvalidArgumentError, NotFoundError
from tests.conftest import RunningServer
from tests.fakes import StagedFaultRuntime

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(running_server: RunningServer) -> Samples:
    url = f"http://127.0.0.1:{running_server.server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples) -> Callable[..., float]:
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)


def test_counts_and_sums_match_the_responses(running_server: RunningServer, client: Client) -> None:
    before = scrape(running_server)
    texts = ["One small sentence.", "Two sentences here. And a second one!", "Three."]
    unary = [client.synthesize(text, encoding=Encoding.PCM) for text in texts]
    streams = [client.stream(text, encoding=Encoding.OGG_OPUS) for text in texts[:2]]
    for stream in streams:
        assert b"".join(stream)
    with pytest.raises(InvalidArgumentError):
        client.synthesize("Hi", speed=9.0)
    with pytest.raises(NotFoundError):
        client.synthesize("Hi", model="no-such-model")
    after = scrape(running_server)
    d = delta(before, after)

    ok = {"model": "piper", "code": "OK"}
    assert d("cantata_requests_total", rpc="Synthesize", **ok) == 3
    assert d("cantata_requests_total", rpc="StreamSynthesize", **ok) == 2
    assert (
        d("cantata_requests_total", rpc="Synthesize", model="piper", code="INVALID_ARGUMENT") == 1
    )
    assert d("cantata_requests_total", rpc="Synthesize", model="unknown", code="NOT_FOUND") == 1
    assert d("cantata_request_duration_seconds_count", rpc="Synthesize", model="piper") == 4

    stats = [r.stats for r in unary] + [s.stats for s in streams if s.stats is not None]
    assert len(stats) == 5
    audio = sum(s.audio_seconds for s in stats)
    assert d("cantata_audio_seconds_total", model="piper") == pytest.approx(audio, rel=1e-6)
    characters = sum(len(t) for t in texts) + sum(len(t) for t in texts[:2])
    assert d("cantata_characters_total", model="piper") == characters
    rtf = {"model": "piper", "runtime": "piper", "device": "cpu"}
    assert d("cantata_real_time_factor_count", **rtf) == 5
    assert d("cantata_real_time_factor_sum", **rtf) == pytest.approx(
        sum(s.real_time_factor for s in stats), rel=1e-6
    )
    assert d("cantata_time_to_first_audio_seconds_count", model="piper") == 2
    assert d("cantata_time_to_first_audio_seconds_sum", model="piper") == pytest.approx(
        sum(s.stats.time_to_first_audio_seconds for s in streams if s.stats), rel=1e-6
    )


def test_state_gauges_and_memory(running_server: RunningServer) -> None:
    samples = scrape(running_server)
    assert value(samples, "cantata_model_loaded", model="piper") == 1
    assert value(samples, "cantata_model_loaded", model="broken") == 0
    assert value(samples, "cantata_model_load_seconds", model="piper") > 0
    assert value(samples, "cantata_inflight_requests", model="piper") == 0
    assert value(samples, "cantata_queue_depth", model="piper") == 0
    # Piper's weights and sessions: tens of megabytes, measured as what loading added.
    assert value(samples, "cantata_model_memory_bytes", model="piper", device="cpu") > 20e6
    used = value(samples, "cantata_device_memory_used_bytes", device="cpu")
    total = value(samples, "cantata_device_memory_total_bytes", device="cpu")
    assert 50e6 < used < total
    assert any(name == "cantata_build_info" for name, _ in samples)


def test_pipelined_runtimes_count_their_stages_busy_and_overlapping(
    running_server: RunningServer, client: Client
) -> None:
    before = scrape(running_server)
    client.synthesize("One.", model="staged")
    client.synthesize("Two. Three.", model="staged")
    after = scrape(running_server)
    d = delta(before, after)

    chunks = 3  # one per sentence
    for stage, seconds in StagedFaultRuntime.CHUNK_STAGE_SECONDS.items():
        assert d("cantata_stage_seconds_total", model="staged", stage=stage) == pytest.approx(
            chunks * seconds
        )
    assert d("cantata_stage_overlap_seconds_total", model="staged") == pytest.approx(
        chunks * StagedFaultRuntime.CHUNK_OVERLAP_SECONDS
    )
    staged = {
        (name, dict(labels)["model"]) for name, labels in after if name.startswith("cantata_stage_")
    }
    assert staged == {
        ("cantata_stage_seconds_total", "staged"),
        ("cantata_stage_overlap_seconds_total", "staged"),
    }, "only runtimes that report stages have stage metrics"
